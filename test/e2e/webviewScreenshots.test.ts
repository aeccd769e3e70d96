// The Review panel on the real DL19 sample workspace (real Workspace, real scores, an LLM judge's
// judgments of the query shown), in the dark, light and high-contrast themes: readable colours
// (WCAG AA) and no sideways scrolling in a narrow panel. Writes docs/screenshots/review-<theme>.png
// when QX_SCREENSHOTS=1.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { Browser } from 'playwright-core';
import { JudgmentStore, judgmentsFile } from '../../src/core/judge/store.js';
import type { JudgmentRecord } from '../../src/core/judge/types.js';
import { nullLogger } from '../../src/core/logger.js';
import { defaultSettings } from '../../src/core/workspace/settings.js';
import { type Workspace, openWorkspace } from '../../src/core/workspace/workspace.js';
import { belowMinimum, coloredTextSelectors, textContrasts } from './webviewContrast.js';
import { type FakeHost, type PageServer, type ThemeName, attachHost, launchChromium, repoRoot, servePanel } from './webviewFakeHost.js';

const sample = path.join(repoRoot, 'samples/dl19');

/**
 * A scripted binary judge's judgments of every document in the query's top 10s (original and
 * expansions), as `qx judge --include-judged` stores them: P(Yes) from the qrels plus noise seeded
 * by the docid (0.75 ± 0.2 for grade >= 2, 0.3 ± 0.2 otherwise), and an even split for holes.
 */
function writeJudgments(root: string, ws: Workspace, qid: string): void {
  const review = ws.getQueryReview(qid);
  const qrels = ws.qrels.get(qid) ?? new Map<string, number>();
  const docs = new Set([...(review.original?.top10 ?? []), ...review.expansions.flatMap((s) => s.score?.top10 ?? [])]);
  const noise = (d: string): number => ([...d].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 1000, 7) / 1000 - 0.5) * 0.4;
  const template = { id: 'judge-binary', version: 1, hash: '5f0c8e1d2a3b4c6d' };
  const records: JudgmentRecord[] = [...docs].sort().map((docid) => {
    const g = qrels.get(docid);
    const score = Math.round(Math.min(0.99, Math.max(0.01, (g === undefined ? (noise(docid) > 0 ? 0.8 : 0.2) : g >= 2 ? 0.75 : 0.3) + noise(docid))) * 100) / 100;
    return { qid, docid, score, probs: { '0': 1 - score, '1': score }, mass: 0.99, token: score >= 0.5 ? 'Yes' : 'No', mode: 'binary', method: 'judge:judge-binary', provider: 'openai-compatible', endpoint: 'http://127.0.0.1:8000/v1', model: 'Qwen2.5-7B-Instruct', template, createdAt: '2026-12-06T00:00:00Z' };
  });
  JudgmentStore.open(judgmentsFile(root, 'Qwen2.5-7B-Instruct', template)).add(records);
}
const chromium = process.env.QX_CHROMIUM ?? '/usr/bin/chromium';
const skip = !existsSync(chromium) ? 'Chromium is not installed (apt-get install chromium, or set QX_CHROMIUM)' : !existsSync(path.join(sample, 'qx.dataset.json')) ? 'samples/dl19 is missing' : false;

