import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { QxError, isCancellationError } from '../../../../src/core/errors.js';
import { nullLogger } from '../../../../src/core/logger.js';
import { ExpansionCache } from '../../../../src/core/expansion/cache.js';
import { OpenAiExpander, type OpenAiExpanderOptions } from '../../../../src/core/expansion/openAiExpander.js';
import { stripThinking } from '../../../../src/core/expansion/thinking.js';
import { backoffDelay, parseRetryAfter } from '../../../../src/core/expansion/retry.js';
import { runExpansions } from '../../../../src/core/expansion/runner.js';
import { loadTemplates, parseTemplate } from '../../../../src/core/expansion/templates.js';
import { type FakeChatServer, startFakeChatServer } from '../../../fixtures/llm/fakeChatServer.js';

const template = parseTemplate(['---', 'id: test-q2d', 'version: 1', 'formulation: query2doc', '---', '[user]', 'Query: {{query}}', ''].join('\n'), 'test-q2d.tmpl');

function expander(baseUrl: string, extra: Partial<OpenAiExpanderOptions> = {}): OpenAiExpander {
  return new OpenAiExpander({
    role: 'teacher',
    baseUrl,
    model: 'fake-72b',
    getApiKey: () => 'sk-test',
    sampling: { temperature: 1, topP: 1, maxTokens: 64 },
    concurrency: 4,
    timeoutMs: 300,
    retry: { maxRetries: 3, baseDelayMs: 5, maxDelayMs: 50 },
    countTokens: async (t) => t.split(/\s+/).filter(Boolean).length,
    ...extra,
  });
}

async function cacheFiles(dir: string): Promise<number> {
  const entries = await readdir(dir, { recursive: true }).catch(() => [] as string[]);
  return entries.filter((e) => e.endsWith('.json')).length;
}

