import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type QxRun, runQx } from './runQx.js';

const repo = resolve(__dirname, '../..');
const sample = join(repo, 'samples', 'dl19');
const tmp = mkdtempSync(join(tmpdir(), 'qx-interrupt-e2e-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Enough work to interrupt: 80 expansions per query, each a different pool passage. */
const SAMPLES = 80;
const bigFile = join(tmp, 'many.jsonl');
let queries = 0;

before(() => {
  const topics = readFileSync(join(sample, 'topics.dl19-passage.txt'), 'utf8').trim().split('\n').map((l) => l.split('\t')[0]!);
  queries = topics.length;
  const passages = readFileSync(join(sample, 'corpus.dl19-pool.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { text: string }).text);
  const rows: string[] = [];
  topics.forEach((qid, q) => {
    for (let i = 0; i < SAMPLES; i++) rows.push(JSON.stringify({ qid, generated: passages[(q * SAMPLES + i) % passages.length] }));
  });
  writeFileSync(bigFile, rows.join('\n') + '\n');
});

const qx = (argv: string[]): Promise<QxRun> => runQx(argv, { cwd: tmp });

/** Spawns the real CLI; resolves when it exits. `onStderr` sees stderr as it grows and may signal the child. */
function spawnQx(
  argv: string[],
  onStderr: (all: string, child: ReturnType<typeof spawn>) => void,
  onSpawn: (child: ReturnType<typeof spawn>) => void = () => {},
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(repo, 'src/cli/main.ts'), ...argv], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
  onSpawn(child);
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => {
    stderr += d;
    onStderr(stderr, child);
  });
  child.stdout.resume();
  return new Promise((res) => child.on('exit', (code, signal) => res({ code, signal, stderr })));
}

async function init(name: string): Promise<string> {
  const ws = join(tmp, name);
  const r = await qx(['init', '--manifest', join(sample, 'qx.dataset.json'), '--workspace', ws]);
  assert.equal(r.code, 0, r.stderr);
  return ws;
}

const importArgs = (ws: string): string[] => ['import', bigFile, '--workspace', ws, '--model', 'pool', '--method', 'passage', '--role', 'imported', '--formulation', 'concat'];

async function scoredQueries(ws: string): Promise<number> {
  const r = await qx(['report', '--workspace', ws, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { perQuery: unknown[] }).perQuery.length;
}

test('SIGINT mid-score: exit 130, every query reported done is kept, a rerun finishes the rest', async () => {
  const ws = await init('sigint');
  assert.equal((await qx(importArgs(ws))).code, 0);
  let sent = false;
  const r = await spawnQx(['score', '--workspace', ws], (all, child) => {
    if (!sent && /scoring: [1-9]\d*\/\d+ queries/.test(all)) {
      sent = true;
      child.kill('SIGINT');
    }
  });
  assert.ok(sent, `never saw progress:\n${r.stderr}`);
  assert.equal(r.code, 130, r.stderr);
  assert.match(r.stderr, /cancelled/);
  const reported = Math.max(...[...r.stderr.matchAll(/scoring: (\d+)\/\d+ queries/g)].map((m) => Number(m[1])));
  assert.ok(reported < queries, 'interrupted before the end');
  const kept = await scoredQueries(ws);
  assert.ok(kept >= reported, `${kept} queries stored, ${reported} reported done`);
  const rerun = JSON.parse((await qx(['score', '--workspace', ws, '--json'])).stdout) as { scored: number };
  assert.ok(rerun.scored > 0 && rerun.scored <= (queries - reported) * SAMPLES, `rerun scored ${rerun.scored}`);
  assert.equal(await scoredQueries(ws), queries);
  assert.equal((JSON.parse((await qx(['score', '--workspace', ws, '--json'])).stdout) as { scored: number }).scored, 0);
});

test('kill -9 mid-score: the workspace reopens (stale lock, torn line) and a rerun completes', async () => {
  const ws = await init('kill-score');
  assert.equal((await qx(importArgs(ws))).code, 0);
  let killed = false;
  const r = await spawnQx(['score', '--workspace', ws], (all, child) => {
    if (!killed && /scoring: [1-9]\d*\/\d+ queries/.test(all)) {
      killed = true;
      child.kill('SIGKILL');
    }
  });
  assert.ok(killed, r.stderr);
  assert.equal(r.signal, 'SIGKILL');
  const rerun = await qx(['score', '--workspace', ws, '--json']);
  assert.equal(rerun.code, 0, rerun.stderr);
  assert.equal(await scoredQueries(ws), queries);
});

test('kill -9 mid-import: the workspace reopens and a re-import leaves every row stored once', async () => {
  const ws = await init('kill-import');
  const started = Date.now();
  const r = await spawnQx(importArgs(ws), () => {});
  const fullMs = Date.now() - started;
  assert.equal(r.code, 0, r.stderr);
  const ws2 = await init('kill-import-2');
  let child: ReturnType<typeof spawn> | undefined;
  const killedRun = spawnQx(importArgs(ws2), (_all, c) => {
    child = c;
  }, (c) => {
    child = c;
  });
  // Kill during the second half of a normal run's time, when the rows are being parsed and stored.
  await new Promise<void>((res) => setTimeout(res, Math.max(200, Math.floor(fullMs * 0.8))));
  child?.kill('SIGKILL');
  await killedRun;
  const again = await qx([...importArgs(ws2), '--json']);
  assert.equal(again.code, 0, again.stderr);
  const j = JSON.parse(again.stdout) as { imported: number; duplicates: number };
  assert.equal(j.imported + j.duplicates, queries * SAMPLES);
  const score = JSON.parse((await qx(['score', '--workspace', ws2, '--json'])).stdout) as { scored: number };
  assert.equal(score.scored, queries * SAMPLES);
});
