import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRewriteServer, writeTinyCast } from '../fixtures/conversational/tinyCast.js';
import { type QxRun, runQx } from './runQx.js';

const tmp = mkdtempSync(join(tmpdir(), 'qx-conv-e2e-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const qx = (argv: string[]): Promise<QxRun> => runQx(argv, { cwd: tmp });

interface Row { role: string; method: string; model: string; turns: number; ndcg10: number; deltaRaw: number; turnsWithManual: number; deltaManual: number | null }

test('conversational flow on an invented CAsT-layout dataset: dataset rewrites + LLM rewrites from the history → score → pairs → DPO/SFT with the history in the prompt', async () => {
  const server = await startRewriteServer();
  try {
    const ws = join(tmp, 'ws');
    const manifest = writeTinyCast(join(tmp, 'data'));
    const init = await qx(['init', '--manifest', manifest, '--workspace', ws]);
    assert.equal(init.code, 0, init.stderr);

    const imp = await qx(['rewrites', 'import', '--workspace', ws, '--json']);
    assert.equal(imp.code, 0, imp.stderr);
    assert.deepEqual(JSON.parse(imp.stdout), { added: 10, present: 0, manual: 5, automatic: 5 });
    assert.equal(JSON.parse((await qx(['rewrites', 'import', '--workspace', ws, '--json'])).stdout).added, 0, 'a rerun adds nothing');

    for (const [role, model] of [['teacher', 'teacher-llm'], ['student', 'student-llm']] as const) {
      const r = await qx(['expand', '--workspace', ws, '--role', role, '--base-url', server.baseUrl, '--model', model, '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).generated, 5);
    }
    // Without --template a conversational dataset uses the LLM4CS rewrite prompt, which holds the history.
    const prompt = server.bodies.find((b) => b.model === 'teacher-llm' && /Question: Is it treatable\?\nRewrite:/.test(b.messages.at(-1)!.content))!.messages.at(-1)!.content;
    assert.match(prompt, /^Reformulate the current question into a de-contextualized rewrite/);
    assert.match(prompt, /Turn: 1\nQuestion: What is throat cancer\?\n\nTurn: 2\nQuestion: Is it treatable\?\nRewrite:$/);
    const condense = await qx(['expand', '--workspace', ws, '--role', 'teacher', '--template', 'cqr-condense', '--qids', '2_2', '--base-url', server.baseUrl, '--model', 'teacher-llm', '--json']);
    assert.equal(condense.code, 0, condense.stderr);
    assert.match(server.bodies.at(-1)!.messages.at(-1)!.content, /Chat History:\nTurn: 1\nQuestion: Tell me about the Curiosity Mars rover\.\nFollow Up Input: When did it land\?\nStandalone question:$/);

    const score = await qx(['score', '--workspace', ws, '--json']);
    assert.equal(score.code, 0, score.stderr);
    assert.equal(JSON.parse(score.stdout).scored, 21);

    const report = await qx(['rewrites', 'report', '--workspace', ws, '--json']);
    const rows = JSON.parse(report.stdout) as Row[];
    const row = (method: string, model: string) => rows.find((r) => r.method === method && r.model === model)!;
    const manual = row('manual-rewrite', 'human');
    const teacher = row('cqr-llm4cs', 'teacher-llm');
    const student = row('cqr-llm4cs', 'student-llm');
    assert.equal(manual.deltaManual, 0, 'the manual rewrite is its own reference');
    assert.ok(manual.deltaRaw > 0.1, `manual rewrites beat the raw utterances (${manual.deltaRaw})`);
    assert.ok(teacher.deltaRaw > 0.1, `history-resolved rewrites beat the raw utterances (${teacher.deltaRaw})`);
    assert.ok(Math.abs(student.deltaRaw) < 1e-12, 'a student that echoes the utterance gains nothing');
    assert.ok(student.deltaManual! < -0.1, 'and stays below the manual rewrite');
    assert.equal(row('automatic-rewrite', 'dataset-automatic').role, 'baseline');
    assert.equal(teacher.turns, 5);
    const table = (await qx(['rewrites', 'report', '--workspace', ws])).stdout;
    assert.match(table, /^teacher\s+cqr-llm4cs\s+teacher-llm\s+5\s+\d\.\d{4}\s+\+\d\.\d{4}\s+[-+]\d\.\d{4}$/m);

    // Query cost beside the gain: every method costed; the teacher's rewrites walk more postings than the raw turns.
    const rep = await qx(['report', '--workspace', ws, '--json']);
    assert.equal(rep.code, 0, rep.stderr);
    const qc = (JSON.parse(rep.stdout) as { queryCost: { original: { meanPostings: number; meanTerms: number }; methods: Array<{ key: string; meanPostings: number; meanTerms: number; meanCompletionTokens: number | null; meanDelta: number }> } }).queryCost;
    const tq = qc.methods.find((m) => m.key === 'teacher/cqr-llm4cs/teacher-llm')!;
    assert.equal(tq.meanCompletionTokens, 9, 'the server reported 9 completion tokens per rewrite');
    assert.ok(tq.meanPostings > qc.original.meanPostings && tq.meanTerms > qc.original.meanTerms);
    assert.equal(qc.methods.find((m) => m.key === 'teacher/manual-rewrite/human')!.meanCompletionTokens, null, 'a human rewrite has no generation tokens');
    for (let i = 1; i < qc.methods.length; i++) assert.ok(qc.methods[i - 1]!.meanPostings <= qc.methods[i]!.meanPostings, 'cheapest first');
    const text = (await qx(['report', '--workspace', ws])).stdout;
    assert.match(text, /^query cost \(cheapest first\)$/m);
    assert.match(text, /^teacher\/cqr-llm4cs\/teacher-llm\s+teacher\s+5\s+\+\d\.\d{4}\s+\d+\.\d\s+\d+\.\d\s+9\.0\s/m);
    const html = readFileSync(join(ws, '.qx', 'reports', 'report.html'), 'utf8');
    assert.match(html, /<svg role="img" aria-label="Mean nDCG@10 gain against postings walked per method"/);
    assert.match(readFileSync(join(ws, '.qx', 'reports', 'report.md'), 'utf8'), /^## Query cost$/m);
    const cheaper = await qx(['pairs', '--workspace', ws, '--tie-policy', 'prefer-cheaper', '--min-margin', '0', '--json']);
    assert.equal(cheaper.code, 0, cheaper.stderr);

    const pairs = await qx(['pairs', '--workspace', ws, '--min-margin', '0.05', '--json']);
    assert.equal(pairs.code, 0, pairs.stderr);
    assert.ok(JSON.parse(pairs.stdout).pairs >= 3, pairs.stdout);

    const dpo = join(tmp, 'dpo.jsonl');
    assert.equal((await qx(['export', '--workspace', ws, '--format', 'trl-standard', '--out', dpo])).code, 0);
    const lines = readFileSync(dpo, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { prompt: string; chosen: string; rejected: string });
    const p12 = lines.find((l) => /Question: Is it treatable\?\nRewrite:/.test(l.prompt));
    assert.ok(p12 !== undefined, 'turn 1_2 has a pair');
    assert.match(p12.prompt, /Turn: 1\nQuestion: What is throat cancer\?/, 'the student prompt holds the history');
    assert.match(p12.chosen, /throat cancer/);
    assert.equal(p12.rejected, 'Rewrite: Is it treatable?\nResponse: I cannot say.');

    const sft = join(tmp, 'sft.jsonl');
    assert.equal((await qx(['export', '--workspace', ws, '--format', 'sft-messages', '--out', sft])).code, 0);
    const sftLines = readFileSync(sft, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { messages: Array<{ role: string; content: string }> });
    // SFT targets are teacher rewrites that beat the raw utterance: the three turns that say "it"/"its".
    assert.equal(sftLines.length, 3);
    for (const l of sftLines) {
      const user = l.messages.find((m) => m.role === 'user')!.content;
      assert.match(user, /Turn: 1\nQuestion: .*\n\nTurn: \d+\nQuestion: .*\bits?\b.*\nRewrite:$/s);
    }

    // Distillation: candidates ranked by BM25 under each turn's best teacher rewrite, sampled negatives.
    const kd = join(tmp, 'kd.jsonl');
    const kdArgs = ['export-kd', '--workspace', ws, '--format', 'kd-listwise', '--out', kd, '--strategy', 'top-k-hard', '--negatives', '3', '--seed', '5', '--json'];
    const kdRun = await qx(kdArgs);
    assert.equal(kdRun.code, 0, kdRun.stderr);
    assert.deepEqual(JSON.parse(kdRun.stdout).queries, 5);
    const kdLines = readFileSync(kd, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { qid: string; query: string; history: Array<{ utterance: string }>; docs: Array<{ docid: string; text: string; teacher_score: number; label: number | null }> });
    const l12 = kdLines.find((l) => l.qid === '1_2')!;
    assert.equal(l12.query, 'Is it treatable?');
    assert.deepEqual(l12.history, [{ utterance: 'What is throat cancer?' }]);
    assert.equal(l12.docs.length, 4, 'one positive and three negatives');
    assert.deepEqual(l12.docs.filter((d) => (d.label ?? 0) > 0).map((d) => d.docid), ['d01']);
    assert.equal(l12.docs[0]!.docid, 'd01', 'the teacher rewrite ranks the relevant passage first');
    assert.match(l12.docs[0]!.text, /^Throat cancer is treatable/);
    for (const l of kdLines) for (let i = 1; i < l.docs.length; i++) assert.ok(l.docs[i - 1]!.teacher_score >= l.docs[i]!.teacher_score);
    const kdManifest = JSON.parse(readFileSync(`${kd}.manifest.json`, 'utf8')) as { sampler: Record<string, unknown>; counts: { records: number }; teachers: Array<{ qid: string; method: string }> };
    assert.deepEqual({ strategy: kdManifest.sampler.strategy, n: kdManifest.sampler.negativesPerQuery, seed: kdManifest.sampler.seed }, { strategy: 'top-k-hard', n: 3, seed: 5 });
    assert.equal(kdManifest.teachers.find((t) => t.qid === '1_2')!.method === 'manual-rewrite' || kdManifest.teachers.find((t) => t.qid === '1_2')!.method.startsWith('cqr-'), true);
    assert.match(readFileSync(`${kd}.card.md`, 'utf8'), /strategy `top-k-hard`, 3 per query.*seed 5/);

    const triples = join(tmp, 'triples.jsonl');
    const tArgs = ['export-kd', '--workspace', ws, '--format', 'contrastive-triples', '--out', triples, '--strategy', 'random', '--negatives', '2', '--seed', '9', '--teacher-method', 'manual-rewrite', '--json'];
    assert.equal((await qx(tArgs)).code, 0);
    const first = readFileSync(triples, 'utf8');
    const tLines = first.trim().split('\n').map((l) => JSON.parse(l) as { qid: string; positive: { docid: string }; negative: { docid: string } });
    assert.equal(tLines.length, 10, '5 turns × 1 positive × 2 negatives');
    const positivesOf = new Map<string, Set<string>>();
    for (const q of (await import('../fixtures/conversational/tinyCast.js')).QRELS) {
      const [qid, , docid, grade] = q.split(' ');
      if (Number(grade) > 0) positivesOf.set(qid!, (positivesOf.get(qid!) ?? new Set()).add(docid!));
    }
    assert.ok(tLines.every((l) => !positivesOf.get(l.qid)!.has(l.negative.docid)), 'a negative is never a judged-relevant passage');
    assert.equal((await qx(tArgs)).code, 0);
    assert.equal(readFileSync(triples, 'utf8'), first, 'the same seed writes the same file');
  } finally {
    await server.close();
  }
});
