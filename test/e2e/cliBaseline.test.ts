import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/io.js';

const repo = resolve(__dirname, '../..');
const sample = join(repo, 'samples', 'dl19');
const tmp = mkdtempSync(join(tmpdir(), 'qx-baseline-e2e-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs the CLI in-process with no key in the environment. */
async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = { s: '', e: '' };
  const io: CliIo = { stdout: (t) => void (out.s += t), stderr: (t) => void (out.e += t), isTTY: false, env: {}, cwd: tmp };
  const code = await main(argv, io, new AbortController().signal);
  return { code, stdout: out.s, stderr: out.e };
}

test('qx expand --role baseline --method rm3 needs no key, adds one RM3 expansion per query once, and the report shows it', async () => {
  const ws = join(tmp, 'ws');
  assert.equal((await run(['init', '--manifest', join(sample, 'qx.dataset.json'), '--workspace', ws])).code, 0);
  const first = await run(['expand', '--workspace', ws, '--role', 'baseline', '--method', 'rm3', '--json']);
  assert.equal(first.code, 0, first.stderr);
  const r = JSON.parse(first.stdout) as { method: string; added: number; present: number; parameters: Record<string, unknown> };
  assert.deepEqual([r.method, r.added, r.present], ['rm3', 43, 0]);
  assert.deepEqual([r.parameters.fbDocs, r.parameters.fbTerms, r.parameters.originalQueryWeight], [10, 10, 0.5]);

  const second = await run(['expand', '--workspace', ws, '--role', 'baseline', '--method', 'rm3', '--fb-docs', '10', '--fb-terms', '10', '--orig-weight', '0.5']);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /^0 RM3 baseline expansions added, 43 already there \(BM25\+RM3: fb_docs 10, fb_terms 10, original query weight 0\.5\)$/m);

  const score = JSON.parse((await run(['score', '--workspace', ws, '--json'])).stdout) as { scored: number };
  assert.equal(score.scored, 43);
  const report = await run(['report', '--workspace', ws]);
  assert.equal(report.code, 0, report.stderr);
  assert.match(report.stdout, /^original BM25\s+-\s+-\s+43\s+0\.4644\s/m);
  // BM25+RM3 on the DL19 pool: 0.4690 (bench/RESULTS.md, qx search --rm3).
  assert.match(report.stdout, /^rm3\s+baseline\s+BM25\+RM3\s+43\s+0\.4690\s+\+0\.00\d\d\s+0\.\d{4}\s+\d+\/\d+\/\d+\s+\S+\s+\d+ \(\d+\.\d%\)$/m, 'W/T/L, p and the unjudged count; no "% of teacher"');
  assert.doesNotMatch(report.stdout, /^baseline\s+rm3/m, 'no cost row: RM3 calls no model');
});

test('qx expand --role baseline: a missing or unknown method, model options and bad RM3 settings are usage errors', async () => {
  const ws = join(tmp, 'bad');
  assert.equal((await run(['init', '--manifest', join(sample, 'qx.dataset.json'), '--workspace', ws])).code, 0);
  const cases: [string[], RegExp][] = [
    [['--role', 'baseline'], /needs --method rm3/],
    [['--role', 'baseline', '--method', 'bm25prf'], /needs --method rm3, got "bm25prf"/],
    [['--role', 'baseline', '--method', 'rm3', '--model', 'x'], /--model is for teacher\/student expansions/],
    [['--role', 'baseline', '--method', 'rm3', '--orig-weight', '1.5'], /between 0 and 1, got 1\.5/],
    [['--role', 'baseline', '--method', 'rm3', '--fb-terms', '2.5'], /fb_terms must be an integer/],
    [['--role', 'teacher', '--template', 'query2doc-zs', '--fb-docs', '5'], /--fb-docs is for --role baseline/],
  ];
  for (const [args, message] of cases) {
    const r = await run(['expand', '--workspace', ws, ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
  }
});
