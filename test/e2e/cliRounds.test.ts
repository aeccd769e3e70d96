import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { RoundReport } from '../../src/core/report/rounds.js';
import { startFakeChatServer, type FakeChatServer } from '../fixtures/llm/fakeChatServer.js';
import { type QxRun, runQx } from './runQx.js';

/*
 * Two student rounds on the DL19 sample, with local test servers standing in for the checkpoints:
 * round 0 (the base student) answers with the bare query, round 1 with QueryGym's Qwen2.5-7B text,
 * round 2 with the Qwen2.5-72B (teacher) text. The 43 queries are split in two: the first 21 are
 * a training workspace (on-policy samples, pairs, export), the other 22 the evaluation workspace
 * (round evaluation and report), so no query is in both.
 */

const repo = resolve(__dirname, '../..');
const sample = join(repo, 'samples', 'dl19');
const tmp = mkdtempSync(join(tmpdir(), 'qx-rounds-e2e-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const teacherFs = join(sample, 'expansions', 'Qwen2.5-72B-Instruct.query2doc-fs.0656857b.queries.tsv');
const studentFs = join(sample, 'expansions', 'Qwen2.5-7B-Instruct.query2doc-fs.79962ac6.queries.tsv');

const topics = readFileSync(join(sample, 'topics.dl19-passage.txt'), 'utf8').trimEnd().split('\n').map((l) => l.split('\t') as [string, string]);
const queryOf = new Map(topics.map(([qid, text]) => [qid, text]));

/** The generated part of a QueryGym query2doc line (the query five times, then the text), by query text. */
function generatedByQuery(file: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of readFileSync(file, 'utf8').trimEnd().split('\n')) {
    const [qid, text] = line.split('\t') as [string, string];
    const q = queryOf.get(qid) as string;
    out.set(q, text.slice(`${q} `.length * 5));
  }
  return out;
}
const teacherText = generatedByQuery(teacherFs);
const studentText = generatedByQuery(studentFs);

let env: Record<string, string> = {};
const qx = (argv: string[]): Promise<QxRun> => runQx(argv, { cwd: tmp, env });

async function workspace(name: string, rows: [string, string][], split: string): Promise<string> {
  const ws = join(tmp, name);
  const file = join(tmp, `${name}.topics.tsv`);
  writeFileSync(file, rows.map((r) => r.join('\t')).join('\n') + '\n');
  const init = await qx(['init', '--topics', file, '--qrels', join(sample, 'qrels.dl19-passage.txt'), '--corpus', join(sample, 'corpus.dl19-pool.jsonl'), '--name', `dl19-${name}`, '--split', split, '--workspace', ws]);
  assert.equal(init.code, 0, init.stderr);
  const imp = await qx(['import', teacherFs, '--workspace', ws, '--model', 'Qwen2.5-72B-Instruct', '--method', 'query2doc-zs', '--role', 'teacher']);
  assert.equal(imp.code, 0, imp.stderr);
  return ws;
}

describe('student rounds against local servers standing in for the checkpoints', () => {
  const servers: FakeChatServer[] = [];
  let evalWs = '';
  let trainWs = '';
  before(async () => {
    servers.push(await startFakeChatServer({ reply: (q) => q }));
    servers.push(await startFakeChatServer({ reply: (q, i) => (i === 0 ? (studentText.get(q) ?? q) : `${q} ${q}`) }));
    servers.push(await startFakeChatServer({ reply: (q) => teacherText.get(q) ?? q }));
    env = { QX_STUDENT_BASE_URL: servers[0]!.baseUrl, QX_STUDENT_MODEL: 'Qwen/Qwen3-4B' };
    trainWs = await workspace('train', topics.slice(0, 21), 'train');
    evalWs = await workspace('eval', topics.slice(21), 'test');
    for (const ws of [trainWs, evalWs]) {
      for (const [i, s] of servers.slice(1).entries()) {
        const r = await qx(['round', 'add', '--workspace', ws, '--base-url', s.baseUrl, '--model', `Qwen3-4B-qx-r${i + 1}`, '--note', `checkpoint ${i + 1}`]);
        assert.equal(r.code, 0, r.stderr);
      }
    }
  });
  after(async () => {
    for (const s of servers) await s.close();
  });

  test('round 0 is the base student; checkpoints are rounds 1 and 2', async () => {
    const r = await qx(['round', 'list', '--workspace', evalWs, '--json']);
    const rounds = JSON.parse(r.stdout) as { round: number; model: string; baseUrl: string }[];
    assert.deepEqual(
      rounds.map((x) => [x.round, x.model, x.baseUrl]),
      [
        [0, 'Qwen/Qwen3-4B', servers[0]!.baseUrl],
        [1, 'Qwen3-4B-qx-r1', servers[1]!.baseUrl],
        [2, 'Qwen3-4B-qx-r2', servers[2]!.baseUrl],
      ],
    );
  });

  test('each round generates on the evaluation queries; the report compares teacher, rounds and the baseline, with a plot', async () => {
    assert.equal((await qx(['expand', '--role', 'baseline', '--method', 'rm3', '--workspace', evalWs])).code, 0);
    for (const n of [0, 1, 2]) {
      const r = await qx(['round', 'eval', '--round', String(n), '--workspace', evalWs, '--json']);
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as { method: string; generated: number; scored: number };
      assert.equal(out.method, `query2doc-zs@r${n}`);
      assert.equal(out.generated, 22, 'one generation per evaluation query');
      assert.equal(out.scored, n === 0 ? 3 * 22 : 22, 'the first run also scores the teacher and the baseline');
    }
    // A second run makes no request: stored and cached.
    const before = servers[2]!.requests;
    assert.equal(JSON.parse((await qx(['round', 'eval', '--round', '2', '--workspace', evalWs, '--json'])).stdout).generated, 0);
    assert.equal(servers[2]!.requests, before);
    assert.equal(servers[1]!.bodies.length, 22, 'round 1 was asked each evaluation query once');

    const rep = await qx(['round', 'report', '--workspace', evalWs, '--json']);
    assert.equal(rep.code, 0, rep.stderr);
    const report = JSON.parse(rep.stdout) as RoundReport & { files: { svg: string; markdown: string; html: string } };
    assert.deepEqual(
      report.rows.map((x) => x.label),
      ['original BM25', 'teacher query2doc-zs', 'round 0 query2doc-zs', 'round 1 query2doc-zs', 'round 2 query2doc-zs', 'baseline rm3'],
    );
    const row = (label: string) => report.rows.find((x) => x.label === label)!;
    const r0 = row('round 0 query2doc-zs');
    const r1 = row('round 1 query2doc-zs');
    const r2 = row('round 2 query2doc-zs');
    const teacher = row('teacher query2doc-zs');
    // Round 2 writes exactly the teacher's text: the same retrieval string on every query.
    assert.equal(r2.percentOfTeacher?.toFixed(6), '100.000000');
    assert.deepEqual(r2.interval?.map((x) => x.toFixed(6)), ['100.000000', '100.000000']);
    assert.deepEqual(r2.vsTeacher, { wins: 0, ties: report.queries, losses: 0, queries: report.queries });
    assert.equal(r2.meanNdcg10, teacher.meanNdcg10);
    assert.ok(r0.meanNdcg10 < r2.meanNdcg10, 'the bare query does worse than the teacher text');
    assert.ok(r1.interval !== null && r1.interval[0] <= (r1.percentOfTeacher as number) && (r1.percentOfTeacher as number) <= r1.interval[1]);
    assert.equal(r0.vsPrevious, null);
    assert.equal((r2.vsPrevious?.wins ?? 0) + (r2.vsPrevious?.ties ?? 0) + (r2.vsPrevious?.losses ?? 0), report.queries);
    assert.ok(row('baseline rm3').percentOfTeacher !== null);

    const svg = readFileSync(report.files.svg, 'utf8');
    assert.equal((svg.match(/<circle class="round"/g) ?? []).length, 3, 'one point per round');
    assert.match(svg, /<polyline class="rounds"/);
    assert.equal((svg.match(/<line class="ref /g) ?? []).length, 3, 'teacher, original and baseline lines');
    const md = readFileSync(report.files.markdown, 'utf8');
    assert.match(md, /\| round 2 query2doc-zs \| Qwen3-4B-qx-r2 \| 22 \| [\d.]+ \| 100\.0% \[100\.0, 100\.0\] \| 0\/22\/0 \|/);
    assert.ok(existsSync(report.files.html));
    rmSync(report.files.svg);
    assert.equal((await qx(['report', '--workspace', evalWs])).code, 0);
    assert.ok(existsSync(report.files.svg), 'qx report writes the rounds report too');
    const text = await qx(['round', 'report', '--workspace', evalWs]);
    assert.match(text.stdout, /^round 1 query2doc-zs\s+Qwen3-4B-qx-r1\s+22\s+\d\.\d{4}\s+\d+\.\d% \[/m);
  });

  test('on-policy samples of a round on training queries become the rejected side of the next pairs; the export records each side\'s round', async () => {
    const refused = await qx(['round', 'sample', '--round', '1', '--workspace', evalWs]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /never drawn on evaluation queries/);
    assert.equal((await qx(['round', 'eval', '--workspace', trainWs])).code, 2, 'rounds are not evaluated on training queries');

    const link = await qx(['round', 'link', '--workspace', trainWs, '--eval-workspace', evalWs]);
    assert.equal(link.code, 0, link.stderr);
    assert.match(link.stdout, /\(22 queries\)/);
    const s = await qx(['round', 'sample', '--round', '1', '--samples', '2', '--temperature', '0.8', '--workspace', trainWs, '--json']);
    assert.equal(s.code, 0, s.stderr);
    const out = JSON.parse(s.stdout) as { generated: number; method: string };
    assert.equal(out.generated, 21 * 2);
    const trainBodies = servers[1]!.bodies.slice(22) as { n?: number; temperature?: number }[];
    assert.ok(trainBodies.length > 0 && trainBodies.every((b) => b.temperature === 0.8 && b.n === 2), 'n = 2 samples at temperature 0.8');

    const p = await qx(['pairs', '--workspace', trainWs, '--chosen-from', 'teacher', '--rejected-from', 'round:1', '--json']);
    assert.equal(p.code, 0, p.stderr);
    assert.ok((JSON.parse(p.stdout) as { pairs: number }).pairs > 0);
    const file = join(tmp, 'onpolicy.jsonl');
    const e = await qx(['export', '--workspace', trainWs, '--format', 'trl-standard', '--out', file]);
    assert.equal(e.code, 0, e.stderr);
    const manifest = JSON.parse(readFileSync(`${file}.manifest.json`, 'utf8')) as { provenance: { chosen: { role: string; round: number | null }; rejected: { role: string; round: number | null; method: string } }[]};
    assert.ok(manifest.provenance.length > 0);
    for (const prov of manifest.provenance) {
      assert.deepEqual([prov.chosen.role, prov.chosen.round], ['teacher', null]);
      assert.deepEqual([prov.rejected.role, prov.rejected.round, prov.rejected.method], ['student', 1, 'query2doc-zs@r1']);
    }
    const records = readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { rejected: string; qid: string });
    for (const r of records) {
      const q = queryOf.get(r.qid) as string;
      assert.ok([studentText.get(q), `${q} ${q}`].map((t) => t?.trim()).includes(r.rejected.trim()), `the rejected text is what round 1 wrote: ${r.rejected.slice(0, 80)}`);
    }

    // The next round's recipe from these pairs says where its sides come from.
    const dir = join(tmp, 'round2-recipe');
    const rec = await qx(['export', '--workspace', trainWs, '--recipe', 'trl', '--out', dir]);
    assert.equal(rec.code, 0, rec.stderr);
    const recipe = JSON.parse(readFileSync(join(dir, 'recipe.json'), 'utf8')) as { data: { dpo: { records: number; sides: { chosen: Record<string, number>; rejected: Record<string, number> } } } };
    assert.deepEqual(recipe.data.dpo.sides, { chosen: { teacher: records.length }, rejected: { 'round 1': records.length } });
    assert.match(readFileSync(join(dir, 'README.md'), 'utf8'), new RegExp(`DPO sides: chosen from teacher ${records.length}; rejected from round 1 ${records.length} \\(on-policy`));
  });
});

test('a training workspace linked to its evaluation workspace refuses the queries they share', async () => {
  const base = await startFakeChatServer();
  try {
    env = { QX_STUDENT_BASE_URL: base.baseUrl, QX_STUDENT_MODEL: 'Qwen/Qwen3-4B' };
    const evalWs = await workspace('eval2', topics.slice(40), 'test');
    // The training topics hold one evaluation query as it is and another under a new id, in other case and spacing.
    const [qid] = topics[41] as [string, string];
    const [, text] = topics[42] as [string, string];
    const trainWs = await workspace('train2', [...topics.slice(0, 5), topics[41] as [string, string], ['9999999', `  ${text.toUpperCase()} `]], 'train');
    assert.equal((await qx(['round', 'link', '--workspace', trainWs, '--eval-workspace', join(tmp, 'train2')])).code, 2, 'a training workspace is no evaluation workspace');
    assert.equal((await qx(['round', 'link', '--workspace', trainWs, '--eval-workspace', evalWs])).code, 0);
    assert.equal((await qx(['round', 'add', '--workspace', trainWs, '--base-url', base.baseUrl, '--model', 'ckpt'])).code, 0);
    const s = await qx(['round', 'sample', '--workspace', trainWs]);
    assert.equal(s.code, 2);
    assert.match(s.stderr, new RegExp(`2 queries of workspace dl19-train2 are also evaluation queries of .*eval2 \\((${qid}, 9999999|9999999, ${qid})\\)`));
    assert.equal(base.requests, 0, 'nothing was generated');
    assert.equal((await qx(['score', '--workspace', trainWs])).code, 0);
    assert.equal((await qx(['pairs', '--workspace', trainWs, '--allow-below-original', '--min-margin', '0'])).code, 0);
    const out = join(tmp, 'leak2.jsonl');
    const e = await qx(['export', '--workspace', trainWs, '--format', 'sft-messages', '--out', out]);
    assert.equal(e.code, 3);
    assert.match(e.stderr, new RegExp(`1 queries of this training export belong to the evaluation workspace .*eval2 split \\(${qid}\\)`));
    assert.equal(existsSync(out), false);
  } finally {
    await base.close();
  }
});

test('a local ONNX folder is a round too', async () => {
  const { writeTinyModel } = await import('../fixtures/llm/tinyModel.js');
  const base = await startFakeChatServer({ reply: (q) => q });
  try {
    env = { QX_STUDENT_BASE_URL: base.baseUrl, QX_STUDENT_MODEL: 'Qwen/Qwen3-4B' };
    const folder = await writeTinyModel(join(tmp, 'models'));
    const ws = await workspace('onnx', topics.slice(30, 33), 'test');
    const add = await qx(['round', 'add', '--workspace', ws, '--model-path', folder, '--model', 'tiny-lm']);
    assert.equal(add.code, 0, add.stderr);
    assert.match(add.stdout, /registered round 1: tiny-lm \(ONNX /);
    const r = await qx(['round', 'eval', '--round', '1', '--workspace', ws, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { generated: number }).generated, 3);
    assert.equal(base.requests, 0, 'round 1 ran in-process, not on the base endpoint');
    const rep = JSON.parse((await qx(['round', 'report', '--workspace', ws, '--json'])).stdout) as RoundReport;
    assert.deepEqual(rep.rows.filter((x) => x.kind === 'round').map((x) => [x.round, x.model, x.queries]), [[1, 'tiny-lm', 3]]);
  } finally {
    await base.close();
  }
});
