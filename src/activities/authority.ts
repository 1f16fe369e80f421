// A deployment's authority, in the worker (DESIGN "Trust model": trust no caller): the deployment says which workflow
// started it (its parent, as the server recorded it); this asks the server what that workflow really is (its type and
// status) and asks the change itself, by its `status` query, where it stands. The judgement is the domain's
// (judgeChangeAuthority), with the worker's policy now.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { CHANGE_WORKFLOW_TYPE, judgeChangeAuthority, type AuthorityExpectation, type AuthorityRefusal, type ChangeAuthority, type ChangeView } from '../domain/authority';
import { changeWorkflowId } from '../contracts/change-id';
import type { PolicyConfig } from '../domain/policy';

export interface AuthorityDeps {
  temporal: () => Promise<Client>;
  /** The worker's policy as it is now. */
  policy: () => PolicyConfig;
  now?: () => number;
}

export interface ParentAuthorityInput extends AuthorityExpectation {
  parentWorkflowId: string;
  parentRunId: string;
}

export function createAuthorityActivities(deps: AuthorityDeps) {
  return {
    /**
     * Confirms that the deployment's parent is its change: `change-<changeId>`, of type changeLifecycle, RUNNING,
     * and (by its own state) deploying this commit to this environment now. A refusal is an answer (ok: false),
     * not a fault; a fault (the server unreachable) is retried.
     */
    async confirmChangeAuthority(input: ParentAuthorityInput): Promise<ChangeAuthority | AuthorityRefusal> {
      const no = (reason: string): AuthorityRefusal => ({ ok: false, reason });
      if (input.parentWorkflowId !== changeWorkflowId(input.changeId)) {
        return no(`the deployment was started by ${input.parentWorkflowId}, not by the change's workflow ${changeWorkflowId(input.changeId)}`);
      }
      const client = await deps.temporal();
      const handle = client.workflow.getHandle(input.parentWorkflowId, input.parentRunId);
      let described;
      try {
        described = await handle.describe();
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return no(`the parent workflow ${input.parentWorkflowId} (run ${input.parentRunId}) does not exist`);
        throw err;
      }
      if (described.type !== CHANGE_WORKFLOW_TYPE) {
        return no(`the parent workflow ${input.parentWorkflowId} is a ${described.type}, not the change's ${CHANGE_WORKFLOW_TYPE}`);
      }
      if (described.status.name !== 'RUNNING') return no(`the change's workflow ${input.parentWorkflowId} is ${described.status.name}, not RUNNING`);
      // A changeLifecycle always answers `status`: a failure here is a fault (retried), not an answer.
      const view = (await handle.query('status')) as ChangeView;
      if (!view || typeof view !== 'object' || !Array.isArray(view.signoffs)) return no(`the change's workflow ${input.parentWorkflowId} answered its status query with something that is not a change`);
      return judgeChangeAuthority(view, input, deps.policy(), (deps.now ?? Date.now)());
    },
  };
}
