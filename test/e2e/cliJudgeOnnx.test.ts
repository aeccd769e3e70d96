import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CalibrationReport } from '../../src/core/judge/calibration.js';
import type { JudgmentRecord } from '../../src/core/judge/types.js';
import { crossEncoderProbability, writeTinyCrossEncoder, writeTinyJudgeLm } from '../fixtures/llm/tinyJudgeModels.js';
import { type QxRun, runQx } from './runQx.js';

/*
 * qx judge --model-path on the DL19 sample workspace (qx demo): a tiny cross-encoder and a tiny
 * causal LM built by the test judge the pool in-process; every stored score is recomputed from the
 * cross-encoder's weights and the passage text.
 */

const repo = resolve(__dirname, '../..');
const sample = join(repo, 'samples', 'dl19');
const tmp = mkdtempSync(join(tmpdir(), 'qx-judge-onnx-e2e-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const ws = join(tmp, 'ws');
const qx = (argv: string[]): Promise<QxRun> => runQx(argv, { cwd: tmp });

interface JudgeJson {
  pool: number;
  unjudgedInPool: number;
  judged: number;
  cached: number;
  failed: number;
  file: string;
  stored: number;
  model: string;
  calibration?: CalibrationReport;
}

describe('qx judge --model-path (local ONNX judge) on the DL19 sample', () => {
  let crossEncoder: string;
  let lm: string;
  const docs = new Map<string, string>();
  const queries = new Map<string, string>();

  before(async () => {
    const demo = await qx(['demo', '--out', ws, '--json']);
    assert.equal(demo.code, 0, demo.stderr);
    crossEncoder = await writeTinyCrossEncoder(join(tmp, 'models'), 'tiny-ce', 2);
    lm = await writeTinyJudgeLm(join(tmp, 'models'));
    for (const line of readFileSync(join(sample, 'corpus.dl19-pool.jsonl'), 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      const d = JSON.parse(line) as { id: string; title?: string; text: string };
      docs.set(d.id, d.title ? `${d.title}\n${d.text}` : d.text);
    }
    for (const line of readFileSync(join(sample, 'topics.dl19-passage.txt'), 'utf8').split('\n')) {
      const [qid, text] = line.split('\t');
      if (qid && text) queries.set(qid, text);
    }
  });

  it('a cross-encoder judges the pool, writes the judgments file with the hand-computed probabilities, and a rerun is all cache', async () => {
    const start = process.hrtime.bigint();
    const cpu = process.cpuUsage();
    const first = await qx(['judge', '--workspace', ws, '--model-path', crossEncoder, '--include-judged', '--json']);
    const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
    const cpuMs = (process.cpuUsage(cpu).user + process.cpuUsage(cpu).system) / 1000;
    assert.equal(first.code, 0, first.stderr);
    const r = JSON.parse(first.stdout) as JudgeJson;
    assert.ok(r.pool > 400 && r.unjudgedInPool > 0, `pool ${r.pool}, unjudged ${r.unjudgedInPool}`);
    assert.equal(r.judged, r.pool);
    assert.equal(r.failed, 0);
    assert.equal(r.model, 'tiny-ce');
    assert.equal(r.file, join(ws, '.qx', 'judgments', `tiny-ce.judge-binary-${r.file.split('judge-binary-')[1]!.slice(0, 8)}.jsonl`));
    process.stdout.write(`# tiny cross-encoder: ${r.pool} judgments in ${wallMs.toFixed(0)} ms wall, ${cpuMs.toFixed(0)} ms CPU (incl. index build and model load): ${((r.pool / wallMs) * 1000).toFixed(0)} judgments/s\n`);

    const lines = readFileSync(r.file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as JudgmentRecord);
    assert.equal(lines.length, r.pool);
    for (const j of lines) {
      assert.equal(j.provider, 'onnx');
      assert.equal(j.endpoint, crossEncoder);
      const expected = crossEncoderProbability(2, queries.get(j.qid)!, docs.get(j.docid)!);
      assert.ok(Math.abs(j.score - expected) < 1e-5, `${j.qid}/${j.docid}: ${j.score} vs ${expected}`);
    }
    assert.ok(new Set(lines.map((l) => l.score.toFixed(4))).size > 20, 'the scores depend on the passages');
    assert.ok(r.calibration !== undefined && r.calibration.documents === r.pool - r.unjudgedInPool);

    const again = await qx(['judge', '--workspace', ws, '--model-path', crossEncoder, '--include-judged', '--json']);
    const a = JSON.parse(again.stdout) as JudgeJson;
    assert.equal(a.judged, 0);
    assert.equal(a.cached, r.pool);
    assert.equal(readFileSync(r.file, 'utf8').trim().split('\n').length, r.pool);

    const cal = await qx(['judge', '--workspace', ws, '--model-path', crossEncoder, '--calibrate']);
    assert.equal(cal.code, 0, cal.stderr);
    assert.match(cal.stdout, /^judge tiny-ce \(judge-binary\)/);
    assert.match(cal.stdout, /calibration on \d+ judged documents of 43 queries/);

    // KD export with the local teacher: the original top 10s were in the pool, so no new call.
    const kd = await qx(['judge', '--workspace', ws, '--model-path', crossEncoder, '--export-kd', 'kd-listwise', '--out', 'kd/listwise.jsonl', '--allow-eval-queries', '--json']);
    assert.equal(kd.code, 0, kd.stderr);
    const k = JSON.parse(kd.stdout) as { manifest: string; out: string; judged: number; records: number };
    assert.equal(k.judged, 0);
    assert.equal(k.records, 43);
    const manifest = JSON.parse(readFileSync(k.manifest, 'utf8')) as { judge: { provider: string; endpoint: string; model: string } };
    assert.deepEqual([manifest.judge.provider, manifest.judge.endpoint, manifest.judge.model], ['onnx', crossEncoder, 'tiny-ce']);
    const list = JSON.parse(readFileSync(k.out, 'utf8').split('\n')[0]!) as { qid: string; docs: { docid: string; score: number }[] };
    const stored = new Map(lines.map((l) => [`${l.qid}/${l.docid}`, l.score]));
    assert.ok(list.docs.length === 10 && list.docs.every((d) => d.score === stored.get(`${list.qid}/${d.docid}`)), 'the teacher scores are the stored judgments');
  });

  it('a causal LM judges with the graded template (expected grade in 0..3); --model names its judgments', async () => {
    const out = await qx(['judge', '--workspace', ws, '--model-path', lm, '--model', 'tiny-lm-judge', '--template', 'judge-graded', '--qids', '19335,47923', '--json']);
    assert.equal(out.code, 0, out.stderr);
    const r = JSON.parse(out.stdout) as JudgeJson;
    assert.ok(r.judged > 0 && r.judged === r.pool, `${r.judged} of ${r.pool}`);
    assert.match(r.file, /tiny-lm-judge\.judge-graded-[0-9a-f]{8}\.jsonl$/);
    const lines = readFileSync(r.file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as JudgmentRecord);
    assert.equal(lines.length, r.pool);
    assert.ok(lines.every((l) => l.mode === 'graded' && l.score >= 0 && l.score <= 3 && ['19335', '47923'].includes(l.qid)));
  });

  it('a folder without its files: a clear error naming the folder and what is missing; no judgments written', async () => {
    const empty = join(tmp, 'models', 'empty');
    mkdirSync(empty, { recursive: true });
    const out = await qx(['judge', '--workspace', ws, '--model-path', empty]);
    assert.notEqual(out.code, 0);
    assert.ok(out.stderr.includes(empty) && /has no config\.json/.test(out.stderr), out.stderr);
    const bad = await qx(['judge', '--workspace', ws, '--model-path', crossEncoder, '--template', 'judge-graded', '--qids', '19335']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /cross-encoder/);
    const both = await qx(['judge', '--workspace', ws, '--model-path', crossEncoder, '--base-url', 'http://127.0.0.1:1/v1']);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--base-url and --model-path/);
  });
});
