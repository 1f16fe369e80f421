// Where the local stack keeps its state and which loopback ports it uses.
// Everything is derived from two environment variables so several stacks can run side by side
// (a developer's demo and a test run, or parallel work): STEWARD_HOME and STEWARD_PORT_OFFSET.
import path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

export interface DevPorts {
  temporal: number;
  temporalUi: number;
  temporalHttp: number;
  temporalMetrics: number;
  postgres: number;
  sshStaging: number;
  sshProduction: number;
  sshProduction2: number;
  appStaging: number;
  appProduction: number;
  appProduction2: number;
  /** The fixture app that is not the demo (test/integration/other-app.test.ts). */
  appFixture: number;
}

/**
 * The largest offset keeps every port below 32768, where Linux starts handing out ephemeral ports
 * (net.ipv4.ip_local_port_range 32768-60999): a listening port in that range can be taken, for a moment, by any
 * outgoing connection on the machine, and a restarted Gunicorn then fails with "Address already in use".
 */
export const MAX_PORT_OFFSET = 14000;

export function portOffset(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.STEWARD_PORT_OFFSET ?? '0';
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > MAX_PORT_OFFSET) {
    throw new Error(`STEWARD_PORT_OFFSET must be a whole number from 0 to ${MAX_PORT_OFFSET} (got ${JSON.stringify(raw)})`);
  }
  return n;
}

export function devPorts(env: NodeJS.ProcessEnv = process.env): DevPorts {
  const o = portOffset(env);
  return {
    temporal: 7233 + o,
    temporalUi: 8233 + o,
    temporalHttp: 7243 + o,
    temporalMetrics: 7253 + o,
    postgres: 15432 + o,
    sshStaging: 12222 + o,
    sshProduction: 12223 + o,
    sshProduction2: 12224 + o,
    appStaging: 18001 + o,
    appProduction: 18002 + o,
    appProduction2: 18003 + o,
    appFixture: 18004 + o,
  };
}

export function stewardHome(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.STEWARD_HOME ?? path.join(REPO_ROOT, '.steward'));
}

export function toolsDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.STEWARD_TOOLS_DIR ?? path.join(REPO_ROOT, '.tools'));
}

export const ENVIRONMENTS = ['staging', 'production'] as const;
export type DevEnvironment = (typeof ENVIRONMENTS)[number];

/**
 * The dev stack's hosts: one staging host and a production fleet of two (production-1 is the primary). A host's
 * directory under hosts/ keeps the name it had when production had one host ("production"), so a stack made
 * before keeps its state.
 */
export const DEV_HOSTS = ['staging', 'production', 'production-2'] as const;
export type DevHost = (typeof DEV_HOSTS)[number];

export interface DevHostInfo {
  /** The directory name under hosts/ and the pid/log file suffix. */
  id: DevHost;
  /** The host name in the config. */
  name: string;
  env: DevEnvironment;
  primary: boolean;
  sshPort: number;
  appPort: number;
}

export function devHosts(ports: DevPorts): DevHostInfo[] {
  return [
    { id: 'staging', name: 'staging-1', env: 'staging', primary: true, sshPort: ports.sshStaging, appPort: ports.appStaging },
    { id: 'production', name: 'production-1', env: 'production', primary: true, sshPort: ports.sshProduction, appPort: ports.appProduction },
    { id: 'production-2', name: 'production-2', env: 'production', primary: false, sshPort: ports.sshProduction2, appPort: ports.appProduction2 },
  ];
}

export interface DevLayout {
  home: string;
  pids: string;
  logs: string;
  secrets: string;
  temporalDb: string;
  pgData: string;
  pgSocketDir: string;
  originRepo: string;
  configFile: string;
  host(id: DevHost): HostLayout;
}

export interface HostLayout {
  root: string;
  sshdConfig: string;
  hostKey: string;
  deployRoot: string;
  sharedDir: string;
  backupDir: string;
  evidenceDir: string;
}

export function devLayout(env: NodeJS.ProcessEnv = process.env): DevLayout {
  const home = stewardHome(env);
  return {
    home,
    pids: path.join(home, 'pids'),
    logs: path.join(home, 'logs'),
    secrets: path.join(home, 'secrets'),
    temporalDb: path.join(home, 'temporal', 'temporal.db'),
    pgData: path.join(home, 'postgres', 'data'),
    pgSocketDir: path.join(home, 'postgres', 'run'),
    originRepo: path.join(home, 'origin', 'banking-app.git'),
    configFile: path.resolve(env.STEWARD_CONFIG ?? path.join(REPO_ROOT, 'steward.config.yaml')),
    host(name: DevHost): HostLayout {
      const root = path.join(home, 'hosts', name);
      return {
        root,
        sshdConfig: path.join(root, 'sshd_config'),
        hostKey: path.join(root, 'ssh_host_ed25519_key'),
        deployRoot: path.join(root, 'srv', 'banking-app'),
        sharedDir: path.join(root, 'srv', 'banking-app', 'shared'),
        backupDir: path.join(root, 'backups'),
        evidenceDir: path.join(root, 'evidence'),
      };
    },
  };
}
