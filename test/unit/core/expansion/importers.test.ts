import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { QxError } from '../../../../src/core/errors.js';
import { type FormulationName, formulate } from '../../../../src/core/expansion/formulation.js';
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

/**
 * The formulation of each QueryGym method and how many copies of the query it adds, from
 * ls3-lab/QueryGym's code (querygym/core/base.py `concatenate_result`, querygym/methods/*.py):
 * query2doc, query2e, genqr_ensemble: (Q × 5) + text (DEFAULT_QUERY_REPEATS = 5); qa_expand:
 * (Q × 3) + refined answers; csqe: (Q × 2 + KEQE passages + key sentences) lower-cased (gen_num
 * 2); genqr: Q + the 5 reformulations; lamer: q a1 q a2 … q a5 (gen_passages 5); mugi: Q ×
 * max(1, ⌊⌊len(text)/len(Q)⌋/5⌋) + the passages (adaptive_times 5 in concatenate_result).
 */
const QUERYGYM: Record<string, { formulation: FormulationName; copies: (q: string, generated: string) => number }> = {
  query2doc: { formulation: 'query2doc', copies: () => 5 },
  query2e: { formulation: 'query2doc', copies: () => 5 },
  genqr_ensemble: { formulation: 'query2doc', copies: () => 5 },
  qa_expand: { formulation: 'qa-expand', copies: () => 3 },
  csqe: { formulation: 'csqe', copies: () => 2 },
  genqr: { formulation: 'concat', copies: () => 1 },
  lamer: { formulation: 'lamer', copies: () => 5 },
  mugi: { formulation: 'mugi', copies: (q, g) => Math.max(1, Math.floor(Math.floor([...g].length / [...q].length) / 5)) },
};
/** Run parameters that would change those counts; none of the DL19 runs sets one. */
const OVERRIDES = ['repeat_query_weight', 'concatenation_strategy', 'adaptive_times', 'gen_passages', 'gen_num', 'n_generations', 'num_docs'];

function dl19Runs(): { method: string; model: string; file: string }[] {
  const out: { method: string; model: string; file: string }[] = [];
  for (const method of readdirSync(dl19).sort()) {
    for (const org of readdirSync(join(dl19, method)).sort()) {
      for (const model of readdirSync(join(dl19, method, org)).sort()) {
        const dir = join(dl19, method, org, model, 'bm25');
        for (const name of readdirSync(dir).filter((f) => f.endsWith('.queries.tsv')).sort()) out.push({ method, model, file: join(dir, name) });
      }
    }
  }
  return out;
}

