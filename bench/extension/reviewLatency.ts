// Review latency with 10,000 queries: opening a query's review in the real webview bundle (host
// getQueryReview + message round trip + render, measured in headless Chromium), and the query
// browser's rows (list, filter, sort) for 10k queries.
// Run: node --import tsx bench/extension/reviewLatency.ts [--queries 10000] [--runs 60]
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { nullLogger } from '../../src/core/logger.js';
import { defaultSettings } from '../../src/core/workspace/settings.js';
import { openWorkspace } from '../../src/core/workspace/workspace.js';
import { parseFilter, QueryList } from '../../src/extension/queryFilter.js';
import { FakeWorkspace, attachHost, launchChromium, repoRoot, servePanel } from '../../test/e2e/webviewFakeHost.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

function stats(xs: number[]): { median: number; p95: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
  return { median: at(0.5), p95: at(0.95), max: s[s.length - 1] ?? NaN };
}

const fmt = (v: number) => `${v.toFixed(1)} ms`;

async function main(): Promise<void> {
  const n = arg('--queries', 10_000);
  const runs = arg('--runs', 60);
  let t = performance.now();
  const ws = new FakeWorkspace(n, 11, `synthetic-${n}`);
  console.log(`synthetic workspace: ${n} queries, ${n * 3} expansions, generated in ${fmt(performance.now() - t)}`);

  // Query browser rows: what getChildren returns, cold (listQueries + sort) and re-sorted/filtered.
  const cold: number[] = [];
  const resort: number[] = [];
  const filtered: number[] = [];
  const f = parseFilter('state:auto delta>0.05');
  if (typeof f === 'string') throw new Error(f);
  for (let i = 0; i < 15; i++) {
    const list = new QueryList(() => ws.listQueries());
    t = performance.now();
    list.rows();
    cold.push(performance.now() - t);
    list.setSort('deltaDesc');
    t = performance.now();
    list.rows();
    resort.push(performance.now() - t);
    list.setFilter(f);
    t = performance.now();
    list.rows();
    filtered.push(performance.now() - t);
  }
  console.log(`tree rows, cold (listQueries + natural qid sort): median ${fmt(stats(cold).median)}, max ${fmt(stats(cold).max)}`);
  console.log(`tree rows, re-sort by delta: median ${fmt(stats(resort).median)}`);
  console.log(`tree rows, filter "state:auto delta>0.05": median ${fmt(stats(filtered).median)}`);

  // Host side alone: getQueryReview.
  const host: number[] = [];
  for (let i = 0; i < runs; i++) {
    const qid = String(1000 + Math.floor((i * 7919) % n));
    t = performance.now();
    ws.getQueryReview(qid);
    host.push(performance.now() - t);
  }
  console.log(`host getQueryReview: median ${fmt(stats(host).median)}`);

  await realSample(runs);

  const browser = await launchChromium();
  if (browser === undefined) {
    console.log('Chromium not found (apt-get install chromium, or set QX_CHROMIUM): browser figures skipped');
    return;
  }
  const server = await servePanel();
  try {
    const page = await browser.newPage({ viewport: { width: 900, height: 1000 } });
    const fake = await attachHost(page, ws);
    await page.goto(server.url('dark'));
    while (!fake.endpoint.isReady) await new Promise((r) => setTimeout(r, 10));
    fake.show('1000');
    await page.waitForFunction(() => document.body.dataset.qid === '1000');
    // Each run: the webview asks for the next query (as `j` does); the host runs getQueryReview and
    // pushes review/show; the clock stops when the panel has rendered it.
    const open: number[] = [];
    const render: number[] = [];
    for (let i = 0; i < runs; i++) {
      const r = await page.evaluate(
        () =>
          new Promise<{ total: number; render: number }>((resolve) => {
            const start = performance.now();
            window.addEventListener('qx-rendered', (e) => resolve({ total: performance.now() - start, render: (e as CustomEvent<{ ms: number }>).detail.ms }), { once: true });
            document.dispatchEvent(new KeyboardEvent('keydown', { key: 'j', bubbles: true }));
          }),
      );
      open.push(r.total);
      render.push(r.render);
    }
    const s = stats(open);
    console.log(`open review (request → host getQueryReview → review/show → rendered), ${runs} runs: median ${fmt(s.median)}, p95 ${fmt(s.p95)}, max ${fmt(s.max)}`);
    console.log(`  of which DOM render: median ${fmt(stats(render).median)}`);
    console.log(s.p95 < 200 ? 'PASS: p95 under the 200 ms budget' : 'FAIL: p95 over the 200 ms budget');
    await page.close();
  } finally {
    await browser.close();
    await server.close();
  }
}

/** getQueryReview of the real Workspace on the DL19 sample (43 queries × 6 scored expansions, pairs built). */
async function realSample(runs: number): Promise<void> {
  const sample = path.join(repoRoot, 'samples/dl19');
  if (!existsSync(path.join(sample, 'qx.dataset.json'))) return;
  const dir = mkdtempSync(path.join(tmpdir(), 'qx-bench-review-'));
  try {
    cpSync(sample, dir, { recursive: true, filter: (src) => !src.split(path.sep).includes('.qx') });
    const ws = await openWorkspace(dir, { settings: defaultSettings, logger: nullLogger, getApiKey: async () => undefined, cacheDir: path.join(dir, '.cache') });
    const signal = new AbortController().signal;
    await ws.buildIndex({ signal });
    const plan = JSON.parse(readFileSync(path.join(dir, 'demo.json'), 'utf8')) as { imports: { file: string; model: string; method: string; role: 'teacher' | 'student' }[] };
    for (const imp of plan.imports) await ws.importExpansions({ ...imp, file: path.join(dir, imp.file), format: 'querygym-tsv' }, { signal });
    await ws.score({ signal });
    await ws.buildPairs({}, { signal });
    const qids = ws.listQueries().map((q) => q.qid);
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      ws.getQueryReview(qids[i % qids.length] ?? '');
      times.push(performance.now() - t);
    }
    const list: number[] = [];
    for (let i = 0; i < 10; i++) {
      ws.setPairState(ws.getQueryReview(qids.find((q) => ws.getQueryReview(q).pairs.length > 0) ?? '').pairs[0]?.id ?? '', i % 2 === 0 ? 'accepted' : 'auto');
      const t = performance.now();
      ws.listQueries();
      list.push(performance.now() - t);
    }
    console.log(`real Workspace on samples/dl19 (43 queries × 6 expansions): getQueryReview median ${fmt(stats(times).median)}, p95 ${fmt(stats(times).p95)}; listQueries after an edit median ${fmt(stats(list).median)}`);
    await ws.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
