// A fake extension host for the Review webview in headless Chromium: the real protocol endpoint
// (HostEndpoint) over an in-memory WorkspaceApi with synthetic data. Test and benchmark code only.
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import * as esbuild from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import type { WorkspaceApi } from '../../src/core/workspace/api.js';
import type { RequestHandlers } from '../../src/protocol/messages.js';
import { HostEndpoint } from '../../src/protocol/rpc.js';
import { computePlotData } from '../../src/extension/reviewData.js';

export { FakeWorkspace, hostileText } from './webviewFakeWorkspace.js';

export const repoRoot = path.resolve(__dirname, '../..');

/**
 * Theme variables as VS Code sets them on the webview's root (a representative subset), with the
 * values VS Code 1.139 sets for Dark Modern, Light Modern and Dark High Contrast. Colours a theme
 * leaves unset (list.errorForeground in high contrast) are left out here too.
 */
export const themes: Record<'dark' | 'light' | 'highContrast', Record<string, string>> = {
  dark: {
    'font-family': 'system-ui, "Segoe UI", Ubuntu, sans-serif', 'font-size': '13px', 'editor-font-family': 'monospace', 'editor-font-size': '12px',
    foreground: '#cccccc', descriptionForeground: '#9d9d9d', disabledForeground: '#6b6b6b', errorForeground: '#f85149', focusBorder: '#0078d4',
    'sideBar-background': '#181818', 'editor-background': '#1f1f1f', 'panel-border': '#2b2b2b', 'widget-border': '#313131', contrastBorder: 'transparent',
    'button-background': '#0078d4', 'button-foreground': '#ffffff', 'button-hoverBackground': '#026ec1', 'button-secondaryBackground': '#313131', 'button-secondaryForeground': '#cccccc', 'button-secondaryHoverBackground': '#3c3c3c', 'button-border': '#ffffff12',
    'badge-background': '#616161', 'badge-foreground': '#f8f8f8', 'input-background': '#313131', 'input-foreground': '#cccccc', 'input-border': '#3c3c3c', 'input-placeholderForeground': '#989898',
    'list-hoverBackground': '#2a2d2e', 'list-inactiveSelectionBackground': '#37373d', 'textLink-foreground': '#4daafc', 'textCodeBlock-background': '#2b2b2b',
    'testing-iconPassed': '#73c991', 'testing-iconFailed': '#f88070', 'list-errorForeground': '#f88070', 'list-warningForeground': '#cca700', 'editorWarning-foreground': '#cca700', 'inputValidation-errorBorder': '#be1100',
    'charts-blue': '#3794ff', 'charts-orange': '#d18616', 'charts-green': '#89d185', 'charts-purple': '#b180d7', 'charts-yellow': '#cca700', 'charts-red': '#f14c4c',
    'keybindingLabel-background': '#8080802b', 'keybindingLabel-foreground': '#cccccc', 'keybindingLabel-border': '#33333399',
    'sideBarSectionHeader-background': '#181818', 'sideBarTitle-foreground': '#cccccc', 'icon-foreground': '#cccccc', 'settings-textInputBackground': '#313131', 'settings-textInputForeground': '#cccccc', 'settings-textInputBorder': '#3c3c3c',
  },
  light: {
    'font-family': 'system-ui, "Segoe UI", Ubuntu, sans-serif', 'font-size': '13px', 'editor-font-family': 'monospace', 'editor-font-size': '12px',
    foreground: '#3b3b3b', descriptionForeground: '#3b3b3b', disabledForeground: '#6e7681', errorForeground: '#f85149', focusBorder: '#005fb8',
    'sideBar-background': '#f8f8f8', 'editor-background': '#ffffff', 'panel-border': '#e5e5e5', 'widget-border': '#e5e5e5', contrastBorder: 'transparent',
    'button-background': '#005fb8', 'button-foreground': '#ffffff', 'button-hoverBackground': '#0258a8', 'button-secondaryBackground': '#e5e5e5', 'button-secondaryForeground': '#3b3b3b', 'button-secondaryHoverBackground': '#cccccc', 'button-border': '#0000001a',
    'badge-background': '#cccccc', 'badge-foreground': '#3b3b3b', 'input-background': '#ffffff', 'input-foreground': '#3b3b3b', 'input-border': '#cecece', 'input-placeholderForeground': '#767676',
    'list-hoverBackground': '#f2f2f2', 'list-inactiveSelectionBackground': '#e4e6f1', 'textLink-foreground': '#005fb8', 'textCodeBlock-background': '#f2f2f2',
    'testing-iconPassed': '#73c991', 'testing-iconFailed': '#b01011', 'list-errorForeground': '#b01011', 'list-warningForeground': '#855f00', 'editorWarning-foreground': '#bf8803', 'inputValidation-errorBorder': '#be1100',
    'charts-blue': '#1a85ff', 'charts-orange': '#d18616', 'charts-green': '#388a34', 'charts-purple': '#652d90', 'charts-yellow': '#bf8803', 'charts-red': '#e51400',
    'keybindingLabel-background': '#dddddd66', 'keybindingLabel-foreground': '#555555', 'keybindingLabel-border': '#cccccc66',
    'sideBarSectionHeader-background': '#f8f8f8', 'sideBarTitle-foreground': '#3b3b3b', 'icon-foreground': '#3b3b3b', 'settings-textInputBackground': '#ffffff', 'settings-textInputForeground': '#3b3b3b', 'settings-textInputBorder': '#cecece',
  },
  highContrast: {
    'font-family': 'system-ui, "Segoe UI", Ubuntu, sans-serif', 'font-size': '13px', 'editor-font-family': 'monospace', 'editor-font-size': '12px',
    foreground: '#ffffff', descriptionForeground: '#ffffffb3', disabledForeground: '#a5a5a5', errorForeground: '#f48771', focusBorder: '#f38518',
    'sideBar-background': '#000000', 'editor-background': '#000000', 'panel-border': '#6fc3df', 'widget-border': '#6fc3df', contrastBorder: '#6fc3df',
    'button-background': '#000000', 'button-foreground': '#ffffff', 'button-hoverBackground': '#000000', 'button-secondaryBackground': '#000000', 'button-secondaryForeground': '#ffffff', 'button-secondaryHoverBackground': '#000000', 'button-border': '#6fc3df',
    'badge-background': '#000000', 'badge-foreground': '#ffffff', 'input-background': '#000000', 'input-foreground': '#ffffff', 'input-border': '#6fc3df', 'input-placeholderForeground': '#ffffffb3',
    'list-hoverBackground': '#000000', 'list-inactiveSelectionBackground': '#000000', 'textLink-foreground': '#21a6ff', 'textCodeBlock-background': '#000000',
    'testing-iconPassed': '#73c991', 'editorWarning-foreground': '#ffd370', 'inputValidation-errorBorder': '#6fc3df',
    'charts-blue': '#3794ff', 'charts-orange': '#d18616', 'charts-green': '#89d185', 'charts-purple': '#b180d7', 'charts-yellow': '#cca700', 'charts-red': '#f48771',
    'keybindingLabel-background': '#00000000', 'keybindingLabel-foreground': '#ffffff', 'keybindingLabel-border': '#6fc3df',
    'sideBarSectionHeader-background': '#000000', 'sideBarTitle-foreground': '#ffffff', 'icon-foreground': '#ffffff', 'settings-textInputBackground': '#000000', 'settings-textInputForeground': '#ffffff', 'settings-textInputBorder': '#6fc3df',
  },
};

