#!/usr/bin/env node
// Runs a TypeScript entry point with tsx's CommonJS loader (no build step; the same sources the tests use).
'use strict';
require('tsx/cjs');
const path = require('node:path');
const entry = process.argv[2];
if (!entry) {
  process.stderr.write('usage: run-ts.js FILE.ts [args...]\n');
  process.exit(2);
}
process.argv.splice(1, 1);
require(path.resolve(entry));
