import type { Command } from 'commander';
import { loadConfig } from '../config/load';
import { resolveSecret } from '../config/secrets';
import { startCodecServer } from '../temporal/codec-server';
import { payloadCodecFor, TemporalConnectionError } from '../temporal/connection';
import { progress } from './output';
import { CliError } from './temporal';

export function registerCodecServer(program: Command): void {
  program
    .command('codec-server')
    .description('serve /encode and /decode for the Temporal Web UI (temporal.payloadCodec and temporal.codecServer in the config)')
    .action(async () => {
      const config = loadConfig(program.opts().config);
      const settings = config.temporal.codecServer;
      if (!config.temporal.payloadCodec) throw new CliError('temporal.payloadCodec is not configured: there is nothing to decode', 2);
      if (!settings) throw new CliError('temporal.codecServer is not configured: give listen, uiOrigin and accessToken', 2);
      let codec;
      let accessToken: string;
      try {
        codec = payloadCodecFor(config)!;
        accessToken = resolveSecret(settings.accessToken).reveal().trim();
      } catch (err) {
        if (err instanceof TemporalConnectionError) throw new CliError(err.message, 2);
        throw new CliError(`temporal.codecServer.accessToken: ${(err as Error).message}`, 2);
      }
      const running = await startCodecServer({ codec, listen: settings.listen, uiOrigin: settings.uiOrigin, accessToken, onRefusal: (l) => progress(l) });
      progress(`steward codec server on ${running.url} for the Web UI at ${settings.uiOrigin}`);
      await new Promise<void>((resolve) => {
        const stop = () => void running.close().then(resolve);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
