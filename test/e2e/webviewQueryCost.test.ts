// The Review panel's gain-against-cost plot in headless Chromium, against the fake host.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import type { QueryCostSection } from '../../src/core/feedback/queryCost.js';
import { FakeWorkspace, type PageServer, attachHost, launchChromium, servePanel } from './webviewFakeHost.js';

const chromiumMissing = !existsSync(process.env.QX_CHROMIUM ?? '/usr/bin/chromium');

/** The fake workspace with a query-cost section, as a workspace with an index gives one. */
class CostedWorkspace extends FakeWorkspace {
  queryCosts(): QueryCostSection {
    const m = (key: string, meanPostings: number, meanDelta: number) => ({ key, role: 'teacher' as const, method: key.split('/')[1]!, model: key.split('/')[2]!, expansions: 5, meanDelta, meanTerms: 20, meanPostings, meanCompletionTokens: 64, meanPromptTokens: 30, deltaPerKPostings: null });
    return { original: { queries: 5, meanTerms: 4, meanPostings: 120 }, methods: [m('teacher/cqr-llm4cs/m', 300, 0.08), m('student/query2doc-zs/<s>', 9000, -0.03)] };
  }
}

describe('Review webview: gain against query cost', { skip: chromiumMissing ? 'Chromium is not installed (apt-get install chromium, or set QX_CHROMIUM)' : false }, () => {
  let browser: Browser | undefined;
  let server: PageServer;
  before(async () => {
    browser = await launchChromium();
    server = await servePanel();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test('the plots section draws one dot per method plus the original query, on a log postings axis; no plot without cost data', async () => {
    for (const [ws, dots] of [[new CostedWorkspace(5), 3], [new FakeWorkspace(5), 0]] as const) {
      const page = await browser!.newPage({ viewport: { width: 900, height: 1000 } });
      const host = await attachHost(page, ws);
      await page.goto(server.url('dark'));
      await page.waitForFunction(() => customElements.get('vscode-button') !== undefined);
      for (let i = 0; i < 100 && !host.endpoint.isReady; i++) await new Promise((r) => setTimeout(r, 20));
      host.show('1000');
      await page.waitForFunction(() => document.body.dataset.qid === '1000');
      await page.locator('vscode-collapsible.plots').click({ position: { x: 30, y: 10 } });
      await page.waitForSelector('svg.scatter');
      assert.equal(await page.locator('svg.cost-scatter circle.dot').count(), dots);
      if (dots > 0) {
        const cx = await page.locator('svg.cost-scatter circle.dot').evaluateAll((cs) => cs.map((c) => Number(c.getAttribute('cx'))));
        assert.ok(cx[0]! < cx[1]! && cx[1]! < cx[2]!, 'x grows with postings');
        assert.equal(await page.locator('svg.cost-scatter circle.dot.pos').count(), 1);
        assert.equal(await page.locator('svg.cost-scatter circle.dot.neg').count(), 1);
        assert.ok((await page.locator('svg.cost-scatter').textContent())!.includes('student/query2doc-zs/<s>'), 'labels are text, not markup');
        // For a person to look at: test-results/review-query-cost.png.
        const out = path.resolve(__dirname, '../../test-results');
        mkdirSync(out, { recursive: true });
        await page.locator('svg.cost-scatter').screenshot({ path: path.join(out, 'review-query-cost.png') });
      }
      await page.close();
    }
  });
});
