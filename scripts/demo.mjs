#!/usr/bin/env node
// `npm run demo`: the one command of a fresh clone. Installs dependencies when node_modules is
// missing (the ONNX runtime's native download is skipped: the demo needs no model), builds the
// bundles, and runs `qx demo` on the embedded TREC DL 2019 sample. Extra arguments go to `qx demo`
// (e.g. `npm run demo -- --out ./my-demo`).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function step(what, cmd, args, env = process.env) {
  process.stderr.write(`demo: ${what}\n`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env, shell: process.platform === 'win32' });
  if (r.error) {
    process.stderr.write(`demo: ${what} failed: ${r.error.message}\n`);
    process.exit(1);
  }
  if (r.status !== 0) process.exit(r.status ?? 1);
}

if (!existsSync(join(root, 'node_modules'))) {
  step('installing dependencies (npm ci)', npm, ['ci'], { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' });
}
step('building', process.execPath, [join(root, 'scripts', 'build.mjs')]);
step('running qx demo', process.execPath, [join(root, 'dist', 'cli.js'), 'demo', ...process.argv.slice(2)]);
