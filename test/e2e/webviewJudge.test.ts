// The LLM judge in the Review panel, in headless Chromium against the fake host: the judge's score
// on each moved document, judged-only beside judge-filled nDCG@10, flipped pairs; none of it for a
// query the judge has not seen, nor in a workspace without judgments.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type { DocMove, ExpansionScore, PairRecord } from '../../src/core/curation/types.js';
import type { Qrels } from '../../src/core/dataset/types.js';
import { ndcg10Of } from '../../src/core/judge/fill.js';
import { type QueryJudgeView, ReviewJudgments } from '../../src/core/judge/reviewJudge.js';
import { JudgmentStore, judgmentsFile } from '../../src/core/judge/store.js';
import type { QueryReview } from '../../src/core/workspace/api.js';
import { belowMinimum, textContrasts } from './webviewContrast.js';
import { type FakeHost, FakeWorkspace, type PageServer, type ThemeName, attachHost, launchChromium, repoRoot, servePanel } from './webviewFakeHost.js';

const chromiumMissing = !existsSync(process.env.QX_CHROMIUM ?? '/usr/bin/chromium');
const JUDGED = '1000';
const UNJUDGED = '1001';

/**
 * The fake workspace with real rankings for query 1000 and an LLM judge's judgments of it in
 * `.qx/judgments/` (read by the core's ReviewJudgments, as the real workspace does). Query 1000's
 * teacher few-shot expansion pulls two unjudged documents (h1, h2) into its top 10 that the judge
 * calls relevant, so its pair with the zero-shot expansion flips once the holes are filled.
 */
class JudgedWorkspace extends FakeWorkspace {
  readonly qrelsOf: Qrels = new Map([[JUDGED, new Map([['d1', 2], ['d2', 1], ['d3', 0], ['d4', 0], ['d5', 1], ...['f1', 'f2', 'f3', 'f4', 'f5', 'f6'].map((f) => [f, 0] as [string, number])])]]);
  private readonly original = ['d3', 'd1', 'd4', 'd2', 'f1', 'f2', 'f3', 'f4', 'f5', 'f6'];
  private readonly judgments: ReviewJudgments | null;

  constructor(readonly dir: string, withJudgments = true) {
    super(5);
    const judged = this.qrelsOf.get(JUDGED)!;
    const t = this.topics.find((x) => x.qid === JUDGED)!;
    t.base = ndcg10Of(this.original, judged);
    t.judged = judged.size;
    t.byGrade = { '2': 1, '1': 2, '0': 8 };
    const tops: Record<string, string[]> = {
      'query2doc-zs-teacher': ['d1', 'd2', 'd5', 'd3', 'd4', 'f1', 'f2', 'f3', 'f4', 'f5'],
      'query2doc-fs-teacher': ['h1', 'h2', 'd1', 'd5', 'd2', 'd3', 'f1', 'f2', 'f3', 'f4'],
      'query2doc-zs-student': ['h3', 'd3', 'd4', 'd1', 'f1', 'f2', 'f3', 'f4', 'f5', 'f6'],
    };
    const list = this.expansions.get(JUDGED)!;
    for (const s of list) {
      const top10 = tops[`${s.expansion.method}-${s.expansion.role}`]!;
      s.score = this.scoreOf(s.expansion.id, top10);
    }
    const id = (method: string, role: string) => `${JUDGED}-${method}-${role}`;
    const pair = (n: number, chosenId: string, rejectedId: string): PairRecord => {
      const margin = (this.expansions.get(JUDGED)!.find((s) => s.expansion.id === chosenId)!.score!.ndcg10) - (this.expansions.get(JUDGED)!.find((s) => s.expansion.id === rejectedId)!.score!.ndcg10);
      return { id: `p-${JUDGED}-${n}`, qid: JUDGED, chosenId, rejectedId, margin, state: 'auto', origin: 'auto', createdAt: 't', updatedAt: 't' };
    };
    this.pairs.set(JUDGED, [pair(1, id('query2doc-zs', 'teacher'), id('query2doc-fs', 'teacher')), pair(2, id('query2doc-zs', 'teacher'), id('query2doc-zs', 'student'))]);
    if (!withJudgments) {
      this.judgments = null;
      return;
    }
    const template = { id: 'judge-binary', version: 1, hash: '5f0c8e1d2a3b4c6d' };
    const scores: [string, number][] = [['h1', 0.93], ['h2', 0.81], ['h3', 0.12], ['d1', 0.97], ['d2', 0.66], ['d5', 0.58], ['d3', 0.22], ['d4', 0.31]];
    JudgmentStore.open(judgmentsFile(dir, 'Qwen2.5-7B-Instruct', template)).add(
      scores.map(([docid, score]) => ({ qid: JUDGED, docid, score, probs: { '0': 1 - score, '1': score }, mass: 0.99, token: score >= 0.5 ? 'Yes' : 'No', mode: 'binary', method: 'judge:judge-binary', provider: 'openai-compatible', endpoint: 'http://127.0.0.1:8000/v1', model: 'Qwen2.5-7B-Instruct', template, createdAt: '2026-12-06T00:00:00Z' })),
    );
    this.judgments = new ReviewJudgments(dir, this.qrelsOf, 1);
  }

