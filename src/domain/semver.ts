/**
 * Release versions (playbook §14). MAJOR → structural or regulatory change; MINOR → new feature;
 * PATCH → bug fix. Mapping by change type:
 *   regulatory, infrastructure → major (regulatory; infrastructure is the structural change: DB/platform)
 *   feature, workflow, financial-logic, security → minor (new or changed behaviour)
 *   cosmetic, and every hotfix → patch (a fix).
 */
import type { ChangeType } from './types';

export interface SemVer {
  major: number;
  minor: number;
  patch: number;
}
export type Bump = 'major' | 'minor' | 'patch';

const TAG_RE = /^v(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})$/;

/** Parses a release tag "v1.4.2" (the "v" is required; pre-release/build tags are not releases). */
export function parseVersion(tag: string): SemVer | null {
  if (typeof tag !== 'string') return null;
  const m = TAG_RE.exec(tag.trim());
  if (!m) return null;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) };
}

export function formatVersion(v: SemVer): string {
  return `v${v.major}.${v.minor}.${v.patch}`;
}

export function compareVersions(a: SemVer, b: SemVer): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

export const BUMP_BY_TYPE: Readonly<Record<ChangeType, Bump>> = Object.freeze({
  regulatory: 'major',
  infrastructure: 'major',
  feature: 'minor',
  workflow: 'minor',
  'financial-logic': 'minor',
  security: 'minor',
  cosmetic: 'patch',
});

export function bumpFor(changeType: ChangeType, opts: { hotfix?: boolean } = {}): Bump {
  return opts.hotfix ? 'patch' : BUMP_BY_TYPE[changeType];
}

export function bump(v: SemVer, kind: Bump): SemVer {
  if (kind === 'major') return { major: v.major + 1, minor: 0, patch: 0 };
  if (kind === 'minor') return { major: v.major, minor: v.minor + 1, patch: 0 };
  return { major: v.major, minor: v.minor, patch: v.patch + 1 };
}

/** Highest release tag among `tags` (non-semver tags ignored), or null. */
export function latestVersion(tags: readonly string[]): SemVer | null {
  let best: SemVer | null = null;
  for (const t of tags) {
    const v = parseVersion(t);
    if (v && (!best || compareVersions(v, best) > 0)) best = v;
  }
  return best;
}

/** The next release tag after the highest existing one (v0.0.0 when none), bumped for the change type. */
export function nextVersion(currentTags: readonly string[], changeType: ChangeType, opts: { hotfix?: boolean } = {}): string {
  const base = latestVersion(currentTags) ?? { major: 0, minor: 0, patch: 0 };
  return formatVersion(bump(base, bumpFor(changeType, opts)));
}
