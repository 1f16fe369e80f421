import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';

const root = join(__dirname, '../../../src/domain');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

function stripComments(src: string): string {
  return src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

test('src/domain imports no Node built-ins, ssh2 or pg, and reads no clock or randomness', () => {
  const all = files(root);
  assert.ok(all.length >= 10);
  const problems: string[] = [];
  for (const f of all) {
    const src = stripComments(readFileSync(f, 'utf8'));
    const specifiers = [...src.matchAll(/(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|require\(\s*['"]([^'"]+)['"]\s*\)|import\(\s*['"]([^'"]+)['"]\s*\)/g)].map(
      (m) => m[1] ?? m[2] ?? m[3] ?? '',
    );
    for (const s of specifiers) {
      if (s.startsWith('node:') || builtins.has(s) || builtins.has(s.split('/')[0] as string)) problems.push(`${f}: imports built-in "${s}"`);
      if (/^(ssh2|pg)(\/|$)/.test(s)) problems.push(`${f}: imports "${s}"`);
      // @noble/curves and @noble/hashes: pure-JS signature verification and sha256 (no I/O, deterministic).
      if (!s.startsWith('.') && !['zod', 'yaml'].includes(s) && !/^@noble\/(curves|hashes)\/[a-z0-9]+$/.test(s)) problems.push(`${f}: imports "${s}" (only zod, yaml and @noble/curves|hashes are allowed)`);
    }
    const forbidden: [RegExp, string][] = [
      [/Date\.now\s*\(/, 'Date.now('],
      [/new\s+Date\s*\(\s*\)/, 'new Date()'],
      [/Math\.random/, 'Math.random'],
      [/\bprocess\./, 'process.'],
      [/\bBuffer\b/, 'Buffer'],
      [/performance\.now/, 'performance.now'],
      [/\bsetTimeout\b|\bsetInterval\b/, 'timers'],
    ];
    for (const [re, what] of forbidden) if (re.test(src)) problems.push(`${f}: uses ${what}`);
  }
  assert.deepEqual(problems, []);
});

test('the lint catches what it should (self-check)', () => {
  const bad = stripComments("import { x } from 'node:fs';\nconst t = Date.now();\n// Math.random in a comment is fine\n");
  assert.match(bad, /Date\.now\(/);
  assert.doesNotMatch(bad, /Math\.random/);
});
