import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runQx } from './runQx.js';
import { Bm25Index } from '../../src/core/bm25/bm25Index.js';
import { currentIndexFiles, writeSyntheticCorpus } from '../unit/core/bm25/indexBuildFixtures.js';

const repo = resolve(__dirname, '../..');
const tmp = mkdtempSync(join(tmpdir(), 'qx-index-resume-e2e-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Segments journaled so far by the build into `out` (0 before the journal exists). */
function journaled(out: string): number {
  const gen = existsSync(out) ? readdirSync(out).find((n) => n.startsWith('gen-') && n.endsWith('.tmp')) : undefined;
  const file = gen === undefined ? undefined : join(out, gen, 'resume.json');
  if (file === undefined || !existsSync(file)) return 0;
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { segments: unknown[] }).segments.length;
  } catch {
    return 0;
  }
}

const N = 300_000;
const corpus = join(tmp, 'corpus.jsonl');
before(() => writeSyntheticCorpus(corpus, N));
const args = (out: string): string[] => ['index', '--corpus', corpus, '--out', out, '--threads', '2', '--segment-postings', '20000'];

/** Runs the real CLI building `out` and kills it with SIGKILL once `segments` segments are journaled. */
async function killedBuild(out: string, segments: number): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(repo, 'src/cli/main.ts'), ...args(out)], { cwd: repo, stdio: 'ignore' });
  const exited = new Promise((r) => child.once('exit', r));
  const deadline = Date.now() + 120_000;
  while (journaled(out) < segments) {
    assert.ok(Date.now() < deadline, `the build never journaled ${segments} segments`);
    assert.equal(child.exitCode, null, 'the build ended before it could be killed (make the corpus larger)');
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill('SIGKILL');
  await exited;
  assert.ok(!existsSync(join(out, 'CURRENT')), 'killed before it finished');
}

test('qx index killed with SIGKILL mid-build: the same command resumes, analyzes only the rest, and the index equals an uninterrupted build', async () => {
  const out = join(tmp, 'killed');
  await killedBuild(out, 4);
  const resumed = await runQx(args(out), { cwd: tmp });
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /resuming: \d+ of \d+ segments \([\d,]+ documents\) reused from an interrupted build/);
  const m = /resumed an interrupted build: (\d+) documents reused, (\d+) analyzed/.exec(resumed.stdout);
  assert.ok(m !== null, resumed.stdout);
  const [reused, analyzed] = [Number(m[1]), Number(m[2])];
  assert.ok(reused > 0 && analyzed > 0 && reused + analyzed === N, resumed.stdout);

  const fresh = join(tmp, 'fresh');
  const whole = await runQx(args(fresh), { cwd: tmp });
  assert.equal(whole.code, 0, whole.stderr);
  assert.doesNotMatch(whole.stdout, /resumed/);
  const want = currentIndexFiles(fresh);
  const got = currentIndexFiles(out);
  assert.deepEqual([...got.keys()], [...want.keys()]);
  for (const [name, bytes] of want) assert.ok(bytes.equals(got.get(name)!), `${name} differs from an uninterrupted build's`);
  const [a, b] = await Promise.all([Bm25Index.open(out), Bm25Index.open(fresh)]);
  for (const q of ['w1 w2 w3', 'w10 w2s w7 w1k']) assert.deepEqual(a.searchSync(q, 1000), b.searchSync(q, 1000), q);
  await a.close();
  await b.close();
});

test('qx index --rebuild starts an interrupted build over and says so; a bad --segment-postings is a usage error', async () => {
  const out = join(tmp, 'rebuilt');
  await killedBuild(out, 2);
  const r = await runQx([...args(out), '--rebuild'], { cwd: tmp });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /starting over as asked: the interrupted build in .* is discarded/);
  assert.doesNotMatch(r.stdout, /resumed/);
  assert.match(r.stdout, new RegExp(`indexed ${N} documents`));
  const bad = await runQx(['index', '--corpus', corpus, '--out', join(tmp, 'bad'), '--segment-postings', '0'], { cwd: tmp });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--segment-postings must be an integer >= 1/);
});
