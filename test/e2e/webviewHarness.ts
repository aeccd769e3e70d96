// Fast browser tests of a webview page without VS Code: serves the page (dist/webview.js and
// media/*.css by default) on 127.0.0.1 with a stub `acquireVsCodeApi` that records what the page
// posts and its get/setState, sets VS Code's theme variables on :root for a dark, light or
// high-contrast theme, and opens it in Debian's headless chromium through playwright-core.
import { createServer, type Server } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const repoRoot = path.resolve(__dirname, '../..');

export type ThemeKind = 'dark' | 'light' | 'high-contrast';

const fontFamily = 'system-ui, "Ubuntu", "Droid Sans", sans-serif';
const editorFontFamily = '"Droid Sans Mono", "monospace", monospace';

/**
 * A subset of the variables VS Code 1.9x sets on a webview's <html>, with the values of its
 * Dark Modern, Light Modern and Dark High Contrast themes.
 */
export const themeVariables: Record<ThemeKind, Record<string, string>> = {
  dark: {
    '--vscode-font-family': fontFamily,
    '--vscode-font-size': '13px',
    '--vscode-font-weight': 'normal',
    '--vscode-editor-font-family': editorFontFamily,
    '--vscode-editor-font-size': '14px',
    '--vscode-editor-font-weight': 'normal',
    '--vscode-foreground': '#cccccc',
    '--vscode-descriptionForeground': '#9d9d9d',
    '--vscode-errorForeground': '#f85149',
    '--vscode-focusBorder': '#0078d4',
    '--vscode-contrastBorder': 'transparent',
    '--vscode-editor-background': '#1f1f1f',
    '--vscode-editor-foreground': '#cccccc',
    '--vscode-sideBar-background': '#181818',
    '--vscode-panel-background': '#181818',
    '--vscode-panel-border': '#2b2b2b',
    '--vscode-widget-border': '#313131',
    '--vscode-editorWidget-background': '#202020',
    '--vscode-button-background': '#0078d4',
    '--vscode-button-foreground': '#ffffff',
    '--vscode-button-hoverBackground': '#026ec1',
    '--vscode-button-border': 'rgba(255, 255, 255, 0.07)',
    '--vscode-button-secondaryBackground': '#313131',
    '--vscode-button-secondaryForeground': '#cccccc',
    '--vscode-button-secondaryHoverBackground': '#3c3c3c',
    '--vscode-input-background': '#313131',
    '--vscode-input-foreground': '#cccccc',
    '--vscode-input-border': '#3c3c3c',
    '--vscode-input-placeholderForeground': '#989898',
    '--vscode-dropdown-background': '#313131',
    '--vscode-dropdown-foreground': '#cccccc',
    '--vscode-dropdown-border': '#3c3c3c',
    '--vscode-checkbox-background': '#313131',
    '--vscode-checkbox-border': '#3c3c3c',
    '--vscode-badge-background': '#616161',
    '--vscode-badge-foreground': '#f8f8f8',
    '--vscode-textLink-foreground': '#4daafc',
    '--vscode-textLink-activeForeground': '#4daafc',
    '--vscode-textCodeBlock-background': '#2b2b2b',
    '--vscode-textPreformat-foreground': '#d0d0d0',
    '--vscode-list-hoverBackground': '#2a2d2e',
    '--vscode-list-activeSelectionBackground': '#04395e',
    '--vscode-list-activeSelectionForeground': '#ffffff',
    '--vscode-toolbar-hoverBackground': 'rgba(90, 93, 94, 0.31)',
    '--vscode-scrollbarSlider-background': 'rgba(121, 121, 121, 0.4)',
    '--vscode-scrollbarSlider-hoverBackground': 'rgba(100, 100, 100, 0.7)',
    '--vscode-editorError-foreground': '#f14c4c',
    '--vscode-editorWarning-foreground': '#cca700',
    '--vscode-editorInfo-foreground': '#3794ff',
    '--vscode-diffEditor-insertedTextBackground': 'rgba(156, 204, 44, 0.2)',
    '--vscode-diffEditor-removedTextBackground': 'rgba(255, 0, 0, 0.2)',
    '--vscode-testing-iconPassed': '#73c991',
    '--vscode-testing-iconFailed': '#f14c4c',
    '--vscode-testing-iconSkipped': '#848484',
    '--vscode-testing-iconQueued': '#cca700',
    '--vscode-charts-foreground': '#cccccc',
    '--vscode-charts-lines': 'rgba(204, 204, 204, 0.5)',
    '--vscode-charts-red': '#f14c4c',
    '--vscode-charts-blue': '#3794ff',
    '--vscode-charts-yellow': '#cca700',
    '--vscode-charts-orange': '#d18616',
    '--vscode-charts-green': '#89d185',
    '--vscode-charts-purple': '#b180d7',
  },
  light: {
    '--vscode-font-family': fontFamily,
    '--vscode-font-size': '13px',
    '--vscode-font-weight': 'normal',
    '--vscode-editor-font-family': editorFontFamily,
    '--vscode-editor-font-size': '14px',
    '--vscode-editor-font-weight': 'normal',
    '--vscode-foreground': '#3b3b3b',
    '--vscode-descriptionForeground': '#3b3b3b',
    '--vscode-errorForeground': '#f85149',
    '--vscode-focusBorder': '#005fb8',
    '--vscode-contrastBorder': 'transparent',
    '--vscode-editor-background': '#ffffff',
    '--vscode-editor-foreground': '#3b3b3b',
    '--vscode-sideBar-background': '#f8f8f8',
    '--vscode-panel-background': '#f8f8f8',
    '--vscode-panel-border': '#e5e5e5',
    '--vscode-widget-border': '#e5e5e5',
    '--vscode-editorWidget-background': '#f8f8f8',
    '--vscode-button-background': '#005fb8',
    '--vscode-button-foreground': '#ffffff',
    '--vscode-button-hoverBackground': '#0258a8',
    '--vscode-button-border': 'rgba(0, 0, 0, 0.1)',
    '--vscode-button-secondaryBackground': '#e5e5e5',
    '--vscode-button-secondaryForeground': '#3b3b3b',
    '--vscode-button-secondaryHoverBackground': '#cccccc',
    '--vscode-input-background': '#ffffff',
    '--vscode-input-foreground': '#3b3b3b',
    '--vscode-input-border': '#cecece',
    '--vscode-input-placeholderForeground': '#767676',
    '--vscode-dropdown-background': '#ffffff',
    '--vscode-dropdown-foreground': '#3b3b3b',
    '--vscode-dropdown-border': '#cecece',
    '--vscode-checkbox-background': '#f8f8f8',
    '--vscode-checkbox-border': '#cecece',
    '--vscode-badge-background': '#cccccc',
    '--vscode-badge-foreground': '#3b3b3b',
    '--vscode-textLink-foreground': '#005fb8',
    '--vscode-textLink-activeForeground': '#005fb8',
    '--vscode-textCodeBlock-background': '#f8f8f8',
    '--vscode-textPreformat-foreground': '#3b3b3b',
    '--vscode-list-hoverBackground': '#f2f2f2',
    '--vscode-list-activeSelectionBackground': '#e8e8e8',
    '--vscode-list-activeSelectionForeground': '#000000',
    '--vscode-toolbar-hoverBackground': 'rgba(184, 184, 184, 0.31)',
    '--vscode-scrollbarSlider-background': 'rgba(100, 100, 100, 0.4)',
    '--vscode-scrollbarSlider-hoverBackground': 'rgba(100, 100, 100, 0.7)',
    '--vscode-editorError-foreground': '#e51400',
    '--vscode-editorWarning-foreground': '#bf8803',
    '--vscode-editorInfo-foreground': '#1a85ff',
    '--vscode-diffEditor-insertedTextBackground': 'rgba(156, 204, 44, 0.25)',
    '--vscode-diffEditor-removedTextBackground': 'rgba(255, 0, 0, 0.2)',
    '--vscode-testing-iconPassed': '#388a34',
    '--vscode-testing-iconFailed': '#f14c4c',
    '--vscode-testing-iconSkipped': '#848484',
    '--vscode-testing-iconQueued': '#bf8803',
    '--vscode-charts-foreground': '#616161',
    '--vscode-charts-lines': 'rgba(97, 97, 97, 0.5)',
    '--vscode-charts-red': '#e51400',
    '--vscode-charts-blue': '#1a85ff',
    '--vscode-charts-yellow': '#bf8803',
    '--vscode-charts-orange': '#d18616',
    '--vscode-charts-green': '#388a34',
    '--vscode-charts-purple': '#652d90',
  },
  'high-contrast': {
    '--vscode-font-family': fontFamily,
    '--vscode-font-size': '13px',
    '--vscode-font-weight': 'normal',
    '--vscode-editor-font-family': editorFontFamily,
    '--vscode-editor-font-size': '14px',
    '--vscode-editor-font-weight': 'normal',
    '--vscode-foreground': '#ffffff',
    '--vscode-descriptionForeground': 'rgba(255, 255, 255, 0.7)',
    '--vscode-errorForeground': '#f48771',
    '--vscode-focusBorder': '#f38518',
    '--vscode-contrastBorder': '#6fc3df',
    '--vscode-contrastActiveBorder': '#f38518',
    '--vscode-editor-background': '#000000',
    '--vscode-editor-foreground': '#ffffff',
    '--vscode-sideBar-background': '#000000',
    '--vscode-panel-background': '#000000',
    '--vscode-panel-border': '#6fc3df',
    '--vscode-widget-border': '#6fc3df',
    '--vscode-editorWidget-background': '#0c141f',
    '--vscode-button-background': '#000000',
    '--vscode-button-foreground': '#ffffff',
    '--vscode-button-hoverBackground': '#000000',
    '--vscode-button-border': '#6fc3df',
    '--vscode-button-secondaryBackground': '#000000',
    '--vscode-button-secondaryForeground': '#ffffff',
    '--vscode-button-secondaryHoverBackground': '#000000',
    '--vscode-input-background': '#000000',
    '--vscode-input-foreground': '#ffffff',
    '--vscode-input-border': '#6fc3df',
    '--vscode-input-placeholderForeground': 'rgba(255, 255, 255, 0.7)',
    '--vscode-dropdown-background': '#000000',
    '--vscode-dropdown-foreground': '#ffffff',
    '--vscode-dropdown-border': '#6fc3df',
    '--vscode-checkbox-background': '#000000',
    '--vscode-checkbox-border': '#6fc3df',
    '--vscode-badge-background': '#000000',
    '--vscode-badge-foreground': '#ffffff',
    '--vscode-textLink-foreground': '#21a6ff',
    '--vscode-textLink-activeForeground': '#21a6ff',
    '--vscode-textCodeBlock-background': '#000000',
    '--vscode-textPreformat-foreground': '#ffd700',
    '--vscode-list-hoverBackground': 'transparent',
    '--vscode-list-activeSelectionBackground': 'transparent',
    '--vscode-list-activeSelectionForeground': '#ffffff',
    '--vscode-toolbar-hoverBackground': 'transparent',
    '--vscode-scrollbarSlider-background': 'rgba(111, 195, 223, 0.6)',
    '--vscode-scrollbarSlider-hoverBackground': 'rgba(111, 195, 223, 0.8)',
    '--vscode-editorError-foreground': '#f48771',
    '--vscode-editorWarning-foreground': '#ffd370',
    '--vscode-editorInfo-foreground': '#3794ff',
    '--vscode-diffEditor-insertedTextBackground': 'transparent',
    '--vscode-diffEditor-removedTextBackground': 'transparent',
    '--vscode-testing-iconPassed': '#73c991',
    '--vscode-testing-iconFailed': '#f48771',
    '--vscode-testing-iconSkipped': '#848484',
    '--vscode-testing-iconQueued': '#ffd370',
    '--vscode-charts-foreground': '#ffffff',
    '--vscode-charts-lines': 'rgba(255, 255, 255, 0.5)',
    '--vscode-charts-red': '#f48771',
    '--vscode-charts-blue': '#3794ff',
    '--vscode-charts-yellow': '#ffd370',
    '--vscode-charts-orange': '#d18616',
    '--vscode-charts-green': '#89d185',
    '--vscode-charts-purple': '#b180d7',
  },
};

