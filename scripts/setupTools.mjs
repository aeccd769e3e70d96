// Installs the tools the real-VS-Code tests need, offline but for the npm registry and Debian's
// packages (docs: TESTING-VSCODE.md): Node 24 (npm package `node`) into .tools/node_modules, the
// VS Code server inside code-server into .tools/cs, and checks Debian's chromium and libkrb5-dev.
// Idempotent: a stamp file records what was installed from which manifests; a rerun with the same
// manifests only checks that the binaries are still there.
// Usage: node scripts/setupTools.mjs [--deps] [--force] [--check]
//   --deps   first `npm ci` the project itself when node_modules is missing (a fresh clone)
//   --force  reinstall the tools even when the stamp says they are current
//   --check  install nothing; fail with the command to run when something is missing
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const toolsDir = resolve(process.env.QX_TOOLS_DIR ?? join(repoRoot, '.tools'));
const manifestDir = join(repoRoot, 'tools');
const stampFile = join(toolsDir, 'stamp.json');

/** Folder of the Node 24 distribution (bin/node, include/node) installed by the `node` package. */
export const node24Dir = join(toolsDir, 'node_modules', 'node', 'node_modules', `node-${process.platform}-${process.arch}`);
export const node24 = join(node24Dir, 'bin', 'node');
/** The VS Code (server) tree that ships inside code-server. */
export const vscodeDir = join(toolsDir, 'cs', 'node_modules', 'code-server', 'lib', 'vscode');
export const serverMain = join(vscodeDir, 'out', 'server-main.js');
export const chromiumPath = process.env.QX_CHROMIUM ?? '/usr/bin/chromium';
export const debianPackages = ['chromium', 'libkrb5-dev'];

/** Chromium flags that matter on these machines: without the networking ones it keeps dialling out. */
export const chromiumArgs = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-dev-shm-usage',
];

/** Temp XDG folders so nothing the tools launch writes under the user's home. */
export function isolatedEnv(extra = {}) {
  const base = mkdtempSync(join(tmpdir(), 'qx-xdg-'));
  for (const d of ['config', 'data', 'cache']) mkdirSync(join(base, d));
  return {
    env: {
      ...process.env,
      XDG_CONFIG_HOME: join(base, 'config'),
      XDG_DATA_HOME: join(base, 'data'),
      XDG_CACHE_HOME: join(base, 'cache'),
      ...extra,
    },
    cleanup: () => rmSync(base, { recursive: true, force: true }),
  };
}

function manifestHash() {
  const h = createHash('sha256');
  for (const f of ['package.json', 'package-lock.json', 'cs/package.json', 'cs/package-lock.json']) {
    h.update(f).update(readFileSync(join(manifestDir, f)));
  }
  return h.digest('hex');
}

function readStamp() {
  try {
    return JSON.parse(readFileSync(stampFile, 'utf8'));
  } catch {
    return undefined;
  }
}

function missingDebianPackages() {
  return debianPackages.filter((p) => {
    const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', p], { encoding: 'utf8' });
    return r.status !== 0 || !r.stdout.includes('install ok installed');
  });
}

function run(cmd, args, opts) {
  const shown = `${cmd} ${args.join(' ')}`;
  console.error(`setupTools: ${shown}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.status !== 0) throw new Error(`setupTools: \`${shown}\` failed (exit ${r.status ?? r.signal}).`);
}

