import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import type { Browser } from 'playwright-core';
import { chromiumExecutable, launchBrowser, openWebview, repoRoot, themeVariables, type ThemeKind, type WebviewHarness } from './webviewHarness.js';

const fixtures = path.join(__dirname, 'fixtures');
const page = { script: path.join(fixtures, 'echoWebview.js'), styles: [path.join(fixtures, 'echoWebview.css')] };
const skip = existsSync(chromiumExecutable) ? false : `chromium not installed at ${chromiumExecutable} (apt-get install -y chromium)`;

function rgb(hex: string): string {
  const n = Number.parseInt(hex.slice(1), 16);
  return `rgb(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255})`;
}

describe('webview harness', { skip }, () => {
  let browser: Browser;
  const open: WebviewHarness[] = [];
  const openPage = async (extra: Parameters<typeof openWebview>[0] = {}) => {
    const h = await openWebview({ ...page, browser, ...extra });
    open.push(h);
    return h;
  };

  before(async () => {
    browser = await launchBrowser();
  });
  after(async () => {
    for (const h of open) await h.close();
    await browser?.close();
  });

  test('records what the page posts and delivers host messages as message events', async () => {
    const h = await openPage();
    assert.deepEqual(await h.waitForSent((m) => (m as { type?: string }).type === 'ready'), { type: 'ready' });
    await h.postToWebview({ type: 'echo', payload: { qid: '1037798', scores: [0.5, 0.25] } });
    const echoed = await h.waitForSent((m) => (m as { type?: string }).type === 'echoed');
    assert.deepEqual(echoed, { type: 'echoed', payload: { qid: '1037798', scores: [0.5, 0.25] } });
    assert.equal(await h.page.locator('#log li').count(), 1);
    assert.deepEqual(h.errors(), []);
  });

  test('keeps setState across clicks and restores an initial state like VS Code', async () => {
    const h = await openPage();
    await h.page.click('#count');
    await h.page.click('#count');
    assert.deepEqual(await h.state(), { clicks: 2 });
    assert.deepEqual((await h.sent()).filter((m) => (m as { type?: string }).type === 'clicked'), [{ type: 'clicked', clicks: 1 }, { type: 'clicked', clicks: 2 }]);

    const restored = await openPage({ initialState: { clicks: 5 } });
    assert.equal(await restored.page.textContent('#count'), 'Clicked 5');
  });

  test('acquireVsCodeApi can be called only once, as in VS Code', async () => {
    const h = await openPage();
    const message = await h.page.evaluate(() => {
      try {
        (window as unknown as { acquireVsCodeApi: () => unknown }).acquireVsCodeApi();
        return 'no error';
      } catch (e) {
        return (e as Error).message;
      }
    });
    assert.match(message, /already been acquired/);
  });

  test('paints with the theme variables of each theme kind and switches in place', async () => {
    const h = await openPage({ theme: 'light' });
    const colors = () => h.page.evaluate(() => ({
      body: getComputedStyle(document.body).backgroundColor,
      button: getComputedStyle(document.getElementById('count') as HTMLElement).backgroundColor,
      passed: getComputedStyle(document.getElementById('passed') as HTMLElement).color,
      kind: document.body.dataset.vscodeThemeKind,
    }));
    const seen = new Set<string>();
    for (const kind of ['light', 'dark', 'high-contrast'] as ThemeKind[]) {
      if (kind !== 'light') await h.setTheme(kind);
      const vars = themeVariables[kind];
      const c = await colors();
      assert.equal(c.body, rgb(vars['--vscode-editor-background'] as string), `${kind} background`);
      assert.equal(c.button, rgb(vars['--vscode-button-background'] as string), `${kind} button`);
      assert.equal(c.passed, rgb(vars['--vscode-testing-iconPassed'] as string), `${kind} passed colour`);
      assert.equal(c.kind, `vscode-${kind}`);
      seen.add(c.body);
    }
    assert.equal(seen.size, 3, 'the three themes should give three different backgrounds');
  });

  test('writes a PNG screenshot of the page', async () => {
    const h = await openPage({ theme: 'dark' });
    const file = path.join(repoRoot, 'test-results', 'webview-harness-dark.png');
    rmSync(file, { force: true });
    await h.screenshot(file);
    const png = readFileSync(file);
    assert.deepEqual([...png.subarray(1, 4)].map((b) => String.fromCharCode(b)).join(''), 'PNG');
    assert.ok(png.length > 1000, `screenshot is only ${png.length} bytes`);
  });

  test('refuses a missing script with the command that builds it', async () => {
    await assert.rejects(openWebview({ script: path.join(fixtures, 'missing.js'), browser }), /not found: run `npm run build`/);
  });
});
