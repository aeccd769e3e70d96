import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportDataset, type ExportInput, type ExportManifest } from '../../../../src/core/export/exportData.js';
import { recordSchemas, validateRecords } from '../../../../src/core/export/schemas.js';
import { buildPairs } from '../../../../src/core/curation/pairs.js';
import { defaultPairRules, type ExpansionScore } from '../../../../src/core/curation/types.js';
import type { ExpansionRecord } from '../../../../src/core/expansion/types.js';
import { QxError } from '../../../../src/core/errors.js';
import type { ExportFormat } from '../../../../src/core/workspace/api.js';
import { makeExpansion, makeScore } from '../../../fixtures/curation/makeData.js';

const formats: ExportFormat[] = ['trl-standard', 'trl-conversational', 'openai-preference', 'llama-factory', 'sft-messages'];
const signal = new AbortController().signal;

function fixture(): ExportInput {
  const expansions: ExpansionRecord[] = [];
  const scores = new Map<string, ExpansionScore>();
  const add = (qid: string, id: string, ndcg: number, original: number, role: 'teacher' | 'student', generated: string): void => {
    const e = makeExpansion(qid, id, { role, method: role === 'teacher' ? 'query2doc-fs' : 'query2doc-zs', model: role === 'teacher' ? 'big-72b' : 'small-0.5b', generated });
    expansions.push(e);
    scores.set(id, makeScore(e, ndcg, original));
  };
  add('q2', 't2a', 0.8, 0.5, 'teacher', 'Paris is the capital of France "quoted"');
  add('q2', 's2a', 0.3, 0.5, 'student', 'France is a country in Europe');
  add('q1', 't1a', 0.9, 0.4, 'teacher', 'long teacher passage\nwith a newline');
  add('q1', 't1b', 0.7, 0.4, 'teacher', 'another teacher passage');
  add('q1', 's1a', 0.2, 0.4, 'student', 'short student text');
  add('q3', 't3a', 0.6, 0.1, 'teacher', 'eval query teacher text');
  add('q3', 's3a', 0.1, 0.1, 'student', 'eval query student text');
  const byQid = new Map<string, { expansion: ExpansionRecord; score: ExpansionScore }[]>();
  for (const e of expansions) {
    const list = byQid.get(e.qid) ?? [];
    list.push({ expansion: e, score: scores.get(e.id) as ExpansionScore });
    byQid.set(e.qid, list);
  }
  const rules = { ...defaultPairRules, strategy: 'all' as const };
  return {
    datasetName: 'fixture-dl',
    evalQids: ['q3'],
    evalSplitName: 'test',
    expansions,
    scores,
    pairs: buildPairs(byQid.values(), rules, [], { now: '2026-01-01T00:00:00.000Z' }),
    rules,
    renderStudentPrompt: (query) => ({ system: 'You expand search queries.', user: `Write a passage that answers the query.\nQuery: ${query}\nPassage:` }),
    studentTemplate: { id: 'query2doc-zs', version: 1, hash: '0123456789abcdef' },
    retrieval: { engine: 'qx-bm25', params: { k1: 0.9, b: 0.4 } },
    toolVersion: '0.1.0',
    now: () => new Date('2026-02-02T00:00:00.000Z'),
  };
}

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'qx-export-'));
}

