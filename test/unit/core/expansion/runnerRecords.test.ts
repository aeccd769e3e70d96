import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { isCancellationError } from '../../../../src/core/errors.js';
import { ExpansionCache } from '../../../../src/core/expansion/cache.js';
import { OpenAiExpander } from '../../../../src/core/expansion/openAiExpander.js';
import { runExpansions } from '../../../../src/core/expansion/runner.js';
import { parseTemplate } from '../../../../src/core/expansion/templates.js';
import { startFakeChatServer } from '../../../fixtures/llm/fakeChatServer.js';

const template = parseTemplate(['---', 'id: test-q2d', 'version: 1', 'formulation: query2doc', '---', '[user]', 'Query: {{query}}', ''].join('\n'), 'test-q2d.tmpl');

let tmp: string;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'qx-runner-records-'));
});
after(() => rm(tmp, { recursive: true, force: true }));

test('onRecords: every query reported done was handed over, also when the run is cancelled; a rerun hands over the rest', async () => {
  const server = await startFakeChatServer({ latencyMs: 100 });
  try {
    const e = new OpenAiExpander({ role: 'teacher', baseUrl: server.baseUrl, model: 'fake', getApiKey: () => 'sk-test', sampling: { temperature: 1, topP: 1, maxTokens: 64 }, concurrency: 2, countTokens: async (t) => t.length });
    const queries = Array.from({ length: 12 }, (_, i) => ({ qid: `q${i}`, text: `query number ${i}` }));
    const cache = new ExpansionCache(join(tmp, 'cache'));
    const stored = new Map<string, number>();
    const onRecords = (records: { qid: string; sampleIndex: number }[]): void => {
      for (const r of records) stored.set(r.qid, (stored.get(r.qid) ?? 0) + 1);
    };
    const ac = new AbortController();
    let reported = 0;
    const run = runExpansions({
      expander: e,
      template,
      queries,
      samples: 2,
      cache,
      signal: ac.signal,
      onRecords,
      onProgress: (p) => {
        assert.ok(stored.size >= p.done, `${p.done} reported done, ${stored.size} handed over`);
        reported = p.done;
        if (p.done >= 3) ac.abort();
      },
    });
    await assert.rejects(run, (err: unknown) => isCancellationError(err));
    assert.ok(reported >= 3 && reported < queries.length, `${reported} reported`);
    assert.ok(stored.size >= reported);
    for (const [qid, n] of stored) assert.equal(n, 2, `${qid}: both samples`);

    // The rerun: the queries finished before the cancel come from the cache and are handed over
    // before the first progress report; the others are generated.
    const handedBefore = new Set(stored.keys());
    stored.clear();
    let first: number | undefined;
    const rerun = await runExpansions({ expander: e, template, queries, samples: 2, cache, signal: new AbortController().signal, onRecords, onProgress: (p) => (first ??= stored.size) });
    assert.ok(first !== undefined && first >= handedBefore.size, 'cached queries are handed over first');
    assert.equal(rerun.generated + rerun.cached, queries.length * 2);
    assert.deepEqual([...stored.keys()].sort(), queries.map((q) => q.qid).sort());
    for (const n of stored.values()) assert.equal(n, 2);
  } finally {
    await server.close();
  }
});