/** The body class and data-vscode-theme-kind VS Code sets for each kind. */
const themeClass: Record<ThemeKind, string> = { dark: 'vscode-dark', light: 'vscode-light', 'high-contrast': 'vscode-high-contrast' };

export const chromiumExecutable = process.env.QX_CHROMIUM ?? '/usr/bin/chromium';

/** Flags that matter here: without the networking ones chromium keeps dialling out on a closed network. */
export const chromiumFlags = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
];

/**
 * Launches Debian's chromium headless; share one across tests with `browser` in the options.
 * Its HOME and XDG folders are a temp folder, removed when the browser closes.
 */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(chromiumExecutable)) {
    throw new Error(`Chromium not found at ${chromiumExecutable}. Install it: apt-get install -y chromium (or set QX_CHROMIUM).`);
  }
  const home = mkdtempSync(path.join(tmpdir(), 'qx-chromium-'));
  const env = { ...process.env, HOME: home, XDG_CONFIG_HOME: path.join(home, 'config'), XDG_DATA_HOME: path.join(home, 'data'), XDG_CACHE_HOME: path.join(home, 'cache') };
  try {
    const browser = await chromium.launch({ executablePath: chromiumExecutable, args: chromiumFlags, headless: true, env });
    browser.on('disconnected', () => rmSync(home, { recursive: true, force: true }));
    return browser;
  } catch (e) {
    rmSync(home, { recursive: true, force: true });
    throw e;
  }
}

