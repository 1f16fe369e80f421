// The gunicorn restart strategy on a requirements change, on the real stack: a new master beside the old one
// (USR2 with the new venv, then a graceful TERM of the old one), never stop-then-start. Under constant load
// (wrk, one new connection per request, as the availability bench measures it) no request may fail, and the host
// must end with exactly one master, running the new venv's interpreter and packages.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startLoad } from '../../bench/availability';
import { SshPool } from '../../src/activities/remote/ssh';
import { pidFile } from '../../src/commands/gunicorn';
import { cmd } from '../../src/commands/shell';
import type { StewardConfig } from '../../src/config/schema';
import type { DeploymentRecord } from '../../src/workflows/deployment';
import { deploy, deployInput, healthz } from '../helpers/deploy';
import { devConfig, withWorkerAndClient } from '../helpers/stack';

const ENV = 'staging';

async function onHost(config: StewardConfig, script: string, ...args: string[]): Promise<string> {
  const pool = new SshPool();
  try {
    return (await pool.exec(config.environments[ENV]!.hosts[0]!, cmd(['sh', '-c', script, 'probe', ...args]))).stdout.trim();
  } finally {
    pool.close();
  }
}

/** The masters on the host: processes whose parent is not a gunicorn process, among those running gunicorn from the deploy root. */
const MASTERS = `for d in /proc/[0-9]*; do c=$(tr '\\0' ' ' < $d/cmdline 2>/dev/null) || continue; case "$c" in *"$1/shared/steward-gunicorn.conf.py"*) p=$(sed -n 's/^PPid:[[:space:]]*//p' $d/status); case "$(tr '\\0' ' ' < /proc/$p/cmdline 2>/dev/null)" in *gunicorn*) ;; *) echo "\${d#/proc/} $c";; esac;; esac; done`;

const assertDeployed = (r: DeploymentRecord) => assert.equal(r.status, 'deployed', `${r.reason ?? ''} ${JSON.stringify(r.steps.filter((s) => s.outcome === 'failed'))}`);

describe('gunicorn: a requirements change is a zero-downtime handover (real stack, wrk)', () => {
  const config = devConfig('handover');
  const root = config.environments[ENV]!.app.deployRoot;
  const url = new URL('/healthz', config.environments[ENV]!.app.baseUrl).toString();

  it('r03 → r09 (new requirement) → r03 under load: no failed request, one master on the new venv each time', async () => {
    await withWorkerAndClient(config, async (client) => {
      const input = (gitRef: string) => ({ ...deployInput({ gitRef, environment: ENV }), stagingChecks: false });
      // From r03 (deployed first only when staging serves something else: each deploy costs minutes here).
      const serving = await healthz(config, ENV).catch(() => null);
      if (serving?.release !== 'r03-additive-migration') assertDeployed(await deploy(client, config, input('r03-additive-migration')));
      for (const [gitRef, from] of [['r09-requirements', 'r03-additive-migration'], ['r03-additive-migration', 'r09-requirements']] as const) {
        assert.equal((await healthz(config, ENV)).release, from);
        const masterBefore = await onHost(config, 'cat -- "$1"', pidFile(root));
        const load = startLoad(url, 300);
        await new Promise((r) => setTimeout(r, 1000));
        const r = await deploy(client, config, input(gitRef));
        await new Promise((res) => setTimeout(res, 1000));
        load.stop();
        const counts = await load.done;
        assertDeployed(r);
        console.log(`# ${from} → ${gitRef} under wrk: ${counts.requests} requests, ${counts.failed} failed (${counts.non2xx3xx} non-2xx/3xx, ${counts.socketErrors} socket errors), p99 ${counts.p99Ms} ms`);
        assert.equal(r.restartMode, 'restarted', 'a new venv needs a new master, not a HUP');
        // The demo config's declared smoke checks (src/dev/stack.ts) ran on the real app, read-only.
        const declared = r.smoke!.checks.filter((c) => ['database-answers', 'login-form-csrf', 'static-from-manifest', 'no-500-on-pages'].includes(c.name));
        assert.deepEqual(declared.map((c) => [c.name, c.ok, !!c.writes]), [['database-answers', true, false], ['login-form-csrf', true, false], ['static-from-manifest', true, false], ['no-500-on-pages', true, false]], JSON.stringify(declared));
        assert.match(declared[2]!.detail, /^2 files of staticfiles\.json served$/);
        assert.ok(counts.requests > 100, `the load ran (${counts.requests} requests)`);
        assert.deepEqual({ failed: counts.failed, non2xx3xx: counts.non2xx3xx, socketErrors: counts.socketErrors }, { failed: 0, non2xx3xx: 0, socketErrors: 0 }, `${gitRef}: ${JSON.stringify(counts)}`);
        assert.equal((await healthz(config, ENV)).release, gitRef);

        // On the host: the pid file names a new, live master; it is the only one; it runs the release's venv.
        const master = await onHost(config, 'p=$(cat -- "$1") && kill -0 "$p" && echo "$p"', pidFile(root));
        assert.notEqual(master, masterBefore, 'a new master');
        const masters = (await onHost(config, MASTERS, root)).split('\n').filter(Boolean);
        assert.equal(masters.length, 1, `exactly one master: ${masters.join(' | ')}`);
        assert.equal(masters[0]!.split(' ')[0], master);
        const venv = await onHost(config, 'readlink -- "$1"', `${root}/releases/${r.releaseId}/.venv`);
        assert.match(masters[0]!, new RegExp(`^${master} ${venv}/bin/python ${venv}/bin/gunicorn `), 'the new venv\'s interpreter and Gunicorn, not the old master\'s');
        const envVenv = await onHost(config, 'tr "\\0" "\\n" < /proc/"$1"/environ | sed -n "s/^STEWARD_VENV=//p"', master);
        assert.equal(envVenv, venv, 'the master knows its venv (the next code-only deploy is a HUP)');
        // The new requirement is in that venv: python-dateutil is only in r09's requirements.
        const dateutil = await onHost(config, '"$1"/bin/python -c "import dateutil" 2>/dev/null && echo yes || echo no', venv);
        assert.equal(dateutil, gitRef === 'r09-requirements' ? 'yes' : 'no');
      }
    });
  });
});
