// Runs test/integration inside a real VS Code, offline: the VS Code server that ships in code-server
// (installed by scripts/setupTools.mjs) plus its workbench in Debian's headless chromium, driven by
// playwright-core. The in-host suite (test/integration/index.ts + suite/*.test.ts) is bundled to
// dist/test/integration/index.js and loaded as extensionTestsPath; the workbench reports the suite's
// exit code through `codeAutomationExit`. Expects `npm run build` to have produced dist/extension.js.
//
// Usage: node scripts/testIntegration.mjs [--folder DIR] [--grep TEXT] [--timeout SECONDS] [--keep]
//   --folder   workspace folder to open (a temp copy is used); default samples/dl19
//   --grep     run only tests whose name contains TEXT (also QX_IT_GREP)
//   --timeout  time limit of the whole run; default 600 s (also QX_IT_TIMEOUT_S)
//   --keep     keep the temp folders (user data, logs) and print where they are
//   --verbose  forward all of the workbench's console, not only the suite's lines and errors
// Writes test-results/integration-workbench.png (the live workbench right after the last test) and
// test-results/integration-server.log (the VS Code server's output).
import { spawn } from 'node:child_process';
import { cpSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';
import { chromium } from 'playwright-core';
import { chromiumArgs, chromiumPath, isolatedEnv, node24, repoRoot, serverMain, setupTools } from './setupTools.mjs';

let opts;
let timeoutMs;
const resultsDir = join(repoRoot, 'test-results');
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
const say = (line) => console.log(`integration: ${line}`);

export function fail(message) {
  console.error(`integration: ${message}`);
  console.log('0 passed, 1 failed (integration: the suite did not complete)');
  process.exit(1);
}

/** Bundles index.ts with every suite/*.test.ts so the extension host loads one CommonJS file. */
export async function bundleSuite() {
  const dir = join(repoRoot, 'test', 'integration');
  const suiteDir = join(dir, 'suite');
  const files = existsSync(suiteDir) ? readdirSync(suiteDir).filter((f) => f.endsWith('.test.ts')).sort() : [];
  if (files.length === 0) fail(`no test files in ${relative(repoRoot, suiteDir)}/*.test.ts`);
  const outfile = join(repoRoot, 'dist', 'test', 'integration', 'index.js');
  await esbuild.build({
    stdin: {
      contents: [...files.map((f) => `import './suite/${f}';`), "export { run } from './index.ts';"].join('\n'),
      resolveDir: dir,
      sourcefile: 'integration-entry.ts',
      loader: 'ts',
    },
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    sourcemap: 'inline',
    external: ['vscode', 'onnxruntime-node', '@huggingface/transformers', 'sharp', 'playwright-core', 'esbuild'],
    logLevel: 'warning',
  });
  return { outfile, files };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitForServer(port, server, limitMs) {
  const deadline = Date.now() + limitMs;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`the VS Code server exited with code ${server.exitCode} before it answered; see test-results/integration-server.log`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/version`);
      if (r.ok) return (await r.text()).trim();
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the VS Code server did not answer /version within ${limitMs / 1000} s`);
}

const suiteMark = '[qx-it] ';

// Extension-host lines reach the page console styled with %c; keep the text.
function consoleText(msg) {
  return msg.text().replace(/^%c\s*\w+ color: #[0-9a-f]+ /i, '');
}

/** A temp copy of the workspace folder (without its .qx state), so tests never change the original. */
export function copyWorkspace(folder, tmp) {
  const workspace = join(tmp, 'workspace', basename(folder));
  cpSync(folder, workspace, { recursive: true, filter: (src) => src !== join(folder, '.qx') });
  return workspace;
}

async function main() {
  ({ values: opts } = parseArgs({
    options: {
      folder: { type: 'string', default: join(repoRoot, 'samples', 'dl19') },
      grep: { type: 'string', default: process.env.QX_IT_GREP ?? '' },
      timeout: { type: 'string', default: process.env.QX_IT_TIMEOUT_S ?? '600' },
      keep: { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: process.env.QX_IT_VERBOSE === '1' },
    },
  }));
  timeoutMs = Number(opts.timeout) * 1000;
  if (!existsSync(join(repoRoot, 'dist', 'extension.js'))) fail('dist/extension.js is missing: run `npm run build` first.');
  if (!existsSync(opts.folder)) fail(`workspace folder ${opts.folder} does not exist.`);
  try {
    setupTools({ check: true });
  } catch (e) {
    fail(e instanceof Error ? e.message : String(e));
  }
  const { outfile, files } = await bundleSuite();
  say(`bundled ${files.length} test file(s) → ${relative(repoRoot, outfile)} (${elapsed()})`);

  const tmp = mkdtempSync(join(tmpdir(), 'qx-it-'));
  const workspace = copyWorkspace(opts.folder, tmp);
  const screenshotDone = join(tmp, 'screenshot-done');
  for (const d of ['user-data', 'server-data', 'extensions']) mkdirSync(join(tmp, d));
  mkdirSync(resultsDir, { recursive: true });

  const { env, cleanup } = isolatedEnv({ QX_IT_GREP: opts.grep, QX_IT_MARK: suiteMark, QX_IT_SCREENSHOT_DONE: screenshotDone });
  const port = await freePort();
  const serverLog = createWriteStream(join(resultsDir, 'integration-server.log'));
  // detached: the server runs in its own session/process group (setsid), so the whole tree it
  // starts (extension hosts, watchers, pty hosts) can be killed at once with kill(-pgid).
  const server = spawn(node24, [
    serverMain, '--host', '127.0.0.1', '--port', String(port),
    '--without-connection-token', '--accept-server-license-terms', '--enable-smoke-test-driver',
    '--disable-workspace-trust', '--disable-telemetry',
    '--user-data-dir', join(tmp, 'user-data'), '--server-data-dir', join(tmp, 'server-data'),
    '--extensions-dir', join(tmp, 'extensions'),
  ], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout.pipe(serverLog);
  server.stderr.pipe(serverLog);

  let browser;
  let exitCode = 1;
  let summary;
  const killServer = () => {
    try {
      process.kill(-server.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  process.once('SIGINT', () => {
    killServer();
    process.exit(130);
  });
  try {
    const version = await waitForServer(port, server, 60_000);
    say(`VS Code server ${version.slice(0, 12)} on port ${port} (${elapsed()})`);

    // Chromium gets the temp XDG folders and a temp HOME too (it keeps an NSS database under ~/.pki).
    browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, headless: true, env: { ...env, HOME: join(tmp, 'user-data') } });
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const screenshot = join(resultsDir, 'integration-workbench.png');
    const finished = new Promise((resolve) => {
      void page.exposeFunction('codeAutomationExit', (code) => resolve(Number(code)));
    });
    page.on('console', (msg) => {
      const text = consoleText(msg);
      if (text === '') return;
      if (opts.verbose) {
        console.log(`[${msg.type()}] ${JSON.stringify(msg.text())}`);
        return;
      }
      const at = text.indexOf(suiteMark);
      if (at < 0) return;
      const line = text.slice(at + suiteMark.length);
      // The suite's closing line is held back and printed last, after the launcher's own lines.
      if (!/^\d+ passed, \d+ failed/.test(line)) {
        console.log(line);
        return;
      }
      summary = line;
      // The suite waits for this file before it returns, so the picture shows the live workbench.
      void page.screenshot({ path: screenshot })
        .catch((e) => say(`screenshot failed: ${e.message}`))
        .finally(() => writeFileSync(screenshotDone, ''));
    });
    page.on('pageerror', (e) => console.log(`[workbench] page error: ${e.message}`));

    const remote = (p) => `vscode-remote://127.0.0.1:${port}${p}`;
    const payload = [['extensionDevelopmentPath', remote(repoRoot)], ['extensionTestsPath', remote(outfile)]];
    const url = `http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
    await page.goto(url);
    say(`workbench opened (${elapsed()}), running the suite`);

    let timer;
    const timedOut = new Promise((resolve) => {
      timer = setTimeout(() => resolve('timeout'), Math.max(1000, timeoutMs - (Date.now() - started)));
    });
    const outcome = await Promise.race([finished, timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      await page.screenshot({ path: screenshot }).catch(() => undefined);
      console.error(`integration: time limit of ${timeoutMs / 1000} s reached before the suite finished; screenshot in ${relative(repoRoot, screenshot)}`);
      console.log('0 passed, 1 failed (integration: timed out)');
      exitCode = 1;
    } else {
      exitCode = outcome;
      if (summary === undefined) await page.screenshot({ path: screenshot }).catch(() => undefined);
      if (exitCode !== 0) say('for the workbench console rerun with --verbose; the server log is test-results/integration-server.log');
      say(`suite exited with code ${exitCode} after ${elapsed()}; screenshot ${relative(repoRoot, screenshot)}`);
      console.log(summary ?? `0 passed, 1 failed (integration: the suite exited with code ${exitCode} without its summary line)`);
    }
  } catch (e) {
    console.error(`integration: ${e instanceof Error ? e.message : String(e)}`);
    console.log('0 passed, 1 failed (integration: the suite did not run)');
    exitCode = 1;
  } finally {
    await browser?.close().catch(() => undefined);
    killServer();
    serverLog.end();
    cleanup();
    if (opts.keep) say(`kept ${tmp}`);
    else rmSync(tmp, { recursive: true, force: true });
  }
  process.exit(exitCode);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