  private scoreOf(expansionId: string, top10: string[]): ExpansionScore {
    const judged = this.qrelsOf.get(JUDGED)!;
    const ndcg10 = ndcg10Of(top10, judged);
    const grade = (d: string) => judged.get(d) ?? null;
    const entered: DocMove[] = top10.flatMap((d, i) => (this.original.includes(d) ? [] : [{ docid: d, grade: grade(d), rank: i + 1 }]));
    const left: DocMove[] = this.original.flatMap((d, i) => (top10.includes(d) ? [] : [{ docid: d, grade: grade(d), rank: i + 1 }]));
    const base = ndcg10Of(this.original, judged);
    return { expansionId, qid: JUDGED, ndcg10, delta: ndcg10 - base, recall: 0.5, recallK: 1000, judged10: top10.filter((d) => judged.has(d)).length / 10, entered, left, unjudgedFlag: entered.some((m) => m.grade === null), top10 };
  }

  override getQueryReview(qid: string): QueryReview {
    const r = super.getQueryReview(qid);
    if (qid === JUDGED && r.original !== null) r.original = { ...r.original, top10: [...this.original], judged10: 1 };
    return r;
  }

  getQueryJudge(qid: string): QueryJudgeView | null {
    return this.judgments?.forQuery(this.getQueryReview(qid)) ?? null;
  }
}

let browser: Browser | undefined;
let server: PageServer;
let tmp: string;

async function openPanel(ws: FakeWorkspace, qid: string, theme: ThemeName = 'dark', width = 900): Promise<{ page: Page; host: FakeHost; errors: string[] }> {
  const page = await browser!.newPage({ viewport: { width, height: 1000 }, deviceScaleFactor: 1 });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  const host = await attachHost(page, ws);
  await page.goto(server.url(theme));
  await page.waitForFunction(() => customElements.get('vscode-button') !== undefined);
  for (let i = 0; i < 100 && !host.endpoint.isReady; i++) await new Promise((r) => setTimeout(r, 20));
  host.show(qid);
  await page.waitForFunction((id) => document.body.dataset.qid === id, qid);
  return { page, host, errors };
}

const judgeBits = (page: Page) => page.locator('[data-testid="judge-score"], [data-testid="judge-filled"], [data-testid="judged-only"], [data-testid="pair-judge"], [data-testid="pair-flip"]').count();

