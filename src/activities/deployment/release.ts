// Preparing a release beside the live one, switching to it atomically, and restarting Gunicorn.
import { ApplicationFailure } from '@temporalio/common';
import { runningMasterAndVenv, signalMaster, startGunicorn, writeHandoverConfig } from '../../commands/gunicorn';
import { handOver } from './handover';
import { appRelease, buildVenv, collectStatic as collectStaticCommand, linkVenv, venvMarker, venvPath } from '../../commands/python';
import {
  COMMIT,
  ensureMirror,
  extractUnlessMarked,
  fetchMirror,
  fetchMirrorUnlessHas,
  readCurrent,
  releasePaths,
  removeRelease,
  resolveCommit,
  sha256OfFile,
  switchCurrent,
  pruneReleases,
} from '../../commands/release';
import { cmd } from '../../commands/shell';
import { systemctl } from '../../commands/systemd';
import { RemoteCommandError, type StepResult } from '../remote/ssh';
import { heartbeat, onHost, repoAccessOf, tokenLines, type DeploymentDeps } from './context';

export interface PreparedRelease {
  releaseId: string;
  releaseDir: string;
  commit: string;
  requirementsHash: string;
  reused: boolean;
}

export function createReleaseActivities(deps: DeploymentDeps) {
  return {
    /**
     * Fetches the ref into releases/<id>; never touches the live release. Idempotent: a whole release dir is reused.
     * One exec: mirror, fetch (skipped when the ref is a commit the mirror has: the gate's fetch is reused), resolve,
     * extract unless the release dir already holds the commit, and the requirements' hash.
     */
    async prepareRelease(input: { environment: string; host?: string; releaseId: string; gitRef: string }): Promise<PreparedRelease> {
      const h = onHost(deps, input.environment, input.host);
      const p = releasePaths(h.env.app.deployRoot, input.releaseId);
      const unknownRef = () => ApplicationFailure.nonRetryable(`git ref ${JSON.stringify(input.gitRef)} does not name a commit in ${h.env.app.repo}`, 'UnknownGitRef');
      const requirements = sha256OfFile(`${p.release}/requirements.txt`);
      // With repo access the clone and the fetch read the token from the exec's stdin, one line each.
      const repo = repoAccessOf(h.env);
      const reads = repo.stdin !== undefined;
      let commit: string;
      let out: StepResult[];
      if (COMMIT.test(input.gitRef)) {
        commit = input.gitRef;
        try {
          out = (await h.batch(
            [
              { command: ensureMirror(p, h.env.app.repo, repo.access), stdin: reads },
              { command: fetchMirrorUnlessHas(p, commit, h.env.app.repo, repo.access), stdin: reads },
              { command: resolveCommit(p, commit) },
              { command: extractUnlessMarked(p, commit) },
              { command: requirements },
            ],
            { stdin: tokenLines(repo.stdin, 2) },
          )).steps;
        } catch (err) {
          if (err instanceof RemoteCommandError && err.step === 2) throw unknownRef();
          throw err;
        }
        if (out[2]!.stdout.trim() !== commit) throw unknownRef();
      } else {
        // A ref by name: resolved first (after a fetch), then extracted.
        const first = (await h.batch(
          [
            { command: ensureMirror(p, h.env.app.repo, repo.access), stdin: reads },
            { command: fetchMirror(p, h.env.app.repo, repo.access), stdin: reads },
            { command: resolveCommit(p, input.gitRef), allowFailure: true },
          ],
          { stdin: tokenLines(repo.stdin, 2) },
        )).steps;
        commit = first[2]!.stdout.trim();
        if (first[2]!.exitCode !== 0 || !COMMIT.test(commit)) throw unknownRef();
        out = [...first.slice(0, 3), ...(await h.batch([{ command: extractUnlessMarked(p, commit) }, { command: requirements }])).steps];
      }
      const reused = out[3]!.stdout.trim() === 'reused';
      return { releaseId: input.releaseId, releaseDir: p.release, commit, requirementsHash: out[4]!.stdout.split(/\s+/)[0]!, reused };
    },

    /** One venv per requirements hash: unchanged requirements cost nothing; old releases keep their own venv. One exec. */
    async prepareVirtualenv(input: { environment: string; host?: string; releaseId: string; requirementsHash: string }): Promise<{ venv: string; installed: boolean }> {
      const h = onHost(deps, input.environment, input.host);
      const p = releasePaths(h.env.app.deployRoot, input.releaseId);
      const venv = venvPath(p.venvs, input.requirementsHash);
      const r = await h.batch(
        [
          { command: cmd(['mkdir', '-p', '--', p.venvs]) },
          { command: cmd(['test', '-f', venvMarker(venv)]), allowFailure: true },
          // Builds nothing when the venv is complete (it checks the marker again under its lock).
          { command: buildVenv(h.env.app.python, venv, `${p.release}/requirements.txt`) },
          { command: linkVenv(venv, p.release) },
        ],
        { timeoutMs: 30 * 60_000 },
      );
      return { venv, installed: r.steps[1]!.exitCode !== 0 };
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
      // One exec: where `current` points before, the release is whole, the atomic switch.
      const r = await h.batch([{ command: readCurrent(p) }, { command: cmd(['test', '-f', p.marker]) }, { command: switchCurrent(p, p.release) }]);
      const before = r.steps[0]!.stdout.trim();
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
      const hook = app.hooks.restart;
      const marker = `${root}/shared/.steward-running-venv`;
      // Two execs: what runs now (the release's venv, the running master or the venv last started), then the action.
      const probe = await h.batch([
        { command: cmd(['readlink', '--', `${p.release}/.venv`]) },
        { command: hook.strategy === 'gunicorn' ? runningMasterAndVenv(root) : cmd(['cat', '--', marker]), allowFailure: true },
      ]);
      const venv = probe.steps[0]!.stdout.trim();
      let mode: 'started' | 'reloaded' | 'restarted';
      if (hook.strategy === 'gunicorn') {
        const bind = app.bind ?? new URL(app.baseUrl).host;
        const spec = { deployRoot: root, bind, wsgi: app.wsgi, workers: app.workers, venv, settingsModule: app.settingsModule };
        const [pidText = '', running = ''] = probe.steps[1]!.stdout.trim().split('\n').map((l) => l.trim());
        const logs = cmd(['mkdir', '-p', '--', `${root}/shared/logs`]);
        if (!pidText) {
          await h.batch([{ command: logs }, { command: writeHandoverConfig(root) }, { command: startGunicorn(spec) }]);
          mode = 'started';
        } else {
          const pid = Number(pidText);
          if (running === venv) {
            await h.run(signalMaster(pid, 'HUP'));
            mode = 'reloaded';
          } else {
            // The zero-downtime handover (USR2, then the old master retired): its own steps and checks, unbatched.
            await handOver(h, pid, spec, { baseUrl: app.baseUrl, releaseId: input.releaseId, health: app.health });
            mode = 'restarted';
          }
        }
      } else {
        // The app's own supervisor runs it: Steward remembers which venv it last (re)started it with, to choose
        // between a reload (code only) and a restart (new interpreter and dependencies).
        const running = probe.steps[1]!.exitCode === 0 ? probe.steps[1]!.stdout.trim() : '';
        const full = running !== venv;
        const action =
          hook.strategy === 'systemd'
            ? systemctl(hook.unit, full ? 'restart' : 'reload', { sudo: hook.sudo ?? h.host.user !== 'root' })
            : cmd(full ? (hook.restart ?? hook.reload) : hook.reload, { cwd: p.release });
        // Written as soon as the command ran: a rollback must know the process now runs this venv, healthy or not.
        await h.batch([{ command: action }, { command: { kind: 'redirect', command: cmd(['echo', venv]), stdoutTo: marker } }]);
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
