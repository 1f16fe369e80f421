// Shared by the benchmarks: the bench stack's config, a Temporal client, statistics and the result rows.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { loadConfig } from '../src/config/load';
import type { StewardConfig } from '../src/config/schema';
import { devLayout } from '../src/dev/paths';

export const ROOT = path.resolve(__dirname, '..');

export interface Opts {
  quick: boolean;
  runs: number;
  only?: Set<string>;
  log: (line: string) => void;
}

/** One row of the table. Values are numbers in `unit`; `samples` are the per-run figures the median is taken of. */
export interface Figure {
  id: string;
  figure: string;
  unit: string;
  steward: Stat | null;
  baseline: Stat | null;
  baselineLabel: string;
  /** steward / baseline of the medians. */
  ratio: number | null;
  target: string;
  met: boolean | null;
  /** Where a target is missed: by how much, and what was measured about why. */
  note?: string;
}

export interface Stat {
  median: number;
  min: number;
  max: number;
  n: number;
  samples: number[];
}

export function stat(samples: number[]): Stat | null {
  const s = samples.filter((x) => Number.isFinite(x));
  if (s.length === 0) return null;
  const sorted = [...s].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, n: s.length, samples: s };
}

export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

/** A row with a ratio target: met when steward ≤ factor × baseline. */
export function ratioFigure(
  base: Omit<Figure, 'ratio' | 'met' | 'target' | 'note'> & { factor: number; targetText?: string; why?: string },
): Figure {
  const ratio = base.steward && base.baseline && base.baseline.median > 0 ? base.steward.median / base.baseline.median : null;
  const met = ratio === null ? null : ratio <= base.factor;
  const f: Figure = {
    id: base.id,
    figure: base.figure,
    unit: base.unit,
    steward: base.steward,
    baseline: base.baseline,
    baselineLabel: base.baselineLabel,
    ratio,
    target: base.targetText ?? `≤ ${base.factor}× baseline`,
    met,
  };
  if (met === false && ratio !== null && base.steward && base.baseline) {
    const allowed = base.factor * base.baseline.median;
    f.note = `missed by ${fmt(base.steward.median - allowed, base.unit)} (${((ratio / base.factor - 1) * 100).toFixed(0)}% over ${base.factor}× baseline)${base.why ? `; ${base.why}` : ''}`;
  }
  return f;
}

/** A row with an absolute target: met when steward median (or the given value) ≤ limit. */
export function limitFigure(
  base: Omit<Figure, 'ratio' | 'met' | 'target' | 'note'> & { limit: number; targetText: string; why?: string },
): Figure {
  const ratio = base.steward && base.baseline && base.baseline.median > 0 ? base.steward.median / base.baseline.median : null;
  const met = base.steward ? base.steward.median <= base.limit : null;
  const f: Figure = {
    id: base.id,
    figure: base.figure,
    unit: base.unit,
    steward: base.steward,
    baseline: base.baseline,
    baselineLabel: base.baselineLabel,
    ratio,
    target: base.targetText,
    met,
  };
  if (met === false && base.steward) f.note = `missed by ${fmt(base.steward.median - base.limit, base.unit)}${base.why ? `; ${base.why}` : ''}`;
  return f;
}

export function fmt(v: number, unit: string): string {
  if (!Number.isFinite(v)) return '—';
  if (unit === 'ms') return v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(v < 10 ? 1 : 0)} ms`;
  if (unit === 'MB') return `${v.toFixed(v < 10 ? 2 : 0)} MB`;
  if (unit === '/s') return `${v.toFixed(1)}/s`;
  if (unit === 'count') return `${Math.round(v)}`;
  return `${v.toFixed(2)} ${unit}`;
}

export function fmtStat(s: Stat | null, unit: string): string {
  if (!s) return '—';
  if (s.n === 1) return `${fmt(s.median, unit)} (n=1)`;
  return `${fmt(s.median, unit)} [${fmt(s.min, unit)}–${fmt(s.max, unit)}] n=${s.n}`;
}

export function renderTable(figures: Figure[]): string {
  const head = ['figure', 'Steward median [min–max]', 'baseline median [min–max]', 'ratio', 'target', 'met?'];
  const rows = figures.map((f) => [
    f.figure,
    fmtStat(f.steward, f.unit),
    f.baseline ? `${fmtStat(f.baseline, f.unit)} (${f.baselineLabel})` : `— (${f.baselineLabel})`,
    f.ratio === null ? '—' : `${f.ratio.toFixed(2)}×`,
    f.target,
    f.met === null ? 'n/a' : f.met ? 'yes' : 'NO',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  const out = [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)];
  const notes = figures.filter((f) => f.note).map((f) => `- ${f.figure}: ${f.note}`);
  return [...out, ...(notes.length ? ['', ...notes] : [])].join('\n');
}

// ---- the bench stack ----------------------------------------------------------------------------------------

export function benchConfig(taskQueue: string, opts: { fleet?: boolean } = {}): StewardConfig {
  const config = loadConfig(devLayout().configFile);
  config.temporal.taskQueue = taskQueue;
  // The one-host figures compare with the one-host script: production's primary only. The fleet figures (two hosts)
  // use every host of the dev stack's production, on a worker of their own (another task queue).
  if (opts.fleet) return config;
  for (const env of Object.values(config.environments)) {
    const primary = env.hosts.find((h) => h.roles.includes('primary')) ?? env.hosts[0]!;
    env.hosts = [primary];
  }
  return config;
}

export async function connect(config: StewardConfig): Promise<Client> {
  const connection = await Connection.connect({ address: config.temporal.address });
  return new Client({ connection, namespace: config.temporal.namespace });
}

export function readSecretFile(file: string): string {
  return readFileSync(file, 'utf8').trim();
}

export function sh(command: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string } = {}): string {
  const r = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, ...opts, env: opts.env ?? process.env });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${r.status}: ${(r.stderr || r.stdout || '').slice(-2000)}`);
  return r.stdout;
}

/** Runs a process to completion without blocking the event loop (workers in this process keep polling). */
export function shAsync(
  command: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; stdin?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr, ms: performance.now() - t0 }));
    child.stdin.on('error', () => undefined); // a process that never reads its stdin
    child.stdin.end(opts.stdin ?? '');
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
