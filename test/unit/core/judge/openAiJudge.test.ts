import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { QxError, isCancellationError } from '../../../../src/core/errors.js';
import { ExpansionCache } from '../../../../src/core/expansion/cache.js';
import { summarizeCost } from '../../../../src/core/expansion/cost.js';
import { OpenAiJudge } from '../../../../src/core/judge/openAiJudge.js';
import { type JudgeItem, runJudgments } from '../../../../src/core/judge/runner.js';
import { DEFAULT_BINARY_TEMPLATE, loadJudgeTemplate, parseJudgeTemplate } from '../../../../src/core/judge/template.js';
import { type FakeJudgeServer, startFakeJudgeServer } from '../../../fixtures/llm/fakeJudgeServer.js';

const answers: Record<string, Record<string, number>> = {
  'sharks are warm blooded': { Yes: 0.8, No: 0.15, ' yes': 0.05 },
  'a passage about tea': { Yes: 0.3, No: 0.3, The: 0.4 },
  'cats purr': { No: 0.9, Yes: 0.1 },
};

function judge(baseUrl: string, concurrency = 4): OpenAiJudge {
  return new OpenAiJudge({ baseUrl, model: 'fake-judge-7b', getApiKey: () => 'sk-test', concurrency, timeoutMs: 5000, retry: { maxRetries: 3, baseDelayMs: 5, maxDelayMs: 50 } });
}

function item(docid: string, text: string, query = 'are sharks warm blooded'): JudgeItem {
  return { qid: 'q1', query, docid, text };
}

let tmp: string;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'qx-judge-'));
});
after(() => rm(tmp, { recursive: true, force: true }));