describe('Review webview: the LLM judge', { skip: chromiumMissing ? 'Chromium is not installed (apt-get install chromium, or set QX_CHROMIUM)' : false }, () => {
  before(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), 'qx-judge-view-'));
    browser = await launchChromium();
    server = await servePanel();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  test('a judged query: the judge score on each entered document (holes marked), judged-only and judge-filled nDCG@10 per expansion and the original, the flipped pair, the judge and its threshold', async () => {
    const ws = new JudgedWorkspace(path.join(tmp, 'a'));
    const view = ws.getQueryJudge(JUDGED)!;
    assert.equal(view.flipped, 1, 'the fixture has one flipped pair');
    const { page, errors } = await openPanel(ws, JUDGED);
    // The judge and its threshold, calibrated on the five judged documents (κ is best at 0.58).
    const info = await page.getByTestId('judge-info').textContent();
    assert.ok(info?.includes('Qwen2.5-7B-Instruct · judge-binary v1'), info ?? '');
    assert.ok(info?.includes('≥ 0.580 counts as grade 1 (calibrated threshold)'), info ?? '');
    assert.ok(info?.includes('1 pair flip'), info ?? '');
    // Every entered document of the few-shot card: h1, h2 are holes the judge scored; d5 is judged.
    const card = page.locator(`article.expansion[data-expansion="${JUDGED}-query2doc-fs-teacher"]`);
    const chips = await card.locator('.moves div').first().locator('button.doc').evaluateAll((bs) => bs.map((b) => ({ id: b.getAttribute('data-docid'), text: b.textContent, hole: b.querySelector('.hole')?.textContent ?? null, title: b.getAttribute('title') })));
    assert.deepEqual(chips.map((c) => [c.id, c.text, c.hole]), [
      ['h1', 'h1 · unjudged · judge 0.93 · #1', 'unjudged'],
      ['h2', 'h2 · unjudged · judge 0.81 · #2', 'unjudged'],
      ['d5', 'd5 · grade 1 · judge 0.58 · #4', null],
    ]);
    assert.ok(chips[0]!.title!.includes('counts it as grade 1'), chips[0]!.title!);
    // The student's entered hole h3 is below the threshold.
    const h3 = await page.locator('button.doc[data-docid="h3"]').first().getAttribute('title');
    assert.ok(h3?.includes('counts it as grade 0'), h3 ?? '');
    // Judged-only beside judge-filled, for the original and each expansion, as the core computed them.
    const shown = async (scope: ReturnType<Page['locator']>) => [await scope.getByTestId('judged-only').locator('strong').textContent(), await scope.getByTestId('judge-filled').locator('strong').textContent()];
    assert.deepEqual(await shown(page.locator('section.query')), [view.original!.judgedOnly.toFixed(3), view.original!.filled.toFixed(3)]);
    for (const [id, fill] of Object.entries(view.expansions)) {
      assert.deepEqual(await shown(page.locator(`article.expansion[data-expansion="${id}"]`)), [fill.judgedOnly.toFixed(3), fill.filled.toFixed(3)], id);
    }
    assert.ok(view.expansions[`${JUDGED}-query2doc-fs-teacher`]!.filled > view.expansions[`${JUDGED}-query2doc-fs-teacher`]!.judgedOnly, 'filling the relevant holes raises the few-shot expansion');
    // The flipped pair is marked, the other is not.
    assert.equal(await page.locator('tr.pair').count(), 2);
    assert.equal(await page.locator('tr.pair.flipped [data-testid="pair-flip"]').count(), 1);
    assert.equal(await page.locator(`tr.pair[data-pair="p-${JUDGED}-1"]`).getAttribute('class').then((c) => c?.includes('flipped')), true);
    assert.equal(await page.locator('[data-testid="pair-judge"]').count(), 2);
    assert.deepEqual(errors, []);
    // For a person to look at: test-results/review-judge.png.
    const out = path.resolve(__dirname, '../../test-results');
    mkdirSync(out, { recursive: true });
    await page.screenshot({ path: path.join(out, 'review-judge.png'), fullPage: true });
    await page.close();
  });

  test('a query the judge has not seen shows no judge scores or judge-filled nDCG, only a line saying so; a workspace without judgments shows nothing of the judge', async () => {
    const ws = new JudgedWorkspace(path.join(tmp, 'b'));
    const { page } = await openPanel(ws, UNJUDGED);
    assert.equal(await judgeBits(page), 0);
    assert.match((await page.getByTestId('judge-info').textContent()) ?? '', /none of this query's documents is judged yet/);
    assert.ok((await page.locator('section.query').textContent())?.includes('Original nDCG@10'));
    await page.close();
    const bare = new JudgedWorkspace(path.join(tmp, 'c'), false);
    const { page: p2 } = await openPanel(bare, JUDGED);
    assert.equal(await judgeBits(p2), 0);
    assert.equal(await p2.getByTestId('judge-info').count(), 0);
    assert.equal(await p2.locator('.hole').count(), 0);
    // The chips read as before: "h1 · unjudged · #1".
    assert.equal(await p2.locator('button.doc[data-docid="h1"]').first().textContent(), 'h1 · unjudged · #1');
    await p2.close();
  });

  for (const theme of ['dark', 'light', 'highContrast'] as ThemeName[]) {
    test(`${theme}: the judge's marks are readable (WCAG AA), and nothing overflows a 360 px panel`, async () => {
      const ws = new JudgedWorkspace(path.join(tmp, `t-${theme}`));
      const { page } = await openPanel(ws, JUDGED, theme);
      const measured = await textContrasts(page, ['button.doc .hole', 'button.doc .judge-score', '.flip', '.judge-info strong', '.judge-filled strong']);
      assert.ok(measured.some((c) => c.selector === 'button.doc .hole') && measured.some((c) => c.selector === '.flip'));
      assert.deepEqual(belowMinimum(measured), [], `text below 4.5:1 in ${theme}`);
      await page.setViewportSize({ width: 360, height: 900 });
      const sizes = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
      assert.ok(sizes.scroll <= sizes.client, `the page scrolls sideways: ${sizes.scroll} px of content in ${sizes.client} px`);
      if (theme === 'light') await page.screenshot({ path: path.join(repoRoot, 'test-results', 'review-judge-narrow.png'), fullPage: true });
      await page.close();
    });
  }
});