export interface WebviewHarnessOptions {
  /** Script loaded as an ES module, the webview bundle; default `<repo>/dist/webview.js`. */
  script?: string;
  /** Stylesheets linked in order; default every `<repo>/media/*.css`. */
  styles?: string[];
  /** The page's body markup before the script runs; default the Review panel's `<main id="app">`. */
  bodyHtml?: string;
  /** Theme kind; default 'dark'. */
  theme?: ThemeKind;
  /** What `getState()` returns before any `setState`, as when VS Code restores a webview. */
  initialState?: unknown;
  /** Reuse a browser (each harness then opens a new context and closes only that). */
  browser?: Browser;
  /** Viewport in CSS pixels; default 420×800, a side panel. */
  viewport?: { width: number; height: number };
}

/** A webview page open in headless chromium, with the stub VS Code API around it. */
export interface WebviewHarness {
  page: Page;
  /** The page's address on 127.0.0.1. */
  url: string;
  /** Delivers a host→webview message the way VS Code does: a `message` event on window. */
  postToWebview(message: unknown): Promise<void>;
  /** Every message the webview has posted to the host, oldest first (structured clones). */
  sent(): Promise<unknown[]>;
  /** Waits until a posted message satisfies `match`; rejects after `timeoutMs` (default 5000) listing what was sent. */
  waitForSent(match: (message: unknown) => boolean, timeoutMs?: number): Promise<unknown>;
  /** The last value passed to `setState` (or the initial state). */
  state(): Promise<unknown>;
  /** Uncaught page errors and console errors seen so far. */
  errors(): string[];
  /** Switches the theme variables and body classes in place, as VS Code does on a theme change. */
  setTheme(theme: ThemeKind): Promise<void>;
  /** Full-page PNG; creates the folder. */
  screenshot(file: string): Promise<void>;
  close(): Promise<void>;
}

