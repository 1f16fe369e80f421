import { ApplicationFailure } from '@temporalio/common';
import { listTags, pushTag, tagCommit, tagNames, tagTarget } from '../../commands/git';
import { releasePaths } from '../../commands/release';
import { RemoteCommandError, type StepResult } from '../remote/ssh';
import { onHost, repoAccessOf, type DeploymentDeps } from './context';

export function createTagActivities(deps: DeploymentDeps) {
  return {
    async listReleaseTags(input: { environment: string }): Promise<string[]> {
      const h = onHost(deps, input.environment);
      const p = releasePaths(h.env.app.deployRoot, 'probe');
      return (await h.run(listTags(p.mirror))).stdout.split('\n').map((t) => t.trim()).filter(Boolean);
    },

    /** Idempotent: a retry finds its own tag on the same commit; the same tag on another commit is refused. */
    async tagRelease(input: { environment: string; tag: string; commit: string; changeId: string }): Promise<{ tag: string; created: boolean }> {
      const h = onHost(deps, input.environment);
      const p = releasePaths(h.env.app.deployRoot, 'probe');
      const taken = (existing: StepResult) => {
        if (existing.exitCode === 0 && existing.stdout.trim() !== input.commit) {
          throw ApplicationFailure.nonRetryable(`tag ${input.tag} already names another commit (${existing.stdout.trim().slice(0, 12)})`, 'TagTaken');
        }
      };
      // One exec: the tag's commit if it exists; the tag unless it names this commit (a tag on another commit stops the
      // batch before the push); the push.
      // With repo access only the push reads the token, from the exec's stdin.
      const repo = repoAccessOf(h.env);
      let steps: readonly StepResult[];
      try {
        steps = (await h.batch([
          { command: tagTarget(p.mirror, input.tag), allowFailure: true },
          { command: { kind: 'or', commands: [tagNames(p.mirror, input.tag, input.commit), tagCommit(p.mirror, input.tag, input.commit, `Release ${input.tag} (change ${input.changeId}), deployed by Steward`)] } },
          { command: pushTag(p.mirror, h.env.app.repo, input.tag, repo.access), stdin: repo.stdin !== undefined },
        ], { stdin: repo.stdin })).steps;
      } catch (err) {
        if (err instanceof RemoteCommandError && err.steps?.[0]) taken(err.steps[0]);
        throw err;
      }
      taken(steps[0]!);
      const created = steps[0]!.exitCode !== 0;
      return { tag: input.tag, created };
    },
  };
}
