// Two worker processes on one task queue (as a bank runs them, on two machines). A production deployment starts;
// while "run migrations" is running, the worker that holds that activity (its identity in the workflow's pending
// activities) is killed with SIGKILL. The other worker alone finishes the deployment, and the host, the database
// and the audit chain are as if nothing had happened: one release dir, one verified backup, each migration once.
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
    await pollStatus(handle, (r) => {
      const s = r.steps.find((x) => x.name === STEP);
      if (s?.outcome === 'failed') throw new Error(`step ${STEP} failed before the kill: ${s.detail}`);
      return s?.outcome === 'running' ? true : undefined;
    });
    await sleep(500);
    // Which process holds the activity: the pending activity names the worker identity ("<pid>@<host>").
    let holder: WorkerProcess | undefined;
    for (let i = 0; i < 100 && !holder; i++) {
      const d = await handle.describe();
      const identity = d.raw.pendingActivities?.find((a) => a.lastWorkerIdentity)?.lastWorkerIdentity ?? '';
      holder = workers.find((w) => identity.startsWith(`${w.child.pid}@`));
      if (!holder) await sleep(50);
    }
    assert.ok(holder, 'one of the two workers holds the running activity');
    const other = workers.find((w) => w !== holder)!;
    const pid = await holder.kill9();
    log(`killed ${holder.name} (pid ${pid}) during "${STEP}"; ${other.name} (pid ${other.child.pid}) carries on alone`);
    const problems: string[] = [];
    let outcome = 'did not finish';
    let steps = '';
    let dataLost: string[] = [];
    try {
      const r = await resultOf(handle);
      steps = timeline(r);
      outcome = r.status;
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
    } catch (err) {
      problems.push(`error: ${(err as Error).message}`);
    }
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