describe('every QueryGym DL19 run', () => {
  it('imports with its method\'s formulation: exact finals, the generated text free of the query copies the formulation adds, no warning (40 files × 43 queries)', async () => {
    const runs = dl19Runs();
    assert.equal(runs.length, 40);
    assert.deepEqual([...new Set(runs.map((r) => r.method))].sort(), Object.keys(QUERYGYM).sort());
    let rows = 0;
    let lamerQueries = 0;
    const textStartsWithQuery: string[] = [];
    // Every file is checked and its first failure listed, so one run shows all that is wrong.
    const failures: string[] = [];
    for (const { method, model, file } of runs) {
      const meta = JSON.parse(readFileSync(file.replace('.queries.tsv', '.json'), 'utf8')) as { pipeline: { method_id: string }; config: { method_params: Record<string, unknown> } };
      assert.equal(meta.pipeline.method_id, method);
      assert.deepEqual(OVERRIDES.filter((k) => k in meta.config.method_params), [], `${file}: a run parameter changes the formulation`);
      const { formulation, copies } = QUERYGYM[method]!;
      const name = `${method}/${model}/${file.split('/').pop()!}`;
      try {
        const res = await importExpansionFile(file, 'querygym-tsv', { model, method, role: 'teacher', formulation, queries: topics });
        assert.deepEqual(res.problems.slice(0, 1).map((p) => p.message.replace(/^.*\.tsv:/, 'line ')), [], 'rows not imported');
        const raw = parse(readFileSync(file, 'utf8'), { delimiter: '\t', relax_quotes: true }) as [string, string][];
        assert.deepEqual(res.records.map((r) => [r.qid, r.final]), raw, 'final strings kept byte for byte');
        for (const r of res.records) {
          const q = formulation === 'csqe' ? r.query.toLowerCase() : r.query;
          assert.equal(formulate(formulation, r.query, r.generated), r.final, r.qid);
          const parts = formulation === 'lamer' ? r.generated.split('\n') : [r.generated];
          // The final string is exactly QueryGym's copies of the query around the generated text.
          const rebuilt =
            formulation === 'lamer'
              ? parts.map((p) => `${q} ${p}`).join(' ')
              : [...Array<string>(copies(r.query, r.generated)).fill(q), ...(r.generated === '' ? [] : [r.generated])].join(' ');
          assert.equal(rebuilt, r.final, `${r.qid}: not the copies QueryGym adds`);
          for (const p of parts) {
            assert.ok(!p.startsWith(`${q} ${q}`), `${r.qid}: the text still starts with a repetition of the query`);
            if (p.startsWith(`${q} `)) textStartsWithQuery.push(`${method}/${model} ${r.qid}`);
            // In a LameR passage, a copy of the query followed by what opens a passage (not lower case,
            // not a space) is a separator left in the text, the defect of reading LameR as concat.
            if (formulation === 'lamer') assert.ok(!new RegExp(` ${q.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} [^\\s\\p{Ll}]`, 'u').test(p), `${r.qid}: a passage still holds a query separator`);
          }
          if (formulation === 'lamer') {
            lamerQueries++;
            assert.equal(parts.length, 5, `${r.qid}: LameR writes 5 passages`);
          }
          rows++;
        }
        assert.deepEqual(res.warnings, [], 'warnings');
      } catch (e) {
        failures.push(`${name}: ${(e as Error).message.split('\n')[0]}`);
      }
    }
    assert.deepEqual(failures, []);
    assert.equal(rows, 40 * 43);
    assert.equal(lamerQueries, 4 * 43);
    // GenQREnsemble's keyword lists (Q × 5 + keywords) where the model's first keyword is the
    // query itself: the five copies QueryGym adds are out, the model's own one stays.
    assert.deepEqual(textStartsWithQuery.sort(), ['genqr_ensemble/Qwen2.5-72B-Instruct 183378', 'genqr_ensemble/Qwen2.5-72B-Instruct 489204']);
  });

  it('a LameR run imported as concat is imported as asked, with a warning naming lamer; query2doc and MuGI runs named wrongly warn too', async () => {
    const lamer = dl19Runs().find((r) => r.method === 'lamer' && r.model === 'Qwen2.5-72B-Instruct')!;
    const asConcat = await importExpansionFile(lamer.file, 'querygym-tsv', { model: 'm', method: 'lamer', role: 'teacher', formulation: 'concat', queries: topics, source: 'lamer.tsv' });
    assert.equal(asConcat.records.length, 43);
    assert.ok(asConcat.records.every((r) => r.generated.split(` ${r.query} `).length >= 5), 'concat leaves the 4 separating copies in the text');
    assert.equal(asConcat.warnings?.length, 1, 'a warning that the LameR file does not look like concat');
    assert.match(asConcat.warnings[0]!, /^.*a045ea41\.queries\.tsv: 43 of 43 rows do not look like the "concat" formulation .*43 look like "lamer" .*--formulation lamer\.$/);
    const q2d = dl19Runs().find((r) => r.method === 'query2doc')!;
    const q2dAsConcat = await importExpansionFile(q2d.file, 'querygym-tsv', { model: 'm', method: 'x', role: 'teacher', formulation: 'concat', queries: topics });
    assert.match(q2dAsConcat.warnings[0] ?? '', /43 of 43 rows do not look like the "concat" .*43 look like "query2doc"/);
    const mugi = dl19Runs().find((r) => r.method === 'mugi')!;
    const mugiAsQ2d = await importExpansionFile(mugi.file, 'querygym-tsv', { model: 'm', method: 'x', role: 'teacher', formulation: 'query2doc', queries: topics });
    assert.match(mugiAsQ2d.warnings[0] ?? '', /look like "mugi"/);
    const qa = dl19Runs().find((r) => r.method === 'qa_expand')!;
    const qaAsConcat = await importExpansionFile(qa.file, 'querygym-tsv', { model: 'm', method: 'x', role: 'teacher', formulation: 'concat', queries: topics });
    assert.match(qaAsConcat.warnings[0] ?? '', /look like "qa-expand"/);
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
