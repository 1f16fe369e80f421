'use strict';
// The compiled CLI and worker: every file under src/ transpiled by esbuild (TypeScript → CommonJS, one output file
// per source file, so a verb still loads only what it imports) into dist/<stamp>/src/. The stamp is a hash of
// every source file's path, size and mtime (and of where the checkout is), so an edited file is never silently
// ignored: bin/steward.js computes the stamp at each start (about a millisecond of stat calls) and rebuilds when
// no build has it. Builds go to a temporary dir renamed into place, so processes starting side by side never see a
// half-written build. `npm ci` builds once (package.json "prepare"); `npm run build` builds by hand;
// `--workflow-bundle` also makes the compiled worker's workflow bundle (the Dockerfile does, as root).
// __dirname in the compiled files is the source file's directory: src/dev/paths.ts finds the repository and
// src/audit/migrate.ts its .sql files from there, as under tsx.
const { spawnSync } = require('node:child_process');
const { createHash } = require('node:crypto');
const { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const SRC = path.join(ROOT, 'src');
const DIST = path.join(ROOT, 'dist');
/** Verbs bundled into one file each: [verb, the register function its module exports]. */
const BUNDLED_VERBS = [
  ['status', 'registerStatus'],
  ['list', 'registerList'],
];

function sourceFiles(dir = SRC, out = []) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) sourceFiles(p, out);
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** The build's name for the sources as they are now. */
function stamp(files = sourceFiles()) {
  const self = statSync(__filename); // a change to how the build is made makes a new build too
  const h = createHash('sha256').update(`${ROOT}\n${process.version.split('.')[0]}\n${self.size}\0${self.mtimeMs}\n`);
  for (const f of files.sort()) {
    const s = statSync(f);
    h.update(`${path.relative(SRC, f)}\0${s.size}\0${s.mtimeMs}\n`);
  }
  return h.digest('hex').slice(0, 16);
}

/** The directory holding the compiled src/ for the current sources, or undefined when it is not built. */
function currentBuild() {
  const dir = path.join(DIST, stamp(), 'src');
  return existsSync(path.join(dir, '.complete')) ? dir : undefined;
}

/** Compiles the sources into dist/<stamp>/src (atomically) and removes older builds; returns that directory. */
function build({ log = () => undefined } = {}) {
  const esbuild = require('esbuild');
  const files = sourceFiles();
  const id = stamp(files);
  const final = path.join(DIST, id);
  if (existsSync(path.join(final, 'src', '.complete'))) return path.join(final, 'src');
  const t0 = Date.now();
  const tmp = path.join(DIST, `.tmp-${process.pid}-${Date.now()}`);
  for (const file of files) {
    const out = path.join(tmp, 'src', path.relative(SRC, file)).replace(/\.ts$/, '.js');
    const r = esbuild.transformSync(readFileSync(file, 'utf8'), {
      loader: 'ts',
      format: 'cjs',
      platform: 'node',
      target: 'node20',
      sourcefile: file,
      define: { __dirname: JSON.stringify(path.dirname(file)) },
    });
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(out, r.code);
  }
  // The read-only verbs (status, list) also as one file each, bundled from the files just compiled (so __dirname
  // stays each file's own) with what they load from node_modules: resolving and reading ~180 small modules at every
  // start was over half of `steward status` (node --cpu-prof). bin/steward.js runs dist/<stamp>/verbs/<verb>.js when
  // there is one. The SDK stays outside (they do not load it; see src/client/rpc.ts).
  for (const [verb, register] of BUNDLED_VERBS) {
    esbuild.buildSync({
      stdin: {
        contents: `const cli = require('./cli');\nconst program = cli.newProgram();\nrequire('./${verb}').${register}(program);\ncli.runProgram(program, process.argv).then(cli.exitWhenFlushed);\n`,
        resolveDir: path.join(tmp, 'src', 'client'),
        sourcefile: `steward-${verb}.js`,
        loader: 'js',
      },
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      outfile: path.join(tmp, 'verbs', `${verb}.js`),
      // Left to Node's require: what these verbs load only on a slower path (the SDK never; YAML, zod and the
      // signature code when the config is validated anew or for --awaiting-me), so the bundle stays small to parse.
      external: ['@temporalio/*', 'esbuild', 'tsx', 'zod', 'yaml', '@noble/*'],
      minifyWhitespace: true,
      minifySyntax: true,
      legalComments: 'none',
      logLevel: 'silent',
    });
  }
  // `steward --help` lists every verb, which means loading every verb's module (the worker, the dev stack, the
  // deployment code): the compiled CLI prints this copy instead, made by the same code (80 columns wide).
  const help = spawnSync(process.execPath, [path.join(tmp, 'src', 'client', 'main.js'), '--help'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, COLUMNS: '80' } });
  if (help.status === 0 && help.stdout.includes('Usage: steward')) writeFileSync(path.join(tmp, 'help.txt'), help.stdout);
  writeFileSync(path.join(tmp, 'src', '.complete'), `${new Date().toISOString()}\n`);
  try {
    renameSync(tmp, final);
  } catch (err) {
    // Another process built the same sources first: use theirs.
    rmSync(tmp, { recursive: true, force: true });
    if (!existsSync(path.join(final, 'src', '.complete'))) throw err;
  }
  // Older builds go, but the newest three stay: a worker started from one of them may still load files from it.
  const older = readdirSync(DIST)
    .filter((d) => d !== id && !d.startsWith('.tmp-'))
    .map((d) => ({ d, t: statSync(path.join(DIST, d)).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  for (const { d } of older.slice(2)) rmSync(path.join(DIST, d), { recursive: true, force: true });
  log(`compiled ${files.length} files into ${path.relative(process.cwd(), final) || final} in ${Date.now() - t0} ms`);
  return path.join(final, 'src');
}

/** The compiled worker's workflow bundle, made now rather than at the first `steward worker` (the image build). */
function workflowBundle(dir) {
  const { prebuiltWorkflowBundle } = require(path.join(dir, 'workers', 'worker.js'));
  if (!prebuiltWorkflowBundle(require.resolve(path.join(dir, 'workflows')))) throw new Error('the workflow bundle could not be made');
}

/** From `npm ci` ("prepare"): a failed build must not fail the install; the CLI then runs the sources under tsx. */
function prepare() {
  try {
    build({ log: (l) => process.stderr.write(`build: ${l}\n`) });
  } catch (err) {
    process.stderr.write(`build: ${err.stack || err}\n(the CLI will run the TypeScript sources under tsx)\n`);
  }
}

module.exports = { build, currentBuild, prepare, stamp, DIST, BUNDLED_VERBS };

if (require.main === module) {
  try {
    const dir = build({ log: (l) => process.stderr.write(`build: ${l}\n`) });
    if (process.argv.includes('--workflow-bundle')) workflowBundle(dir);
  } catch (err) {
    process.stderr.write(`build: ${err.stack || err}\n`);
    process.exitCode = 1;
  }
}
