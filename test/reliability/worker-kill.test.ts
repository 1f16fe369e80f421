// Kill -9 the worker at every step boundary of `deployment`, start a new one, and check the host: the
// deployment finishes exactly once, with one release dir, one verified backup, each migration applied once,
// `current` on the new release, the app green, the non-smoke balances unchanged and the audit chain intact.
// Each deployment is r02 (at banking 0002) → r09: a new venv, migration 0003 and a full Gunicorn restart.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  BASELINE_RELEASE,
  checkHost,
  connectClient,
  ENV,
  Host,
  invariants,
  log,
  MIGRATIONS_R03,
  pollStatus,
  QUICK,
  recordFault,
  relConfig,
  relInput,
  resetBaseline,
  resultOf,
  sleep,
  startDeployment,
  stepsText,
  timeline,
  WorkerProcess,
  writeConfigCopy, isStep } from './harness';

interface KillPoint {
  step: string;
  when: 'during' | 'after';
  /** Wait this long after seeing the step running, to be well inside it. */
  delayMs?: number;
}

/** The `deployment` sequence for a production release with migrations (src/workflows/deployment.ts). */
const ALL: KillPoint[] = [
  { step: 'pull the code', when: 'during' },
  { step: 'virtualenv and requirements', when: 'during', delayMs: 3000 },
  { step: 'plan migrations', when: 'during', delayMs: 500 },
  { step: 'collectstatic', when: 'during', delayMs: 300 },
  { step: 'back up the database', when: 'during', delayMs: 200 },
  { step: 'financial invariants before', when: 'after' },
  { step: 'run migrations', when: 'during', delayMs: 800 },
  { step: 'switch current', when: 'after' },
  { step: 'restart gunicorn', when: 'during', delayMs: 500 },
  { step: 'smoke tests', when: 'during', delayMs: 500 },
  { step: 'financial invariants after', when: 'after' },
  { step: 'tag the release', when: 'after' },
];
const QUICK_SET = ['back up the database', 'run migrations', 'restart gunicorn'];
const ONLY = process.env.STEWARD_REL_ONLY;
const POINTS = (QUICK ? ALL.filter((p) => QUICK_SET.includes(p.step)) : ALL).filter((p) => !ONLY || p.step.includes(ONLY));

describe('kill -9 the worker at each step of deployment', () => {
  const config = relConfig('kill');
  const configFile = writeConfigCopy(config, 'kill');
  const host = new Host(config);
  const worker = new WorkerProcess('kill', configFile);
  let temporal: Awaited<ReturnType<typeof connectClient>>;

  before(async () => {
    await worker.start().ready();
    temporal = await connectClient(config);
  });
  after(async () => {
    await worker.stop();
    await temporal?.close();
    host.close();
  });

  for (const point of POINTS) {
    it(`${point.when} "${point.step}": finishes exactly once, host consistent`, async () => {
      const t0 = Date.now();
      const id = `kill-${point.when}-${point.step.replace(/\W+/g, '-')}`;
      await resetBaseline(host, config, { dropVenvOf: point.step === 'virtualenv and requirements' ? 'r09-requirements' : undefined });
      if (!worker.alive) await worker.start().ready();
      const before = await invariants(host);
      const input = relInput('r09-requirements');
      const handle = await startDeployment(temporal.client, config, input);
      let seen: string;
      try {
        seen = await pollStatus(handle, (r) => {
          const s = r.steps.find((x) => isStep(x.name, point.step));
          if (!s) return undefined;
          if (point.when === 'during' && s.outcome === 'running') return 'running';
          if (s.outcome === 'ok') return 'ok';
          if (s.outcome === 'failed') throw new Error(`deployment ended: step ${point.step} failed before the kill: ${s.detail}`);
          return undefined;
        });
      } catch (err) {
        recordFault({ id, group: 'worker-kill', fault: `SIGKILL worker ${point.when} step`, where: point.step, injected: false, survived: false, dataLost: false,
          outcome: 'not injected', detail: (err as Error).message.slice(0, 300), seconds: Math.round((Date.now() - t0) / 1000) });
        throw err;
      }
      if (seen === 'running' && point.delayMs) await sleep(point.delayMs);
      const stateAtKill = (await handle.query('status').catch(() => undefined)) as { steps: { name: string; outcome: string }[] } | undefined;
      const pid = await worker.kill9();
      const at = stateAtKill?.steps.find((s) => isStep(s.name, point.step))?.outcome ?? seen;
      log(`killed worker pid ${pid} with "${point.step}" ${at}`);
      worker.start();
      let outcome = '';
      const problems: string[] = [];
      let dataLost: string[] = [];
      let steps = '';
      try {
        const r = await resultOf(handle);
        steps = timeline(r);
        outcome = `${r.status}${r.reason ? ` (${r.reason.slice(0, 160)})` : ''}`;
        if (r.status !== 'deployed') problems.push(`deployment ended ${r.status}: ${r.reason ?? ''}; ${stepsText(r)}`);
        const v = await checkHost(host, config, {
          releaseId: r.releaseId,
          backupFile: r.backup?.file,
          current: [r.releaseId],
          serves: ['r09-requirements'],
          backup: 'one',
          releaseDir: 'one',
          migrations: [MIGRATIONS_R03],
          invariantsBefore: before,
        });
        problems.push(...v.problems);
        dataLost = v.dataLost;
        if (r.previousReleaseId !== BASELINE_RELEASE) problems.push(`previous release ${r.previousReleaseId}, expected ${BASELINE_RELEASE}`);
        if (r.restartMode !== 'restarted') problems.push(`restart mode ${r.restartMode}, expected restarted (new requirements)`);
        if (!/^v\d+\.\d+\.\d+$/.test(r.releaseTag ?? '')) problems.push(`no release tag (${r.releaseTag})`);
      } catch (err) {
        problems.push(`error: ${(err as Error).message}`);
        outcome = outcome || 'did not finish';
      }
      recordFault({
        id,
        group: 'worker-kill',
        fault: `SIGKILL worker ${point.when} step`,
        where: `${point.step} (${at} at kill)`,
        injected: true,
        survived: problems.length === 0,
        dataLost: dataLost.length > 0,
        outcome,
        detail: [...problems, ...dataLost.map((d) => `DATA: ${d}`)].join('; '),
        seconds: Math.round((Date.now() - t0) / 1000),
        timeline: steps,
      });
      assert.deepEqual(problems, [], `${ENV} after killing the worker ${point.when} "${point.step}"`);
    });
  }
});
