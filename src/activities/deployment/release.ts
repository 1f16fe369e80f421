// Preparing a release beside the live one, switching to it atomically, and restarting Gunicorn.
import { ApplicationFailure } from '@temporalio/common';
import { masterVenv, runningMaster, signalMaster, startGunicorn, writeHandoverConfig } from '../../commands/gunicorn';
import { handOver } from './handover';
import { appRelease, buildVenv, collectStatic as collectStaticCommand, linkVenv, venvMarker, venvPath } from '../../commands/python';
import {
  ensureMirror,
  extractRelease,
  fetchMirror,
  readCurrent,
  readMarker,
  releasePaths,
  removeRelease,
  resolveCommit,
  sha256OfFile,
  switchCurrent,
  pruneReleases,
} from '../../commands/release';
import { cmd } from '../../commands/shell';
import { systemctl } from '../../commands/systemd';
import { heartbeat, onHost, repoAccessOf, type DeploymentDeps } from './context';

export interface PreparedRelease {
  releaseId: string;
  releaseDir: string;
  commit: string;
  requirementsHash: string;
  reused: boolean;
}

export function createReleaseActivities(deps: DeploymentDeps) {
  return {
    /** Fetches the ref into releases/<id>; never touches the live release. Idempotent: a whole release dir is reused. */
    async prepareRelease(input: { environment: string; host?: string; releaseId: string; gitRef: string }): Promise<PreparedRelease> {
      const h = onHost(deps, input.environment, input.host);
      const p = releasePaths(h.env.app.deployRoot, input.releaseId);
      const repo = repoAccessOf(h.env);
      await h.run(ensureMirror(p, h.env.app.repo, repo.access), { stdin: repo.stdin });
      await h.run(fetchMirror(p, h.env.app.repo, repo.access), { stdin: repo.stdin });
      const resolved = await h.run(resolveCommit(p, input.gitRef), { allowFailure: true });
      const commit = resolved.stdout.trim();
      if (resolved.exitCode !== 0 || !/^[0-9a-f]{40}$/.test(commit)) {
        throw ApplicationFailure.nonRetryable(`git ref ${JSON.stringify(input.gitRef)} does not name a commit in ${h.env.app.repo}`, 'UnknownGitRef');
      }
      const marker = await h.run(readMarker(p), { allowFailure: true });
      let reused = false;
      if (marker.exitCode === 0 && marker.stdout.trim() === commit) reused = true;
      else await h.run(extractRelease(p, commit));
      const req = await h.run(sha256OfFile(`${p.release}/requirements.txt`));
      return { releaseId: input.releaseId, releaseDir: p.release, commit, requirementsHash: req.stdout.split(/\s+/)[0]!, reused };
    },

    /** One venv per requirements hash: unchanged requirements cost nothing; old releases keep their own venv. */
    async prepareVirtualenv(input: { environment: string; host?: string; releaseId: string; requirementsHash: string }): Promise<{ venv: string; installed: boolean }> {
      const h = onHost(deps, input.environment, input.host);
      const p = releasePaths(h.env.app.deployRoot, input.releaseId);
      const venv = venvPath(p.venvs, input.requirementsHash);
      await h.run(cmd(['mkdir', '-p', '--', p.venvs]));
      const exists = await h.run(cmd(['test', '-f', venvMarker(venv)]), { allowFailure: true });
      let installed = false;
      if (exists.exitCode !== 0) {
        await h.run(buildVenv(h.env.app.python, venv, `${p.release}/requirements.txt`), { timeoutMs: 30 * 60_000 });
        installed = true;
      }
      await h.run(linkVenv(venv, p.release));
      return { venv, installed };
    },

    async collectStatic(input: { environment: string; host?: string; releaseId: string }): Promise<{ durationMs: number }> {
      const h = onHost(deps, input.environment, input.host);
      const r = await h.run(collectStaticCommand(appRelease(h.env.app, releasePaths(h.env.app.deployRoot, input.releaseId).release)));
      return { durationMs: r.durationMs };
    },

    /** The release `current` points at, as a release id (null before the first deployment). */
    async readCurrentRelease(input: { environment: string; host?: string }): Promise<{ releaseId: string | null }> {
      const h = onHost(deps, input.environment, input.host);
      const p = releasePaths(h.env.app.deployRoot, 'probe');
      const target = (await h.run(readCurrent(p))).stdout.trim();
      if (!target) return { releaseId: null };
      const id = target.split('/').filter(Boolean).pop() ?? null;
      return { releaseId: id };
    },

    /** Atomic switch of `current`. Idempotent: switching to where it already points changes nothing. */
    async switchRelease(input: { environment: string; host?: string; releaseId: string }): Promise<{ previousReleaseId: string | null }> {
      const h = onHost(deps, input.environment, input.host);
      const p = releasePaths(h.env.app.deployRoot, input.releaseId);
      const before = (await h.run(readCurrent(p))).stdout.trim();
      await h.run(cmd(['test', '-f', p.marker]));
      await h.run(switchCurrent(p, p.release));
      const prev = before ? before.split('/').filter(Boolean).pop()! : null;
      return { previousReleaseId: prev };
    },

    /**
     * Graceful reload when the venv is unchanged (HUP: new workers from the switched `current`, old ones finish
     * their requests); a full restart when the dependencies changed, since a HUP keeps the master's interpreter.
     * Waits until /healthz reports the expected release.
     */
    async restartApp(input: { environment: string; host?: string; releaseId: string }): Promise<{ mode: 'started' | 'reloaded' | 'restarted'; durationMs: number }> {
      const started = Date.now();
      const h = onHost(deps, input.environment, input.host);
      const app = h.env.app;
      const root = app.deployRoot;
      const p = releasePaths(root, input.releaseId);
      const venv = (await h.run(cmd(['readlink', '--', `${p.release}/.venv`]))).stdout.trim();
      const hook = app.hooks.restart;
      let mode: 'started' | 'reloaded' | 'restarted';
      if (hook.strategy === 'gunicorn') {
        const bind = app.bind ?? new URL(app.baseUrl).host;
        const spec = { deployRoot: root, bind, wsgi: app.wsgi, workers: app.workers, venv, settingsModule: app.settingsModule };
        const pidText = (await h.run(runningMaster(root))).stdout.trim();
        if (!pidText) {
          await h.run(cmd(['mkdir', '-p', '--', `${root}/shared/logs`]));
          await h.run(writeHandoverConfig(root));
          await h.run(startGunicorn(spec));
          mode = 'started';
        } else {
          const pid = Number(pidText);
          const running = (await h.run(masterVenv(pid))).stdout.trim();
          if (running === venv) {
            await h.run(signalMaster(pid, 'HUP'));
            mode = 'reloaded';
          } else {
            await handOver(h, pid, spec, { baseUrl: app.baseUrl, releaseId: input.releaseId, health: app.health });
            mode = 'restarted';
          }
        }
      } else {
        // The app's own supervisor runs it: Steward remembers which venv it last (re)started it with, to choose
        // between a reload (code only) and a restart (new interpreter and dependencies).
        const marker = `${root}/shared/.steward-running-venv`;
        const running = (await h.run(cmd(['cat', '--', marker]), { allowFailure: true })).stdout.trim();
        const full = running !== venv;
        if (hook.strategy === 'systemd') {
          await h.run(systemctl(hook.unit, full ? 'restart' : 'reload', { sudo: hook.sudo ?? h.host.user !== 'root' }));
        } else {
          await h.run(cmd(full ? (hook.restart ?? hook.reload) : hook.reload, { cwd: p.release }));
        }
        // Written as soon as the command ran: a rollback must know the process now runs this venv, healthy or not.
        await h.run({ kind: 'redirect', command: cmd(['echo', venv]), stdoutTo: marker });
        mode = full ? (running ? 'restarted' : 'started') : 'reloaded';
      }
      await waitForRelease(app.baseUrl, input.releaseId, 45_000, app.health);
      return { mode, durationMs: Date.now() - started };
    },

    async removeRelease(input: { environment: string; host?: string; releaseId: string }): Promise<void> {
      const h = onHost(deps, input.environment, input.host);
      const p = releasePaths(h.env.app.deployRoot, input.releaseId);
      const current = (await h.run(readCurrent(p))).stdout.trim();
      if (current === p.release) throw ApplicationFailure.nonRetryable('refusing to remove the live release', 'LiveRelease');
      await h.run(removeRelease(p));
    },

    async pruneReleases(input: { environment: string; host?: string; keep: string[] }): Promise<void> {
      const h = onHost(deps, input.environment, input.host);
      const p = releasePaths(h.env.app.deployRoot, 'probe');
      await h.run(pruneReleases(p, h.env.app.releasesToKeep, input.keep));
    },
  };
}