export type ThemeName = keyof typeof themes;

let bundled: string | undefined;

/** Bundles webview/main.ts once per process, as the real build does, into a temp folder. */
export async function bundleWebview(): Promise<string> {
  if (bundled !== undefined) return bundled;
  const out = path.join(mkdtempSync(path.join(tmpdir(), 'qx-webview-')), 'webview.js');
  await esbuild.build({ entryPoints: [path.join(repoRoot, 'webview/main.ts')], outfile: out, bundle: true, platform: 'browser', format: 'esm', target: 'es2022', logLevel: 'error' });
  bundled = readFileSync(out, 'utf8');
  return bundled;
}

export interface PageServer {
  url: (theme: ThemeName) => string;
  close: () => Promise<void>;
}

/** Serves the panel's page with the same CSP as the extension, plus a stub acquireVsCodeApi. */
export async function servePanel(): Promise<PageServer> {
  const js = await bundleWebview();
  const css = readFileSync(path.join(repoRoot, 'media/review.css'), 'utf8');
  const server: Server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    const origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    if (u.pathname === '/webview.js') return void res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
    if (u.pathname === '/review.css') return void res.writeHead(200, { 'content-type': 'text/css' }).end(css);
    if (u.pathname === '/theme.css') {
      const t = themes[(u.searchParams.get('theme') ?? 'dark') as ThemeName] ?? themes.dark;
      const vars = Object.entries(t).map(([k, v]) => `--vscode-${k}: ${v};`).join(' ');
      return void res.writeHead(200, { 'content-type': 'text/css' }).end(`:root { ${vars} }`);
    }
    const theme = u.searchParams.get('theme') ?? 'dark';
    const nonce = randomBytes(16).toString('base64').replace(/[+/=]/g, '');
    const csp = `default-src 'none'; style-src ${origin}; img-src ${origin} data:; font-src ${origin}; script-src 'nonce-${nonce}'`;
    res.writeHead(200, { 'content-type': 'text/html' }).end(`<!DOCTYPE html><html lang="en"><head><meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<link rel="stylesheet" href="/theme.css?theme=${theme}"><link rel="stylesheet" href="/review.css"></head>
<body data-theme="${theme}"><main id="app"><p class="loading">Loading…</p></main>
<script nonce="${nonce}">
  // Like VS Code, state set by the page survives the page being torn down and recreated (reload).
  let state = JSON.parse(sessionStorage.getItem('qx-webview-state') ?? 'null') ?? undefined;
  window.acquireVsCodeApi = () => ({ postMessage: (m) => window.qxToHost(JSON.stringify(m)), getState: () => state, setState: (s) => { state = s; sessionStorage.setItem('qx-webview-state', JSON.stringify(s)); } });
</script>
<script type="module" nonce="${nonce}" src="/webview.js"></script></body></html>`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: (theme) => `http://127.0.0.1:${port}/?theme=${theme}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export interface FakeHost {
  endpoint: HostEndpoint;
  /** Requests received, by method, in order. */
  requests: string[];
  opened: string[];
  commands: string[];
  show(qid: string): void;
  current(): string | undefined;
}

/** Wires a page to a HostEndpoint whose handlers drive `ws` the way ReviewViewProvider does. */
export async function attachHost(page: Page, ws: WorkspaceApi): Promise<FakeHost> {
  let qid: string | undefined;
  const order = () => ws.listQueries().map((q) => q.qid);
  const requests: string[] = [];
  const opened: string[] = [];
  const commands: string[] = [];
  const position = (id: string) => ({ index: order().indexOf(id), total: order().length });
  const push = () => {
    if (qid === undefined) return;
    const review = ws.getQueryReview(qid);
    endpoint.notify('review/show', { review, position: position(qid), judge: ws.getQueryJudge?.(qid, review) ?? null });
  };
  const handlers: RequestHandlers = {
    'review/get': (p) => {
      qid = p.qid;
      const review = ws.getQueryReview(p.qid);
      return { review, position: position(p.qid), judge: ws.getQueryJudge?.(p.qid, review) ?? null };
    },
    'queries/select': (p) => {
      const ids = order();
      const i = qid === undefined ? -1 : ids.indexOf(qid);
      const next = 'qid' in p ? p.qid : ids[Math.max(0, Math.min(ids.length - 1, p.direction === 'next' ? i + 1 : i - 1))];
      if (next === undefined) return null;
      qid = next;
      push();
      return { qid: next };
    },
    'pairs/setState': (p) => { const r = ws.setPairState(p.pairId, p.state); push(); return r; },
    'pairs/swap': (p) => { const r = ws.swapPair(p.pairId); push(); return r; },
    'pairs/create': (p) => { const r = ws.createPair(p.qid, p.chosenId, p.rejectedId); push(); return r; },
    'pairs/note': (p) => { const r = ws.setPairNote(p.pairId, p.note); push(); return r; },
    'expansions/preview': async (p) => {
      const e = ws.getQueryReview(qid ?? '').expansions.find((s) => s.expansion.id === p.expansionId)?.expansion;
      if (e === undefined) throw Object.assign(new Error('not on screen'), { code: 'store' });
      const final = e.final.replace(e.generated, p.generated);
      return { final, score: await ws.previewScore(e.qid, final) };
    },
    'expansions/save': async (p) => { const r = await ws.editExpansion(p.expansionId, p.generated); push(); return r; },
    'docs/open': (p) => { opened.push(p.docid); return { opened: true }; },
    'edit/undo': () => { const r = ws.undo(); if (r.qid !== null) qid = r.qid; push(); return r; },
    'plots/get': () => computePlotData(ws),
    'commands/run': (p) => { commands.push(p.command); return null; },
    'ui/focus': () => null,
  };
  const endpoint: HostEndpoint = new HostEndpoint(
    (m) => void page.evaluate((data) => window.dispatchEvent(new MessageEvent('message', { data: JSON.parse(data) })), JSON.stringify(m)).catch(() => undefined),
    handlers,
    (e) => ({ code: typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : 'internal', message: e instanceof Error ? e.message : String(e) }),
  );
  // As ReviewViewProvider does: a recreated page starts unready, and gets the current review on ready.
  endpoint.onReady(push);
  page.on('framenavigated', (f) => {
    if (f === page.mainFrame()) endpoint.reset();
  });
  await page.exposeFunction('qxToHost', async (json: string) => {
    const m: unknown = JSON.parse(json);
    if (typeof m === 'object' && m !== null && 'method' in m) requests.push(String((m as { method: unknown }).method));
    await endpoint.receive(m);
  });
  return {
    endpoint,
    requests,
    opened,
    commands,
    show: (id: string) => { qid = id; push(); },
    current: () => qid,
  };
}

export async function launchChromium(): Promise<Browser | undefined> {
  const { chromium } = await import('playwright-core');
  const executablePath = process.env.QX_CHROMIUM ?? '/usr/bin/chromium';
  try {
    return await chromium.launch({ executablePath, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  } catch {
    return undefined;
  }
}