let tmp: string;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'qx-openai-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('OpenAiExpander against a local chat-completions server', () => {
  let server: FakeChatServer;
  before(async () => {
    server = await startFakeChatServer({ slowMs: 1000 });
  });
  after(() => server.close());

  it('ends every query with its expansion or a recorded failure, and a rerun repeats only the failures', async () => {
    const queries = [
      { qid: '1', text: 'what is a flea' },
      { qid: '2', text: 'cost of concrete' },
      { qid: '3', text: 'rate limited query [429x2]' },
      { qid: '4', text: 'server error query [500x2]' },
      { qid: '5', text: 'slow query [slowx1]' },
      { qid: '6', text: 'broken json [malformed]' },
      { qid: '7', text: 'no choices [empty]' },
      { qid: '8', text: 'no usage [nousage]' },
    ];
    const cache = new ExpansionCache(join(tmp, 'faults'));
    const signal = new AbortController().signal;
    // The timeout sits just under the slow answer's 1 s, so only [slowx1]'s first attempt times
    // out; a loaded machine still answers the others well within it.
    const res = await runExpansions({ expander: expander(server.baseUrl, { timeoutMs: 900 }), template, queries, samples: 1, cache, signal });
    const byQid = new Map(res.results.map((r) => [r.qid, r]));
    for (const qid of ['1', '2', '3', '4', '5', '8']) {
      const r = byQid.get(qid);
      assert.equal(r?.records.length, 1, `query ${qid} has one expansion`);
      assert.deepEqual(r?.failures, []);
      const rec = r?.records[0];
      const q = queries.find((x) => x.qid === qid)?.text ?? '';
      assert.ok(rec?.generated.startsWith(`${q} passage`), rec?.generated);
      assert.equal(rec?.final, `${q} ${q} ${q} ${q} ${q} ${rec?.generated}`);
      assert.equal(rec?.role, 'teacher');
      assert.equal(rec?.template?.id, 'test-q2d');
    }
    for (const qid of ['6', '7']) {
      const r = byQid.get(qid);
      assert.equal(r?.records.length, 0);
      assert.equal(r?.failures.length, 1);
      assert.equal(r?.failures[0]?.code, 'badResponse');
    }
    assert.equal(server.attempts.get('Query: rate limited query [429x2]'), 3);
    assert.equal(server.attempts.get('Query: server error query [500x2]'), 3);
    assert.equal(server.attempts.get('Query: slow query [slowx1]'), 2);
    assert.equal(server.attempts.get('Query: broken json [malformed]'), 1, 'a malformed answer is not retried');
    assert.deepEqual(byQid.get('1')?.records[0]?.usage, { promptTokens: 10, completionTokens: 5 });
    assert.equal(byQid.get('8')?.records[0]?.usage?.estimated, true);
    assert.ok((byQid.get('8')?.records[0]?.usage?.completionTokens ?? 0) > 0);
    assert.equal(res.generated, 6);
    assert.equal(res.failed, 2);
    const ids = res.results.flatMap((r) => r.records.map((x) => x.id));
    assert.equal(new Set(ids).size, ids.length, 'no duplicated expansion');
    assert.equal(await cacheFiles(join(tmp, 'faults')), 6, 'failures are not cached');

    const before2 = server.requests;
    const again = await runExpansions({ expander: expander(server.baseUrl), template, queries, samples: 1, cache, signal });
    assert.equal(server.requests - before2, 2, 'only the two failed queries are requested again');
    assert.equal(again.cached, 6);
    assert.equal(again.generated, 0);
    assert.deepEqual(
      again.results.flatMap((r) => r.records.map((x) => x.id)),
      ids,
      'the rerun returns the same expansions',
    );
  });

  it('gives up after the retries with the code of the last failure', async () => {
    const prompts = ['Query: always limited [429x9]', 'Query: always down [500x9]', 'Query: always slow [slowx9]'];
    const out = await expander(server.baseUrl, { retry: { maxRetries: 2, baseDelayMs: 5, maxDelayMs: 20 }, timeoutMs: 200 }).expand(
      prompts.map((content, i) => ({ key: `g${i}`, messages: [{ role: 'user' as const, content }], n: 1 })),
      { signal: new AbortController().signal },
    );
    assert.deepEqual(
      out.map((o) => (o.ok ? 'ok' : o.code)),
      ['rateLimit', 'network', 'timeout'],
    );
    for (const p of prompts) assert.equal(server.attempts.get(p), 3, `${p}: 1 attempt + 2 retries`);
  });

  it('a second run of a clean batch makes zero requests', async () => {
    const queries = Array.from({ length: 12 }, (_, i) => ({ qid: `c${i}`, text: `clean query ${i}` }));
    const cache = new ExpansionCache(join(tmp, 'clean'));
    const signal = new AbortController().signal;
    const first = await runExpansions({ expander: expander(server.baseUrl), template, queries, samples: 2, cache, signal });
    assert.equal(first.generated, 24);
    const n = server.requests;
    const second = await runExpansions({ expander: expander(server.baseUrl), template, queries, samples: 2, cache, signal });
    assert.equal(server.requests, n);
    assert.equal(second.cached, 24);
    assert.deepEqual(
      second.results.map((r) => r.records.map((x) => x.generated)),
      first.results.map((r) => r.records.map((x) => x.generated)),
    );
  });

  it('draws n samples in one call where the server accepts n > 1', async () => {
    const cache = new ExpansionCache(join(tmp, 'n-ok'));
    const n0 = server.requests;
    const res = await runExpansions({ expander: expander(server.baseUrl), template, queries: [{ qid: 'n1', text: 'three samples' }], samples: 3, cache, signal: new AbortController().signal });
    assert.equal(server.requests - n0, 1);
    assert.deepEqual(
      res.results[0]?.records.map((r) => [r.sampleIndex, r.generated.replace(/ r\d+ /, ' ')]),
      [
        [0, 'three samples passage s0'],
        [1, 'three samples passage s1'],
        [2, 'three samples passage s2'],
      ],
    );
    assert.equal(server.bodies.at(-1)?.n, 3);
  });

  it('passes sampling and extra body parameters through', async () => {
    const e = expander(server.baseUrl, { sampling: { temperature: 0.7, topP: 0.9, maxTokens: 32, seed: 42 }, extraBody: { top_k: 20, repetition_penalty: 1.1 } });
    await e.expand([{ key: 'k', messages: [{ role: 'user', content: 'Query: params' }], n: 1 }], { signal: new AbortController().signal });
    const b = server.bodies.at(-1);
    assert.equal(b?.temperature, 0.7);
    assert.equal(b?.top_p, 0.9);
    assert.equal(b?.max_tokens, 32);
    assert.equal(b?.seed, 42);
    assert.equal(b?.top_k, 20);
    assert.equal(b?.repetition_penalty, 1.1);
    assert.equal(b?.model, 'fake-72b');
  });
});

