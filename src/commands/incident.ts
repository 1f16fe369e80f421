// Incident response on a host (playbook §13): freezing a module, maintenance mode, and the evidence archive.
// Pure builders: values in, argv out; quoting happens only in shell.ts.
import { manage, MODULE } from './python';
import { assertSafeValue, cmd, type RemoteCommand } from './shell';

export const INCIDENT_FILE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/;
const ACTOR = /^[A-Za-z0-9][A-Za-z0-9:._-]{0,79}$/;

/** The live release's dir: manage.py commands of an incident act on whatever `current` serves. */
export const currentDir = (deployRoot: string) => `${deployRoot}/current`;
export const logsDir = (deployRoot: string) => `${deployRoot}/shared/logs`;

export function setModuleFlag(deployRoot: string, module: string, on: boolean, reason: string, actor: string): RemoteCommand {
  assertSafeValue('module', module, MODULE, 'a module flag name such as posting, payments or loans');
  assertSafeValue('actor', actor, ACTOR, 'letters, digits, ":", ".", "_" or "-"');
  return manage(currentDir(deployRoot), ['feature_flag', module, on ? 'on' : 'off', '--reason', reason, '--actor', actor, '--json']);
}

export function listFlags(releaseDir: string): RemoteCommand {
  return manage(releaseDir, ['feature_flag', '--list', '--json']);
}

export function setMaintenanceMode(deployRoot: string, on: boolean, reason: string, actor: string): RemoteCommand {
  assertSafeValue('actor', actor, ACTOR, 'letters, digits, ":", ".", "_" or "-"');
  return manage(currentDir(deployRoot), ['maintenance', on ? 'on' : 'off', '--reason', reason, '--actor', actor, '--json']);
}

export interface EvidencePaths {
  dir: string;
  archive: string;
  sha256File: string;
  staging: string;
  partialArchive: string;
  partialSha: string;
  name: string;
}

export function evidencePaths(evidenceDir: string, incidentId: string): EvidencePaths {
  assertSafeValue('incident id', incidentId, INCIDENT_FILE_ID, 'letters, digits, ".", "_" or "-"');
  const name = `${incidentId}-evidence.tar.gz`;
  return {
    dir: evidenceDir,
    name,
    archive: `${evidenceDir}/${name}`,
    sha256File: `${evidenceDir}/${name}.sha256`,
    staging: `${evidenceDir}/.${incidentId}.staging`,
    partialArchive: `${evidenceDir}/.${name}.partial`,
    partialSha: `${evidenceDir}/.${name}.sha256.partial`,
  };
}

/** A fresh staging dir with a copy of the app's logs (app + gunicorn), taken as they are now. */
export function stageEvidence(p: EvidencePaths, logs: string): RemoteCommand {
  return {
    kind: 'and',
    commands: [
      cmd(['rm', '-rf', '--', p.staging, p.partialArchive, p.partialSha]),
      cmd(['mkdir', '-p', '--', `${p.staging}/logs`]),
      cmd(['sh', '-c', 'if [ -d "$1" ]; then cp -a -- "$1"/. "$2"/; fi', 'copy-logs', logs, `${p.staging}/logs`]),
    ],
  };
}

/** Writes stdin to a file inside the staging dir (the deployment record, the audit rows). */
export function writeStagedFile(p: EvidencePaths, name: string): RemoteCommand {
  assertSafeValue('file name', name, /^[a-z][a-z0-9._-]{0,60}$/, 'a plain file name');
  return { kind: 'redirect', command: cmd(['cat']), stdoutTo: `${p.staging}/${name}` };
}

/** tar.gz of the staging dir and its sha256 (in `sha256sum -c` format, naming the final archive). */
export function packEvidence(p: EvidencePaths): RemoteCommand {
  return {
    kind: 'and',
    commands: [
      cmd(['tar', '-czf', p.partialArchive, '-C', p.staging, '.']),
      cmd(['sh', '-c', 'h=$(sha256sum -- "$1" | cut -d" " -f1) && printf "%s  %s\\n" "$h" "$2" > "$3"', 'sha-evidence', p.partialArchive, p.name, p.partialSha]),
    ],
  };
}

/** Publishes without ever overwriting: `ln` refuses an existing target. Then the partial files go. */
export function publishEvidence(p: EvidencePaths): RemoteCommand {
  return {
    kind: 'and',
    commands: [
      cmd(['ln', '--', p.partialArchive, p.archive]),
      cmd(['ln', '--', p.partialSha, p.sha256File]),
      cmd(['rm', '-rf', '--', p.partialArchive, p.partialSha, p.staging]),
    ],
  };
}

/** Writes the sha256 file of an archive that was published before its checksum file (an interrupted publish). */
export function completeSha(p: EvidencePaths): RemoteCommand {
  return cmd(['sh', '-c', 'cd "$1" && h=$(sha256sum -- "$2" | cut -d" " -f1) && printf "%s  %s\\n" "$h" "$2" > "$3.tmp" && ln -- "$3.tmp" "$3" && rm -f -- "$3.tmp"', 'complete-sha', p.dir, p.name, p.sha256File]);
}

export function existsFile(file: string): RemoteCommand {
  return cmd(['test', '-f', file]);
}

/** `sha256sum -c` in the evidence dir: exit 0 when the archive matches its checksum file. */
export function verifyEvidence(p: EvidencePaths): RemoteCommand {
  return cmd(['sh', '-c', 'cd "$1" && sha256sum -c --status -- "$2"', 'verify-evidence', p.dir, `${p.name}.sha256`]);
}

/** Size, checksum file and table of contents of a published archive. */
export function describeEvidence(p: EvidencePaths): RemoteCommand {
  return {
    kind: 'and',
    commands: [cmd(['stat', '-c', '%s', '--', p.archive]), cmd(['cat', '--', p.sha256File]), cmd(['tar', '-tzf', p.archive])],
  };
}
