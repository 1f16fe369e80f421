export interface RuleActivities {
  announce(approvers: string[]): Promise<void>;
  recheckWindow(): Promise<void>;
}
