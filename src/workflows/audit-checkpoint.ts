// auditCheckpoint: run by the Schedule "steward-audit-checkpoint" (and by `steward audit checkpoint`). The signed
// chain head it returns stays in this workflow's history, outside the audit database (DESIGN "Trust model").
import { proxyActivities } from '@temporalio/workflow';
import type { AuditActivities, AuditCheckpointResult } from '../activities/audit/api';

const audit = proxyActivities<Pick<AuditActivities, 'signAuditCheckpoint'>>({
  startToCloseTimeout: '2 minutes',
  retry: { maximumAttempts: 5 },
});

export { AUDIT_CHECKPOINT_SCHEDULE_ID } from '../contracts/audit';

export async function auditCheckpoint(): Promise<AuditCheckpointResult | null> {
  return audit.signAuditCheckpoint.executeWithOptions({ summary: 'sign the audit chain head with the worker key' }, [{}]);
}
