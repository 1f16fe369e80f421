// The same rule change made carelessly (no patched()): a run recorded before it no longer replays.
import { condition, defineSignal, proxyActivities, setHandler } from '@temporalio/workflow';
import type { RuleActivities } from './api';

const { announce, recheckWindow } = proxyActivities<RuleActivities>({ startToCloseTimeout: '10 seconds' });
export const approveRuleSignal = defineSignal<[string]>('approve');

export async function ruleChange(): Promise<string[]> {
  const approvers: string[] = [];
  setHandler(approveRuleSignal, (by) => void approvers.push(by));
  await condition(() => approvers.length >= 1);
  await recheckWindow();
  await announce(approvers);
  return approvers;
}
