import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { lazyAuditStore } from '../activities/audit/store';
import { appendEvent } from '../audit/log';
import { loadConfig } from '../config/load';
import type { StewardConfig } from '../config/schema';
import { resolveSecret } from '../config/secrets';
import { parsePolicyConfig } from '../domain/policy';
import { startCodecServer, type CodecCall, type CodecReader } from '../temporal/codec-server';
import { payloadCodecFor, TemporalConnectionError } from '../temporal/connection';
import { progress } from './output';
import { CliError } from './temporal';

/** Each reader's token, resolved; every reader must be a person of the policy. */
export function codecReaders(config: StewardConfig): CodecReader[] {
  const readers = config.temporal.codecServer?.readers ?? [];
  const people = new Set(parsePolicyConfig(config.policy ?? {}).people.map((p) => p.id));
  return readers.map((r, i) => {
    if (!people.has(r.person)) throw new CliError(`temporal.codecServer.readers.${i}.person: ${r.person} is not in policy.people; add the person there first`, 2);
    try {
      return { person: r.person, token: resolveSecret(r.token).reveal().trim() };
    } catch (err) {
      throw new CliError(`temporal.codecServer.readers.${i}.token: ${(err as Error).message}`, 2);
    }
  });
}

/** One line per answered call, by person; no payload content. */
export function codecCallLine(c: CodecCall): string {
  return `codec-server: ${c.op} by ${c.person}: ${c.payloads} payload(s)${c.keyIds.length ? `, keys ${c.keyIds.join(',')}` : ''}${c.namespace ? `, namespace ${c.namespace}` : ''}`;
}

export function registerCodecServer(program: Command): void {
  program
    .command('codec-server')
    .description('serve /encode and /decode for the Temporal Web UI (temporal.payloadCodec and temporal.codecServer in the config)')
    .action(async () => {
      const config = loadConfig(program.opts().config);
      const settings = config.temporal.codecServer;
      if (!config.temporal.payloadCodec) throw new CliError('temporal.payloadCodec is not configured: there is nothing to decode', 2);
      if (!settings) throw new CliError('temporal.codecServer is not configured: give listen, uiOrigin and readers', 2);
      let codec;
      try {
        codec = payloadCodecFor(config)!;
      } catch (err) {
        if (err instanceof TemporalConnectionError) throw new CliError(err.message, 2);
        throw err;
      }
      const readers = codecReaders(config);
      // With an audit store, every decode is an audit row under the reader's id (appended before the answer).
      const audit = config.audit ? lazyAuditStore(config) : undefined;
      const onCall = async (c: CodecCall) => {
        progress(codecCallLine(c));
        if (!audit || c.op !== 'decode') return;
        await appendEvent(await audit.pool(), {
          eventId: `codec-${randomUUID()}`,
          subject: 'codec-server',
          kind: 'payloads-decoded',
          actor: c.person,
          at: new Date().toISOString(),
          details: { payloads: c.payloads, keyIds: c.keyIds, ...(c.namespace ? { namespace: c.namespace } : {}), ...(c.origin ? { origin: c.origin } : {}) },
        });
      };
      const running = await startCodecServer({ codec, listen: settings.listen, uiOrigin: settings.uiOrigin, readers, onRefusal: (l) => progress(l), onCall });
      progress(`steward codec server on ${running.url} for the Web UI at ${settings.uiOrigin} (${readers.length} reader(s): ${readers.map((r) => r.person).join(', ')})`);
      await new Promise<void>((resolve) => {
        const stop = () => void running.close().then(() => audit?.close()).then(resolve);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
