// A rule as it was: after the approval, the change is announced. (The replay-after-a-rule-change test, with v2-*.ts.)
import { condition, defineSignal, proxyActivities, setHandler } from '@temporalio/workflow';
import type { RuleActivities } from './api';

const { announce } = proxyActivities<RuleActivities>({ startToCloseTimeout: '10 seconds' });
export const approveRuleSignal = defineSignal<[string]>('approve');

export async function ruleChange(): Promise<string[]> {
  const approvers: string[] = [];
  setHandler(approveRuleSignal, (by) => void approvers.push(by));
  await condition(() => approvers.length >= 1);
  await announce(approvers);
  return approvers;
}
