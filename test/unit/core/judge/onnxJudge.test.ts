import assert from 'node:assert/strict';
import { cp, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { QxError, isCancellationError } from '../../../../src/core/errors.js';
import { ExpansionCache } from '../../../../src/core/expansion/cache.js';
import { OnnxJudge, modelFolderFingerprint } from '../../../../src/core/judge/onnxJudge.js';
import type { JudgeCallOptions, JudgeRequest } from '../../../../src/core/judge/types.js';
import { type JudgeItem, runJudgments } from '../../../../src/core/judge/runner.js';
import { type JudgeTemplate, loadJudgeTemplate, renderJudgePrompt } from '../../../../src/core/judge/template.js';
import type { RelevanceJudge } from '../../../../src/core/judge/types.js';
import { JUDGE_LM_VOCAB, crossEncoderProbability, crossEncoderTokens, judgeLmTokens, judgeLmWeights, writeTinyCrossEncoder, writeTinyJudgeLm } from '../../../fixtures/llm/tinyJudgeModels.js';
import { tinyOnnxModel } from '../../../fixtures/llm/tinyModel.js';

let dir: string;
let ce1: string;
let ce2: string;
let lm: string;
let binary: JudgeTemplate;
let graded: JudgeTemplate;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qx-onnx-judge-'));
  ce1 = await writeTinyCrossEncoder(dir, 'ce-sigmoid', 1);
  ce2 = await writeTinyCrossEncoder(dir, 'ce-softmax', 2);
  lm = await writeTinyJudgeLm(dir);
  binary = await loadJudgeTemplate('judge-binary');
  graded = await loadJudgeTemplate('judge-graded');
});
after(() => rm(dir, { recursive: true, force: true }));

const signal = new AbortController().signal;

/** Passages of different lengths (a padded batch), words known and unknown to the tiny models. */
const ITEMS: JudgeItem[] = [
  { qid: '1', query: 'how long do fleas live', docid: 'd1', text: 'A flea lives about three months;\nfleas live long.' },
  { qid: '1', query: 'how long do fleas live', docid: 'd2', text: 'The dog and the cat.' },
  { qid: '2', query: 'what is a flea', docid: 'd3', text: 'Flea flea flea: months of dog food, a cat, fleas.' },
  { qid: '2', query: 'what is a flea', docid: 'd4', text: 'nothing here at all' },
  { qid: '3', query: 'dog', docid: 'd5', text: 'cat' },
];

/** Probability of every vocabulary entry after the judge prompt, by hand: row ':' of W plus the U rows of every prompt token, softmax. */
function lmNextToken(template: JudgeTemplate, item: JudgeItem): Map<string, number> {
  const { W, U } = judgeLmWeights();
  const V = JUDGE_LM_VOCAB.length;
  // The tiny tokenizer's chat template: "role : content " per message, then "assistant :".
  const prompt = renderJudgePrompt(template, { query: item.query, document: item.text }).map((m) => `${m.role} : ${m.content} `).join('') + 'assistant :';
  const tokens = judgeLmTokens(prompt);
  assert.equal(tokens.at(-1), ':');
  const logits = Array.from({ length: V }, (_, v) => W[JUDGE_LM_VOCAB.indexOf(':') * V + v]!);
  for (const t of tokens) for (let v = 0; v < V; v++) logits[v]! += U[JUDGE_LM_VOCAB.indexOf(t) * V + v]!;
  const z = logits.reduce((a, x) => a + Math.exp(x), 0);
  return new Map(JUDGE_LM_VOCAB.map((t, v) => [t, Math.exp(logits[v]!) / z]));
}

/** Counts the documents handed to the wrapped judge (its model calls). */
function counting(inner: RelevanceJudge): RelevanceJudge & { calls: number } {
  const c = {
    provider: inner.provider,
    model: inner.model,
    endpoint: inner.endpoint,
    identity: inner.identity,
    calls: 0,
    judge(requests: JudgeRequest[], options: JudgeCallOptions) {
      c.calls += requests.length;
      return inner.judge(requests, options);
    },
  };
  return c;
}

const close = (a: number, b: number, what: string): void => assert.ok(Math.abs(a - b) < 1e-6, `${what}: ${a} vs ${b}`);

