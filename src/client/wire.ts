// The protobuf wire format, only as much of it as the read-only verbs' RPCs need (src/client/rpc.ts): the CLI's
// `status` and `list` would otherwise load @temporalio/proto, which builds a reflection object for every message of
// the Temporal API at each start (about a quarter of a second of CPU, measured with node --cpu-prof), to send two
// small requests. Field numbers are Temporal's (temporal/api/*.proto); test/unit/client-wire.test.ts checks this
// encoder and decoder against @temporalio/proto's own on the same messages.

/** A message being written: fields in any order, as the format allows. */
export class Writer {
  private readonly parts: Uint8Array[] = [];
  private size = 0;

  private push(b: Uint8Array): this {
    this.parts.push(b);
    this.size += b.length;
    return this;
  }

  private varint(n: number): this {
    const out: number[] = [];
    let v = n;
    while (v > 0x7f) {
      out.push((v % 128) | 0x80);
      v = Math.floor(v / 128);
    }
    out.push(v);
    return this.push(Uint8Array.from(out));
  }

  private tag(field: number, wireType: number): this {
    return this.varint(field * 8 + wireType);
  }

  /** A non-negative integer (int32/int64/enum/bool); 0 is the default and is not written. */
  uint(field: number, n: number): this {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`field ${field}: ${n} is not a non-negative integer`);
    return n === 0 ? this : this.tag(field, 0).varint(n);
  }

  bytes(field: number, b: Uint8Array | undefined): this {
    if (!b || b.length === 0) return this;
    return this.tag(field, 2).varint(b.length).push(b);
  }

  string(field: number, s: string | undefined): this {
    return s ? this.bytes(field, Buffer.from(s, 'utf8')) : this;
  }

  /** An embedded message (written even when empty: presence matters for messages). */
  message(field: number, m: Writer): this {
    const b = m.finish();
    return this.tag(field, 2).varint(b.length).push(b);
  }

  finish(): Uint8Array {
    return Buffer.concat(this.parts, this.size);
  }
}

export interface Field {
  field: number;
  wireType: number;
  /** Varint and fixed-width fields (numbers beyond 2^53 lose precision; none read here come near). */
  int: number;
  /** Length-delimited fields: a view into the message's buffer, not a copy. */
  bytes: Uint8Array;
}

const EMPTY = new Uint8Array(0);

