#!/usr/bin/env node
// Assembles the one installable `hogport` package from the built workspace and packs it with npm:
// the CLI's bin, dist and templates at the top, every workspace package it needs (transitively) as a
// bundled dependency under node_modules/@hogport/ (their dist and package.json only), and the
// third-party dependencies of all of them as the package's own exact-version dependencies, fetched
// from the registry at install time (so packages with native or per-platform builds install for the
// machine they land on). The workspace packages are not published on their own; bundling them is what
// lets `npm i -g ./hogport-<version>.tgz` work anywhere.
//
//   npm run build && node scripts/pack.mjs [--out <dir>]     # prints the path of the .tgz it wrote
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const { values } = parseArgs({ options: { out: { type: 'string', default: ROOT } } });
const out = path.resolve(values.out);

const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));
const fail = (message) => { console.error(`pack: ${message}`); process.exit(1); };

/** Workspace package name → its folder and package.json. */
const workspaces = new Map();
for (const dir of readJson(path.join(ROOT, 'package.json')).workspaces) {
  const pkg = readJson(path.join(ROOT, dir, 'package.json'));
  workspaces.set(pkg.name, { dir: path.join(ROOT, dir), pkg });
}
const cli = workspaces.get('@hogport/cli');

// The workspace packages the CLI runs on (runtime dependencies only: testkit and the like stay out).
const bundled = [];
const pending = Object.keys(cli.pkg.dependencies ?? {}).filter((n) => workspaces.has(n));
while (pending.length > 0) {
  const name = pending.shift();
  if (bundled.includes(name)) continue;
  bundled.push(name);
  for (const dep of Object.keys(workspaces.get(name).pkg.dependencies ?? {})) if (workspaces.has(dep)) pending.push(dep);
}
bundled.sort();

// Third-party dependencies, one exact version each; type packages are for the compiler only.
const third = new Map();
for (const name of ['@hogport/cli', ...bundled]) {
  for (const [dep, version] of Object.entries(workspaces.get(name).pkg.dependencies ?? {})) {
    if (workspaces.has(dep) || dep.startsWith('@types/')) continue;
    const seen = third.get(dep);
    if (seen && seen.version !== version) fail(`${dep} is ${seen.version} in ${seen.by} but ${version} in ${name}: one version for the whole package`);
    if (!seen) third.set(dep, { version, by: name });
  }
}

/** What ships of a built folder: compiled modules and their types, never tests, test helpers or source maps. */
const shipped = (file) => !/\.(test|helpers|contract)\.(js|d\.ts)$/.test(file) && !file.endsWith('.map') && !file.endsWith('.tsbuildinfo');

function copyDist(from, to) {
  if (!existsSync(path.join(from, 'dist'))) fail(`${from}/dist is missing: run "npm run build" first`);
  cpSync(path.join(from, 'dist'), path.join(to, 'dist'), { recursive: true, filter: (f) => statSync(f).isDirectory() || shipped(f) });
}

/** Every relative import of a shipped module must be shipped too (a test helper imported by real code would be dropped). */
function checkImports(dir) {
  for (const name of readdirSync(dir)) {
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) { checkImports(file); continue; }
    if (!file.endsWith('.js')) continue;
    for (const m of readFileSync(file, 'utf8').matchAll(/(?:from\s*|import\s*\(\s*|new URL\(\s*)'(\.{1,2}\/[^']+\.js)'/g)) {
      if (!existsSync(path.resolve(dir, m[1]))) fail(`${path.relative(stage, file)} imports ${m[1]}, which is not in the package`);
    }
  }
}

const stage = mkdtempSync(path.join(tmpdir(), 'hogport-pack-'));
try {
  for (const part of cli.pkg.files) if (part !== 'dist') cpSync(path.join(cli.dir, part), path.join(stage, part), { recursive: true });
  copyDist(cli.dir, stage);
  for (const name of bundled) {
    const { dir, pkg } = workspaces.get(name);
    const to = path.join(stage, 'node_modules', name);
    mkdirSync(to, { recursive: true });
    copyDist(dir, to);
    // No dependencies of their own: the third-party ones are the top package's, found by Node's
    // lookup up the folders, and the workspace ones are bundled beside them. The version is the
    // release's (common reads it for `hogport --version`).
    const { name: n, description, type, main, types, exports } = pkg;
    writeFileSync(path.join(to, 'package.json'), `${JSON.stringify({ name: n, version: cli.pkg.version, description, type, main, types, exports }, null, 2)}\n`);
  }
  checkImports(stage);

  const root = readJson(path.join(ROOT, 'package.json'));
  const manifest = {
    name: 'hogport',
    version: cli.pkg.version,
    description: root.description,
    type: 'module',
    engines: root.engines,
    bin: cli.pkg.bin,
    main: cli.pkg.main,
    types: cli.pkg.types,
    exports: cli.pkg.exports,
    files: cli.pkg.files,
    // npm bundles only what is also a dependency; the bundled copies are what installs.
    dependencies: Object.fromEntries([
      ...bundled.map((name) => [name, cli.pkg.version]),
      ...[...third].sort(([a], [b]) => a.localeCompare(b)).map(([dep, { version }]) => [dep, version]),
    ]),
    bundleDependencies: bundled,
  };
  writeFileSync(path.join(stage, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  const readme = path.join(ROOT, 'README.md');
  cpSync(readme, path.join(stage, 'README.md'));

  mkdirSync(out, { recursive: true });
  const packed = spawnSync('npm', ['pack', '--json', '--pack-destination', out], { cwd: stage, encoding: 'utf8', env: { ...process.env, npm_config_ignore_scripts: 'true' } });
  if (packed.status !== 0) fail(`npm pack failed:\n${packed.stderr}`);
  const [info] = JSON.parse(packed.stdout);
  const missing = bundled.filter((name) => !info.bundled.includes(name));
  if (missing.length > 0) fail(`npm did not bundle ${missing.join(', ')}`);
  console.log(path.join(out, info.filename));
} finally {
  rmSync(stage, { recursive: true, force: true });
}