describe('a cache that cannot be written', () => {
  it('stops the batch with the write error before paying for more calls', async () => {
    const server = await startFakeChatServer({ latencyMs: 20 });
    try {
      const file = join(tmp, 'not-a-dir');
      await writeFile(file, 'x');
      const queries = Array.from({ length: 20 }, (_, i) => ({ qid: `w${i}`, text: `write fails ${i}` }));
      await assert.rejects(
        runExpansions({ expander: expander(server.baseUrl, { concurrency: 2 }), template, queries, cache: new ExpansionCache(join(file, 'cache')), signal: new AbortController().signal }),
        (e: unknown) => (e as { code?: string }).code === 'ENOTDIR',
      );
      assert.ok(server.requests <= 4, `${server.requests} calls made`);
    } finally {
      await server.close();
    }
  });
});

describe('servers that reject n > 1 (llama.cpp)', () => {
  it('falls back to separate calls once and remembers it for the endpoint', async () => {
    const server = await startFakeChatServer({ rejectN: true });
    try {
      const e = expander(server.baseUrl, { concurrency: 1, sampling: { temperature: 1, topP: 1, maxTokens: 64, seed: 7 } });
      const cache = new ExpansionCache(join(tmp, 'n-reject'));
      const res = await runExpansions({ expander: e, template, queries: [{ qid: 'a', text: 'first' }, { qid: 'b', text: 'second' }], samples: 3, cache, signal: new AbortController().signal });
      assert.equal(server.requests, 1 + 3 + 3, 'one rejected n=3 call, then 3 single calls per query');
      for (const r of res.results) {
        assert.equal(r.records.length, 3);
        assert.equal(new Set(r.records.map((x) => x.generated)).size, 3);
      }
      assert.deepEqual(server.bodies.slice(1, 4).map((b) => b.seed), [7, 8, 9], 'sample i is drawn with seed + i');
    } finally {
      await server.close();
    }
  });
});

describe('Retry-After', () => {
  it('waits as long as the server asks even when the backoff is shorter', async () => {
    const server = await startFakeChatServer({ retryAfter: '1' });
    try {
      const out = await expander(server.baseUrl, { retry: { maxRetries: 3, baseDelayMs: 5, maxDelayMs: 5000 } }).expand([{ key: 'k', messages: [{ role: 'user', content: 'Query: wait [429x1]' }], n: 1 }], { signal: new AbortController().signal });
      assert.equal(out[0]?.ok, true);
      const t = server.times.get('Query: wait [429x1]') ?? [];
      assert.equal(t.length, 2);
      assert.ok((t[1] ?? 0) - (t[0] ?? 0) >= 950, `waited ${(t[1] ?? 0) - (t[0] ?? 0)} ms`);
    } finally {
      await server.close();
    }
  });

  it('reads seconds and HTTP dates', () => {
    assert.equal(parseRetryAfter('3'), 3000);
    assert.equal(parseRetryAfter('1.5'), 1500);
    const now = Date.parse('2025-01-01T00:00:00Z');
    assert.equal(parseRetryAfter('Wed, 01 Jan 2025 00:00:10 GMT', now), 10_000);
    assert.equal(parseRetryAfter('Tue, 31 Dec 2024 23:59:00 GMT', now), 0);
    assert.equal(parseRetryAfter('soon'), undefined);
    assert.equal(parseRetryAfter(null), undefined);
  });

  it('backs off exponentially with jitter, capped', () => {
    const p = { maxRetries: 5, baseDelayMs: 100, maxDelayMs: 1000 };
    assert.equal(backoffDelay(p, 0, undefined, () => 0), 50);
    assert.equal(backoffDelay(p, 0, undefined, () => 1), 100);
    assert.equal(backoffDelay(p, 3, undefined, () => 1), 800);
    assert.equal(backoffDelay(p, 6, undefined, () => 1), 1000);
    assert.equal(backoffDelay(p, 0, 5000), 1000, 'Retry-After capped at maxDelayMs');
  });
});