describe('OnnxJudge: a tiny cross-encoder built by the test', () => {
  for (const labels of [1, 2] as const) {
    it(`scores P(relevant) = ${labels === 1 ? 'sigmoid(logit)' : 'softmax over two labels'} for every (query, document), in padded batches`, async () => {
      const judge = new OnnxJudge({ modelPath: labels === 1 ? ce1 : ce2, batchSize: 2 });
      assert.equal(judge.kind, 'cross-encoder');
      const r = await runJudgments({ judge, template: binary, items: ITEMS, cache: new ExpansionCache(join(dir, `cache-ce${labels}`)), signal });
      assert.equal(r.failures.length, 0);
      assert.equal(r.judged, ITEMS.length);
      const scores = r.records.map((x) => x.score);
      ITEMS.forEach((item, i) => close(scores[i]!, crossEncoderProbability(labels, item.query, item.text), `${item.qid}/${item.docid}`));
      // The expectations differ, so the test would notice a swapped or constant score.
      assert.ok(Math.max(...scores) - Math.min(...scores) > 0.5, scores.join(' '));
      const first = r.records[0]!;
      assert.equal(first.provider, 'onnx');
      assert.equal(first.model, labels === 1 ? 'ce-sigmoid' : 'ce-softmax');
      assert.equal(first.endpoint, labels === 1 ? ce1 : ce2);
      assert.equal(first.token, first.score >= 0.5 ? 'Yes' : 'No');
      close(first.probs['1']!, first.score, 'P(Yes) is the score');
      close(first.mass, 1, 'all the mass is on the two labels');
      assert.equal(first.usage?.promptTokens, crossEncoderTokens(ITEMS[0]!.query, ITEMS[0]!.text).length);
    });
  }

  it('cuts a (query, document) longer than maxLength at its end', async () => {
    const judge = new OnnxJudge({ modelPath: ce1, maxLength: 8 });
    const r = await runJudgments({ judge, template: binary, items: ITEMS, cache: new ExpansionCache(join(dir, 'cache-ce-cut')), signal });
    ITEMS.forEach((item, i) => close(r.records[i]!.score, crossEncoderProbability(1, item.query, item.text, 8), `${item.docid} cut to 8 tokens`));
    assert.notEqual(r.records[2]!.score.toFixed(6), crossEncoderProbability(1, ITEMS[2]!.query, ITEMS[2]!.text).toFixed(6), 'the cut changes the long passage');
  });

  it('refuses a graded template: a cross-encoder gives one probability', async () => {
    const judge = new OnnxJudge({ modelPath: ce1 });
    await assert.rejects(runJudgments({ judge, template: graded, items: ITEMS.slice(0, 1), cache: new ExpansionCache(join(dir, 'cache-graded-ce')), signal }), (e: unknown) => QxError.is(e, 'config') && /cross-encoder/.test((e as Error).message) && /judge-binary/.test((e as QxError).hint ?? ''));
  });
});

describe('OnnxJudge: a tiny causal LM built by the test (document-first template, next-token logits)', () => {
  it('binary: P(Yes) / (P(Yes) + P(No)) of the next token, the mass on the labels and the argmax token', async () => {
    const judge = new OnnxJudge({ modelPath: lm });
    assert.equal(judge.kind, 'causal-lm');
    const r = await runJudgments({ judge, template: binary, items: ITEMS, cache: new ExpansionCache(join(dir, 'cache-lm-binary')), signal });
    assert.equal(r.failures.length, 0);
    ITEMS.forEach((item, i) => {
      const p = lmNextToken(binary, item);
      const rec = r.records[i]!;
      close(rec.score, p.get('Yes')! / (p.get('Yes')! + p.get('No')!), `${item.docid} score`);
      close(rec.probs['1']!, p.get('Yes')!, `${item.docid} P(Yes)`);
      close(rec.probs['0']!, p.get('No')!, `${item.docid} P(No)`);
      close(rec.mass, p.get('Yes')! + p.get('No')!, `${item.docid} mass`);
      const argmax = [...p.entries()].reduce((a, b) => (b[1] > a[1] ? b : a))[0];
      assert.equal(rec.token, argmax);
    });
    assert.ok(r.records[0]!.score > 0.5 && r.records[1]!.score < 0.5, 'flea passages lean Yes, dog/cat ones No');
  });

  it('graded: the expected grade over the label tokens 0-3', async () => {
    const judge = new OnnxJudge({ modelPath: lm });
    const r = await runJudgments({ judge, template: graded, items: ITEMS, cache: new ExpansionCache(join(dir, 'cache-lm-graded')), signal });
    assert.equal(r.failures.length, 0);
    ITEMS.forEach((item, i) => {
      const p = lmNextToken(graded, item);
      const ps = ['0', '1', '2', '3'].map((g) => p.get(g)!);
      const mass = ps.reduce((a, b) => a + b, 0);
      close(r.records[i]!.score, ps.reduce((a, x, g) => a + g * x, 0) / mass, `${item.docid} expected grade`);
      close(r.records[i]!.mass, mass, `${item.docid} mass`);
    });
    assert.equal(r.records[0]!.mode, 'graded');
  });

  it('names a label that is not one token of the tokenizer', async () => {
    const file = join(dir, 'maybe.tmpl');
    await writeFile(file, '---\nid: judge-maybe\nversion: 1\nmode: binary\nlabels: 0=Nope, 1=Yes\n---\n[user]\nDocument: {{document}}\nQuery: {{query}}\n');
    const t = await loadJudgeTemplate(file);
    const judge = new OnnxJudge({ modelPath: lm });
    await assert.rejects(runJudgments({ judge, template: t, items: ITEMS.slice(0, 1), cache: new ExpansionCache(join(dir, 'cache-nope')), signal }), (e: unknown) => QxError.is(e, 'config') && /"Nope" is not one token/.test((e as Error).message) && (e as Error).message.includes(lm));
  });
});

