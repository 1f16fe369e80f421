// The worker's workflow bundle: explicit named exports only.
export { ping } from './ping';
export { deployment } from './deployment';
export { environmentLock } from './environment-lock';
export { changeLifecycle } from './change-lifecycle';
export { incidentResponse } from './incident-response';
export { auditCheckpoint } from './audit-checkpoint';
