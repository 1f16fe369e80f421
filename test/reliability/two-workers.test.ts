// Two worker processes on one task queue (as a bank runs them, on two machines). A production deployment starts;
// while "run migrations" is running, the worker that holds that activity (its identity in the workflow's pending
// activities) is killed with SIGKILL. The other worker alone finishes the deployment, and the host, the database
// and the audit chain are as if nothing had happened: one release dir, one verified backup, each migration once.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  BASELINE_RELEASE,
  connectClient,
  ENV,
  Host,
  invariants,
  killWorkerAtStep,
  log,
  MIGRATIONS_R03,
  outcomeAfterKill,
  recordFault,
  relConfig,
  relInput,
  resetBaseline,
  startDeployment,
  WorkerProcess,
  writeConfigCopy,
} from './harness';

const STEP = 'run migrations';

describe('two workers on one task queue, one killed mid-deployment', () => {
  const config = relConfig('two');
  const configFile = writeConfigCopy(config, 'two');
  const host = new Host(config);
  const workers = [new WorkerProcess('two-a', configFile), new WorkerProcess('two-b', configFile)];
  let temporal: Awaited<ReturnType<typeof connectClient>>;

  before(async () => {
    for (const w of workers) w.start();
    await Promise.all(workers.map((w) => w.ready()));
    temporal = await connectClient(config);
  });
  after(async () => {
    for (const w of workers) await w.stop();
    await temporal?.close();
    host.close();
  });

  it(`SIGKILL the worker running "${STEP}": the other finishes, host and audit chain consistent`, async () => {
    const t0 = Date.now();
    await resetBaseline(host, config);
    const before = await invariants(host);
    const handle = await startDeployment(temporal.client, config, relInput('r09-requirements'));
    // The holder is the process the pending activity names ("<pid>@<host>"); it is not restarted.
    const { killed } = await killWorkerAtStep(handle, workers, { step: STEP, when: 'during', delayMs: 500 }, { restart: false });
    const other = workers.find((w) => w !== killed)!;
    log(`${other.name} (pid ${other.child.pid}) carries on alone`);
    const { outcome, steps, problems, dataLost } = await outcomeAfterKill(
      handle,
      host,
      config,
      (r) => ({ releaseId: r.releaseId, backupFile: r.backup?.file, current: [r.releaseId], serves: ['r09-requirements'], backup: 'one', releaseDir: 'one', migrations: [MIGRATIONS_R03], invariantsBefore: before }),
      (r) => (r.previousReleaseId !== BASELINE_RELEASE ? [`previous release ${r.previousReleaseId}, expected ${BASELINE_RELEASE}`] : []),
    );
    if (!other.alive) problems.push(`the surviving worker ${other.name} exited`);
    recordFault({
      id: 'two-workers-kill-one',
      group: 'worker-kill',
      fault: 'SIGKILL one of two workers',
      where: `${STEP} (running at kill)`,
      injected: true,
      survived: problems.length === 0,
      dataLost: dataLost.length > 0,
      outcome,
      detail: [...problems, ...dataLost.map((d) => `DATA: ${d}`)].join('; '),
      seconds: Math.round((Date.now() - t0) / 1000),
      timeline: steps,
    });
    assert.deepEqual(problems, [], `${ENV} after killing one of two workers during "${STEP}"`);
  });
});