describe('Review panel on the DL19 sample', { skip, timeout: 300_000 }, () => {
  let browser: Browser | undefined;
  let server: PageServer;
  let ws: Workspace;
  let dir: string;
  let qid: string;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'qx-shot-'));
    cpSync(sample, dir, { recursive: true, filter: (src) => !src.split(path.sep).includes('.qx') });
    ws = await openWorkspace(dir, { settings: defaultSettings, logger: nullLogger, getApiKey: async () => undefined, cacheDir: path.join(dir, '.qx-cache') });
    const signal = new AbortController().signal;
    await ws.buildIndex({ signal });
    const plan = JSON.parse(readFileSync(path.join(dir, 'demo.json'), 'utf8')) as { imports: { file: string; model: string; method: string; role: 'teacher' | 'student' }[] };
    for (const imp of plan.imports) await ws.importExpansions({ ...imp, file: path.join(dir, imp.file), format: 'querygym-tsv' }, { signal });
    await ws.score({ signal });
    await ws.buildPairs({}, { signal });
    // A query that shows everything: pairs, several expansions, documents moving in and out.
    const candidates = ws.listQueries().filter((q) => q.pairs.auto > 0 && q.expansions >= 4);
    const pick = candidates.find((q) => ws.getQueryReview(q.qid).expansions.some((s) => (s.score?.entered.length ?? 0) >= 2)) ?? candidates[0];
    assert.ok(pick, 'the sample has a query with auto pairs after building pairs');
    qid = pick.qid;
    writeJudgments(dir, ws, qid);
    browser = await launchChromium();
    server = await servePanel();
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await ws?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const theme of ['dark', 'light', 'highContrast'] as ThemeName[]) {
    test(`${theme}: the panel shows the real scores of a sample query`, async () => {
      if (browser === undefined) throw new Error('Chromium did not start');
      const page = await browser.newPage({ viewport: { width: 1100, height: 1500 }, deviceScaleFactor: 1 });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      const host = await attachHost(page, ws);
      await page.goto(server.url(theme));
      for (let i = 0; i < 200 && !host.endpoint.isReady; i++) await new Promise((r) => setTimeout(r, 20));
      host.show(qid);
      await page.waitForFunction((id) => document.body.dataset.qid === id, qid);
      const review = ws.getQueryReview(qid);
      const best = [...review.expansions].sort((a, b) => (b.score?.delta ?? -1) - (a.score?.delta ?? -1))[0];
      const shownDelta = await page.getByTestId('delta').first().textContent();
      const d = Math.round((best?.score?.delta ?? 0) * 1000) / 1000;
      assert.equal(shownDelta, `Δ ${d > 0 ? '+' : d < 0 ? '−' : ''}${Math.abs(d).toFixed(3)}`);
      assert.equal(await page.locator('tr.pair').count(), review.pairs.length);
      // The judge, through the real workspace: its name, and judged-only beside judge-filled nDCG@10 on every scored card.
      assert.match((await page.getByTestId('judge-info').textContent()) ?? '', /Qwen2\.5-7B-Instruct · judge-binary v1/);
      assert.equal(await page.locator('article.expansion [data-testid="judge-filled"]').count(), review.expansions.filter((s) => s.score !== null).length);
      await page.locator('vscode-collapsible.plots').click({ position: { x: 30, y: 10 } });
      await page.waitForSelector('svg.scatter');
      // Open the first expansion's retrieval string and an editor, as a reviewer would.
      await page.locator('details.final').first().evaluate((d) => ((d as HTMLDetailsElement).open = true));
      assert.deepEqual(errors, []);
      if (process.env.QX_SCREENSHOTS === '1') {
        const out = path.join(repoRoot, 'docs/screenshots');
        mkdirSync(out, { recursive: true });
        await page.evaluate(() => window.scrollTo(0, 0));
        await page.screenshot({ path: path.join(out, `review-${theme}.png`), fullPage: true });
      }
      // Deltas (in the cards and in the focused pair row) and warnings must be readable.
      const measured = await textContrasts(page, coloredTextSelectors);
      assert.ok(measured.some((c) => c.selector === '.delta.pos') && measured.some((c) => c.selector === '.delta.neg'), 'the sample query shows a positive and a negative delta');
      assert.deepEqual(belowMinimum(measured), [], `text below 4.5:1 in ${theme}`);
      // The accepted and rejected badges too; then undo, so the next theme starts from the same state.
      for (const state of ['accepted', 'rejected'] as const) {
        await page.getByTestId(state === 'accepted' ? 'accept' : 'reject').first().click();
        await page.waitForFunction((s) => document.querySelector('[data-testid="pair-state"]')?.textContent === s, state);
        const badge = await textContrasts(page, ['vscode-badge.state']);
        assert.deepEqual(belowMinimum(badge), [], `the ${state} badge in ${theme}`);
        ws.undo();
      }
      await page.close();
    });
  }

  for (const width of [360, 600]) {
    test(`a ${width} px wide panel: nothing is wider than the view, every pair cell is on screen`, async () => {
      if (browser === undefined) throw new Error('Chromium did not start');
      const page = await browser.newPage({ viewport: { width, height: 900 }, deviceScaleFactor: 1 });
      const host: FakeHost = await attachHost(page, ws);
      await page.goto(server.url('light'));
      for (let i = 0; i < 200 && !host.endpoint.isReady; i++) await new Promise((r) => setTimeout(r, 20));
      host.show(qid);
      await page.waitForFunction((id) => document.body.dataset.qid === id, qid);
      const sizes = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
      assert.ok(sizes.scroll <= sizes.client, `the page scrolls sideways: ${sizes.scroll} px of content in ${sizes.client} px`);
      const cells = await page.locator('tr.pair td').evaluateAll((tds) => tds.map((td) => { const r = td.getBoundingClientRect(); return { cls: td.className, left: r.left, right: r.right }; }));
      assert.ok(cells.length >= 5, 'the pair row has its cells');
      const off = cells.filter((c) => c.left < 0 || c.right > sizes.client);
      assert.deepEqual(off, [], 'pair cells outside the view');
      // The chosen side's model name wraps as words, not one syllable per line.
      const chosen = await page.locator('tr.pair td.chosen .exp-label').first().boundingBox();
      assert.ok(chosen !== null && chosen.height < 4 * 20, `the chosen label takes ${chosen?.height} px`);
      await page.close();
    });
  }
});
