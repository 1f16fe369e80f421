// The gunicorn restart strategy's answer to a requirements (venv) change: a new master beside the old one, never
// stop-then-start. USR2 → a new master on the same listening socket with the new venv (see HANDOVER_CONFIG_TEXT)
// → once its workers run and serve the new release, TERM (Gunicorn's graceful stop) to the old master.
import http from 'node:http';
import { ApplicationFailure } from '@temporalio/common';
import {
  abandonMaster,
  masterHasHandoverHook,
  reexecMaster,
  retireMaster,
  signalMaster,
  startGunicorn,
  writeHandoverConfig,
  type GunicornSpec,
} from '../../commands/gunicorn';
import { cmd } from '../../commands/shell';
import { heartbeat, type HostRun } from './context';

export type HandoverMode = 'handover' | 'stop-start';

export interface ReleaseProbe {
  baseUrl: string;
  releaseId: string;
  health: { path: string; releaseField?: string };
}

/** One GET on a NEW connection: a kept-alive one would stay with an old worker and never reach the new master. */
function getFresh(url: URL): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers: { connection: 'close' }, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/**
 * Resolves once any answer of the health path names the new release: the new master's workers serve (both
 * masters' workers take connections from the one socket meanwhile). Only for an app whose health names its
 * release (health.releaseField); otherwise the new master's running workers are the proof.
 */
export async function newReleaseAnswers(p: ReleaseProbe, timeoutMs: number): Promise<void> {
  const field = p.health.releaseField;
  if (field === undefined) return;
  const url = new URL(p.health.path, p.baseUrl);
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const r = await getFresh(url);
      last = `${r.status} ${r.body.slice(0, 200)}`;
      if (r.status === 200 && (JSON.parse(r.body) as Record<string, unknown>)[field] === p.releaseId) return;
    } catch (err) {
      last = (err as Error).message;
    }
    heartbeat(`waiting for the new Gunicorn master to serve ${p.releaseId}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw ApplicationFailure.nonRetryable(`the new Gunicorn master did not serve release ${p.releaseId} within ${timeoutMs / 1000} s (last answer from ${p.health.path}: ${last})`, 'ReleaseNotServing');
}

/**
 * Returns how it was done: a master started before Steward wrote its handover config cannot re-exec into the new
 * venv, so that one time it is stopped, then started (said in the heartbeat and the result).
 */
export async function handOver(h: HostRun, oldPid: number, spec: GunicornSpec, probe: ReleaseProbe): Promise<HandoverMode> {
  const root = spec.deployRoot;
  await h.run(writeHandoverConfig(root));
  const hooked = (await h.run(masterHasHandoverHook(oldPid, root), { allowFailure: true })).exitCode === 0;
  if (!hooked) {
    heartbeat(`Gunicorn master ${oldPid} predates the handover config: stop, then start (once)`);
    await h.run(signalMaster(oldPid, 'TERM'));
    // Graceful: the master waits up to its graceful timeout (20 s) for requests in flight; past 30 s it is
    // killed, since a master that will not stop would keep the port from the new one.
    await h.run(cmd(['sh', '-c', 'for i in $(seq 1 300); do kill -0 "$1" 2>/dev/null || exit 0; sleep 0.1; done; kill -KILL "$1"; sleep 0.5', 'wait-exit', String(oldPid)]));
    await h.run(startGunicorn(spec));
    return 'stop-start';
  }
  heartbeat(`USR2 to Gunicorn master ${oldPid}: a new master with the new venv beside it`);
  const r = await h.run(reexecMaster(oldPid, root, spec.workers), { allowFailure: true, timeoutMs: 120_000 });
  const newPid = Number(r.stdout.trim().split('\n').pop());
  if (r.exitCode !== 0 || !Number.isInteger(newPid) || newPid <= 1) {
    // Not retried: the old master still serves the old code; the deployment rolls back the switch.
    throw ApplicationFailure.nonRetryable(`zero-downtime handover failed (the old master ${oldPid} still serves): ${r.stderr.trim() || r.stdout.trim()}`, 'HandoverFailed');
  }
  try {
    await newReleaseAnswers(probe, 45_000);
  } catch (err) {
    await h.run(abandonMaster(newPid, oldPid, root), { allowFailure: true });
    throw err;
  }
  heartbeat(`new Gunicorn master ${newPid} serves: graceful stop (TERM) of the old master ${oldPid}`);
  await h.run(retireMaster(oldPid, newPid, root));
  return 'handover';
}
