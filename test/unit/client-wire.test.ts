// The read-only verbs' protobuf codec (src/client/wire.ts) against @temporalio/proto's own (protobufjs over
// Temporal's .proto files): what we write must read back as the request the server expects, and what the server
// writes (with every field we skip present) must read as the same columns.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { temporal } from '@temporalio/proto';
import {
  decodeListWorkflowExecutionsResponse,
  decodeQueryWorkflowResponse,
  encodeListWorkflowExecutionsRequest,
  encodeQueryWorkflowRequest,
  fields,
  WireError,
} from '../../src/client/wire';
import { awaitsPerson, listQuery, signerAndRoles } from '../../src/client/list';
import { changeMakers } from '../../src/workflows/lifecycle-api';

const ws = temporal.api.workflowservice.v1;
const json = (v: unknown) => ({ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from(JSON.stringify(v)) });

describe('client wire codec (against @temporalio/proto)', () => {
  it('writes QueryWorkflowRequest as protobufjs reads it', () => {
    const bytes = encodeQueryWorkflowRequest({ namespace: 'bank-ns', workflowId: 'change-CHG-1', runId: 'r-1', queryType: 'status', args: [json({ a: 1 })] });
    const r = ws.QueryWorkflowRequest.decode(bytes);
    assert.equal(r.namespace, 'bank-ns');
    assert.equal(r.execution?.workflowId, 'change-CHG-1');
    assert.equal(r.execution?.runId, 'r-1');
    assert.equal(r.query?.queryType, 'status');
    assert.equal(Buffer.from(r.query!.queryArgs!.payloads![0]!.data!).toString(), '{"a":1}');
    assert.equal(Buffer.from(r.query!.queryArgs!.payloads![0]!.metadata!.encoding!).toString(), 'json/plain');
    assert.equal(r.queryRejectCondition, 0);
  });

  it('writes ListWorkflowExecutionsRequest as protobufjs reads it, page token included', () => {
    const token = Uint8Array.from([0, 1, 2, 250, 255]);
    const r = ws.ListWorkflowExecutionsRequest.decode(encodeListWorkflowExecutionsRequest({ namespace: 'default', pageSize: 1000, nextPageToken: token, query: 'WorkflowType = "changeLifecycle"' }));
    assert.equal(r.namespace, 'default');
    assert.equal(r.pageSize, 1000);
    assert.deepEqual(Uint8Array.from(r.nextPageToken!), token);
    assert.equal(r.query, 'WorkflowType = "changeLifecycle"');
  });

  it('reads QueryWorkflowResponse (result and rejection) as protobufjs wrote it', () => {
    const ok = decodeQueryWorkflowResponse(ws.QueryWorkflowResponse.encode({ queryResult: { payloads: [json({ phase: 'review', n: 300 })] } }).finish());
    assert.equal(ok.rejectedStatus, undefined);
    assert.deepEqual(JSON.parse(Buffer.from(ok.result[0]!.data).toString()), { phase: 'review', n: 300 });
    assert.equal(Buffer.from(ok.result[0]!.metadata.encoding!).toString(), 'json/plain');
    const rejected = decodeQueryWorkflowResponse(ws.QueryWorkflowResponse.encode({ queryRejected: { status: 2 } }).finish());
    assert.equal(rejected.rejectedStatus, 2);
  });

  it('reads the columns of ListWorkflowExecutionsResponse, skipping every other field', () => {
    const startSeconds = 1_796_000_000;
    const msg = ws.ListWorkflowExecutionsResponse.encode(
      ws.ListWorkflowExecutionsResponse.fromObject({
      executions: [
        {
          execution: { workflowId: 'change-CHG-20261201-ab12', runId: 'run-1' },
          type: { name: 'changeLifecycle' },
          startTime: { seconds: startSeconds, nanos: 987_000_000 },
          closeTime: { seconds: startSeconds + 5 },
          status: temporal.api.enums.v1.WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING,
          historyLength: 4_294_967_301, // beyond 32 bits: a 64-bit varint to skip
          memo: { fields: { note: json('memo is skipped') } },
          searchAttributes: { indexedFields: { ChangeId: json('CHG-20261201-ab12'), ChangePhase: json('review'), AwaitingApprovalFrom: json(['dba', 'approver']) } },
          taskQueue: 'steward',
          historySizeBytes: 12_345,
          firstRunId: 'run-1',
          priority: { priorityKey: 3 },
        },
        { execution: { workflowId: 'change-2' }, status: temporal.api.enums.v1.WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TERMINATED },
      ],
        nextPageToken: Buffer.from('next'),
      }),
    ).finish();
    const page = decodeListWorkflowExecutionsResponse(msg);
    assert.equal(page.executions.length, 2);
    const [a, b] = page.executions;
    assert.equal(a!.workflowId, 'change-CHG-20261201-ab12');
    assert.equal(a!.runId, 'run-1');
    assert.equal(a!.workflowType, 'changeLifecycle');
    assert.equal(a!.startTimeMs, startSeconds * 1000 + 987);
    assert.equal(a!.status, 1);
    assert.equal(a!.taskQueue, 'steward');
    assert.deepEqual(Object.keys(a!.searchAttributes).sort(), ['AwaitingApprovalFrom', 'ChangeId', 'ChangePhase']);
    assert.deepEqual(JSON.parse(Buffer.from(a!.searchAttributes.AwaitingApprovalFrom!.data).toString()), ['dba', 'approver']);
    assert.equal(b!.workflowId, 'change-2');
    assert.equal(b!.status, 5);
    assert.equal(Buffer.from(page.nextPageToken!).toString(), 'next');
    // The last page has no token.
    assert.equal(decodeListWorkflowExecutionsResponse(ws.ListWorkflowExecutionsResponse.encode({ executions: [] }).finish()).nextPageToken, undefined);
  });

  it('refuses a truncated message instead of reading past it', () => {
    const bytes = encodeQueryWorkflowRequest({ namespace: 'default', workflowId: 'change-X', queryType: 'status' });
    assert.throws(() => [...fields(bytes.subarray(0, bytes.length - 3))], WireError);
  });
});