function cssVariables(theme: ThemeKind): string {
  return Object.entries(themeVariables[theme]).map(([k, v]) => `${k}: ${v};`).join(' ').replace(/&/g, '&amp;').replace(/"/g, '&quot;');
}

function pageHtml(styles: string[], bodyHtml: string, theme: ThemeKind, initialState: unknown): string {
  const links = styles.map((_, i) => `<link rel="stylesheet" href="/style/${i}.css">`).join('\n');
  // The stub behaves like VS Code's: one acquisition per page, state kept across get/set, and
  // messages structured-cloned as postMessage would.
  const stub = `
    (() => {
      const sent = [];
      let state = ${JSON.stringify(initialState ?? null)};
      let acquired = false;
      window.__qxHarness = { sent, getState: () => state };
      window.acquireVsCodeApi = () => {
        if (acquired) throw new Error('An instance of the VS Code API has already been acquired');
        acquired = true;
        return Object.freeze({
          postMessage: (message) => { sent.push(structuredClone(message)); },
          getState: () => state,
          setState: (s) => { state = structuredClone(s); return s; },
        });
      };
    })();`;
  return `<!DOCTYPE html>
<html lang="en" style="${cssVariables(theme)}">
<head>
<meta charset="UTF-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<style>body { background-color: var(--vscode-editor-background); color: var(--vscode-foreground); font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); margin: 0; padding: 0 20px; }</style>
${links}
<script>${stub}</script>
</head>
<body class="${themeClass[theme]}" data-vscode-theme-kind="${themeClass[theme]}">
${bodyHtml}
<script type="module" src="/webview.js"></script>
</body>
</html>`;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

/**
 * Serves and opens a webview page. Throws when the script is missing (run `npm run build`) or
 * chromium is not installed. Call `close()` when done.
 */
export async function openWebview(options: WebviewHarnessOptions = {}): Promise<WebviewHarness> {
  const script = options.script ?? path.join(repoRoot, 'dist', 'webview.js');
  if (!existsSync(script)) throw new Error(`Webview script ${script} not found: run \`npm run build\` first.`);
  const mediaDir = path.join(repoRoot, 'media');
  const styles = options.styles ?? (existsSync(mediaDir) ? readdirSync(mediaDir).filter((f) => f.endsWith('.css')).sort().map((f) => path.join(mediaDir, f)) : []);
  const theme = options.theme ?? 'dark';
  const html = pageHtml(styles, options.bodyHtml ?? '<main id="app" aria-live="polite"></main>', theme, options.initialState);

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const send = (type: string, body: string | Buffer) => {
      res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    const style = /^\/style\/(\d+)\.css$/.exec(url.pathname);
    if (url.pathname === '/favicon.ico') {
      res.writeHead(204);
      res.end();
    } else if (url.pathname === '/') send('text/html; charset=utf-8', html);
    else if (url.pathname === '/webview.js') send('text/javascript; charset=utf-8', readFileSync(script));
    else if (url.pathname === '/webview.js.map' && existsSync(`${script}.map`)) send('application/json', readFileSync(`${script}.map`));
    else if (style !== null && styles[Number(style[1])] !== undefined) send('text/css; charset=utf-8', readFileSync(styles[Number(style[1])] as string));
    else {
      res.writeHead(404);
      res.end();
    }
  });
  const port = await listen(server);
  const ownBrowser = options.browser === undefined;
  let browser: Browser | undefined;
  try {
    browser = options.browser ?? (await launchBrowser());
    const context = await browser.newContext({ viewport: options.viewport ?? { width: 420, height: 800 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console error: ${m.text()}`);
    });
    const url = `http://127.0.0.1:${port}/`;
    await page.goto(url, { waitUntil: 'load' });

    const sent = () => page.evaluate(() => (window as unknown as { __qxHarness: { sent: unknown[] } }).__qxHarness.sent.slice());
    const harness: WebviewHarness = {
      page,
      url,
      postToWebview: async (message) => {
        await page.evaluate((data) => {
          window.dispatchEvent(new MessageEvent('message', { data, origin: window.location.origin }));
        }, message);
      },
      sent,
      waitForSent: async (match, timeoutMs = 5000) => {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const all = await sent();
          const hit = all.find(match);
          if (hit !== undefined) return hit;
          if (Date.now() > deadline) throw new Error(`No matching message from the webview within ${timeoutMs} ms; it sent: ${JSON.stringify(all).slice(0, 2000)}`);
          await new Promise((r) => setTimeout(r, 25));
        }
      },
      state: () => page.evaluate(() => (window as unknown as { __qxHarness: { getState: () => unknown } }).__qxHarness.getState()),
      errors: () => errors.slice(),
      setTheme: async (kind) => {
        await page.evaluate(({ vars, cls, all }) => {
          const root = document.documentElement;
          for (const k of Array.from(root.style)) if (k.startsWith('--vscode-') && !(k in vars)) root.style.removeProperty(k);
          for (const [k, v] of Object.entries(vars)) root.style.setProperty(k, v);
          document.body.classList.remove(...all);
          document.body.classList.add(cls);
          document.body.dataset.vscodeThemeKind = cls;
        }, { vars: themeVariables[kind], cls: themeClass[kind], all: Object.values(themeClass) });
      },
      screenshot: async (file) => {
        mkdirSync(path.dirname(file), { recursive: true });
        await page.screenshot({ path: file, fullPage: true });
      },
      close: async () => {
        await context.close().catch(() => undefined);
        if (ownBrowser) await browser?.close().catch(() => undefined);
        await new Promise<void>((r) => server.close(() => r()));
      },
    };
    return harness;
  } catch (e) {
    if (ownBrowser) await browser?.close().catch(() => undefined);
    server.close();
    throw e;
  }
}