describe('bad configuration', () => {
  it('a missing API key is an auth error naming where to set it', async () => {
    const e = expander('http://127.0.0.1:9/v1', { getApiKey: () => undefined });
    await assert.rejects(
      e.expand([{ key: 'k', messages: [{ role: 'user', content: 'x' }], n: 1 }], { signal: new AbortController().signal }),
      (err: unknown) => QxError.is(err, 'auth') && /QX_API_KEY/.test(err.message) && /OPENAI_API_KEY/.test(err.message) && /QX: Set API Key/.test(err.message),
    );
    const custom = expander('http://127.0.0.1:9/v1', { getApiKey: async () => '  ', missingKeyHint: 'Run "QX: Set API Key" for this endpoint.' });
    await assert.rejects(custom.expand([{ key: 'k', messages: [{ role: 'user', content: 'x' }], n: 1 }], { signal: new AbortController().signal }), /Run "QX: Set API Key" for this endpoint\./);
  });

  it('an unreachable endpoint ends as a network failure after the retries', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const t0 = Date.now();
    const warnings: string[] = [];
    const logger = { ...nullLogger, warn: (m: string) => warnings.push(m) };
    const out = await expander(`http://127.0.0.1:${port}/v1`, { retry: { maxRetries: 2, baseDelayMs: 5, maxDelayMs: 20 } }).expand(
      [{ key: 'k', messages: [{ role: 'user', content: 'Query: x' }], n: 1 }],
      { signal: new AbortController().signal, logger },
    );
    assert.equal(warnings.length, 2, 'two retries were made and logged');
    assert.match(warnings[1] ?? '', /retry 2\/2/);
    const o = out[0];
    assert.equal(o?.ok, false);
    assert.equal(o?.ok === false ? o.code : '', 'network');
    assert.match(o?.ok === false ? o.message : '', /cannot reach the endpoint: connect ECONNREFUSED 127\.0\.0\.1:\d+/);
    assert.ok(Date.now() - t0 < 3000);
  });

  it('a rejected key stops the batch with an auth error', async () => {
    const s = createServer((_req, res) => res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":{"message":"bad key"}}'));
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}/v1`;
      await assert.rejects(expander(url).expand([{ key: 'k', messages: [{ role: 'user', content: 'x' }], n: 1 }], { signal: new AbortController().signal }), (e: unknown) => QxError.is(e, 'auth'));
    } finally {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
  });
});

describe('a token counter that cannot load', () => {
  it('keeps the paid answer, estimates its usage from characters and warns once', async () => {
    const server = await startFakeChatServer({});
    try {
      const warnings: string[] = [];
      const logger = { ...nullLogger, warn: (m: string) => warnings.push(m) };
      const e = expander(server.baseUrl, { countTokens: () => Promise.reject(new Error('tokenizer bundle missing')) });
      const requests = ['a [nousage]', 'b [nousage]'].map((q, i) => ({ key: `k${i}`, messages: [{ role: 'user' as const, content: `Query: ${q}` }], n: 1 }));
      const out = await e.expand(requests, { signal: new AbortController().signal, logger });
      for (const o of out) {
        assert.equal(o.ok, true, o.ok ? '' : o.message);
        if (!o.ok) continue;
        assert.ok(o.texts[0]!.length > 0);
        assert.equal(o.usage[0]?.estimated, true);
        assert.equal(o.usage[0]?.completionTokens, Math.ceil(o.texts[0]!.length / 4));
      }
      assert.equal(warnings.filter((w) => /token counter failed \(tokenizer bundle missing\)/.test(w)).length, 1);
    } finally {
      await server.close();
    }
  });
});

describe('cancellation', () => {
  it('stops within one request time and loses no finished expansion', async () => {
    const latency = 150;
    const server = await startFakeChatServer({ latencyMs: latency });
    try {
      const queries = Array.from({ length: 12 }, (_, i) => ({ qid: `q${i}`, text: `cancel me ${i}` }));
      const dir = join(tmp, 'cancel');
      const cache = new ExpansionCache(dir);
      const ac = new AbortController();
      const K = 3;
      let abortedAt = 0;
      const e = expander(server.baseUrl, { concurrency: 2, timeoutMs: 5000 });
      const run = runExpansions({
        expander: e,
        template,
        queries,
        cache,
        signal: ac.signal,
        onProgress: (p) => {
          if (p.done >= K && abortedAt === 0) {
            abortedAt = Date.now();
            ac.abort();
          }
        },
      });
      await assert.rejects(run, (err: unknown) => isCancellationError(err));
      const stoppedAfter = Date.now() - abortedAt;
      assert.ok(stoppedAfter < latency, `stopped ${stoppedAfter} ms after the abort`);
      const kept = await cacheFiles(dir);
      assert.ok(kept >= K, `cache holds ${kept} expansions`);
      const sent = server.requests;
      assert.ok(sent < queries.length, 'the batch did not run to the end');

      const rerun = await runExpansions({ expander: e, template, queries, cache, signal: new AbortController().signal });
      assert.equal(server.requests - sent, queries.length - kept, 'the rerun requests only the rest');
      assert.equal(rerun.cached, kept);
      assert.equal(rerun.results.filter((r) => r.records.length === 1).length, queries.length);
    } finally {
      await server.close();
    }
  });
});

describe('joined samples (MuGI)', () => {
  it('makes one expansion of all passages behind the adaptively repeated query', async () => {
    const server = await startFakeChatServer();
    try {
      const mugi = (await loadTemplates()).get('mugi')!;
      const cache = new ExpansionCache(join(tmp, 'mugi'));
      const q = 'flea';
      const res = await runExpansions({ expander: expander(server.baseUrl), template: mugi, queries: [{ qid: 'm', text: q }], samples: 3, joinSamples: true, cache, signal: new AbortController().signal });
      const recs = res.results[0]?.records ?? [];
      assert.equal(recs.length, 1);
      const r = recs[0]!;
      assert.equal(r.generated.split(' passage r').length, 4, 'three passages joined');
      const reps = Math.floor(Math.floor(r.generated.length / q.length) / 5);
      assert.ok(reps >= 2);
      assert.equal(r.final, `${Array<string>(reps).fill(q).join(' ')} ${r.generated}`);
      assert.deepEqual(r.usage, { promptTokens: 30, completionTokens: 15 });
    } finally {
      await server.close();
    }
  });
});

describe('thinking models (Qwen3, DeepSeek-reasoner)', () => {
  let server: FakeChatServer;
  before(async () => {
    server = await startFakeChatServer();
  });
  after(() => server.close());

  const student = (model: string, extra: Partial<OpenAiExpanderOptions> = {}): OpenAiExpander => expander(server.baseUrl, { role: 'student', model, ...extra });
  const kwargsSent = async (e: OpenAiExpander): Promise<unknown> => {
    await e.expand([{ key: 'k', messages: [{ role: 'user', content: 'Query: kwargs' }], n: 1 }], { signal: new AbortController().signal });
    return server.bodies.at(-1)?.chat_template_kwargs;
  };

  it('a Qwen3 student is asked not to think, and its expansions hold only the answer', async () => {
    const cache = new ExpansionCache(join(tmp, 'qwen3'));
    const queries = [
      { qid: 't1', text: 'flea life cycle [think]' },
      { qid: 't2', text: 'concrete floor cost [reasoning]' },
    ];
    const n0 = server.bodies.length;
    const res = await runExpansions({ expander: student('Qwen/Qwen3-4B'), template, queries, cache, signal: new AbortController().signal });
    const bodies = server.bodies.slice(n0);
    assert.equal(bodies.length, 2);
    for (const b of bodies) assert.deepEqual(b.chat_template_kwargs, { enable_thinking: false });
    for (const [i, r] of res.results.entries()) {
      const q = queries[i]!.text;
      const rec = r.records[0];
      assert.match(rec?.generated ?? '', new RegExp(`^${q.replace(/[[\]]/g, '\\$&')} passage r\\d+ s0$`));
      assert.doesNotMatch(rec?.generated ?? '', /<\/?think>|Let me think/, 'no reasoning in the stored text');
      assert.equal(rec?.final, `${q} ${q} ${q} ${q} ${q} ${rec?.generated}`);
    }
    const again = await runExpansions({ expander: student('Qwen/Qwen3-4B'), template, queries, cache, signal: new AbortController().signal });
    assert.equal(again.cached, 2, 'the cache holds the answers without the reasoning');
    assert.deepEqual(
      again.results.map((r) => r.records[0]?.generated),
      res.results.map((r) => r.records[0]?.generated),
    );
  });

  it('an enable_thinking the user set wins; other students and teachers get no kwargs', async () => {
    assert.deepEqual(await kwargsSent(student('Qwen/Qwen3-4B', { extraBody: { chat_template_kwargs: { enable_thinking: true } } })), { enable_thinking: true });
    assert.deepEqual(await kwargsSent(student('qwen3-0.6b', { extraBody: { chat_template_kwargs: { custom: 1 } } })), { custom: 1, enable_thinking: false });
    assert.equal(await kwargsSent(student('Qwen2.5-7B-Instruct')), undefined);
    assert.equal(await kwargsSent(expander(server.baseUrl, { model: 'Qwen/Qwen3-235B-A22B' })), undefined);
  });

  it('a think block that never closes is a failure that says how to fix it, not an expansion', async () => {
    const cache = new ExpansionCache(join(tmp, 'thinkcut'));
    const res = await runExpansions({ expander: student('Qwen/Qwen3-4B', { extraBody: { chat_template_kwargs: { enable_thinking: true } } }), template, queries: [{ qid: 'c', text: 'long thought [thinkcut]' }], cache, signal: new AbortController().signal });
    assert.deepEqual(res.results[0]?.records, []);
    assert.equal(res.results[0]?.failures[0]?.code, 'badResponse');
    assert.match(res.results[0]?.failures[0]?.message ?? '', /only its reasoning.*max tokens.*enable_thinking/);
    assert.equal(await cacheFiles(join(tmp, 'thinkcut')), 0);
  });

  it('strips a leading think block, or reasoning whose opening tag was in the prompt, and nothing else', () => {
    assert.deepEqual(stripThinking('<think>\nhmm\n</think>\n\nFleas live 3 months.'), { text: 'Fleas live 3 months.', stripped: true, unfinished: false });
    assert.deepEqual(stripThinking('hmm, fleas.\n</think>\nFleas live 3 months.'), { text: 'Fleas live 3 months.', stripped: true, unfinished: false });
    assert.deepEqual(stripThinking('<think>\nstill going'), { text: '', stripped: true, unfinished: true });
    assert.deepEqual(stripThinking(' Fleas <think> about it. '), { text: 'Fleas <think> about it.', stripped: false, unfinished: false });
  });
});
