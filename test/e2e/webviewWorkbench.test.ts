// The packaged extension as a person meets it: the .vsix is installed into the VS Code server
// (code-server's, see TESTING-VSCODE.md), the workbench is opened in headless Chromium on a
// workspace made by `qx demo`, a query is picked in the browser and the Review panel shows it.
// Screenshots of the workbench go to docs/screenshots/workbench-<theme>.png with QX_SCREENSHOTS=1.
// Opt-in (QX_WORKBENCH=1): packaging with vsce takes about a minute.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Frame, Page } from 'playwright-core';
import { belowMinimum, coloredTextSelectors, textContrasts } from './webviewContrast.js';
import { launchChromium, repoRoot } from './webviewFakeHost.js';

interface Tools {
  node24: string;
  serverMain: string;
}

const tools = path.join(repoRoot, '.tools');
const skip = process.env.QX_WORKBENCH !== '1' ? 'opt-in: set QX_WORKBENCH=1 (packages the .vsix, ~1-2 min)' : !existsSync(path.join(tools, 'stamp.json')) ? 'the VS Code server is not installed: node scripts/setupTools.mjs' : false;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function webviewFrame(page: Page): Promise<Frame> {
  for (let i = 0; i < 200; i++) {
    for (const f of page.frames()) {
      if (f.name() === 'active-frame' || f.url().includes('fake.html')) {
        if ((await f.locator('#app').count().catch(() => 0)) > 0) return f;
      }
    }
    await page.waitForTimeout(100);
  }
  throw new Error('the Review webview frame did not appear');
}

describe('packaged extension in the VS Code workbench', { skip, timeout: 600_000 }, () => {
  let t: Tools;
  let tmp: string;
  let server: ChildProcess | undefined;
  let browser: Browser | undefined;
  let port = 0;
  let vsix = '';
  const dirs = { userData: '', serverData: '', extensions: '' };

  before(async () => {
    t = (await import(pathToFileURL(path.join(repoRoot, 'scripts/setupTools.mjs')).href)) as Tools;
    tmp = mkdtempSync(path.join(tmpdir(), 'qx-wb-'));
    for (const k of Object.keys(dirs) as (keyof typeof dirs)[]) mkdirSync((dirs[k] = path.join(tmp, k)));
    vsix = process.env.QX_VSIX ?? path.join(tmp, 'qx-studio.vsix');
    if (process.env.QX_VSIX === undefined) {
      execFileSync('npx', ['@vscode/vsce', 'package', '--target', 'linux-x64', '--allow-missing-repository', '--no-rewrite-relative-links', '--out', vsix], { cwd: repoRoot, stdio: 'ignore' });
    }
  });

  after(async () => {
    await browser?.close();
    if (server?.pid !== undefined) {
      try {
        process.kill(-server.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test('the .vsix installs into the VS Code server', () => {
    const out = execFileSync(t.node24, [t.serverMain, '--install-extension', vsix, '--extensions-dir', dirs.extensions, '--user-data-dir', dirs.userData, '--server-data-dir', dirs.serverData, '--accept-server-license-terms'], { encoding: 'utf8' });
    assert.match(out, /successfully installed/i);
    console.log(`vsix ${(statSync(vsix).size / 1e6).toFixed(1)} MB: ${out.trim().split('\n').pop()}`);
  });

  for (const theme of ['Default Dark Modern', 'Default Light Modern', 'Default High Contrast']) {
    test(`${theme}: the Review panel shows a query picked in the browser`, async () => {
      const folder = path.join(tmp, `demo-${theme.split(' ')[1]?.toLowerCase()}`);
      execFileSync(process.execPath, [path.join(repoRoot, 'dist/cli.js'), 'demo', '--out', folder, '--json'], { stdio: 'ignore' });
      mkdirSync(path.join(dirs.serverData, 'data', 'User'), { recursive: true });
      const settings = JSON.stringify({ 'workbench.colorTheme': theme, 'workbench.startupEditor': 'none', 'chat.disableAIFeatures': true, 'workbench.secondarySideBar.defaultVisibility': 'hidden' });
      for (const dir of [path.join(dirs.userData, 'User'), path.join(dirs.serverData, 'data', 'User')]) {
        mkdirSync(dir, { recursive: true });
        writeFileSync(path.join(dir, 'settings.json'), settings);
      }
      if (server === undefined) {
        port = await freePort();
        server = spawn(t.node24, [t.serverMain, '--host', '127.0.0.1', '--port', String(port), '--without-connection-token', '--accept-server-license-terms', '--disable-workspace-trust', '--disable-telemetry', '--user-data-dir', dirs.userData, '--server-data-dir', dirs.serverData, '--extensions-dir', dirs.extensions], { detached: true, stdio: 'ignore', env: { ...process.env, XDG_CONFIG_HOME: tmp, XDG_DATA_HOME: tmp } });
        for (let i = 0; i < 100; i++) {
          if (await fetch(`http://127.0.0.1:${port}/version`).then((r) => r.ok, () => false)) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        browser = await launchChromium();
      }
      assert.ok(browser !== undefined, 'Chromium starts');
      const page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
      await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(folder)}`);
      const activity = page.locator('.activitybar [aria-label^="QX Studio"]').first();
      await activity.waitFor({ timeout: 60_000 });
      await activity.click();
      const row = page.locator('.monaco-list-row', { hasText: 'do goldfish grow' }).first();
      await row.waitFor({ timeout: 60_000 });
      await row.click();
      const frame = await webviewFrame(page);
      await frame.waitForFunction(() => document.body.dataset.qid === '156493', undefined, { timeout: 30_000 });
      assert.equal(await frame.locator('[data-testid="query-text"]').textContent(), 'do goldfish grow');
      assert.ok((await frame.locator('article.expansion').count()) >= 6);
      // The theme's real colours: deltas and warnings readable on the panel, the cards and the focused pair.
      const measured = await textContrasts(frame, coloredTextSelectors);
      assert.ok(measured.some((c) => c.selector === '.delta.pos') && measured.some((c) => c.selector === '.delta.neg'), JSON.stringify(measured));
      assert.deepEqual(belowMinimum(measured), [], `text below 4.5:1 in ${theme}`);
      // The query browser's up/down arrows are icons: 3:1 against the side bar (WCAG 1.4.11).
      const arrows = await textContrasts(page, ['.monaco-list-row .codicon-arrow-up', '.monaco-list-row .codicon-arrow-down']);
      assert.ok(arrows.some((c) => c.selector.endsWith('up')) && arrows.some((c) => c.selector.endsWith('down')), `arrows in the query browser: ${arrows.length}`);
      assert.deepEqual(belowMinimum(arrows, 3), [], `query browser arrows in ${theme}`);
      const lowest = (cs: { ratio: number }[]) => Math.min(...cs.map((c) => c.ratio));
      console.log(`${theme}: lowest contrast: coloured text ${lowest(measured)}:1, arrows ${lowest(arrows)}:1`);
      await page.waitForTimeout(500);
      if (process.env.QX_SCREENSHOTS === '1') {
        const name = theme.includes('Light') ? 'light' : theme.includes('High') ? 'highContrast' : 'dark';
        await page.screenshot({ path: path.join(repoRoot, 'docs/screenshots', `workbench-${name}.png`) });
      }
      await page.close();
    });
  }
});