/** The fields of one message, in wire order; unknown fields are skipped by their wire type, as the format intends. */
export function* fields(buf: Uint8Array): Generator<Field> {
  let pos = 0;
  const varint = (): number => {
    let result = 0;
    let mul = 1;
    for (;;) {
      if (pos >= buf.length) throw new WireError('truncated varint');
      const b = buf[pos++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
      if (mul > 2 ** 70) throw new WireError('varint too long');
    }
  };
  while (pos < buf.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wireType = key & 7;
    if (wireType === 0) yield { field, wireType, int: varint(), bytes: EMPTY };
    else if (wireType === 2) {
      const len = varint();
      if (pos + len > buf.length) throw new WireError(`field ${field}: length ${len} runs past the message`);
      const bytes = buf.subarray(pos, pos + len);
      pos += len;
      yield { field, wireType, int: 0, bytes };
    } else if (wireType === 1 || wireType === 5) {
      const n = wireType === 1 ? 8 : 4;
      if (pos + n > buf.length) throw new WireError(`field ${field}: truncated fixed-width value`);
      let v = 0;
      for (let i = n - 1; i >= 0; i--) v = v * 256 + buf[pos + i]!;
      pos += n;
      yield { field, wireType, int: v, bytes: EMPTY };
    } else throw new WireError(`field ${field}: unsupported wire type ${wireType}`);
  }
}

export class WireError extends Error {
  override name = 'WireError';
}

const utf8 = new TextDecoder();
export const text = (b: Uint8Array): string => utf8.decode(b);

// --- Temporal messages -------------------------------------------------------------------------------------------

/** temporal.api.common.v1.Payload: metadata (map<string, bytes>) and data. */
export interface WirePayload {
  metadata: Record<string, Uint8Array>;
  data: Uint8Array;
}

export function decodePayload(buf: Uint8Array): WirePayload {
  const p: WirePayload = { metadata: {}, data: EMPTY };
  for (const f of fields(buf)) {
    if (f.field === 1 && f.wireType === 2) {
      let key = '';
      let value: Uint8Array = EMPTY;
      for (const e of fields(f.bytes)) {
        if (e.field === 1) key = text(e.bytes);
        else if (e.field === 2) value = e.bytes;
      }
      p.metadata[key] = value;
    } else if (f.field === 2 && f.wireType === 2) p.data = f.bytes;
  }
  return p;
}

export function encodePayload(p: WirePayload): Writer {
  const w = new Writer();
  for (const [k, v] of Object.entries(p.metadata)) w.message(1, new Writer().string(1, k).bytes(2, v));
  return w.bytes(2, p.data);
}

/** temporal.api.common.v1.Payloads: repeated Payload payloads = 1. */
export function decodePayloads(buf: Uint8Array): WirePayload[] {
  const out: WirePayload[] = [];
  for (const f of fields(buf)) if (f.field === 1 && f.wireType === 2) out.push(decodePayload(f.bytes));
  return out;
}

/** QueryWorkflowRequest { namespace = 1; execution = 2 { workflow_id = 1; run_id = 2 }; query = 3 { query_type = 1; query_args = 2 } } */
export function encodeQueryWorkflowRequest(r: { namespace: string; workflowId: string; runId?: string; queryType: string; args?: WirePayload[] }): Uint8Array {
  const query = new Writer().string(1, r.queryType);
  if (r.args?.length) {
    const payloads = new Writer();
    for (const a of r.args) payloads.message(1, encodePayload(a));
    query.message(2, payloads);
  }
  return new Writer().string(1, r.namespace).message(2, new Writer().string(1, r.workflowId).string(2, r.runId)).message(3, query).finish();
}

/** QueryWorkflowResponse { query_result = 1 (Payloads); query_rejected = 2 { status = 1 } } */
export function decodeQueryWorkflowResponse(buf: Uint8Array): { result: WirePayload[]; rejectedStatus?: number } {
  const out: { result: WirePayload[]; rejectedStatus?: number } = { result: [] };
  for (const f of fields(buf)) {
    if (f.field === 1 && f.wireType === 2) out.result = decodePayloads(f.bytes);
    else if (f.field === 2 && f.wireType === 2) {
      out.rejectedStatus = 0;
      for (const g of fields(f.bytes)) if (g.field === 1) out.rejectedStatus = g.int;
    }
  }
  return out;
}

/** ListWorkflowExecutionsRequest { namespace = 1; page_size = 2; next_page_token = 3; query = 4 } */
export function encodeListWorkflowExecutionsRequest(r: { namespace: string; pageSize: number; nextPageToken?: Uint8Array; query: string }): Uint8Array {
  return new Writer().string(1, r.namespace).uint(2, r.pageSize).bytes(3, r.nextPageToken).string(4, r.query).finish();
}

/** The columns of a WorkflowExecutionInfo the CLI shows; the rest of each row is skipped unread. */
export interface WireExecution {
  workflowId: string;
  runId: string;
  workflowType: string;
  startTimeMs: number;
  /** temporal.api.enums.v1.WorkflowExecutionStatus */
  status: number;
  taskQueue: string;
  /** Search attributes: the server stores them JSON-encoded and never through the payload codec. */
  searchAttributes: Record<string, WirePayload>;
}

function decodeTimestampMs(buf: Uint8Array): number {
  let seconds = 0;
  let nanos = 0;
  for (const f of fields(buf)) {
    if (f.field === 1) seconds = f.int;
    else if (f.field === 2) nanos = f.int;
  }
  return seconds * 1000 + Math.floor(nanos / 1e6);
}

function decodeExecution(buf: Uint8Array): WireExecution {
  const e: WireExecution = { workflowId: '', runId: '', workflowType: '', startTimeMs: 0, status: 0, taskQueue: '', searchAttributes: {} };
  for (const f of fields(buf)) {
    switch (f.field) {
      case 1: // execution
        for (const g of fields(f.bytes)) {
          if (g.field === 1) e.workflowId = text(g.bytes);
          else if (g.field === 2) e.runId = text(g.bytes);
        }
        break;
      case 2: // type
        for (const g of fields(f.bytes)) if (g.field === 1) e.workflowType = text(g.bytes);
        break;
      case 3: // start_time
        e.startTimeMs = decodeTimestampMs(f.bytes);
        break;
      case 5: // status
        e.status = f.int;
        break;
      case 11: // search_attributes { map<string, Payload> indexed_fields = 1 }
        for (const g of fields(f.bytes)) {
          if (g.field !== 1 || g.wireType !== 2) continue;
          let key = '';
          let value: WirePayload | undefined;
          for (const h of fields(g.bytes)) {
            if (h.field === 1) key = text(h.bytes);
            else if (h.field === 2) value = decodePayload(h.bytes);
          }
          if (value) e.searchAttributes[key] = value;
        }
        break;
      case 13: // task_queue
        e.taskQueue = text(f.bytes);
        break;
    }
  }
  return e;
}

/** ListWorkflowExecutionsResponse { repeated WorkflowExecutionInfo executions = 1; next_page_token = 2 } */
export function decodeListWorkflowExecutionsResponse(buf: Uint8Array): { executions: WireExecution[]; nextPageToken?: Uint8Array } {
  const out: { executions: WireExecution[]; nextPageToken?: Uint8Array } = { executions: [] };
  for (const f of fields(buf)) {
    if (f.field === 1 && f.wireType === 2) out.executions.push(decodeExecution(f.bytes));
    else if (f.field === 2 && f.wireType === 2 && f.bytes.length) out.nextPageToken = Uint8Array.from(f.bytes);
  }
  return out;
}
