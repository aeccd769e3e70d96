import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { QxError, isCancellationError } from '../../../../src/core/errors.js';
import { ExpansionCache } from '../../../../src/core/expansion/cache.js';
import { OnnxExpander } from '../../../../src/core/expansion/onnxExpander.js';
import { runExpansions } from '../../../../src/core/expansion/runner.js';
import { loadTemplates } from '../../../../src/core/expansion/templates.js';
import { writeTinyModel } from '../../../fixtures/llm/tinyModel.js';

let dir: string;
let folder: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qx-onnx-'));
  folder = await writeTinyModel(dir);
});
after(() => rm(dir, { recursive: true, force: true }));

const signal = new AbortController().signal;
const greedy = { temperature: 0, topP: 1, maxTokens: 16 };

describe('OnnxExpander (a tiny causal LM built by the test)', () => {
  it('applies the chat template and generates the exact greedy text', async () => {
    const e = new OnnxExpander({ role: 'student', modelPath: folder, sampling: greedy });
    const out = await e.expand([{ key: 'a', messages: [{ role: 'user', content: 'write a passage flea' }], n: 1 }], { signal });
    assert.equal(out[0]?.ok, true);
    if (out[0]?.ok !== true) return;
    assert.deepEqual(out[0].texts, ['fleas live about three months']);
    // "user : write a passage flea assistant :" is 8 tokens; the reply is 5.
    assert.deepEqual(out[0].usage, [{ promptTokens: 8, completionTokens: 5 }]);
    assert.equal(e.model, 'tiny-lm');
  });

  it('always honours max_new_tokens', async () => {
    const e = new OnnxExpander({ role: 'student', modelPath: folder, sampling: { ...greedy, maxTokens: 2 } });
    const out = await e.expand([{ key: 'a', messages: [{ role: 'user', content: 'flea' }], n: 1 }], { signal });
    assert.deepEqual(out[0]?.ok === true ? out[0].texts : null, ['fleas live']);
  });

  it('samples when the temperature is above 0 (this model is sure of every step, so the text stays the same)', async () => {
    const e = new OnnxExpander({ role: 'student', modelPath: folder, sampling: { temperature: 0.8, topP: 0.95, maxTokens: 16 } });
    const out = await e.expand([{ key: 'a', messages: [{ role: 'user', content: 'flea' }], n: 2 }], { signal });
    assert.deepEqual(out[0]?.ok === true ? out[0].texts : null, ['fleas live about three months', 'fleas live about three months']);
  });

  it('stops between requests when cancelled, keeping what was reported', async () => {
    const e = new OnnxExpander({ role: 'student', modelPath: folder, sampling: greedy });
    const ac = new AbortController();
    const seen: string[] = [];
    const requests = ['a', 'b', 'c'].map((key) => ({ key, messages: [{ role: 'user' as const, content: 'flea' }], n: 1 }));
    await assert.rejects(
      e.expand(requests, {
        signal: ac.signal,
        onResult: (o) => {
          seen.push(o.key);
          ac.abort();
        },
      }),
      (err: unknown) => isCancellationError(err),
    );
    assert.deepEqual(seen, ['a']);
  });

  it('runs in the batch runner and caches like the API teacher', async () => {
    const template = (await loadTemplates()).get('query2doc-zs')!;
    const cache = new ExpansionCache(join(dir, 'cache'));
    const e = new OnnxExpander({ role: 'student', modelPath: folder, sampling: greedy });
    const res = await runExpansions({ expander: e, template, queries: [{ qid: '1', text: 'flea' }], cache, signal });
    const r = res.results[0]?.records[0];
    assert.equal(r?.generated, 'fleas live about three months');
    assert.equal(r?.final, 'flea flea flea flea flea fleas live about three months');
    assert.equal(r?.role, 'student');
    assert.equal(r?.provider, 'onnx');
    const again = await runExpansions({ expander: e, template, queries: [{ qid: '1', text: 'flea' }], cache, signal });
    assert.equal(again.cached, 1);
    assert.equal(again.generated, 0);
  });

  it('a folder without tokenizer.json is a modelLoad error naming the folder and the file', async () => {
    const broken = await writeTinyModel(dir, 'no-tokenizer', { withTokenizer: false });
    const e = new OnnxExpander({ role: 'student', modelPath: broken, sampling: greedy });
    await assert.rejects(
      e.expand([{ key: 'a', messages: [{ role: 'user', content: 'x' }], n: 1 }], { signal }),
      (err: unknown) => QxError.is(err, 'modelLoad') && err.message.includes(broken) && err.message.includes('tokenizer.json'),
    );
    const missing = new OnnxExpander({ role: 'student', modelPath: folder, sampling: greedy, dtype: 'q4' });
    await assert.rejects(missing.expand([{ key: 'a', messages: [{ role: 'user', content: 'x' }], n: 1 }], { signal }), (err: unknown) => QxError.is(err, 'modelLoad') && /model_q4\.onnx/.test(err.message) && /model\.onnx/.test(err.message));
  });
});
