// The Temporal dev server with a persistent SQLite file, Steward's search attributes registered up front.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { DevLayout, DevPorts } from './paths';
import { portOpen, runningPid, startDetached, waitFor } from './processes';

/** Steward's search attributes (DESIGN.md): the Web UI filters on these. */
export const SEARCH_ATTRIBUTES: Record<string, 'Keyword' | 'KeywordList'> = {
  ChangeId: 'Keyword',
  ChangeType: 'Keyword',
  RiskLevel: 'Keyword',
  ChangePhase: 'Keyword',
  TargetEnvironment: 'Keyword',
  ReleaseVersion: 'Keyword',
  PolicyDigest: 'Keyword',
  AwaitingApprovalFrom: 'KeywordList',
  ChangeMakers: 'KeywordList',
};

export function temporalServerArgs(layout: DevLayout, ports: DevPorts): string[] {
  return [
    'server',
    'start-dev',
    '--db-filename',
    layout.temporalDb,
    '--ip',
    '127.0.0.1',
    '--port',
    String(ports.temporal),
    '--ui-port',
    String(ports.temporalUi),
    '--http-port',
    String(ports.temporalHttp),
    '--metrics-port',
    String(ports.temporalMetrics),
    '--log-level',
    'warn',
    ...Object.entries(SEARCH_ATTRIBUTES).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]),
  ];
}

export async function uiAnswers(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) });
    return res.status === 200;
  } catch {
    return false;
  }
}

export async function startTemporal(bin: string, layout: DevLayout, ports: DevPorts, log: (l: string) => void): Promise<void> {
  const pidFile = path.join(layout.pids, 'temporal.pid');
  const logFile = path.join(layout.logs, 'temporal.log');
  if (!runningPid(pidFile)) {
    if (await portOpen(ports.temporal)) {
      throw new Error(`port ${ports.temporal} is taken by another process; stop it or set STEWARD_PORT_OFFSET`);
    }
    mkdirSync(path.dirname(layout.temporalDb), { recursive: true });
    log(`starting Temporal dev server on 127.0.0.1:${ports.temporal} (Web UI on ${ports.temporalUi})`);
    startDetached({ name: 'temporal', command: bin, args: temporalServerArgs(layout, ports), pidFile, logFile });
  }
  await waitFor('Temporal frontend', () => portOpen(ports.temporal), 60_000, logFile);
  await waitFor('Temporal Web UI', () => uiAnswers(ports.temporalUi), 60_000, logFile);
}
