'use strict';
// Reading node:test's TAP output: the totals, and each failed test with its error (scripts/test.js and
// scripts/test-reliability.js print these at the end of a run, where a CI log is read from).

/** The run's totals: passed, failed (failed + cancelled), skipped. */
function tapCounts(tap) {
  const count = (name) => Number((tap.match(new RegExp(`^# ${name} (\\d+)`, 'm')) || [])[1] || 0);
  return { passed: count('pass'), failed: count('fail') + count('cancelled'), skipped: count('skipped') };
}

/**
 * Each failed test with the first lines of its error and location, from the TAP file. Printed again at the very
 * end of the run, because a CI log is often read from its tail, where the Python suite's output would hide them.
 */
function tapFailures(tap) {
  const lines = tap.split('\n');
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    const m = lines[i].match(/^(\s*)not ok \d+ - (.*)$/);
    if (!m) continue;
    const indent = m[1].length + 2;
    const block = [];
    for (let j = i + 1; j < lines.length && lines[j].slice(indent).trim() !== '...'; j++) block.push(lines[j].slice(indent));
    if (block.some((l) => l.includes("failureType: 'subtestsFailed'"))) continue; // its failed tests are listed themselves
    const location = (block.find((l) => l.startsWith('location:')) || '').replace(/^location: /, '');
    const start = block.findIndex((l) => l.startsWith('error:'));
    const error = [];
    if (start >= 0) {
      const first = block[start].replace(/^error: ?/, '');
      if (first && first !== '|-') error.push(first);
      for (let k = start + 1; k < block.length && /^\s/.test(block[k]); k++) error.push(block[k].trim());
    }
    out.push({ name: m[2], location, error: error.filter(Boolean).slice(0, 14) });
  }
  return out;
}

/** The failures as lines for the end of a run's output. */
function formatFailures(failures, what) {
  if (!failures.length) return '';
  const lines = [`\nfailed ${what} (${failures.length}):`];
  for (const f of failures) lines.push(`- ${f.name}  ${f.location}`, ...f.error.map((l) => `    ${l}`));
  return `${lines.join('\n')}\n`;
}

module.exports = { tapCounts, tapFailures, formatFailures };
