// The DL19 sample with every QueryGym DL19 method's Qwen2.5 runs imported (72B as teacher, 7B as
// student): the default pairs and export keep only passage-kind expansions written without
// retrieved passages, under the student task's zero-shot prompt, and say what they left out; the
// length cap shows its effect on the chosen/rejected length ratio.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ExportManifest } from '../../src/core/export/exportData.js';
import { DATA } from '../fixtures/dataPaths.js';
import { type QxRun, runQx } from './runQx.js';

const repo = resolve(__dirname, '../..');
const runs = join(DATA, 'querygym-llm-expansions-dl', 'runs', 'msmarco-v1-passage.trecdl2019');
const tmp = mkdtempSync(join(tmpdir(), 'qx-taskfit-'));
const ws = join(tmp, 'ws');
after(() => rmSync(tmp, { recursive: true, force: true }));

const qx = (argv: string[]): Promise<QxRun> => runQx(argv, { cwd: tmp });

// QueryGym's run records name all three query2doc variants "query2doc"; the sample's file names
// (samples/dl19/expansions) tell them apart by run hash.
const query2docVariant: Record<string, string> = {
  '65ab718c': 'query2doc-zs',
  '0656857b': 'query2doc-fs',
  '8a9db372': 'query2doc-cot',
  ef781114: 'query2doc-zs',
  '79962ac6': 'query2doc-fs',
  '3ea69228': 'query2doc-cot',
};
// How each method's retrieval string was formed (see src/core/expansion/formulation.ts).
const formulation: Record<string, string> = {
  query2doc: 'query2doc',
  query2e: 'query2doc',
  genqr_ensemble: 'query2doc',
  mugi: 'mugi',
  csqe: 'csqe',
  genqr: 'concat',
  lamer: 'concat',
  qa_expand: 'concat',
};
const passageMethods = new Set(['query2doc-zs', 'query2doc-fs', 'query2doc-cot', 'mugi']);

