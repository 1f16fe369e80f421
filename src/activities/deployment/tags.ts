import { ApplicationFailure } from '@temporalio/common';
import { listTags, pushTag, tagCommit, tagTarget } from '../../commands/git';
import { releasePaths } from '../../commands/release';
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
      const existing = await h.run(tagTarget(p.mirror, input.tag), { allowFailure: true });
      let created = false;
      if (existing.exitCode === 0) {
        if (existing.stdout.trim() !== input.commit) {
          throw ApplicationFailure.nonRetryable(`tag ${input.tag} already names another commit (${existing.stdout.trim().slice(0, 12)})`, 'TagTaken');
        }
      } else {
        await h.run(tagCommit(p.mirror, input.tag, input.commit, `Release ${input.tag} (change ${input.changeId}), deployed by Steward`));
        created = true;
      }
      const repo = repoAccessOf(h.env);
      await h.run(pushTag(p.mirror, h.env.app.repo, input.tag, repo.access), { stdin: repo.stdin });
      return { tag: input.tag, created };
    },
  };
}
