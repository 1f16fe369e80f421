// The rule changed the way Steward changes rules: the new check (re-checking the window after the approval) runs
// only in runs that started on the new code; a run recorded before the change replays as it ran.
import { condition, defineSignal, patched, proxyActivities, setHandler } from '@temporalio/workflow';
import type { RuleActivities } from './api';

const { announce, recheckWindow } = proxyActivities<RuleActivities>({ startToCloseTimeout: '10 seconds' });
export const approveRuleSignal = defineSignal<[string]>('approve');

export async function ruleChange(): Promise<string[]> {
  const approvers: string[] = [];
  setHandler(approveRuleSignal, (by) => void approvers.push(by));
  await condition(() => approvers.length >= 1);
  if (patched('recheck-window-after-approval')) await recheckWindow();
  await announce(approvers);
  return approvers;
}