function readJsonl(file: string): Record<string, unknown>[] {
  const text = readFileSync(file, 'utf8');
  assert.ok(text.endsWith('\n'));
  return text.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

for (const format of formats) {
  test(`${format}: every record validates, texts are the generated text, manifest counts match`, async () => {
    const dir = tmp();
    try {
      const input = fixture();
      const out = join(dir, `train.${format}.jsonl`);
      const res = await exportDataset(input, { format, out, allowEvalQueries: false, states: ['auto'] }, { signal }).catch((e: unknown) => e);
      // q3 is in the test split: without the override the guard must refuse.
      assert.ok(QxError.is(res, 'export'), String(res));
      assert.equal(existsSync(out), false);
      const ok = await exportDataset({ ...input, evalQids: [] }, { format, out }, { signal });
      const records = readJsonl(out);
      assert.equal(records.length, ok.records);
      validateRecords(format, records);
      const manifest = JSON.parse(readFileSync(ok.manifest, 'utf8')) as ExportManifest;
      assert.equal(manifest.counts.records, records.length);
      assert.equal(manifest.format, format);
      const generated = new Set((input.expansions as ExpansionRecord[]).map((e) => e.generated));
      const finals = new Set((input.expansions as ExpansionRecord[]).map((e) => e.final));
      if (format === 'sft-messages') {
        assert.deepEqual(records.map((r) => r.qid), ['q1', 'q2', 'q3'], 'one record per query with a winning teacher expansion, by qid');
        const first = records[0] as { messages: { role: string; content: string }[]; expansion_id: string };
        assert.equal(first.expansion_id, 't1a', 'the best teacher expansion is the target');
        assert.deepEqual(first.messages.map((m) => m.role), ['system', 'user', 'assistant']);
        assert.equal(first.messages[1]?.content, 'Write a passage that answers the query.\nQuery: query q1\nPassage:');
        assert.ok(generated.has(first.messages[2]?.content ?? ''));
      } else {
        assert.equal(records.length, input.pairs.length);
        assert.ok(manifest.margins !== null && manifest.margins.min >= defaultPairRules.minMargin - 1e-9);
        assert.equal(manifest.leakage.overridden, false);
        assert.deepEqual(manifest.qids, ['q1', 'q2', 'q3']);
        assert.equal(manifest.provenance.length, records.length);
        assert.ok(manifest.models.some((m) => m.model === 'big-72b'));
        for (const r of records) {
          const texts = JSON.stringify(r);
          for (const f of finals) assert.ok(!texts.includes(JSON.stringify(f).slice(1, -1)), 'the final retrieval string is never exported');
        }
      }
      if (format === 'trl-standard') {
        const r = records[0] as Record<string, unknown>;
        assert.equal(typeof r.prompt, 'string');
        assert.ok(generated.has(r.chosen as string) && generated.has(r.rejected as string));
        assert.equal(r.qid, 'q1');
      }
      if (format === 'openai-preference') {
        for (const r of records) assert.deepEqual(Object.keys(r).sort(), ['input', 'non_preferred_output', 'preferred_output'], 'OpenAI gets no extra fields');
      }
      if (format === 'llama-factory') {
        const info = JSON.parse(readFileSync(join(dir, 'dataset_info.json'), 'utf8')) as Record<string, { file_name: string; ranking: boolean; formatting: string }>;
        const entry = info[`train.${format}`];
        assert.equal(entry?.file_name, `train.${format}.jsonl`);
        assert.equal(entry?.ranking, true);
        assert.equal(entry?.formatting, 'sharegpt');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('malformed records are caught by the schemas', () => {
  const good = { prompt: 'p', chosen: 'c', rejected: 'r', dataset: 'd', qid: 'q', pair_id: 'x', margin: 0.1, chosen_ndcg10: 0.5, rejected_ndcg10: 0.4, original_ndcg10: 0.3, chosen_model: 'm', rejected_model: 'm' };
  validateRecords('trl-standard', [good]);
  assert.throws(() => validateRecords('trl-standard', [good, { ...good, chosen: '' }]), (e: unknown) => QxError.is(e, 'export') && /record 2 .*\/chosen/.test(e.message));
  assert.throws(() => validateRecords('trl-standard', [{ ...good, chosen_ndcg10: 1.5 }]), /chosen_ndcg10/);
  const oa = { input: { messages: [{ role: 'user', content: 'q' }] }, preferred_output: [{ role: 'assistant', content: 'a' }], non_preferred_output: [{ role: 'assistant', content: 'b' }] };
  validateRecords('openai-preference', [oa]);
  assert.throws(() => validateRecords('openai-preference', [{ ...oa, qid: 'q1' }]), /must NOT have additional properties/);
  assert.throws(() => validateRecords('openai-preference', [{ ...oa, preferred_output: [{ role: 'user', content: 'a' }] }]), /preferred_output/);
  assert.throws(() => validateRecords('trl-conversational', [{ ...good, prompt: [{ role: 'assistant', content: 'x' }] }]), /prompt/);
  assert.throws(() => validateRecords('sft-messages', [{ messages: [{ role: 'user', content: 'u' }], dataset: 'd', qid: 'q', expansion_id: 'e', model: 'm', ndcg10: 0.5, original_ndcg10: 0.1 }]), /messages/);
  assert.ok(Object.keys(recordSchemas).length === formats.length);
});

test('exports are deterministic: same data in another order gives byte-identical files', async () => {
  const dir = tmp();
  try {
    for (const format of formats) {
      const a = fixture();
      const b = fixture();
      b.pairs = [...b.pairs].reverse();
      b.expansions = [...(b.expansions as ExpansionRecord[])].reverse();
      const ra = await exportDataset({ ...a, evalQids: [] }, { format, out: join(dir, `a-${format}.jsonl`) }, { signal });
      const rb = await exportDataset({ ...b, evalQids: [] }, { format, out: join(dir, `b-${format}.jsonl`) }, { signal });
      assert.ok(readFileSync(ra.out).equals(readFileSync(rb.out)), `${format} differs between runs`);
      const ma = JSON.parse(readFileSync(ra.manifest, 'utf8')) as Record<string, unknown>;
      const mb = JSON.parse(readFileSync(rb.manifest, 'utf8')) as Record<string, unknown>;
      delete ma.file;
      delete mb.file;
      assert.deepEqual(ma, mb);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the leakage guard refuses evaluation queries and the override is recorded', async () => {
  const dir = tmp();
  try {
    const out = join(dir, 'dpo.jsonl');
    await assert.rejects(
      exportDataset(fixture(), { format: 'trl-standard', out }, { signal }),
      (e: unknown) => QxError.is(e, 'export') && /1 queries of this training export belong to the test split \(q3\)/.test(e.message) && /allowEvalQueries/.test(e.message),
    );
    assert.deepEqual(readdirSync(dir), [], 'nothing is written when refused');
    const res = await exportDataset(fixture(), { format: 'trl-standard', out: join(dir, 'new', 'dpo.jsonl'), allowEvalQueries: true }, { signal });
    const m = JSON.parse(readFileSync(res.manifest, 'utf8')) as ExportManifest;
    assert.deepEqual(m.leakage, { evalSplit: 'test', evalQueriesInExport: ['q3'], overridden: true });
    assert.ok(readJsonl(res.out).some((r) => r.qid === 'q3'), 'written, into a folder created on the way');
    assert.match(readFileSync(`${res.out}.card.md`, 'utf8'), /Leakage override:\*\* 1 queries of the test split/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('zero pairs is a clear error and writes no file', async () => {
  const dir = tmp();
  try {
    const out = join(dir, 'empty.jsonl');
    await assert.rejects(
      exportDataset({ ...fixture(), pairs: [] }, { format: 'openai-preference', out }, { signal }),
      (e: unknown) => QxError.is(e, 'export') && /nothing to export/.test(e.message),
    );
    await assert.rejects(exportDataset(fixture(), { format: 'trl-standard', out, states: ['accepted'] }, { signal }), /no pair is in the exported states \(accepted\)/);
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('LLaMA-Factory export adds its entry to an existing dataset_info.json and keeps the others', async () => {
  const dir = tmp();
  try {
    writeFileSync(join(dir, 'dataset_info.json'), JSON.stringify({ alpaca_en: { file_name: 'alpaca.json' } }));
    await exportDataset({ ...fixture(), evalQids: [] }, { format: 'llama-factory', out: join(dir, 'qx_dpo.jsonl') }, { signal });
    const info = JSON.parse(readFileSync(join(dir, 'dataset_info.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(Object.keys(info).sort(), ['alpaca_en', 'qx_dpo']);
    writeFileSync(join(dir, 'dataset_info.json'), '[1,2');
    await assert.rejects(
      exportDataset({ ...fixture(), evalQids: [] }, { format: 'llama-factory', out: join(dir, 'other.jsonl') }, { signal }),
      (e: unknown) => QxError.is(e, 'export') && /dataset_info\.json is not a JSON object/.test(e.message),
    );
    assert.equal(existsSync(join(dir, 'other.jsonl')), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('LLaMA-Factory: dataset_info.json declares a system column only when the records carry one', async () => {
  const dir = tmp();
  try {
    const noSystem: ExportInput = { ...fixture(), evalQids: [], renderStudentPrompt: (query) => ({ user: `Write a passage that answers the given query:\nQuery: ${query}\nPassage:` }) };
    await exportDataset(noSystem, { format: 'llama-factory', out: join(dir, 'plain.jsonl') }, { signal });
    const records = readJsonl(join(dir, 'plain.jsonl'));
    assert.ok(records.every((r) => !('system' in r)));
    let info = JSON.parse(readFileSync(join(dir, 'dataset_info.json'), 'utf8')) as Record<string, { columns: Record<string, string> }>;
    // LLaMA-Factory's sharegpt converter reads every declared column: a declared "system" that no record has breaks loading.
    assert.deepEqual(info.plain?.columns, { messages: 'conversations', chosen: 'chosen', rejected: 'rejected' });
    await exportDataset({ ...fixture(), evalQids: [] }, { format: 'llama-factory', out: join(dir, 'sys.jsonl') }, { signal });
    assert.ok(readJsonl(join(dir, 'sys.jsonl')).every((r) => r.system === 'You expand search queries.'));
    info = JSON.parse(readFileSync(join(dir, 'dataset_info.json'), 'utf8')) as Record<string, { columns: Record<string, string> }>;
    assert.equal(info.sys?.columns.system, 'system');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the manifest and card list exactly the models, sampling and sources of the exported records', async () => {
  const dir = tmp();
  try {
    const input = fixture();
    const list: ExpansionRecord[] = (input.expansions as ExpansionRecord[]).map((e) =>
      e.role === 'teacher' ? { ...e, provider: 'import', source: 'runs/big.queries.tsv:3', sampling: { temperature: 1, max_tokens: 128 } } : { ...e, sampling: { temperature: 0.7, topP: 0.9 } },
    );
    // A model whose records are not exported must not be named.
    list.push({ ...makeExpansion('q9', 'x9', { model: 'unexported-model' }), sampling: { temperature: 0.1 } });
    const r = await exportDataset({ ...input, expansions: list, evalQids: [] }, { format: 'trl-standard', out: join(dir, 'd.jsonl') }, { signal });
    const m = JSON.parse(readFileSync(r.manifest, 'utf8')) as ExportManifest & { sampling?: unknown };
    assert.deepEqual(
      m.models.map((x) => [x.role, x.model, x.method, x.sampling, x.sources]),
      [
        ['student', 'small-0.5b', 'query2doc-zs', [{ temperature: 0.7, topP: 0.9 }], ['openai-compatible']],
        ['teacher', 'big-72b', 'query2doc-fs', [{ temperature: 1, max_tokens: 128 }], ['runs/big.queries.tsv']],
      ],
    );
    assert.equal(m.sampling, undefined, 'no sampling from the settings');
    const card = readFileSync(join(dir, 'd.jsonl.card.md'), 'utf8');
    assert.match(card, /teacher big-72b, query2doc-fs .*sampling \{"temperature":1,"max_tokens":128\}; from runs\/big\.queries\.tsv/);
    assert.match(card, /student small-0\.5b, query2doc-zs .*sampling \{"temperature":0\.7,"topP":0\.9\}/);
    assert.doesNotMatch(card + JSON.stringify(m), /unexported-model|temperature":0\.1/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('exports keep only pairs of the task kind and say what they left out; SFT targets are of that kind, above the minimum delta', async () => {
  const dir = tmp();
  try {
    const input = fixture();
    const extra: ExpansionRecord[] = [];
    const scores = new Map(input.scores);
    const add = (qid: string, id: string, method: string, ndcg: number, original: number, generated: string): ExpansionRecord => {
      const e = makeExpansion(qid, id, { role: 'teacher', method, model: 'big-72b', generated });
      extra.push(e);
      scores.set(id, makeScore(e, ndcg, original));
      return e;
    };
    const kw = add('q1', 'kw1', 'query2e', 0.95, 0.4, 'flea life cycle stages egg larva');
    const lamer = add('q2', 'lm2', 'lamer', 0.99, 0.5, 'a LameR passage written from retrieved passages');
    const pairs = [
      ...input.pairs,
      { ...input.pairs[0]!, id: 'p-kw', chosenId: kw.id },
      { ...input.pairs[0]!, id: 'p-lamer', qid: 'q2', chosenId: lamer.id, rejectedId: 's2a' },
    ];
    const all = [...(input.expansions as ExpansionRecord[]), ...extra];
    const r = await exportDataset({ ...input, expansions: all, scores, pairs, evalQids: [] }, { format: 'trl-standard', out: join(dir, 'd.jsonl') }, { signal });
    assert.equal(r.records, input.pairs.length, 'the keyword and LameR pairs are left out');
    const texts = readJsonl(join(dir, 'd.jsonl')).map((x) => `${String(x.chosen)}|${String(x.rejected)}`).join('\n');
    assert.ok(!texts.includes(kw.generated) && !texts.includes(lamer.generated));
    assert.deepEqual(
      r.leftOut?.map((l) => l.reason).sort(),
      [
        'pairs whose chosen side is teacher lamer: written with retrieved passages in its prompt, which the student never sees',
        'pairs whose chosen side is teacher query2e: its text is keywords, the task (query2doc-zs) asks for passage',
      ],
    );
    assert.ok(Object.keys(r.bySource ?? {}).every((k) => /^(teacher query2doc-fs|student query2doc-zs) > (teacher query2doc-fs|student query2doc-zs)$/.test(k)));

    const sft = await exportDataset({ ...input, expansions: all, scores, pairs, evalQids: [] }, { format: 'sft-messages', out: join(dir, 's.jsonl') }, { signal });
    const targets = readJsonl(join(dir, 's.jsonl')).map((x) => x.expansion_id);
    assert.deepEqual(targets, ['t1a', 't2a', 't3a'], 'the higher-scoring keyword list (q1) and LameR passage (q2) are not targets');
    assert.deepEqual(sft.bySource, { 'teacher query2doc-fs': 3 });
    // Deltas: t1a 0.5, t2a 0.3, t3a 0.5.
    const strict = await exportDataset({ ...input, expansions: all, scores, pairs, evalQids: [], sftMinDelta: 0.4 }, { format: 'sft-messages', out: join(dir, 's2.jsonl') }, { signal });
    assert.deepEqual(readJsonl(join(dir, 's2.jsonl')).map((x) => x.expansion_id), ['t1a', 't3a']);
    assert.ok(strict.leftOut?.some((l) => l.count === 1 && /above 0\.4/.test(l.reason)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the export length cap leaves out pairs beyond the ratio and reports the ratio before and after', async () => {
  const dir = tmp();
  try {
    const input = fixture();
    const list = (input.expansions as ExpansionRecord[]).map((e) => (e.id === 't1a' ? { ...e, generated: 'a long teacher passage '.repeat(20) } : e));
    const r = await exportDataset({ ...input, expansions: list, evalQids: [] }, { format: 'trl-standard', out: join(dir, 'd.jsonl'), maxLengthRatio: 2 }, { signal });
    const records = readJsonl(join(dir, 'd.jsonl'));
    assert.ok(records.every((x) => Math.max(String(x.chosen).length, String(x.rejected).length) / Math.min(String(x.chosen).length, String(x.rejected).length) <= 2));
    assert.ok(!records.some((x) => String(x.chosen).startsWith('a long teacher passage')));
    const cut = r.leftOut?.find((l) => /length ratio is beyond the cap 2/.test(l.reason));
    assert.equal(r.records + (cut?.count ?? 0), input.pairs.length);
    assert.ok((r.lengths?.beforeCap.medianRatio ?? 0) > (r.lengths?.exported.medianRatio ?? 0));
    assert.equal(r.lengths?.beforeCap.pairs, input.pairs.length);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
