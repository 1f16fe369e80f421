// Kill -9 the worker at every step boundary of `deployment`, start a new one, and check the host: the
// deployment finishes exactly once, with one release dir, one verified backup, each migration applied once,
// `current` on the new release, the app green, the non-smoke balances unchanged and the audit chain intact.
// Each deployment is r02 (at banking 0002) → r09: a new venv, migration 0003 and a full Gunicorn restart.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  BASELINE_RELEASE,
  connectClient,
  ENV,
  Host,
  invariants,
  killWorkerAtStep,
  MIGRATIONS_R03,
  outcomeAfterKill,
  QUICK,
  recordFault,
  relConfig,
  relInput,
  resetBaseline,
  startDeployment,
  WorkerProcess,
  writeConfigCopy,
  type KillPoint as HarnessKillPoint,
} from './harness';

type KillPoint = HarnessKillPoint & { step: string };

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
      const handle = await startDeployment(temporal.client, config, relInput('r09-requirements'));
      let at: string;
      try {
        ({ at } = await killWorkerAtStep(handle, [worker], point, { restart: true }));
      } catch (err) {
        recordFault({ id, group: 'worker-kill', fault: `SIGKILL worker ${point.when} step`, where: point.step, injected: false, survived: false, dataLost: false,
          outcome: 'not injected', detail: (err as Error).message.slice(0, 300), seconds: Math.round((Date.now() - t0) / 1000) });
        throw err;
      }
      const { outcome, steps, problems, dataLost } = await outcomeAfterKill(
        handle,
        host,
        config,
        (r) => ({ releaseId: r.releaseId, backupFile: r.backup?.file, current: [r.releaseId], serves: ['r09-requirements'], backup: 'one', releaseDir: 'one', migrations: [MIGRATIONS_R03], invariantsBefore: before }),
        (r) => [
          ...(r.previousReleaseId !== BASELINE_RELEASE ? [`previous release ${r.previousReleaseId}, expected ${BASELINE_RELEASE}`] : []),
          ...(r.restartMode !== 'restarted' ? [`restart mode ${r.restartMode}, expected restarted (new requirements)`] : []),
          ...(!/^v\d+\.\d+\.\d+$/.test(r.releaseTag ?? '') ? [`no release tag (${r.releaseTag})`] : []),
        ],
      );
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
