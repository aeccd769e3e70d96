// The Review webview in headless Chromium against a fake host built on the real protocol endpoint.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { type FakeHost, FakeWorkspace, type PageServer, attachHost, hostileText, launchChromium, servePanel } from './webviewFakeHost.js';

let browser: Browser | undefined;
let server: PageServer;
const chromiumMissing = !existsSync(process.env.QX_CHROMIUM ?? '/usr/bin/chromium');

async function openPanel(ws: FakeWorkspace, qid = '1000'): Promise<{ page: Page; host: FakeHost; errors: string[] }> {
  if (browser === undefined) throw new Error('no browser');
  const page = await browser.newPage({ viewport: { width: 900, height: 1000 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  const host = await attachHost(page, ws);
  await page.goto(server.url('dark'));
  await page.waitForFunction(() => customElements.get('vscode-button') !== undefined);
  for (let i = 0; i < 100 && !host.endpoint.isReady; i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(host.endpoint.isReady, 'the page posts webview/ready');
  host.show(qid);
  await page.waitForFunction((id) => document.body.dataset.qid === id, qid);
  return { page, host, errors };
}

const pairState = (page: Page) => page.locator('[data-testid="pair-state"]').first().textContent();

describe('Review webview', { skip: chromiumMissing ? 'Chromium is not installed (apt-get install chromium, or set QX_CHROMIUM)' : false }, () => {
  before(async () => {
    browser = await launchChromium();
    server = await servePanel();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test('shows the query, its expansions and pairs, and corpus text literally (no markup runs)', async () => {
    const ws = new FakeWorkspace(5);
    const { page, errors } = await openPanel(ws);
    const review = ws.getQueryReview('1000');
    assert.equal(await page.getByTestId('query-text').textContent(), review.text);
    assert.equal(await page.locator('article.expansion').count(), review.expansions.length);
    assert.equal(await page.locator('tr.pair').count(), review.pairs.length);
    const texts = await page.getByTestId('generated').allTextContents();
    assert.ok(texts.includes(hostileText), 'the hostile passage is shown as text');
    assert.equal(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss), undefined, 'no injected script or handler ran');
    assert.equal(await page.locator('#app script, #app img').count(), 0);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('shows the length of every expansion and the chosen/rejected length ratio of every pair', async () => {
    const ws = new FakeWorkspace(5);
    const qid = ws.listQueries().find((q) => q.pairs.auto > 0)?.qid;
    assert.ok(qid !== undefined);
    const { page } = await openPanel(ws, qid);
    const review = ws.getQueryReview(qid);
    const chars = (s: string): number => [...s].length;
    const shown = await page.locator('article.expansion').evaluateAll((cards) =>
      cards.map((c) => [c.getAttribute('data-expansion'), c.querySelector('[data-testid="length"]')?.textContent ?? null]),
    );
    assert.equal(shown.length, review.expansions.length);
    for (const [id, text] of shown) {
      const e = review.expansions.find((x) => x.expansion.id === id)?.expansion;
      assert.equal(text, `${chars(e?.generated ?? '')} chars`);
    }
    const byId = new Map(review.expansions.map((s) => [s.expansion.id, s.expansion.generated]));
    const ratios = await page.getByTestId('length-ratio').allTextContents();
    assert.deepEqual(
      ratios,
      review.pairs.map((p) => `length ${(chars(byId.get(p.chosenId) ?? '') / chars(byId.get(p.rejectedId) ?? '')).toFixed(2)}×`),
    );
    await page.close();
  });

  test('keyboard review: a accepts, u undoes, s swaps, r rejects, j/k move between queries', async () => {
    const ws = new FakeWorkspace(5);
    const qid = ws.listQueries().find((q) => q.pairs.auto > 0)?.qid;
    assert.ok(qid !== undefined, 'the synthetic data has a query with an auto pair');
    const { page } = await openPanel(ws, qid);
    const [p0] = ws.pairsOf(qid);
    assert.equal(await pairState(page), 'auto');
    await page.keyboard.press('a');
    await page.waitForFunction(() => document.querySelector('[data-testid="pair-state"]')?.textContent === 'accepted');
    assert.equal(ws.pairsOf(qid)[0]?.state, 'accepted');
    await page.keyboard.press('u');
    await page.waitForFunction(() => document.querySelector('[data-testid="pair-state"]')?.textContent === 'auto');
    assert.equal(ws.pairsOf(qid)[0]?.state, 'auto');
    await page.keyboard.press('s');
    await page.waitForFunction(() => document.querySelector('[data-testid="pair-state"]')?.textContent === 'edited');
    assert.equal(ws.pairsOf(qid)[0]?.chosenId, p0?.rejectedId);
    await page.keyboard.press('r');
    await page.waitForFunction(() => document.querySelector('[data-testid="pair-state"]')?.textContent === 'rejected');
    const ids = ws.listQueries().map((q) => q.qid);
    const next = ids[ids.indexOf(qid) + 1];
    await page.keyboard.press('j');
    await page.waitForFunction((id) => document.body.dataset.qid === id, next);
    await page.keyboard.press('k');
    await page.waitForFunction((id) => document.body.dataset.qid === id, qid);
    await page.close();
  });

  test('editing an expansion re-scores it live (debounced) and Save edit stores it', async () => {
    const ws = new FakeWorkspace(3);
    const { page, host } = await openPanel(ws);
    const card = page.locator('article.expansion').first();
    const id = await card.getAttribute('data-expansion');
    assert.ok(id);
    await card.getByTestId('edit').click();
    const editor = page.locator(`[data-editor="${id}"] textarea`);
    await editor.focus();
    await page.keyboard.press('End');
    await page.keyboard.type(' glacier melt', { delay: 20 });
    await page.waitForFunction(() => document.querySelector('[data-testid="preview"]')?.textContent?.startsWith('Preview: nDCG@10') === true);
    assert.equal(ws.previewCalls.length, 1, `typing 13 characters quickly makes one preview call, not ${ws.previewCalls.length}`);
    assert.ok(ws.previewCalls[0]?.endsWith('glacier melt'));
    // Letters typed in the editor are text, not shortcuts.
    assert.ok(!host.requests.includes('pairs/setState') && !host.requests.includes('pairs/swap'));
    const before = ws.getQueryReview('1000').expansions.length;
    await page.getByTestId('save-edit').click();
    await page.waitForFunction((n) => document.querySelectorAll('article.expansion').length === n, before + 1);
    const saved = ws.getQueryReview('1000').expansions.at(-1)?.expansion;
    assert.equal(saved?.editedFrom, id);
    assert.ok(saved?.generated.endsWith('glacier melt'));
    assert.equal(await page.locator('[data-testid="editor"]').count(), 0, 'the editor closes after saving');
    await page.close();
  });

  test('pick any two expansions as a new pair; open a moved document; add a note', async () => {
    const ws = new FakeWorkspace(3);
    const { page, host } = await openPanel(ws, '1001');
    const before = ws.pairsOf('1001').length;
    const cards = page.locator('article.expansion');
    await cards.nth(0).getByTestId('pick-chosen').click();
    await cards.nth(2).getByTestId('pick-rejected').click();
    await page.getByTestId('create-pair').click();
    await page.waitForFunction((n) => document.querySelectorAll('tr.pair').length === n, before + 1);
    const created = ws.pairsOf('1001').at(-1);
    assert.equal(created?.origin, 'manual');
    assert.notEqual(created?.chosenId, created?.rejectedId);

    const doc = page.getByTestId('doc').first();
    if ((await doc.count()) > 0) {
      const docid = await doc.getAttribute('data-docid');
      await doc.click();
      await page.waitForFunction(() => true);
      for (let i = 0; i < 50 && host.opened.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(host.opened, [docid]);
    }

    const note = page.getByTestId('pair-note').first().locator('input');
    await note.fill('teacher hallucinated a date');
    await note.press('Enter');
    await note.blur();
    for (let i = 0; i < 50 && ws.pairsOf('1001')[0]?.note === undefined; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(ws.pairsOf('1001')[0]?.note, 'teacher hallucinated a date');
    await page.close();
  });

  test('a failing host call shows its message in the panel instead of breaking it', async () => {
    const ws = new FakeWorkspace(3);
    const qid = ws.listQueries().find((q) => q.pairs.auto > 0)?.qid ?? '1000';
    const { page } = await openPanel(ws, qid);
    ws.setPairState = () => {
      throw Object.assign(new Error('The curation store is locked by another process.'), { code: 'store' });
    };
    await page.keyboard.press('a');
    await page.waitForSelector('.status.error');
    assert.match((await page.locator('.status.error').textContent()) ?? '', /locked by another process/);
    assert.equal(await pairState(page), 'auto');
    await page.close();
  });

  test('the empty state explains itself and offers commands', async () => {
    const ws = new FakeWorkspace(1);
    const { page, host } = await openPanel(ws);
    host.endpoint.notify('review/empty', { title: 'No QX workspace is open', hint: 'Open the sample.', actions: [{ label: 'Open Sample', command: 'qx.openSample' }] });
    await page.waitForSelector('[data-testid="empty"]');
    assert.equal(await page.locator('[data-testid="empty"] h2').textContent(), 'No QX workspace is open');
    await page.locator('[data-testid="empty"] vscode-button').first().click();
    for (let i = 0; i < 50 && host.commands.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(host.commands, ['qx.openSample']);
    await page.close();
  });

  test('UI state survives the panel being hidden and recreated: open plots, a half-written edit, picked expansions', async () => {
    const ws = new FakeWorkspace(4);
    const { page, host } = await openPanel(ws, '1002');
    await page.locator('vscode-collapsible.plots').click({ position: { x: 30, y: 10 } });
    await page.waitForSelector('svg.scatter');
    const card = page.locator('article.expansion').nth(1);
    const id = await card.getAttribute('data-expansion');
    await card.getByTestId('edit').click();
    await page.locator(`[data-editor="${id}"] textarea`).fill('half-written edit');
    await page.locator('article.expansion').nth(0).getByTestId('pick-chosen').click();
    await page.reload();
    for (let i = 0; i < 100 && !host.endpoint.isReady; i++) await new Promise((r) => setTimeout(r, 20));
    await page.waitForFunction(() => document.body.dataset.qid === '1002');
    assert.equal(await page.locator(`[data-editor="${id}"] textarea`).inputValue(), 'half-written edit');
    await page.waitForSelector('svg.scatter');
    assert.equal(await page.locator('.picker').count(), 1, 'the picked chosen side is still there');
    assert.equal(ws.getQueryReview('1002').expansions.length, 3, 'nothing was saved by the reload');
    await page.close();
  });

  test('plots draw a histogram per method and a teacher-vs-student scatter as inline SVG', async () => {
    const ws = new FakeWorkspace(40);
    const { page } = await openPanel(ws);
    await page.locator('vscode-collapsible.plots').click({ position: { x: 30, y: 10 } });
    await page.waitForSelector('svg.scatter');
    assert.equal(await page.locator('svg.scatter circle.dot').count(), 40);
    assert.ok((await page.locator('svg.plot rect.bar').count()) > 3);
    await page.close();
  });
});