describe('OnnxJudge in the judging runner: cache, fingerprint, cancellation', () => {
  it('a rerun makes no model call; a copied folder keeps the cache, re-exported weights miss it', async () => {
    const cache = new ExpansionCache(join(dir, 'cache-rerun'));
    const first = counting(new OnnxJudge({ modelPath: ce1 }));
    const a = await runJudgments({ judge: first, template: binary, items: ITEMS, cache, signal });
    assert.equal(first.calls, ITEMS.length);
    const again = counting(new OnnxJudge({ modelPath: ce1 }));
    const b = await runJudgments({ judge: again, template: binary, items: ITEMS, cache, signal });
    assert.equal(again.calls, 0);
    assert.equal(b.cached, ITEMS.length);
    assert.deepEqual(b.records.map((x) => x.score), a.records.map((x) => x.score));

    // Same files elsewhere: same fingerprint, cache hit (the name stays the same with --model).
    const copy = join(dir, 'copy', 'ce-sigmoid');
    await cp(ce1, copy, { recursive: true });
    const copied = counting(new OnnxJudge({ modelPath: copy }));
    await runJudgments({ judge: copied, template: binary, items: ITEMS, cache, signal });
    assert.equal(copied.calls, 0);

    // A re-export (other weights in onnx/model.onnx): a different judge, judged again.
    await writeFile(join(copy, 'onnx', 'model.onnx'), tinyOnnxModel());
    const changed = counting(new OnnxJudge({ modelPath: copy, kind: 'cross-encoder' }));
    assert.notEqual(changed.identity.fingerprint, first.identity.fingerprint);
    const c = await runJudgments({ judge: changed, template: binary, items: ITEMS.slice(0, 1), cache, signal });
    assert.equal(changed.calls, 1);
    assert.equal(c.cached, 0);
  });

  it('stops between batches when cancelled; the finished batch is cached and not judged again', async () => {
    const cache = new ExpansionCache(join(dir, 'cache-cancel'));
    const ac = new AbortController();
    const judge = counting(new OnnxJudge({ modelPath: ce1, batchSize: 2 }));
    const seen: string[] = [];
    await assert.rejects(
      judge.judge(
        ITEMS.map((it, i) => ({ key: String(i), messages: [], pair: { query: it.query, document: it.text } })),
        {
          signal: ac.signal,
          labels: ['No', 'Yes'],
          onResult: (o) => {
            seen.push(o.key);
            ac.abort();
          },
        },
      ),
      (e: unknown) => isCancellationError(e),
    );
    assert.deepEqual(seen, ['0', '1'], 'the batch in flight finishes, the next one never starts');

    // Through the runner: the user cancels once the first answer is in.
    const ac2 = new AbortController();
    const inner = new OnnxJudge({ modelPath: ce1, batchSize: 2 });
    const cancelling: RelevanceJudge = { ...counting(inner), judge: (requests, options) => inner.judge(requests, { ...options, onResult: async (o) => { await options.onResult?.(o); ac2.abort(); } }) };
    let handed = 0;
    await assert.rejects(
      runJudgments({ judge: cancelling, template: binary, items: ITEMS, cache, signal: ac2.signal, onRecords: (records) => void (handed += records.length) }),
      (e: unknown) => isCancellationError(e),
    );
    assert.equal(handed, 2, 'the first batch is handed over before the stop');
    const rest = counting(new OnnxJudge({ modelPath: ce1, batchSize: 2 }));
    const r = await runJudgments({ judge: rest, template: binary, items: ITEMS, cache, signal });
    assert.equal(r.cached, handed);
    assert.equal(rest.calls, ITEMS.length - handed);
  });
});