function readJsonl(file: string): Record<string, unknown>[] {
  return readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

const topics = new Map(
  readFileSync(join(repo, 'samples', 'dl19', 'topics.dl19-passage.txt'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split('\t') as [string, string]),
);
const zeroShotPrompt = (query: string): string => `Write a passage that answers the given query:\nQuery: ${query}\nPassage:`;

describe('every QueryGym DL19 method imported: the default export fits the student task', () => {
  const methods: string[] = [];
  before(async () => {
    assert.equal((await qx(['init', '--manifest', join(repo, 'samples', 'dl19', 'qx.dataset.json'), '--workspace', ws])).code, 0);
    for (const method of readdirSync(runs).sort()) {
      for (const [model, role] of [
        ['Qwen2.5-72B-Instruct', 'teacher'],
        ['Qwen2.5-7B-Instruct', 'student'],
      ] as const) {
        const dir = join(runs, method, 'Qwen', model, 'bm25');
        for (const f of readdirSync(dir).filter((x) => x.endsWith('.queries.tsv'))) {
          const name = method === 'query2doc' ? query2docVariant[f.slice(0, 8)] : method;
          assert.ok(name !== undefined && formulation[method] !== undefined, `${method}/${f}`);
          const r = await qx(['import', join(dir, f), '--workspace', ws, '--model', model, '--method', name, '--role', role, '--formulation', formulation[method], '--json']);
          assert.equal(r.code, 0, r.stderr);
          assert.ok((JSON.parse(r.stdout) as { imported: number }).imported >= 42, `${name} ${model}`);
          if (!methods.includes(name)) methods.push(name);
        }
      }
    }
    assert.equal(methods.length, 10, methods.join(', '));
    assert.equal((await qx(['score', '--workspace', ws])).code, 0);
  });

  test('qx pairs with defaults pairs passage-kind expansions only and says what it left out', async () => {
    const r = await qx(['pairs', '--workspace', ws]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /rules: task query2doc-zs/);
    for (const m of ['query2e', 'genqr', 'genqr_ensemble']) {
      assert.match(r.stdout, new RegExp(`left out 43 teacher ${m} expansions: its text is keywords, the task \\(query2doc-zs\\) asks for passage`));
    }
    assert.match(r.stdout, /left out 43 student qa_expand expansions: its text is answer-list/);
    assert.match(r.stdout, /left out 43 teacher lamer expansions: written with retrieved passages in its prompt, which the student never sees/);
    assert.match(r.stdout, /left out 43 teacher csqe expansions: its text is extract.*; written with retrieved passages/);
    const json = JSON.parse((await qx(['pairs', '--workspace', ws, '--json'])).stdout) as { pairs: number; report: { leftOut: { method: string }[] } };
    assert.ok(json.pairs > 20, `${json.pairs} pairs`);
    assert.deepEqual([...new Set(json.report.leftOut.map((l) => l.method))].sort(), ['csqe', 'genqr', 'genqr_ensemble', 'lamer', 'qa_expand', 'query2e']);
  });

  test('qx export with defaults: only passage-kind pairs under the zero-shot prompt, counts by method pair, exact provenance', async () => {
    assert.equal((await qx(['pairs', '--workspace', ws])).code, 0);
    const out = join(tmp, 'dpo.jsonl');
    const r = await qx(['export', '--workspace', ws, '--format', 'trl-standard', '--out', out, '--allow-eval-queries']);
    assert.equal(r.code, 0, r.stderr);
    const records = readJsonl(out);
    const manifest = JSON.parse(readFileSync(`${out}.manifest.json`, 'utf8')) as ExportManifest;
    assert.ok(records.length > 20);
    for (const rec of records) assert.equal(rec.prompt, zeroShotPrompt(topics.get(String(rec.qid)) ?? '?'), 'the prompt is the student task\'s, without exemplars or passages');
    for (const p of manifest.provenance) {
      for (const side of [p.chosen, p.rejected!]) {
        assert.ok(passageMethods.has(side.method), side.method);
        assert.equal(side.outputKind, 'passage');
        assert.equal(side.conditioning, 'query');
      }
    }
    assert.deepEqual([...new Set(manifest.models.map((m) => m.method))].sort().filter((m) => !passageMethods.has(m)), []);
    assert.deepEqual(manifest.studentPrompt.kind, 'passage');

    // The closing note: counts by method pair that add up, what was left out, the length ratio.
    assert.match(r.stdout, /student task: query2doc-zs \(passage\)/);
    assert.match(r.stdout, /pairs by method pair \(chosen > rejected\):/);
    const counted = [...r.stdout.matchAll(/^ {2}(\d+) {2}(\w+ [\w-]+) > (\w+ [\w-]+)$/gm)];
    assert.equal(counted.reduce((a, m) => a + Number(m[1]), 0), records.length);
    assert.match(r.stdout, /length: chosen longer in \d+\/\d+ pairs, median chosen\/rejected length \d+\.\d\d×/);

    // Provenance names the models the records came from, with the sampling of their QueryGym runs, never the configured defaults.
    const text = JSON.stringify(manifest) + readFileSync(`${out}.card.md`, 'utf8');
    assert.doesNotMatch(text, /deepseek-chat|Qwen3-4B/);
    const teacher = manifest.models.find((m) => m.role === 'teacher' && m.method === 'query2doc-fs');
    assert.equal(teacher?.model, 'Qwen2.5-72B-Instruct');
    assert.deepEqual(teacher?.sampling, [{ temperature: 1, max_tokens: 128 }]);
    assert.ok(teacher?.sources.every((s) => s.endsWith('0656857b.queries.tsv')));
  });

  test('a length cap brings the chosen/rejected length ratio within the cap, and the note gives it before and after', async () => {
    const out = join(tmp, 'capped.jsonl');
    const r = await qx(['export', '--workspace', ws, '--format', 'trl-standard', '--out', out, '--allow-eval-queries', '--max-length-ratio', '1.5']);
    assert.equal(r.code, 0, r.stderr);
    const uncapped = readJsonl(join(tmp, 'dpo.jsonl'));
    const capped = readJsonl(out);
    const ratio = (x: Record<string, unknown>): number => {
      const [a, b] = [[...String(x.chosen)].length, [...String(x.rejected)].length];
      return Math.max(a, b) / Math.min(a, b);
    };
    const over = uncapped.filter((x) => ratio(x) > 1.5).length;
    assert.ok(over > 0, 'some uncapped pairs are beyond 1.5x');
    assert.equal(capped.length, uncapped.length - over);
    assert.ok(capped.every((x) => ratio(x) <= 1.5));
    assert.match(r.stdout, new RegExp(`left out ${over} pairs whose chosen/rejected length ratio is beyond the cap 1.5`));
    assert.match(r.stdout, new RegExp(`length before the cap 1.5: chosen longer in \\d+/${uncapped.length} pairs`));
    assert.match(r.stdout, new RegExp(`length after the cap: chosen longer in \\d+/${capped.length} pairs`));
    // An uncapped export previews the same cap in its note.
    const preview = await qx(['export', '--workspace', ws, '--format', 'trl-standard', '--out', join(tmp, 'again.jsonl'), '--allow-eval-queries']);
    assert.match(preview.stdout, new RegExp(`with --max-length-ratio 1\\.5: ${capped.length} of ${uncapped.length} pairs kept, chosen longer in \\d+/${capped.length} pairs`));

    // The same cap as a pair rule: qx pairs picks the rejected side within it instead of dropping the query.
    const p = await qx(['pairs', '--workspace', ws, '--max-length-ratio', '1.5', '--json']);
    const rebuilt = JSON.parse(p.stdout) as { pairs: number; report: { lengthCapped: number } };
    assert.ok(rebuilt.report.lengthCapped > 0);
    const out2 = join(tmp, 'rule-capped.jsonl');
    assert.equal((await qx(['export', '--workspace', ws, '--format', 'trl-standard', '--out', out2, '--allow-eval-queries'])).code, 0);
    const ruled = readJsonl(out2);
    assert.ok(ruled.every((x) => ratio(x) <= 1.5));
    assert.ok(ruled.length >= capped.length);
    const ruledManifest = JSON.parse(readFileSync(`${out2}.manifest.json`, 'utf8')) as ExportManifest;
    assert.equal(ruledManifest.rules?.maxLengthRatio, 1.5, 'the manifest names the rules the pairs were built with');
    assert.equal((await qx(['pairs', '--workspace', ws])).code, 0);
  });

  test('SFT targets are passage-kind teacher expansions written without retrieved passages', async () => {
    const out = join(tmp, 'sft.jsonl');
    const r = await qx(['export', '--workspace', ws, '--format', 'sft-messages', '--out', out, '--allow-eval-queries']);
    assert.equal(r.code, 0, r.stderr);
    const manifest = JSON.parse(readFileSync(`${out}.manifest.json`, 'utf8')) as ExportManifest;
    assert.ok(manifest.provenance.every((p) => passageMethods.has(p.chosen.method) && p.chosen.role === 'teacher'));
    assert.match(r.stdout, /targets by method:/);
    assert.match(r.stdout, /left out 43 teacher expansions of lamer: written with retrieved passages/);
    for (const rec of readJsonl(out)) {
      const msgs = rec.messages as { role: string; content: string }[];
      assert.equal(msgs[0]?.content, zeroShotPrompt(topics.get(String(rec.qid)) ?? '?'));
    }
  });

  test('asked to, LameR is paired with LameR only and exported under its own prompt with the retrieved passages', async () => {
    const p = await qx(['pairs', '--workspace', ws, '--include-retrieval-conditioned']);
    assert.equal(p.code, 0, p.stderr);
    assert.doesNotMatch(p.stdout, /left out \d+ \w+ lamer/);
    const out = join(tmp, 'with-lamer.jsonl');
    const r = await qx(['export', '--workspace', ws, '--format', 'trl-standard', '--out', out, '--allow-eval-queries', '--include-retrieval-conditioned']);
    assert.equal(r.code, 0, r.stderr);
    const manifest = JSON.parse(readFileSync(`${out}.manifest.json`, 'utf8')) as ExportManifest;
    const records = readJsonl(out);
    const lamer = manifest.provenance.flatMap((x, i) => (x.chosen.method === 'lamer' || x.rejected?.method === 'lamer' ? [i] : []));
    assert.ok(lamer.length > 0, 'some LameR pairs');
    for (const i of lamer) {
      const prov = manifest.provenance[i]!;
      assert.equal(prov.chosen.method, 'lamer');
      assert.equal(prov.rejected?.method, 'lamer', 'never paired with an expansion written without the passages');
      assert.equal(prov.prompt, 'retrieval:lamer');
      const prompt = String(records[i]?.prompt);
      assert.ok(prompt.startsWith(`Give a question "${topics.get(prov.qid) ?? '?'}" and its possible answering passages`), prompt.slice(0, 120));
      assert.match(prompt, /\n1\. .+\n2\. /);
    }
    assert.deepEqual(manifest.studentPrompt.contextPrompts, [{ prompt: 'retrieval:lamer', records: lamer.length }]);
    assert.match(readFileSync(`${out}.card.md`, 'utf8'), /records are prompted with lamer's own prompt and retrieved passages/);
    assert.ok(manifest.provenance.every((x, i) => lamer.includes(i) || records[i]?.prompt === zeroShotPrompt(topics.get(x.qid) ?? '?')));
    assert.equal((await qx(['pairs', '--workspace', ws])).code, 0);
  });

  test('another task: pairs built for Q2E keywords are exported under its prompt, and passages are left out', async () => {
    const p = await qx(['pairs', '--workspace', ws, '--task', 'q2e-zs']);
    assert.equal(p.code, 0, p.stderr);
    assert.match(p.stdout, /left out 43 teacher mugi expansions: its text is passage, the task \(q2e-zs\) asks for keywords/);
    const out = join(tmp, 'q2e.jsonl');
    const r = await qx(['export', '--workspace', ws, '--format', 'trl-standard', '--out', out, '--allow-eval-queries']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /student task: q2e-zs \(keywords\)/, 'the export defaults to the task the pairs were built for');
    const manifest = JSON.parse(readFileSync(`${out}.manifest.json`, 'utf8')) as ExportManifest;
    const records = readJsonl(out);
    assert.ok(records.length > 0);
    records.forEach((rec, i) => {
      assert.equal(rec.prompt, `Write a list of keywords for the following query: ${topics.get(String(rec.qid)) ?? '?'}`);
      const prov = manifest.provenance[i]!;
      assert.ok(['query2e', 'genqr', 'genqr_ensemble'].includes(prov.chosen.method) && ['query2e', 'genqr', 'genqr_ensemble'].includes(prov.rejected?.method ?? ''));
    });
    assert.equal((await qx(['pairs', '--workspace', ws, '--task', ''])).code, 0);
  });

  test('the report gives the chosen/rejected length figures of the current pairs', async () => {
    assert.equal((await qx(['pairs', '--workspace', ws])).code, 0);
    const r = await qx(['report', '--workspace', ws]);
    assert.equal(r.code, 0, r.stderr);
    const md = readFileSync(join(ws, '.qx', 'reports', 'report.md'), 'utf8');
    const pairs = (JSON.parse((await qx(['pairs', '--workspace', ws, '--json'])).stdout) as { pairs: number }).pairs;
    assert.match(md, new RegExp(`Pair lengths: chosen longer in \\d+/${pairs} pairs, median chosen/rejected length \\d+\\.\\d\\d×`));
  });

  test('LLaMA-Factory export declares no system column for a prompt without one', async () => {
    const out = join(tmp, 'lf', 'qx_dpo.jsonl');
    assert.equal((await qx(['export', '--workspace', ws, '--format', 'llama-factory', '--out', out, '--allow-eval-queries'])).code, 0);
    const info = JSON.parse(readFileSync(join(tmp, 'lf', 'dataset_info.json'), 'utf8')) as Record<string, { columns: Record<string, string> }>;
    assert.equal(info.qx_dpo?.columns.system, undefined);
    assert.ok(readJsonl(out).every((r) => !('system' in r)));
  });
  test('qx import --kind/--conditioning override what the method name says', async () => {
    const file = join(runs, 'query2e', 'Qwen', 'Qwen2.5-72B-Instruct', 'bm25', 'bedaf076.queries.tsv');
    const bad = await qx(['import', file, '--workspace', ws, '--model', 'Qwen2.5-72B-Instruct', '--method', 'x', '--role', 'teacher', '--kind', 'poem']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--kind must be one of passage, keywords, answer-list/);
    // Say the keyword lists of a run named like a passage method are keywords: they are left out of the passage task.
    const r = await qx(['import', file, '--workspace', ws, '--model', 'Qwen2.5-72B-Instruct', '--method', 'query2doc-renamed', '--role', 'teacher', '--kind', 'keywords', '--conditioning', 'query']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await qx(['score', '--workspace', ws])).code, 0);
    const p = JSON.parse((await qx(['pairs', '--workspace', ws, '--json'])).stdout) as { report: { leftOut: { method: string; reason: string; expansions: number }[] } };
    const renamed = p.report.leftOut.find((l) => l.method === 'query2doc-renamed');
    assert.equal(renamed?.expansions, 43);
    assert.match(renamed?.reason ?? '', /its text is keywords/);
  });
});