function ensureDebianPackages(check) {
  const missing = missingDebianPackages();
  if (missing.length === 0) return;
  const cmd = `apt-get update && apt-get install -y ${missing.join(' ')}`;
  if (check || process.getuid?.() !== 0) {
    throw new Error(`setupTools: Debian package(s) ${missing.join(', ')} missing (chromium drives the browser tests; libkrb5-dev lets code-server's kerberos dependency build).\n  Install them as root:  sudo sh -c '${cmd}'`);
  }
  run('sh', ['-c', cmd], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

function versionOf(bin, args = ['--version']) {
  const r = spawnSync(bin, args, { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim().split('\n')[0] : undefined;
}

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

/** One installer at a time per tools folder (several people or test runs may start one). */
function lockTools() {
  mkdirSync(dirname(toolsDir), { recursive: true });
  const lock = `${toolsDir}.lock`;
  const deadline = Date.now() + 20 * 60_000;
  let told = false;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      return () => rmSync(lock, { recursive: true, force: true });
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
    }
    let owner = NaN;
    try {
      owner = Number(readFileSync(join(lock, 'pid'), 'utf8'));
    } catch {
      // the owner is between mkdir and writing its pid
    }
    if (Number.isInteger(owner) && owner > 0 && !pidAlive(owner)) {
      rmSync(lock, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`setupTools: ${lock} is still held by process ${owner} after 20 minutes; remove it if that process is gone.`);
    if (!told) console.error(`setupTools: waiting for another install (process ${owner}) to finish…`);
    told = true;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
  }
}

/**
 * The environment without what an outer `npm run` adds: under `npm test`, npm_config_user_agent
 * (naming the outer Node 20) would reach code-server's postinstall, which refuses anything but 24.
 */
function withoutNpmLifecycle(env) {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !/^(npm_|NODE$|INIT_CWD$)/i.test(k)));
}

function installTools() {
  const isolated = isolatedEnv({ ONNXRUNTIME_NODE_INSTALL: 'skip' });
  const env = withoutNpmLifecycle(isolated.env);
  const cleanup = isolated.cleanup;
  try {
    mkdirSync(join(toolsDir, 'cs'), { recursive: true });
    for (const f of ['package.json', 'package-lock.json', 'cs/package.json', 'cs/package-lock.json']) {
      copyFileSync(join(manifestDir, f), join(toolsDir, f));
    }
    const npmFlags = ['--no-audit', '--no-fund', '--foreground-scripts'];
    run('npm', ['ci', '--prefix', toolsDir, ...npmFlags], { env });
    if (!existsSync(node24)) throw new Error(`setupTools: Node 24 not found at ${node24} after installing the \`node\` package.`);
    // code-server's postinstall builds native modules: node-gyp must see Node 24 and its headers,
    // not the machine's Node 20 (whose npm config points nodedir at /usr).
    const csEnv = {
      ...env,
      PATH: `${join(node24Dir, 'bin')}:${env.PATH ?? ''}`,
      npm_config_nodedir: node24Dir,
      NODEDIR: node24Dir,
    };
    run('npm', ['ci', '--prefix', join(toolsDir, 'cs'), ...npmFlags], { env: csEnv });
    if (!existsSync(serverMain)) throw new Error(`setupTools: the VS Code server was not found at ${serverMain} after installing code-server.`);
  } finally {
    cleanup();
  }
}

function toolVersions() {
  const product = JSON.parse(readFileSync(join(vscodeDir, 'product.json'), 'utf8'));
  const vscodePkg = JSON.parse(readFileSync(join(vscodeDir, 'package.json'), 'utf8'));
  const cs = JSON.parse(readFileSync(join(toolsDir, 'cs', 'node_modules', 'code-server', 'package.json'), 'utf8'));
  return {
    node: versionOf(node24),
    codeServer: cs.version,
    vscode: vscodePkg.version,
    vscodeCommit: product.commit,
    chromium: versionOf(chromiumPath),
  };
}

/** `npm ci` for the project when node_modules is missing, as on a fresh clone. */
export function ensureProjectDeps() {
  if (existsSync(join(repoRoot, 'node_modules', '.package-lock.json'))) return;
  run('npm', ['ci', '--no-audit', '--no-fund'], { cwd: repoRoot, env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' } });
}

/** Installs what is missing; returns the recorded versions. Throws with a fix when it cannot. */
export function setupTools({ force = false, check = false } = {}) {
  const started = Date.now();
  ensureDebianPackages(check);
  const hash = manifestHash();
  const stamp = readStamp();
  const upToDate = !force && stamp?.manifestHash === hash && existsSync(node24) && existsSync(serverMain);
  if (!upToDate) {
    if (check) throw new Error(`setupTools: tools in ${toolsDir} are missing or out of date. Run: node scripts/setupTools.mjs`);
    const release = lockTools();
    try {
      // Someone else may have finished the same install while we waited for the lock.
      const again = readStamp();
      if (!force && again?.manifestHash === hash && existsSync(node24) && existsSync(serverMain)) {
        console.error(`setupTools: up to date, installed meanwhile (${formatVersions(again.versions)})`);
        return again.versions;
      }
      installTools();
      const versions = toolVersions();
      writeFileSync(stampFile, `${JSON.stringify({ manifestHash: hash, installedAt: new Date().toISOString(), versions }, null, 2)}\n`);
      console.error(`setupTools: installed in ${((Date.now() - started) / 1000).toFixed(1)} s: ${formatVersions(versions)}`);
      return versions;
    } finally {
      release();
    }
  }
  console.error(`setupTools: up to date (${formatVersions(stamp.versions)})`);
  return stamp.versions;
}

function formatVersions(v) {
  return `node ${v.node}, code-server ${v.codeServer} (VS Code ${v.vscode}), ${v.chromium ?? 'chromium ?'}`;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    if (process.argv.includes('--deps')) ensureProjectDeps();
    setupTools({ force: process.argv.includes('--force'), check: process.argv.includes('--check') });
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
  }
}
