// A change's workflow id. Its own module, free of the SDK, so the CLI's read-only verbs can name a change's
// workflow without loading @temporalio/workflow (src/client/rpc.ts); lifecycle-api.ts re-exports it.
export const changeWorkflowId = (changeId: string) => `change-${changeId}`;