describe('steward list queries', () => {
  it('asks visibility for the running changes awaiting the person or one of their roles', () => {
    assert.equal(listQuery({}), 'WorkflowType = "changeLifecycle"');
    assert.equal(listQuery({ phase: 'review' }), 'WorkflowType = "changeLifecycle" AND ChangePhase = "review"');
    assert.equal(
      listQuery({ awaitingAnyOf: signerAndRoles({ people: [{ id: 'carol', roles: ['approver', 'dba'] }] } as never, 'carol') }),
      'WorkflowType = "changeLifecycle" AND ExecutionStatus = "Running" AND AwaitingApprovalFrom IN ("carol", "approver", "dba")',
    );
    assert.equal(listQuery({ awaitingAnyOf: ['a"b'] }), 'WorkflowType = "changeLifecycle" AND ExecutionStatus = "Running" AND AwaitingApprovalFrom IN ("a\\"b")');
  });
  it('leaves out the changes the person proposed or implements (maker-checker), keeps older ones without makers', () => {
    const makers = changeMakers({ proposer: 'ivan', implementer: 'bob' });
    assert.deepEqual(makers, ['ivan', 'bob']);
    assert.deepEqual(changeMakers({ proposer: 'alice' }), ['alice']);
    assert.equal(awaitsPerson(makers, 'ivan'), false, 'the proposer is not asked');
    assert.equal(awaitsPerson(makers, 'bob'), false, 'the implementer is not asked');
    assert.equal(awaitsPerson(makers, 'carol'), true);
    assert.equal(awaitsPerson([], 'ivan'), true, 'a change of before ChangeMakers is kept');
  });
});
