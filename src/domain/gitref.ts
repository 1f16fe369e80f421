/** Safe git refs (tag, branch or commit sha) that can be passed to git on a remote host without surprises. */

const FORBIDDEN_CHARS = ['~', '^', ':', '?', '*', '[', '\\'];
export const MAX_GIT_REF_LENGTH = 200;

/** Returns null when `ref` is a safe git ref, else a sentence saying what is wrong. */
export function gitRefProblem(ref: string): string | null {
  if (ref.length === 0) return 'must not be empty';
  if (ref.length > MAX_GIT_REF_LENGTH) return `must be at most ${MAX_GIT_REF_LENGTH} characters`;
  if (ref.startsWith('-')) return 'must not start with "-" (it would be read as an option)';
  for (let i = 0; i < ref.length; i++) {
    const c = ref.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return 'must not contain control characters';
    if (c > 0x7e) return 'must contain only ASCII letters, digits and . _ / -';
  }
  if (/\s/.test(ref)) return 'must not contain whitespace';
  for (const ch of FORBIDDEN_CHARS) {
    if (ref.includes(ch)) return `must not contain "${ch}" (forbidden: ~ ^ : ? * [ \\)`;
  }
  if (ref.includes('..')) return 'must not contain ".."';
  if (ref.includes('@{')) return 'must not contain "@{"';
  if (ref === '@') return 'must not be "@"';
  if (ref.endsWith('.lock')) return 'must not end with ".lock"';
  if (ref.endsWith('/')) return 'must not end with "/"';
  if (ref.endsWith('.')) return 'must not end with "."';
  if (ref.startsWith('/')) return 'must not start with "/"';
  if (ref.includes('//')) return 'must not contain "//"';
  if (ref.split('/').some((c) => c.startsWith('.'))) return 'no path component may start with "."';
  if (!/^[A-Za-z0-9._/@+-]+$/.test(ref)) return 'must contain only ASCII letters, digits and . _ / - + @';
  return null;
}

export function isSafeGitRef(ref: unknown): ref is string {
  return typeof ref === 'string' && gitRefProblem(ref) === null;
}
