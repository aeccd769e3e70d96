import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { FillReport } from '../../src/core/judge/workflow.js';
import type { QxReport } from '../../src/core/report/report.js';
import { startFakeJudgeServer } from '../fixtures/llm/fakeJudgeServer.js';
import { runQx } from './runQx.js';

const tmp = mkdtempSync(join(tmpdir(), 'qx-report-judge-e2e-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const qx = (argv: string[]): ReturnType<typeof runQx> => runQx(argv, { cwd: tmp });

/** A judge the test scripts from the passage text alone: P(Yes) 0.9 for one passage in three, else 0.15. */
const answer = (document: string): Record<string, number> => {
  const u = parseInt(createHash('sha256').update(document).digest('hex').slice(0, 8), 16) / 2 ** 32;
  return u < 1 / 3 ? { Yes: 0.9, No: 0.1 } : { Yes: 0.15, No: 0.85 };
};

describe('qx report with LLM judgments: the judge-filled column and flipped pairs', () => {
  const ws = join(tmp, 'ws');

  it('no judgments: the report has no judge column; after qx judge the table, report.md, report.html and --json show it, consistent with qx judge --fill', async () => {
    assert.equal((await qx(['demo', '--out', ws, '--json'])).code, 0);
    // Every pair of up to 5 per query at a small margin: some of them the judge flips.
    const pairs = await qx(['pairs', '--workspace', ws, '--strategy', 'all', '--min-margin', '0.01', '--max-per-query', '5', '--allow-below-original']);
    assert.equal(pairs.code, 0, pairs.stderr);

    const plain = await qx(['report', '--workspace', ws]);
    assert.equal(plain.code, 0, plain.stderr);
    assert.doesNotMatch(plain.stdout, /judge-filled|flipped/i);
    assert.doesNotMatch(readFileSync(join(ws, '.qx', 'reports', 'report.md'), 'utf8'), /judge-filled|Flipped/i);
    const plainJson = JSON.parse((await qx(['report', '--workspace', ws, '--json'])).stdout) as QxReport;
    assert.equal(plainJson.judgeFilled, null);

    const server = await startFakeJudgeServer({ answer });
    try {
      const judged = await qx(['judge', '--workspace', ws, '--base-url', server.baseUrl, '--model', 'tiny-judge', '--include-judged']);
      assert.equal(judged.code, 0, judged.stderr);
    } finally {
      await server.close();
    }
    const fill = (JSON.parse((await qx(['judge', '--workspace', ws, '--model', 'tiny-judge', '--fill', '--json'])).stdout) as { fill: FillReport }).fill;

    const r = JSON.parse((await qx(['report', '--workspace', ws, '--json'])).stdout) as QxReport;
    const jf = r.judgeFilled;
    assert.ok(jf !== null && jf !== undefined);
    assert.equal(jf.judge.model, 'tiny-judge');
    assert.equal(jf.judge.template.id, 'judge-binary');
    assert.equal(jf.judge.endpoint, server.baseUrl.replace(/\/+$/, ''));
    assert.equal(jf.judge.threshold, fill.threshold, 'the calibrated threshold, as qx judge --fill uses');
    assert.equal(jf.judge.thresholdSource, 'calibrated');
    assert.equal(jf.judge.relevantGrade, 2, 'DL19 counts grade 2 as relevant');
    // Every DL19 query is included and no pair is rejected: the same pairs and flips as qx judge --fill.
    assert.equal(r.queries.included, 43);
    assert.equal(jf.pairs, fill.pairs.length);
    assert.equal(jf.flipped, fill.flipped);
    assert.ok(jf.flipped > 0, `the judge flips some of ${jf.pairs} pairs`);
    const origFill = fill.methods.find((m) => m.key === 'original')!;
    assert.ok(Math.abs(jf.original.filled - origFill.filled) < 1e-12 && Math.abs(jf.original.judgedOnly - r.original.meanNdcg10) < 1e-12);
    assert.ok(Math.abs(jf.original.filled - jf.original.judgedOnly) > 1e-6, 'the judge moves the original nDCG@10');
    for (const m of r.methods) {
      const j = jf.methods.find((x) => x.key === m.key)!;
      assert.ok(Math.abs(j.judgedOnly - m.meanNdcg10) < 1e-12, `${m.key}: judged-only is the report's nDCG@10`);
      // One sample per query in the demo: the per-query mean is the per-expansion mean qx judge --fill prints.
      assert.equal(m.samplesPerQuery, 1);
      const f = fill.methods.find((x) => x.key === `${m.role}/${m.model}/${m.method}`)!;
      assert.ok(Math.abs(j.filled - f.filled) < 1e-12, `${m.key}: ${j.filled} vs ${f.filled}`);
      const involved = fill.pairs.filter((p) => p.flipped).length;
      assert.ok(j.flippedPairs <= involved && j.flippedPairs <= j.pairs);
    }

    const text = await qx(['report', '--workspace', ws]);
    const header = text.stdout.split('\n')[0]!.split(/\s{2,}/);
    assert.deepEqual(header.slice(4, 6), ['nDCG@10', 'judge-filled']);
    assert.equal(header.at(-1), 'flipped pairs');
    const row = (m: QxReport['methods'][number]): string => text.stdout.split('\n').find((l) => l.startsWith(m.method) && l.includes(` ${m.role} `) && l.includes(m.model))!;
    for (const m of r.methods) {
      const j = jf.methods.find((x) => x.key === m.key)!;
      assert.match(row(m), new RegExp(`${m.meanNdcg10.toFixed(4)}\\s+${j.filled.toFixed(4)}\\s`));
      assert.match(row(m), new RegExp(`${j.flippedPairs} of ${j.pairs}$`));
    }
    assert.match(text.stdout, new RegExp(`filled by tiny-judge \\(judge-binary [0-9a-f]{8}\\) at http://127\\.0\\.0\\.1:\\d+/v1.*score >= ${jf.judge.threshold!.toFixed(3)} \\(threshold calibrated.*counts as grade 2.*: ${jf.flipped} of ${jf.pairs}\\.`));

    const md = readFileSync(join(ws, '.qx', 'reports', 'report.md'), 'utf8');
    assert.match(md, /\| nDCG@10 \| nDCG@10 judge-filled \| Δ \|.*\| Flipped pairs \|/);
    assert.match(md, new RegExp(`: ${jf.flipped} of ${jf.pairs}\\.`));
    const html = readFileSync(join(ws, '.qx', 'reports', 'report.html'), 'utf8');
    assert.match(html, /<th>nDCG@10 judge-filled<\/th>/);
    assert.match(html, new RegExp(`<td>${jf.methods[0]!.flippedPairs} of ${jf.methods[0]!.pairs}</td></tr>`));
    process.stdout.write(`# ${text.stdout.split('\n').slice(0, 2 + r.methods.length + 1).join('\n# ')}\n# flipped ${jf.flipped} of ${jf.pairs} pairs\n`);
  });
});
