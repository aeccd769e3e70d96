import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { QxError } from '../../../../src/core/errors.js';
import { formulate } from '../../../../src/core/expansion/formulation.js';
import { buildBatchInput, formatCustomId, importBatchOutput, importExpansionFile, parseCustomId } from '../../../../src/core/expansion/importers.js';
import { loadTemplates } from '../../../../src/core/expansion/templates.js';

import { DATA as data } from '../../../fixtures/dataPaths.js';
const dl19 = join(data, 'querygym-llm-expansions-dl/runs/msmarco-v1-passage.trecdl2019');
const topics = new Map(
  readFileSync(join(data, 'trec-dl-topics-qrels/topics.dl19-passage.txt'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.split('\t') as [string, string]),
);

let tmp: string;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'qx-import-'));
});
after(() => rm(tmp, { recursive: true, force: true }));

describe('QueryGym TSV import', () => {
  it('separates the generated passage from the repeated query and keeps every final string exactly (DL19 query2doc, Qwen2.5-72B/7B)', async () => {
    let total = 0;
    for (const model of ['Qwen2.5-72B-Instruct', 'Qwen2.5-7B-Instruct']) {
      const dir = join(dl19, 'query2doc/Qwen', model, 'bm25');
      for (const name of (await readdir(dir)).filter((f) => f.endsWith('.queries.tsv'))) {
        const file = join(dir, name);
        const mode = (JSON.parse(readFileSync(file.replace('.queries.tsv', '.json'), 'utf8')) as { config: { method_params: { mode: string } } }).config.method_params.mode;
        const res = await importExpansionFile(file, 'querygym-tsv', { model, method: `query2doc-${mode}`, role: 'teacher', formulation: 'query2doc', queries: topics, source: name });
        assert.deepEqual(res.problems, []);
        const raw = parse(readFileSync(file, 'utf8'), { delimiter: '\t', relax_quotes: true }) as [string, string][];
        assert.equal(res.records.length, 43);
        assert.deepEqual(res.records.map((r) => [r.qid, r.final]), raw, 'final strings kept byte for byte, in file order');
        for (const r of res.records) {
          const q = topics.get(r.qid) as string;
          assert.equal(r.query, q);
          assert.ok(!r.generated.startsWith(q), `${name} ${r.qid}: generated text still starts with the query`);
          assert.ok(r.generated.length > 0);
          assert.equal(formulate('query2doc', q, r.generated), r.final);
          assert.equal(r.provider, 'import');
          assert.equal(r.method, `query2doc-${mode}`);
          assert.match(r.source ?? '', new RegExp(`^${name.replace('.', '\\.')}:\\d+$`));
        }
        assert.equal(new Set(res.records.map((r) => r.id)).size, 43);
        total += res.records.length;
      }
    }
    assert.equal(total, 43 * 6);
  });

  it('reports rows of another shape or of unknown queries instead of importing them', async () => {
    const file = join(tmp, 'mixed.tsv');
    const q = topics.get('264014') as string;
    await writeFile(file, [`264014\t${q} ${q} ${q} ${q} ${q} fleas live long`, `264014\t${q} only once`, `999\tsomething`, ''].join('\n'));
    const res = await importExpansionFile(file, 'querygym-tsv', { model: 'm', method: 'query2doc-zs', role: 'imported', formulation: 'query2doc', queries: topics });
    assert.equal(res.records.length, 1);
    assert.equal(res.records[0]?.generated, 'fleas live long');
    assert.deepEqual(
      res.problems.map((p) => [p.line, p.qid]),
      [
        [2, '264014'],
        [3, '999'],
      ],
    );
    assert.match(res.problems[0]?.message ?? '', /mixed\.tsv:2: .*"query2doc" shape/);
    assert.match(res.problems[1]?.message ?? '', /unknown query id "999"/);
  });
});

describe('JSONL import', () => {
  it('accepts the final string (text/expansion) or the generated text; several rows of a qid are samples', async () => {
    const file = join(tmp, 'x.jsonl');
    const q = topics.get('1037798') as string;
    await writeFile(
      file,
      [
        JSON.stringify({ qid: 1037798, generated: 'Robert Gray was a sea captain.' }),
        JSON.stringify({ qid: '1037798', text: `${q} the explorer` }),
        JSON.stringify({ qid: '1037798', expansion: `${q} a third` }),
      ].join('\n'),
    );
    const res = await importExpansionFile(file, 'jsonl', { model: 'gpt', method: 'hyde', role: 'teacher', formulation: 'concat', queries: topics });
    assert.deepEqual(res.problems, []);
    assert.deepEqual(
      res.records.map((r) => [r.sampleIndex, r.generated, r.final]),
      [
        [0, 'Robert Gray was a sea captain.', `${q} Robert Gray was a sea captain.`],
        [1, 'the explorer', `${q} the explorer`],
        [2, 'a third', `${q} a third`],
      ],
    );
  });

  it('a line that is not JSON is a dataset error naming file and line', async () => {
    const file = join(tmp, 'bad.jsonl');
    await writeFile(file, '{"qid": "1", "text": "a"}\n{"qid": 2, text\n');
    await assert.rejects(importExpansionFile(file, 'jsonl', { model: 'm', method: 'x', role: 'teacher', formulation: 'concat', queries: topics }), (e: unknown) => QxError.is(e, 'dataset') && e.line === 2 && e.file === file);
  });
});

