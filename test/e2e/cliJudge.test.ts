import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CliIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { readQrels } from '../../src/core/dataset/qrels.js';
import { ndcgAt } from '../../src/core/eval/measures.js';
import type { CalibrationReport } from '../../src/core/judge/calibration.js';
import type { FillReport } from '../../src/core/judge/workflow.js';
import type { JudgmentRecord } from '../../src/core/judge/types.js';
import { type FakeJudgeServer, startFakeJudgeServer } from '../fixtures/llm/fakeJudgeServer.js';

const repo = resolve(__dirname, '../..');
const sample = join(repo, 'samples', 'dl19');
const tmp = mkdtempSync(join(tmpdir(), 'qx-judge-e2e-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const collapse = (s: string): string => s.replace(/\s+/g, ' ').trim();

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = { s: '', e: '' };
  const io: CliIo = { stdout: (t) => void (out.s += t), stderr: (t) => void (out.e += t), isTTY: false, env: {}, cwd: tmp };
  const code = await main(argv, io, new AbortController().signal);
  return { code, stdout: out.s, stderr: out.e };
}

/** A deterministic number in [0, 1) from a string: the noise the test controls. */
function unit(s: string): number {
  return parseInt(createHash('sha256').update(s).digest('hex').slice(0, 8), 16) / 2 ** 32;
}

describe('qx judge on the DL19 sample with a scripted judge', () => {
  const ws = join(tmp, 'ws');
  const docByText = new Map<string, string>();
  const qidByText = new Map<string, string>();
  let qrels: Map<string, Map<string, number>>;
  let grade: (document: string, query: string) => { qid: string; docid: string; grade: number | null };

  before(async () => {
    const demo = await run(['demo', '--out', ws, '--json']);
    assert.equal(demo.code, 0, demo.stderr);
    for (const line of readFileSync(join(sample, 'corpus.dl19-pool.jsonl'), 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      const d = JSON.parse(line) as { id: string; title?: string; text: string };
      docByText.set(collapse(d.title ? `${d.title}\n${d.text}` : d.text), d.id);
    }
    for (const line of readFileSync(join(sample, 'topics.dl19-passage.txt'), 'utf8').split('\n')) {
      const [qid, text] = line.split('\t');
      if (qid && text) qidByText.set(text.trim(), qid);
    }
    qrels = await readQrels(join(sample, 'qrels.dl19-passage.txt'));
    grade = (document, query) => {
      const qid = qidByText.get(query);
      const docid = docByText.get(collapse(document));
      assert.ok(qid !== undefined && docid !== undefined, `the prompt names a known query and passage: ${query}`);
      return { qid, docid, grade: qrels.get(qid)?.get(docid) ?? null };
    };
  });

  const noisy = (document: string, query: string): Record<string, number> => {
    const { qid, docid, grade: g } = grade(document, query);
    const noise = unit(`${qid}/${docid}`);
    const p = g === null ? (noise < 0.5 ? 0.9 : 0.1) : Math.min(0.99, Math.max(0.01, (g >= 2 ? 0.75 : 0.3) + (noise - 0.5) * 0.6));
    return { Yes: p, No: 1 - p };
  };

  const judgeArgs = (server: FakeJudgeServer, model: string): string[] => ['--workspace', ws, '--base-url', server.baseUrl, '--model', model];

  it('a judge that agrees with every qrel (and calls every unjudged passage irrelevant) changes no nDCG@10 and flips no pair', async () => {
    const server = await startFakeJudgeServer({
      answer: (document, query) => {
        const g = grade(document, query).grade;
        return g !== null && g >= 2 ? { Yes: 0.95, No: 0.05 } : { Yes: 0.05, No: 0.95 };
      },
    });
    try {
      const first = await run(['judge', ...judgeArgs(server, 'oracle'), '--include-judged', '--json']);
      assert.equal(first.code, 0, first.stderr);
      const r = JSON.parse(first.stdout) as { pool: number; unjudgedInPool: number; judged: number; cached: number; failed: number; calibration: CalibrationReport; file: string };
      assert.ok(r.unjudgedInPool > 0 && r.unjudgedInPool < r.pool, `pool ${r.pool}, unjudged ${r.unjudgedInPool}`);
      assert.equal(r.judged, r.pool);
      assert.equal(server.requests, r.pool);
      assert.equal(r.calibration.auc.pooled, 1);
      assert.equal(r.calibration.test.kappa, 1);
      assert.equal(r.calibration.documents, r.pool - r.unjudgedInPool);
      // Stored beside the qrels, never in them: the qrels file is the sample's, byte for byte.
      assert.equal(readFileSync(join(ws, 'qrels.dl19-passage.txt'), 'utf8'), readFileSync(join(sample, 'qrels.dl19-passage.txt'), 'utf8'));
      const lines = readFileSync(r.file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as JudgmentRecord);
      assert.equal(lines.length, r.pool);
      assert.ok(lines.every((l) => l.model === 'oracle' && l.template.id === 'judge-binary' && l.template.hash.length === 16));

      // Rerun: everything from the cache, no request.
      const again = await run(['judge', ...judgeArgs(server, 'oracle'), '--include-judged', '--json']);
      assert.equal(server.requests, r.pool);
      assert.equal((JSON.parse(again.stdout) as { cached: number }).cached, r.pool);

      const fill = await run(['judge', ...judgeArgs(server, 'oracle'), '--fill', '--json']);
      assert.equal(fill.code, 0, fill.stderr);
      const f = (JSON.parse(fill.stdout) as { fill: FillReport }).fill;
      assert.ok(f.scores.length > 43 * 6, `${f.scores.length} rankings`);
      for (const s of f.scores) assert.ok(Math.abs(s.filled - s.judgedOnly) < 1e-12, `${s.id}: ${s.filled} vs ${s.judgedOnly}`);
      assert.ok(f.scores.some((s) => s.unjudged10 > 0));
      assert.ok(f.pairs.length > 0);
      assert.equal(f.flipped, 0);
      assert.equal(f.agreeing, f.pairs.filter((p) => Math.abs(p.judgedMargin) > 1e-12).length);
      // Judged-only is today's score: the original row is the BM25 nDCG@10 qx report prints.
      const report = JSON.parse((await run(['report', '--workspace', ws, '--json'])).stdout) as { original: { meanNdcg10: number } };
      const orig = f.methods.find((m) => m.key === 'original');
      assert.ok(orig !== undefined && orig.expansions === 43);
      assert.ok(Math.abs(report.original.meanNdcg10 - orig.judgedOnly) < 1e-9, `${report.original.meanNdcg10} vs ${orig.judgedOnly}`);
    } finally {
      await server.close();
    }
  });

  it('a noisy judge: calibration figures, judge-filled nDCG@10 recomputed from the stored judgments, flipped pairs counted', async () => {
    // Relevant (grade >= 2) passages get P(Yes) around 0.75, others around 0.3, ± 0.3 of noise; an
    // unjudged passage is called relevant with P(Yes) 0.9 for one in two, else 0.1.
    const server = await startFakeJudgeServer({ answer: noisy });
    try {
      const judged = await run(['judge', ...judgeArgs(server, 'noisy'), '--include-judged']);
      assert.equal(judged.code, 0, judged.stderr);
      assert.match(judged.stdout, /calibration on \d+ judged documents of 43 queries \(relevant = grade >= 2/);
      const cal = await run(['judge', ...judgeArgs(server, 'noisy'), '--calibrate', '--json']);
      const c = (JSON.parse(cal.stdout) as { calibration: CalibrationReport }).calibration;
      process.stdout.write(`# scripted noisy judge on DL19: ${judged.stdout.split('\n').filter((l) => /calibration|AUC|mean score|threshold/.test(l)).join(' | ')}\n`);
      assert.ok(c.auc.pooled! > 0.8 && c.auc.pooled! < 1, `pooled AUC ${c.auc.pooled}`);
      assert.ok(c.meanScoreByGrade['3']!.mean > c.meanScoreByGrade['0']!.mean);
      assert.ok(c.threshold !== null && c.threshold > 0.3 && c.threshold < 0.8, `threshold ${c.threshold}`);
      assert.equal(c.split.tune.length + c.split.test.length, 43);

      const fill = await run(['judge', ...judgeArgs(server, 'noisy'), '--fill', '--json']);
      const f = (JSON.parse(fill.stdout) as { fill: FillReport }).fill;
      assert.equal(f.threshold, c.threshold);
      // Recompute every judge-filled nDCG@10 from the judgments file and the qrels.
      const file = readdirSync(join(ws, '.qx', 'judgments')).find((n) => n.startsWith('noisy.'))!;
      const records = readFileSync(join(ws, '.qx', 'judgments', file), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as JudgmentRecord);
      const filledQrels = new Map([...qrels].map(([q, m]) => [q, new Map(m)]));
      for (const r of records) {
        const m = filledQrels.get(r.qid)!;
        if (!m.has(r.docid)) m.set(r.docid, r.score >= c.threshold! ? 2 : 0);
      }
      let raised = 0;
      let lowered = 0;
      for (const s of f.scores) {
        const expected = ndcgAt(s.top10.map((docid, i) => ({ docid, score: 10 - i })), filledQrels.get(s.qid), 10);
        assert.ok(Math.abs(s.filled - expected) < 1e-12, `${s.id}: ${s.filled} vs ${expected}`);
        assert.ok(Math.abs(s.judgedOnly - ndcgAt(s.top10.map((docid, i) => ({ docid, score: 10 - i })), qrels.get(s.qid), 10)) < 1e-12);
        if (s.filled > s.judgedOnly + 1e-12) raised++;
        if (s.filled < s.judgedOnly - 1e-12) lowered++;
      }
      // New relevant passages raise the rankings that hold them and the ideal DCG of every ranking of their query.
      assert.ok(raised > 0 && lowered > 0, `raised ${raised}, lowered ${lowered}`);
      // Flips recomputed from the per-ranking figures and the pairs' sides.
      let flipped = 0;
      for (const p of f.pairs) {
        if (Math.sign(p.judgedMargin) !== 0 && Math.sign(p.filledMargin) === -Math.sign(p.judgedMargin)) flipped++;
      }
      assert.equal(f.flipped, flipped);
      // The demo's 40 best-worst pairs (margin >= 0.05) all survive this judge; every pair of 5 per
      // query at any margin gives some that flip.
      const many = await run(['pairs', '--workspace', ws, '--strategy', 'all', '--min-margin', '0.01', '--max-per-query', '5', '--allow-below-original']);
      assert.equal(many.code, 0, many.stderr);
      const f2 = (JSON.parse((await run(['judge', ...judgeArgs(server, 'noisy'), '--fill', '--json'])).stdout) as { fill: FillReport }).fill;
      assert.ok(f2.pairs.length > f.pairs.length);
      assert.equal(f2.flipped, f2.pairs.filter((p) => p.judgedMargin > 0 && p.filledMargin < 0).length);
      assert.ok(f2.flipped > 0, `the noisy judge flips some of ${f2.pairs.length} pairs`);
      // Pair rules can require agreement: the disagreeing auto pairs are rejected, and exports leave them out.
      const before = await run(['export', '--workspace', ws, '--format', 'trl-standard', '--out', 'dpo-before.jsonl', '--allow-eval-queries', '--json']);
      assert.equal((JSON.parse(before.stdout) as { records: number }).records, f2.pairs.length);
      const req = await run(['judge', ...judgeArgs(server, 'noisy'), '--fill', '--require-agreement', '--json']);
      assert.equal(req.code, 0, req.stderr);
      const rejected = (JSON.parse(req.stdout) as { rejected: string[] }).rejected;
      const disagreeing = f2.pairs.filter((p) => !p.agree);
      assert.deepEqual([...rejected].sort(), disagreeing.map((p) => p.pairId).sort());
      const f3 = (JSON.parse((await run(['judge', ...judgeArgs(server, 'noisy'), '--fill', '--json'])).stdout) as { fill: FillReport }).fill;
      for (const p of f3.pairs) assert.equal(p.state, p.agree ? 'auto' : 'rejected', p.pairId);
      const afterExport = await run(['export', '--workspace', ws, '--format', 'trl-standard', '--out', 'dpo-after.jsonl', '--allow-eval-queries', '--json']);
      assert.equal((JSON.parse(afterExport.stdout) as { records: number }).records, f2.agreeing);
      process.stdout.write(`# best-worst pairs: ${f.pairs.length}, flipped ${f.flipped}; all pairs (margin >= 0.01, 5 per query): ${f2.pairs.length}, flipped ${f2.flipped}, agreeing ${f2.agreeing}\n`);
      const text = await run(['judge', ...judgeArgs(server, 'noisy'), '--fill']);
      assert.match(text.stdout, new RegExp(`pairs: ${f2.pairs.length}, flipped by the judge: ${f2.flipped}, agreeing: ${f2.agreeing}`));
      process.stdout.write(`# ${text.stdout.split('\n').join('\n# ')}\n`);
    } finally {
      await server.close();
    }
  });

  it('KD exports of the noisy judge: refused for evaluation queries unless allowed, then read back as the trainers read them', async () => {
    const server = await startFakeJudgeServer({ answer: noisy });
    try {
      const refused = await run(['judge', ...judgeArgs(server, 'noisy'), '--export-kd', 'kd-listwise', '--out', 'kd/list.jsonl']);
      assert.equal(refused.code, 3);
      assert.match(refused.stderr, /evaluation queries.*--allow-eval-queries/);
      const list = await run(['judge', ...judgeArgs(server, 'noisy'), '--export-kd', 'kd-listwise', '--out', 'kd/list.jsonl', '--allow-eval-queries', '--json']);
      assert.equal(list.code, 0, list.stderr);
      // Every candidate of the original's top 10 was judged by the earlier run: no request.
      assert.equal(server.requests, 0);
      const lw = JSON.parse(list.stdout) as { out: string; records: number; queries: number };
      assert.equal(lw.records, 43);
      const records = readFileSync(join(ws, '.qx', 'judgments', readdirSync(join(ws, '.qx', 'judgments')).find((n) => n.startsWith('noisy.'))!), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as JudgmentRecord);
      const score = new Map(records.map((r) => [`${r.qid}/${r.docid}`, r.score]));
      const fill = (JSON.parse((await run(['judge', ...judgeArgs(server, 'noisy'), '--fill', '--json'])).stdout) as { fill: FillReport }).fill;
      const rows = readFileSync(lw.out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { qid: string; query: string; docs: { docid: string; text: string; score: number }[] });
      for (const r of rows) {
        assert.deepEqual(Object.keys(r), ['qid', 'query', 'docs']);
        assert.equal(r.query, [...qidByText].find(([, q]) => q === r.qid)![0]);
        assert.deepEqual(r.docs.map((d) => d.docid), fill.scores.find((s) => s.id === `original:${r.qid}`)!.top10);
        for (const d of r.docs) {
          assert.deepEqual(Object.keys(d), ['docid', 'text', 'score']);
          assert.equal(d.score, score.get(`${r.qid}/${d.docid}`));
          assert.equal(docByText.get(collapse(d.text)), d.docid);
        }
      }
      // MarginMSE from one method's expansion: rows re-derived from that method's listwise export.
      const from = 'teacher/Qwen2.5-72B-Instruct/query2doc-zs';
      const lw2 = JSON.parse((await run(['judge', ...judgeArgs(server, 'noisy'), '--export-kd', 'kd-listwise', '--from', from, '--out', 'kd/zs.jsonl', '--allow-eval-queries', '--json'])).stdout) as { out: string };
      const mm = await run(['judge', ...judgeArgs(server, 'noisy'), '--export-kd', 'kd-margin-mse', '--from', from, '--out', 'kd/zs-mm.jsonl', '--allow-eval-queries', '--json']);
      assert.equal(mm.code, 0, mm.stderr);
      assert.equal(server.requests, 0);
      const expected: string[] = [];
      for (const l of readFileSync(lw2.out, 'utf8').trim().split('\n').map((x) => JSON.parse(x) as { query: string; docs: { docid: string; text: string; score: number }[] })) {
        const sorted = [...l.docs].sort((a, b) => b.score - a.score || (a.docid < b.docid ? -1 : 1));
        const top = sorted[0]!;
        for (const d of sorted.slice(1)) if (top.score - d.score > 0) expected.push(JSON.stringify([l.query, top.text, d.text, top.score - d.score]));
      }
      const mmRows = readFileSync((JSON.parse(mm.stdout) as { out: string }).out, 'utf8').trim().split('\n').map((x) => JSON.parse(x) as Record<string, unknown>);
      for (const r of mmRows) {
        assert.deepEqual(Object.keys(r), ['query', 'positive', 'negative', 'label']);
        assert.ok(typeof r.query === 'string' && typeof r.positive === 'string' && typeof r.negative === 'string' && typeof r.label === 'number' && r.label > 0);
      }
      assert.deepEqual(mmRows.map((r) => JSON.stringify([r.query, r.positive, r.negative, r.label])), expected);
      const manifest = JSON.parse(readFileSync(join(ws, 'kd', 'zs-mm.manifest.json'), 'utf8')) as { candidates: string; judge: { model: string; template: { id: string } }; evalQueriesAllowed: boolean; sampler: string };
      assert.equal(manifest.candidates, `${from} top 10`);
      assert.equal(manifest.judge.model, 'noisy');
      assert.equal(manifest.evalQueriesAllowed, true);
      process.stdout.write(`# KD exports: listwise ${lw.records} queries; MarginMSE ${mmRows.length} rows from ${from}\n`);
    } finally {
      await server.close();
    }
  });

  it('judges a TREC run to a depth and exports its top k listwise', async () => {
    const server = await startFakeJudgeServer({ answer: noisy });
    try {
      const qid = [...qidByText.values()][0]!;
      const docids = [...docByText.values()].slice(0, 30);
      const runFile = join(tmp, 'bm25.run');
      writeFileSync(runFile, docids.map((d, i) => `${qid} Q0 ${d} ${i + 1} ${(30 - i).toFixed(3)} test`).join('\n') + '\n');
      const top = docids.slice(0, 15);
      const unjudged = top.filter((d) => qrels.get(qid)?.has(d) !== true);
      const r = await run(['judge', ...judgeArgs(server, 'run-judge'), '--run', runFile, '--depth', '15', '--json']);
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as { pool: number; judged: number };
      assert.equal(out.pool, unjudged.length);
      assert.equal(server.requests, unjudged.length);
      const kd = await run(['judge', ...judgeArgs(server, 'run-judge'), '--export-kd', 'kd-listwise', '--run', runFile, '--k', '15', '--out', 'kd/run.jsonl', '--allow-eval-queries', '--json']);
      assert.equal(kd.code, 0, kd.stderr);
      // The judged ones of the top 15 were not judged yet: asked now, the rest from the store.
      assert.equal(server.requests, 15);
      const rows = readFileSync(join(ws, 'kd', 'run.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { qid: string; docs: { docid: string }[] });
      assert.equal(rows.length, 1);
      assert.deepEqual(rows[0]!.docs.map((d) => d.docid), top);
      const bad = await run(['judge', ...judgeArgs(server, 'run-judge'), '--depth', '5']);
      assert.equal(bad.code, 2);
    } finally {
      await server.close();
    }
  });
});
