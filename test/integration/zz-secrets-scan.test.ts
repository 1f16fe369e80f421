// Runs last (file order): after every other integration test has run workflows on the dev server, fetch every
// workflow history (inputs, results, memos, search attributes, failures, heartbeats) and scan it for the
// stack's generated secrets: private keys, database and demo passwords, database URLs. Zero hits allowed.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { devLayout } from '../../src/dev/paths';
import { recordOutcome } from '../helpers/outcomes';
import { devConfig } from '../helpers/stack';

function secretNeedles(): { source: string; needle: string }[] {
  const layout = devLayout();
  const out: { source: string; needle: string }[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = path.join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (!name.endsWith('.pub')) {
        const text = readFileSync(p, 'utf8');
        if (text.includes('PRIVATE KEY')) {
          // Any line of the key body is enough to leak it.
          for (const line of text.split('\n').filter((l) => /^[A-Za-z0-9+/=]{40,}$/.test(l))) out.push({ source: name, needle: line });
        } else {
          const value = text.trim();
          if (value.length >= 12) out.push({ source: name, needle: value });
          const pw = value.match(/^postgres:\/\/[^:]+:([^@]+)@/)?.[1];
          if (pw) out.push({ source: `${name} (password)`, needle: decodeURIComponent(pw) });
        }
      }
    }
  };
  walk(layout.secrets);
  return out;
}

/** A history as JSON with payload bytes in base64 (as the Web UI and `temporal workflow show` carry them). */
function historyToJSON(history: unknown): string {
  return JSON.stringify(history, (_k, v) => {
    if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
    if (v && typeof v === 'object' && v.type === 'Buffer' && Array.isArray(v.data)) return Buffer.from(v.data).toString('base64');
    return v;
  });
}

function hitsIn(text: string, needles: { source: string; needle: string }[]): string[] {
  // Payloads are base64-encoded JSON: decode them too.
  const decoded = [...text.matchAll(/"data":"([A-Za-z0-9+/=]+)"/g)].map((m) => Buffer.from(m[1]!, 'base64').toString('utf8')).join('\n');
  return needles.filter(({ needle }) => text.includes(needle) || decoded.includes(needle)).map((n) => n.source);
}

describe('no secret in any workflow history or log (real stack)', () => {
  it('the scanner finds a secret hidden in an encoded payload (it can fail)', () => {
    const needles = secretNeedles();
    const leaked = JSON.stringify({ events: [{ input: { payloads: [{ data: Buffer.from(JSON.stringify({ url: needles[0]!.needle })).toString('base64') }] } }] });
    assert.deepEqual(hitsIn(leaked, needles.slice(0, 1)), [needles[0]!.source]);
    assert.deepEqual(hitsIn(JSON.stringify({ events: [] }), needles), []);
  });

  it('scans every history on the dev server and the stack logs', async () => {
    const needles = secretNeedles();
    assert.ok(needles.length >= 5, `expected the stack's secrets to scan for, found ${needles.length}`);
    const config = devConfig('scan');
    const connection = await Connection.connect({ address: config.temporal.address });
    const client = new Client({ connection, namespace: config.temporal.namespace });
    let histories = 0;
    const hits: string[] = [];
    try {
      for await (const wf of client.workflow.list()) {
        const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
        for (const source of hitsIn(historyToJSON(history), needles)) hits.push(`${wf.workflowId}: ${source}`);
        histories++;
      }
    } finally {
      await connection.close();
    }
    const logs = devLayout().logs;
    let logFiles = 0;
    if (existsSync(logs)) {
      for (const f of readdirSync(logs)) {
        const text = readFileSync(path.join(logs, f), 'utf8');
        for (const { source, needle } of needles) if (text.includes(needle)) hits.push(`log ${f}: ${source}`);
        logFiles++;
      }
    }
    recordOutcome({
      kind: 'secrets',
      check: `${needles.length} generated keys, passwords and URLs in every workflow history and the stack's logs`,
      tried: histories + logFiles,
      through: hits.length,
      examples: hits,
    });
    assert.ok(histories > 0, 'there were histories to scan');
    assert.deepEqual(hits, [], `secrets found: ${hits.join(', ')}`);
    // The scan reads what it should: a value known to be in some history (the task queue) is found.
    const probe = await (async () => {
      const c = await Connection.connect({ address: config.temporal.address });
      try {
        const cl = new Client({ connection: c, namespace: config.temporal.namespace });
        // The first unsealed deployment (the sealed-payload test's histories hold only ciphertext).
        for await (const wf of cl.workflow.list({ query: 'WorkflowType="deployment"' })) {
          const found = hitsIn(historyToJSON(await cl.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory()), [{ source: 'probe', needle: '"environment":"' }]);
          if (found.length) return found;
        }
        return [];
      } finally {
        await c.close();
      }
    })();
    assert.deepEqual(probe, ['probe'], 'decoded payloads are visible to the scanner');
  });
});