/**
 * Polls the app's health path until it proves the release serves: its `releaseField` names the release dir (new
 * workers serve it), or, for an app that cannot say, a 200 with `expectText`. Several answers in a row: after a
 * reload the old workers may still answer for a moment.
 */
export async function waitForRelease(
  baseUrl: string,
  releaseId: string,
  timeoutMs: number,
  health: { path: string; releaseField?: string; expectText?: string } = { path: '/healthz', releaseField: 'release_dir' },
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  let streak = 0;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(new URL(health.path, baseUrl), { signal: AbortSignal.timeout(2000) });
      const text = await res.text();
      last = `${res.status} ${text.slice(0, 200)}`;
      let ok = res.status === 200 && (health.expectText === undefined || text.includes(health.expectText));
      if (ok && health.releaseField !== undefined) ok = (JSON.parse(text) as Record<string, unknown>)[health.releaseField] === releaseId;
      if (ok) {
        streak += 1;
        if (streak >= 3) return;
        continue;
      }
      streak = 0;
    } catch (err) {
      last = (err as Error).message;
      streak = 0;
    }
    heartbeat(`waiting for ${health.path} to report ${releaseId}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  // Not retried: restarting again would not change what the new code does.
  throw ApplicationFailure.nonRetryable(`the app did not serve release ${releaseId} within ${timeoutMs / 1000} s (last answer from ${health.path}: ${last})`, 'ReleaseNotServing');
}