describe('OpenAI Batch API', () => {
  it('exports one request line per query × template × sample and imports the results back, reporting errors and missing lines', async () => {
    const all = await loadTemplates();
    const templates = [all.get('query2doc-zs')!, all.get('q2e-zs')!];
    const queries = [...topics].slice(0, 3).map(([qid, text]) => ({ qid, text }));
    const { jsonl, lines } = await buildBatchInput({ templates, queries, samples: 2, model: 'gpt-4.1', sampling: { temperature: 1, topP: 1, maxTokens: 128, seed: 5 }, extraBody: { top_k: 20 }, signal: new AbortController().signal });
    assert.equal(lines, 12);
    const reqs = jsonl.trimEnd().split('\n').map((l) => JSON.parse(l) as { custom_id: string; method: string; url: string; body: { model: string; seed: number; top_k: number; messages: { content: string }[] } });
    assert.equal(reqs.length, 12);
    assert.equal(new Set(reqs.map((r) => r.custom_id)).size, 12);
    for (const r of reqs) {
      assert.equal(r.method, 'POST');
      assert.equal(r.url, '/v1/chat/completions');
      assert.equal(r.body.model, 'gpt-4.1');
      assert.equal(r.body.top_k, 20);
      const id = parseCustomId(r.custom_id)!;
      assert.equal(r.body.seed, 5 + id.sampleIndex);
      assert.ok(r.body.messages[0]!.content.includes(topics.get(id.qid)!));
    }
    const out = reqs.map((r, i) => {
      if (i === 1) return { id: `b${i}`, custom_id: r.custom_id, response: null, error: { code: 'server_error', message: 'overloaded' } };
      if (i === 2) return { id: `b${i}`, custom_id: r.custom_id, response: { status_code: 500, body: {} }, error: null };
      return { id: `b${i}`, custom_id: r.custom_id, response: { status_code: 200, body: { choices: [{ message: { role: 'assistant', content: ` answer ${i} ` } }], usage: { prompt_tokens: 30, completion_tokens: 7 } } }, error: null };
    });
    const outText = out.filter((_, i) => i !== 3).map((o) => JSON.stringify(o)).join('\n');
    const res = importBatchOutput(outText, 'batch_out.jsonl', { model: 'gpt-4.1', role: 'teacher', formulation: 'concat', queries: topics, templates: all, expected: reqs.map((r) => r.custom_id) });
    assert.equal(res.records.length, 9);
    assert.equal(res.problems.length, 3);
    assert.match(res.problems[0]!.message, /batch_out\.jsonl:2: .*overloaded/);
    assert.match(res.problems[1]!.message, /batch_out\.jsonl:3: .*status 500/);
    assert.match(res.problems[2]!.message, new RegExp(`no result line for ${reqs[3]!.custom_id}`));
    const first = res.records[0]!;
    const id0 = parseCustomId(reqs[0]!.custom_id)!;
    assert.equal(first.qid, id0.qid);
    assert.equal(first.method, 'query2doc-zs');
    assert.equal(first.formulation, 'query2doc', 'formulation taken from the template named in the custom id');
    assert.equal(first.generated, 'answer 0');
    assert.equal(first.final, formulate('query2doc', topics.get(id0.qid)!, 'answer 0'));
    assert.deepEqual(first.usage, { promptTokens: 30, completionTokens: 7 });
    assert.equal(first.template?.hash, all.get('query2doc-zs')!.sha256.slice(0, 16));
  });

  it('a reasoning model\'s <think> block is dropped from the answer; reasoning without an answer is a problem, not an expansion', () => {
    const [qid, text] = [...topics][0]!;
    const line = (i: number, content: string): string =>
      JSON.stringify({ id: `b${i}`, custom_id: formatCustomId({ qid, templateId: 'query2doc-zs', sampleIndex: i }), response: { status_code: 200, body: { choices: [{ message: { role: 'assistant', content } }] } }, error: null });
    const outText = [line(0, '<think>\nThe user asks about it.\n</think>\n\nThe answer passage.'), line(1, '<think>\nstill thinking when the budget ran out')].join('\n');
    const res = importBatchOutput(outText, 'qwen3_out.jsonl', { model: 'Qwen/Qwen3-4B', role: 'student', formulation: 'query2doc', queries: topics });
    assert.equal(res.records.length, 1);
    assert.equal(res.records[0]!.generated, 'The answer passage.');
    assert.equal(res.records[0]!.final, formulate('query2doc', text, 'The answer passage.'));
    assert.equal(res.problems.length, 1);
    assert.match(res.problems[0]!.message, /qwen3_out\.jsonl:2: .*only the model's reasoning/);
  });

  it('custom ids round-trip any qid', () => {
    const id = { qid: 'a:b|c d/é', templateId: 'query2doc-fs', sampleIndex: 3 };
    assert.deepEqual(parseCustomId(formatCustomId(id)), id);
    assert.equal(parseCustomId('request-1'), undefined);
  });
});