describe('modelFolderFingerprint of large weights (sampled)', () => {
  it('a copy keeps it; weights changed across the file (a fine-tune) or a changed size change it', async () => {
    const f = join(dir, 'big', 'model');
    await cp(ce1, f, { recursive: true });
    const weights = Buffer.alloc(20 << 20);
    await writeFile(join(f, 'onnx', 'model.onnx'), weights);
    const a = modelFolderFingerprint(f);
    await cp(f, join(dir, 'big', 'copy'), { recursive: true });
    assert.equal(modelFolderFingerprint(join(dir, 'big', 'copy')), a);
    // One byte in 4,096 changed across the middle 16 MiB only (first and last 2 MiB untouched, like
    // embeddings and head that a LoRA fine-tune leaves alone); far fewer changes than a real fine-tune.
    const tuned = Buffer.from(weights);
    for (let i = 2 << 20; i < 18 << 20; i += 4096) tuned[i] = 1;
    await writeFile(join(f, 'onnx', 'model.onnx'), tuned);
    assert.notEqual(modelFolderFingerprint(f), a);
    await writeFile(join(f, 'onnx', 'model.onnx'), Buffer.alloc((20 << 20) + 1));
    assert.notEqual(modelFolderFingerprint(f), a);
  });
});

describe('OnnxJudge: a folder it cannot use', () => {
  const broken = async (name: string, remove: string): Promise<string> => {
    const f = join(dir, 'broken', name);
    await cp(ce1, f, { recursive: true });
    await unlink(join(f, remove));
    return f;
  };

  it('names the folder and the missing file: model.onnx, tokenizer.json, config.json, tokenizer_config.json', async () => {
    for (const missing of ['onnx/model.onnx', 'tokenizer.json', 'config.json', 'tokenizer_config.json']) {
      const f = await broken(missing.replace(/\W/g, '-'), missing);
      assert.throws(
        () => new OnnxJudge({ modelPath: f }),
        (e: unknown) => QxError.is(e, 'modelLoad') && (e as Error).message.includes(f) && (e as Error).message.includes(missing.replace('onnx/', '')),
        missing,
      );
    }
    assert.throws(() => new OnnxJudge({ modelPath: join(dir, 'nowhere') }), (e: unknown) => QxError.is(e, 'modelLoad') && /does not exist/.test((e as Error).message) && /judge model path/.test((e as QxError).hint ?? ''));
  });

  it('names a q8 weights file that is not there and lists the ones that are', () => {
    assert.throws(() => new OnnxJudge({ modelPath: ce1, dtype: 'q8' }), (e: unknown) => QxError.is(e, 'modelLoad') && /model_quantized\.onnx/.test((e as Error).message) && /model\.onnx/.test((e as QxError).hint ?? ''));
  });

  it('refuses a config.json with neither a sequence-classification nor a causal-LM architecture', async () => {
    const f = join(dir, 'broken', 'encoder-only');
    await cp(ce1, f, { recursive: true });
    await writeFile(join(f, 'config.json'), JSON.stringify({ model_type: 'bert', architectures: ['BertModel'] }));
    assert.throws(() => new OnnxJudge({ modelPath: f }), (e: unknown) => QxError.is(e, 'modelLoad') && (e as Error).message.includes(f) && /ForSequenceClassification/.test((e as Error).message));
  });

  it('a causal LM whose tokenizer has no chat template', async () => {
    const f = join(dir, 'broken', 'no-chat-template');
    await cp(lm, f, { recursive: true });
    await writeFile(join(f, 'tokenizer_config.json'), JSON.stringify({ tokenizer_class: 'PreTrainedTokenizer', bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', pad_token: '<pad>' }));
    const judge = new OnnxJudge({ modelPath: f });
    await assert.rejects(judge.judge([{ key: 'a', messages: [{ role: 'user', content: 'flea' }] }], { signal, labels: ['No', 'Yes'] }), (e: unknown) => QxError.is(e, 'modelLoad') && /no chat_template/.test((e as Error).message));
  });
});
