// One toy rule in three versions (v1, v2-patched, v2-unpatched), for test/workflows/rule-change.test.ts: after the
// approval the change is announced; version 2 adds a re-check of the window before the announcement.
import { condition, defineSignal, proxyActivities, setHandler } from '@temporalio/workflow';

export interface RuleActivities {
  announce(approvers: string[]): Promise<void>;
  recheckWindow(): Promise<void>;
}

const { announce, recheckWindow } = proxyActivities<RuleActivities>({ startToCloseTimeout: '10 seconds' });
export const approveRuleSignal = defineSignal<[string]>('approve');

/** The workflow, with `recheck` saying whether this run re-checks the window (the rule that changes). */
export function ruleChangeWith(recheck: () => boolean): () => Promise<string[]> {
  return async function ruleChange(): Promise<string[]> {
    const approvers: string[] = [];
    setHandler(approveRuleSignal, (by) => void approvers.push(by));
    await condition(() => approvers.length >= 1);
    if (recheck()) await recheckWindow();
    await announce(approvers);
    return approvers;
  };
}