describe('OpenAiJudge against a local server returning top_logprobs', () => {
  let server: FakeJudgeServer;
  before(async () => {
    server = await startFakeJudgeServer({ answer: (doc) => answers[doc.replace(/\s*\[.*\]$/, '')] ?? { No: 0.99, Yes: 0.01 }, slowMs: 400 });
  });
  after(() => server.close());

  it('reads the score from the label tokens of the first answer position, document before query', async () => {
    const template = await loadJudgeTemplate(undefined);
    const cache = new ExpansionCache(join(tmp, 'c1'));
    const before = server.requests;
    const r = await runJudgments({ judge: judge(server.baseUrl), template, cache, signal: new AbortController().signal, items: [item('d1', 'sharks are warm blooded'), item('d2', 'a passage about tea'), item('d3', 'cats purr')] });
    assert.equal(server.requests - before, 3);
    assert.deepEqual(r.failures, []);
    const by = new Map(r.records.map((x) => [x.docid, x]));
    // Yes and " yes" are one label: 0.85 / (0.85 + 0.15).
    assert.ok(Math.abs(by.get('d1')!.score - 0.85) < 1e-9);
    assert.ok(Math.abs(by.get('d1')!.mass - 1) < 1e-9);
    // 0.3 / (0.3 + 0.3), with only 0.6 of the mass on labels.
    assert.ok(Math.abs(by.get('d2')!.score - 0.5) < 1e-9);
    assert.ok(Math.abs(by.get('d2')!.mass - 0.6) < 1e-9);
    assert.ok(Math.abs(by.get('d3')!.score - 0.1) < 1e-9);
    assert.equal(by.get('d3')!.token, 'No');
    assert.equal(by.get('d1')!.template.id, 'judge-binary');
    assert.equal(by.get('d1')!.model, 'fake-judge-7b');
    const body = server.bodies[server.bodies.length - 1] as { logprobs: boolean; top_logprobs: number; max_tokens: number; temperature: number; messages: { role: string; content: string }[] };
    assert.equal(body.logprobs, true);
    assert.equal(body.top_logprobs, 20);
    assert.equal(body.max_tokens, 1);
    assert.equal(body.temperature, 0);
    const user = body.messages.find((m) => m.role === 'user')!.content;
    assert.ok(user.indexOf('Document:') < user.indexOf('Query: are sharks warm blooded'), user);
    // The cost ledger counts judgments like expansions: 3 calls × (100 in, 1 out).
    const cost = summarizeCost(r.records);
    assert.equal(cost.length, 1);
    assert.equal(cost[0]!.method, 'judge:judge-binary');
    assert.equal(cost[0]!.expansions, 3);
    assert.equal(cost[0]!.promptTokens, 300);
    assert.equal(cost[0]!.completionTokens, 3);
  });

  it('gives the expected grade over graded labels', async () => {
    const s = await startFakeJudgeServer({ answer: () => ({ '0': 0.1, '1': 0.2, '2': 0.3, '3': 0.4 }) });
    try {
      const template = await loadJudgeTemplate('judge-graded');
      const r = await runJudgments({ judge: judge(s.baseUrl), template, cache: new ExpansionCache(join(tmp, 'graded')), signal: new AbortController().signal, items: [item('d1', 'anything')] });
      // 0×0.1 + 1×0.2 + 2×0.3 + 3×0.4 = 2.0
      assert.ok(Math.abs(r.records[0]!.score - 2) < 1e-9);
      assert.equal(r.records[0]!.mode, 'graded');
      assert.ok(Math.abs(r.records[0]!.probs['3']! - 0.4) < 1e-9);
    } finally {
      await s.close();
    }
  });

  it('a rerun is served from the cache with 0 requests; an edited template is a new key', async () => {
    const template = await loadJudgeTemplate(undefined);
    const cache = new ExpansionCache(join(tmp, 'c2'));
    const items = [item('d1', 'sharks are warm blooded'), item('d3', 'cats purr')];
    const first = await runJudgments({ judge: judge(server.baseUrl), template, cache, signal: new AbortController().signal, items });
    const before = server.requests;
    const again = await runJudgments({ judge: judge(server.baseUrl), template, cache, signal: new AbortController().signal, items });
    assert.equal(server.requests - before, 0);
    assert.equal(again.cached, 2);
    assert.equal(again.judged, 0);
    assert.deepEqual(again.records.map((r) => r.score), first.records.map((r) => r.score));
    const edited = parseJudgeTemplate(DEFAULT_BINARY_TEMPLATE.replace('version: 1', 'version: 2'), 'edited.tmpl');
    const third = await runJudgments({ judge: judge(server.baseUrl), template: edited, cache, signal: new AbortController().signal, items });
    assert.equal(server.requests - before, 2);
    assert.equal(third.judged, 2);
  });

  it('retries 429 and 500, records malformed answers and answers without a label as failures, and caches only what the server answered', async () => {
    const template = await loadJudgeTemplate(undefined);
    const cache = new ExpansionCache(join(tmp, 'c3'));
    const items = [item('ok', 'cats purr'), item('r429', 'sharks are warm blooded [429x2]'), item('r500', 'cats purr [500x2]'), item('bad', 'x [malformed]'), item('nolabel', 'y [nolabel]')];
    const before = server.requests;
    const r = await runJudgments({ judge: judge(server.baseUrl), template, cache, signal: new AbortController().signal, items });
    assert.equal(server.requests - before, 1 + 3 + 3 + 1 + 1);
    assert.deepEqual(r.records.map((x) => x.docid).sort(), ['ok', 'r429', 'r500']);
    assert.ok(Math.abs(r.records.find((x) => x.docid === 'r429')!.score - 0.85) < 1e-9);
    const failures = new Map(r.failures.map((f) => [f.docid, f]));
    assert.equal(failures.get('bad')?.code, 'badResponse');
    assert.match(failures.get('nolabel')!.message, /no label token \(No\/Yes\)/);
    // Only the failures are asked again.
    const mid = server.requests;
    const again = await runJudgments({ judge: judge(server.baseUrl), template, cache, signal: new AbortController().signal, items });
    // nolabel was answered (and cached: temperature 0 answers the same) but has no score; malformed is asked again.
    assert.equal(again.cached, 4);
    assert.deepEqual(again.failures.map((f) => f.docid), ['bad', 'nolabel']);
    assert.equal(server.requests - mid, 1);
  });

  it('stops with a clear error when the server returns no logprobs', async () => {
    const template = await loadJudgeTemplate(undefined);
    await assert.rejects(
      runJudgments({ judge: judge(server.baseUrl, 1), template, cache: new ExpansionCache(join(tmp, 'c4')), signal: new AbortController().signal, items: [item('n', 'z [nologprobs]'), item('m', 'cats purr')] }),
      (e: unknown) => QxError.is(e, 'badResponse') && /returned no logprobs/.test((e as Error).message) && /top_logprobs/.test((e as Error).message),
    );
  });

  it('cancels mid-batch, keeps what finished, and a rerun asks only for the rest', async () => {
    const template = await loadJudgeTemplate(undefined);
    const cache = new ExpansionCache(join(tmp, 'c5'));
    const items = [item('fast1', 'cats purr'), item('fast2', 'sharks are warm blooded'), ...Array.from({ length: 6 }, (_, i) => item(`slow${i}`, `slow doc ${i} [slowx1]`))];
    const ac = new AbortController();
    const handed: string[] = [];
    await assert.rejects(
      runJudgments({
        judge: judge(server.baseUrl, 2),
        template,
        cache,
        signal: ac.signal,
        items,
        onProgress: (p) => {
          if (p.done >= 2) ac.abort();
        },
        onRecords: (rs) => {
          handed.push(...rs.map((r) => r.docid));
        },
      }),
      (e: unknown) => isCancellationError(e),
    );
    assert.ok(handed.includes('fast1') && handed.includes('fast2'), handed.join(','));
    const before = server.requests;
    const r = await runJudgments({ judge: judge(server.baseUrl, 4), template, cache, signal: new AbortController().signal, items });
    assert.equal(r.records.length, 8);
    assert.ok(r.cached >= 2);
    assert.equal(server.requests - before, 8 - r.cached);
    assert.ok(server.requests - before <= 6);
  });
});

describe('judge templates', () => {
  it('refuses a template that shows the query before the document, naming the line', () => {
    const text = ['---', 'id: j', 'version: 1', 'mode: binary', 'labels: 0=No, 1=Yes', '---', '[user]', 'Query: {{query}}', 'Document: {{document}}', ''].join('\n');
    assert.throws(() => parseJudgeTemplate(text, 'j.tmpl'), (e: unknown) => QxError.is(e, 'template') && /^j\.tmpl:8: \{\{query\}\} comes before \{\{document\}\}/.test((e as Error).message));
  });
  it('refuses a binary template without the grades 0 and 1', () => {
    const text = ['---', 'id: j', 'version: 1', 'mode: binary', 'labels: 1=Yes, 2=Very', '---', '[user]', '{{document}} {{query}}', ''].join('\n');
    assert.throws(() => parseJudgeTemplate(text, 'j.tmpl'), /j\.tmpl:5: A binary judge needs exactly the grades 0 and 1/);
  });
});
