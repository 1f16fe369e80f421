#!/usr/bin/env node
'use strict';
// The CLI runs the compiled sources (dist/<stamp>/src, scripts/build.js): built by `npm ci` ("prepare"), and
// rebuilt here when any file under src/ changed since, so an edit is never silently ignored. STEWARD_TSX=1 runs
// the TypeScript sources under tsx instead (as the tests do); so does a checkout where esbuild cannot run.
const { existsSync, readFileSync } = require('node:fs');
const path = require('node:path');

function compiledSrc() {
  if (process.env.STEWARD_TSX === '1') return undefined;
  try {
    const build = require('../scripts/build.js');
    return build.currentBuild() ?? build.build(); // silently: a verb's stderr is its own
  } catch (err) {
    process.stderr.write(`steward: running the TypeScript sources under tsx (the compiled build failed: ${err.message})\n`);
    return undefined;
  }
}

const src = compiledSrc();
const args = process.argv.slice(2);
if (src && args.length === 1 && (args[0] === '--help' || args[0] === '-h')) {
  // The build's copy of the top-level help (every verb's module would have to load to list them).
  let help;
  try {
    help = readFileSync(path.join(src, '..', 'help.txt'), 'utf8');
  } catch {
    help = undefined;
  }
  if (help !== undefined) {
    process.stdout.write(help);
    return;
  }
}
/** The verb: the first word that is not an option (`--config FILE` may come before it). */
function verbOf(words) {
  for (let i = 0; i < words.length; i++) {
    if (words[i] === '--config') i++;
    else return words[i].startsWith('-') ? undefined : words[i];
  }
  return undefined;
}
// A verb bundled into one file (scripts/build.js: the read-only verbs) loads from it; any other from main.js.
const verb = src && verbOf(args);
const bundled = verb && /^[a-z-]+$/.test(verb) ? path.join(src, '..', 'verbs', `${verb}.js`) : undefined;
if (bundled && existsSync(bundled)) {
  require(bundled);
} else if (src) {
  require(path.join(src, 'client', 'main.js'));
} else {
  require('tsx/cjs');
  require('../src/client/main.ts');
}
