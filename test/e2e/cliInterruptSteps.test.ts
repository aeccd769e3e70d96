// Issue 5, "interrupting any step leaves a store that reopens with nothing acknowledged lost", for the
// steps cliInterrupt.test.ts does not cover: qx expand (SIGINT and kill -9, against the local fake
// chat server), qx pairs after hand edits, qx export, and the index build of a first qx score.
// Each step runs in the built CLI (dist/cli.js) as a user runs it, and is interrupted at a moment
// the test observes (a progress line on stderr, or the step's own files appearing), never after a
// guessed delay.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CurationStore } from '../../src/core/curation/store.js';
import type { PairRecord } from '../../src/core/curation/types.js';
import { nullLogger } from '../../src/core/logger.js';
import { defaultSettings } from '../../src/core/workspace/settings.js';
import { openWorkspace } from '../../src/core/workspace/workspace.js';
import { type FakeChatServer, startFakeChatServer } from '../fixtures/llm/fakeChatServer.js';

const repo = resolve(__dirname, '../..');
const cli = join(repo, 'dist', 'cli.js');
const sample = join(repo, 'samples', 'dl19');
const tmp = mkdtempSync(join(tmpdir(), 'qx-interrupt-steps-e2e-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function newestMtime(dir: string): number {
  return Math.max(0, ...readdirSync(dir, { withFileTypes: true }).map((e) => (e.isDirectory() ? newestMtime(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs)));
}

const topics = readFileSync(join(sample, 'topics.dl19-passage.txt'), 'utf8').trim().split('\n').map((l) => l.split('\t')[0]!);
const QUERIES = topics.length;

// The test runs the bundle a user runs; rebuild it when the sources are newer (npm test builds first).
before(() => {
  if (!existsSync(cli) || statSync(cli).mtimeMs < newestMtime(join(repo, 'src'))) {
    execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: repo, stdio: 'pipe' });
  }
});

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the built CLI without blocking the test's event loop (the fake chat server lives in it),
 * with the cache in the workspace. `watchStderr` sees stderr as it grows and may signal the child;
 * `onSpawn` gets the child at once.
 */
function qx(args: string[], hooks: { watchStderr?: (all: string, child: ChildProcess) => void; onSpawn?: (child: ChildProcess) => void } = {}): Promise<Run> {
  const { QX_CACHE_DIR: _cacheDir, ...env } = process.env;
  const child = spawn(process.execPath, [cli, ...args], { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'], env: { ...env, QX_LOG: 'info' } });
  hooks.onSpawn?.(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    hooks.watchStderr?.(stderr, child);
  });
  return new Promise((res) => child.on('close', (code, signal) => res({ code, signal, stdout, stderr })));
}

async function ok(args: string[]): Promise<Run> {
  const r = await qx(args);
  assert.equal(r.code, 0, `qx ${args.join(' ')}:\n${r.stderr}`);
  return r;
}

async function init(name: string): Promise<string> {
  const ws = join(tmp, name);
  await ok(['init', '--manifest', join(sample, 'qx.dataset.json'), '--workspace', ws]);
  return ws;
}

/** The store as a reopening process sees it (read-only: no lock taken, nothing repaired). */
function storeOf(ws: string): CurationStore {
  return CurationStore.open(ws, { readOnly: true });
}

const journalLines = (ws: string, name: string): number => {
  const f = join(ws, '.qx', name);
  return existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter((l) => l !== '').length : 0;
};

// ---- qx expand ----

const SAMPLES = 2;
const expandArgs = (ws: string, chat: FakeChatServer): string[] =>
  ['expand', '--workspace', ws, '--role', 'teacher', '--template', 'query2doc-zs', '--base-url', chat.baseUrl, '--model', 'fake-teacher', '--samples', String(SAMPLES), '--json'];
const PROGRESS = /expanding \(teacher\): (\d+)\/\d+ queries/g;

/** Per query, the sample indices of its stored expansions. */
function samplesPerQuery(ws: string): Map<string, number[]> {
  const store = storeOf(ws);
  const out = new Map<string, number[]>();
  for (const e of store.listExpansions()) out.set(e.qid, [...(out.get(e.qid) ?? []), e.sampleIndex].sort());
  return out;
}

/** The query of a prompt as the fake server reads it: the text after the last "Query:". */
const queryOf = (prompt: string): string => (prompt.split('Query:').pop() ?? prompt).split('\n')[0]!.trim();

/**
 * Finished generations in a workspace's cache, per query (the fake server's answers start with the
 * query); temp files of an interrupted write are not entries.
 */
function cachedSamples(ws: string): Map<string, number> {
  const dir = join(ws, '.qx', 'cache');
  const out = new Map<string, number>();
  if (!existsSync(dir)) return out;
  for (const f of readdirSync(dir, { recursive: true }) as string[]) {
    if (!/(^|[\\/])[0-9a-f]{64}\.json$/.test(f)) continue;
    const q = (JSON.parse(readFileSync(join(dir, f), 'utf8')) as { text: string }).text.replace(/ passage r\d+ s\d+$/, '');
    out.set(q, (out.get(q) ?? 0) + 1);
  }
  return out;
}

const sum = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);

/**
 * Runs expand to its end after an interruption that left `cached` in the cache, and checks the
 * rerun took every cached sample from the cache (no query whose samples were all cached was asked
 * again; a query with some cached asked only for the others) and left exactly one expansion per
 * query × sample, each written once to the store.
 */
async function expandToTheEnd(ws: string, chat: FakeChatServer, cached: Map<string, number>): Promise<Run> {
  const r = await ok(expandArgs(ws, chat));
  const j = JSON.parse(r.stdout) as { generated: number; cached: number; failed: number };
  assert.deepEqual(j, { generated: QUERIES * SAMPLES - sum(cached), cached: sum(cached), failed: 0, model: 'fake-teacher', baseUrl: chat.baseUrl });
  // Every prompt counted on the server: one request per query (samples come back as n choices),
  // plus at most one cut off by the interruption. Counted per prompt, so a cut-off request that
  // reaches the server late cannot be mistaken for one of the rerun's.
  assert.equal(chat.attempts.size, QUERIES);
  for (const [prompt, attempts] of chat.attempts) {
    const have = cached.get(queryOf(prompt)) ?? 0;
    if (have === SAMPLES) assert.equal(attempts, 1, `"${queryOf(prompt)}" was cached, and asked for again`);
    else assert.ok(attempts >= 1 && attempts <= 2, `"${queryOf(prompt)}" asked ${attempts} times`);
    if (have > 0 && have < SAMPLES) {
      const last = chat.bodies.filter((b) => (b.messages as { content: string }[]).some((m) => m.content === prompt)).pop()!;
      assert.equal(last.n ?? 1, SAMPLES - have, 'a query with cached samples is asked only for the others');
    }
  }
  const per = samplesPerQuery(ws);
  assert.equal(per.size, QUERIES);
  for (const [qid, s] of per) assert.deepEqual(s, [0, 1], `query ${qid}`);
  assert.equal(journalLines(ws, 'expansions.jsonl'), QUERIES * SAMPLES, 'no expansion was written twice');
  assert.equal(sum(cachedSamples(ws)), QUERIES * SAMPLES);
  return r;
}

/** Each test its own server (150 ms per answer, the CLI's 4 requests at a time), so attempts per prompt are that test's. */
async function withChat(fn: (chat: FakeChatServer) => Promise<void>): Promise<void> {
  const chat = await startFakeChatServer({ latencyMs: 150 });
  try {
    await fn(chat);
  } finally {
    await chat.close();
  }
}

/** True once stderr shows a progress line with at least one query done. */
const reportedSome = (stderr: string): boolean => [...stderr.matchAll(PROGRESS)].some((m) => Number(m[1]) > 0);

/** Runs `qx expand` and sends `signal` as soon as stderr reports a query done; `sent` says whether it came to that. */
async function expandUntilProgress(ws: string, chat: FakeChatServer, signal: NodeJS.Signals): Promise<{ r: Run; sent: boolean }> {
  let sent = false;
  const r = await qx(expandArgs(ws, chat), {
    watchStderr: (all, child) => {
      if (!sent && reportedSome(all)) {
        sent = true;
        child.kill(signal);
      }
    },
  });
  return { r, sent };
}

test('SIGINT mid-expand: exit 130, every query reported done is stored and cached, a rerun asks only for the rest', () =>
  withChat(async (chat) => {
    const ws = await init('expand-sigint');
    const { r, sent } = await expandUntilProgress(ws, chat, 'SIGINT');
    assert.ok(sent, `never saw progress:\n${r.stderr}`);
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /qx: cancelled/);
    const reported = Math.max(...[...r.stderr.matchAll(PROGRESS)].map((m) => Number(m[1])));
    assert.ok(reported > 0 && reported < QUERIES, `interrupted mid-batch (${reported}/${QUERIES} reported)`);
    assert.ok(!existsSync(join(ws, '.qx', 'lock')), 'the lock was released');
    const per = samplesPerQuery(ws);
    assert.ok(per.size >= reported, `${per.size} queries stored, ${reported} reported done`);
    for (const [qid, s] of per) assert.deepEqual(s, [0, 1], `query ${qid} is stored with all its samples`);
    const cached = cachedSamples(ws);
    assert.ok(sum(cached) >= per.size * SAMPLES, `${sum(cached)} generations cached, ${per.size * SAMPLES} stored`);
    assert.ok(sum(cached) < QUERIES * SAMPLES, 'the batch did stop');
    await expandToTheEnd(ws, chat, cached);
  }));

test('kill -9 mid-expand: the workspace reopens (stale lock taken over) and a rerun pays for nothing cached', () =>
  withChat(async (chat) => {
    const ws = await init('expand-kill');
    const { r, sent: killed } = await expandUntilProgress(ws, chat, 'SIGKILL');
    assert.ok(killed, r.stderr);
    assert.equal(r.signal, 'SIGKILL');
    assert.ok(existsSync(join(ws, '.qx', 'lock')), 'the killed process left its lock behind');
    const cached = cachedSamples(ws);
    assert.ok(sum(cached) > 0 && sum(cached) < QUERIES * SAMPLES, `killed mid-batch (${sum(cached)} generations cached)`);
    const rerun = await expandToTheEnd(ws, chat, cached);
    assert.match(rerun.stderr, /process \d+ that locked the curation store since .* is gone; taking the lock over/);
    // A third run finds everything in the store and the cache: no request, nothing stored again.
    const requests = chat.requests;
    const again = JSON.parse((await ok(expandArgs(ws, chat))).stdout) as { generated: number; cached: number };
    assert.deepEqual([again.generated, again.cached], [0, QUERIES * SAMPLES]);
    assert.equal(chat.requests, requests);
    assert.equal(journalLines(ws, 'expansions.jsonl'), QUERIES * SAMPLES);
  }));

// ---- qx pairs after hand edits, and qx export ----

/** Polls until `ready` holds, then calls `act` once (every 2 ms; the steps below take far longer). */
function when(ready: () => boolean, act: () => void): () => void {
  const timer = setInterval(() => {
    if (ready()) {
      clearInterval(timer);
      act();
    }
  }, 2);
  return () => clearInterval(timer);
}

const size = (file: string): number => (existsSync(file) ? statSync(file).size : 0);

/** A pair as a user compares two pair sets: everything but its time stamps. */
function pairsOf(ws: string): Omit<PairRecord, 'createdAt' | 'updatedAt'>[] {
  return storeOf(ws)
    .listPairs()
    .map(({ createdAt: _c, updatedAt: _u, ...p }) => p)
    .sort((a, b) => (a.id < b.id ? -1 : 1));
}

/** 20 pool passages per query as expansions: enough candidates for thousands of pairs. */
const PER_QUERY = 20;
let curated = '';
const allPairs = ['--strategy', 'all', '--max-per-query', '1000', '--min-margin', '0', '--tie-policy', 'prefer-shorter', '--allow-below-original', '--json'];

describe('qx pairs after hand edits, and qx export', () => {
  // A scored workspace with default pairs and five hand edits (the review panel's edit paths through
  // the core API: accept, reject, note, swap, and an edited expansion that re-points its pair).
  before(async () => {
    const file = join(tmp, 'passages.jsonl');
    const passages = readFileSync(join(sample, 'corpus.dl19-pool.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { text: string }).text);
    writeFileSync(file, topics.flatMap((qid, q) => Array.from({ length: PER_QUERY }, (_, i) => JSON.stringify({ qid, generated: passages[(q * PER_QUERY + i) % passages.length] }))).join('\n') + '\n');
    curated = await init('curated');
    await ok(['import', file, '--workspace', curated, '--model', 'pool', '--method', 'passage', '--role', 'imported', '--formulation', 'concat']);
    await ok(['score', '--workspace', curated]);
    await ok(['pairs', '--workspace', curated, '--allow-below-original']);
    const ws = await openWorkspace(curated, { settings: structuredClone(defaultSettings), logger: nullLogger, getApiKey: async () => undefined });
    try {
      const pairs = topics.flatMap((qid) => ws.getQueryReview(qid).pairs);
      assert.ok(pairs.length >= 5, `${pairs.length} default pairs`);
      ws.setPairState(pairs[0]!.id, 'accepted');
      ws.setPairState(pairs[1]!.id, 'rejected');
      ws.setPairNote(pairs[2]!.id, 'kept by hand');
      ws.swapPair(pairs[3]!.id);
      await ws.editExpansion(pairs[4]!.chosenId, 'a hand-written passage that answers the query');
    } finally {
      await ws.close();
    }
  });

  /** A copy of the curated workspace (no lock: it was closed). */
  function copyOf(name: string): string {
    const ws = join(tmp, name);
    cpSync(curated, ws, { recursive: true });
    return ws;
  }

  /** The five hand edits, as they must survive any rebuild. */
  function handEdits(ws: string): string[] {
    return pairsOf(ws)
      .filter((p) => p.state !== 'auto' || p.note !== undefined)
      .map((p) => `${p.id} ${p.state}${p.note === undefined ? '' : ` "${p.note}"`}`)
      .sort();
  }

  test('kill -9 mid-pairs: the store reopens, the hand edits are kept, and a rerun gives the same pairs as an uninterrupted run', async (t) => {
    const edits = handEdits(curated);
    assert.equal(edits.length, 5, edits.join('\n'));
    const control = copyOf('pairs-control');
    const built = JSON.parse((await ok(['pairs', '--workspace', control, ...allPairs])).stdout) as { pairs: number; created: number };
    assert.ok(built.created > 1000, `${built.created} new pairs: a rebuild big enough to interrupt`);
    const expected = pairsOf(control);
    assert.deepEqual(handEdits(control), edits);

    // Killed as soon as the rebuild's journal append starts to reach the disk.
    const ws = copyOf('pairs-kill');
    const journal = join(ws, '.qx', 'pairs.jsonl');
    const before = size(journal);
    let stop = (): void => {};
    const r = await qx(['pairs', '--workspace', ws, ...allPairs], { onSpawn: (child) => (stop = when(() => size(journal) > before, () => child.kill('SIGKILL'))) });
    stop();
    assert.equal(r.signal, 'SIGKILL', `qx pairs ended before its journal grew:\n${r.stderr}`);
    const left = readFileSync(journal);
    t.diagnostic(`killed with ${left.length - before} of the rebuild's ${size(join(control, '.qx', 'pairs.jsonl')) - before} bytes in the journal${left[left.length - 1] === 0x0a ? '' : ', the last line torn'}`);
    assert.ok(existsSync(join(ws, '.qx', 'lock')), 'the killed process left its lock behind');
    assert.deepEqual(handEdits(ws), edits, 'the hand edits survive the kill');
    const rerun = await ok(['pairs', '--workspace', ws, ...allPairs]);
    assert.match(rerun.stderr, /is gone; taking the lock over/);
    assert.deepEqual(pairsOf(ws), expected);

    // The same rebuild cut in the middle of a line, as a kill during the write would leave it: the
    // torn line is dropped on reopen, the lines before it are kept, and the rerun converges.
    const torn = copyOf('pairs-torn');
    const full = readFileSync(join(control, '.qx', 'pairs.jsonl'));
    const cut = before + Math.floor((full.length - before) / 2);
    assert.notEqual(full[cut - 1], 0x0a, 'the cut falls inside a line');
    writeFileSync(join(torn, '.qx', 'pairs.jsonl'), full.subarray(0, cut));
    const again = await ok(['pairs', '--workspace', torn, ...allPairs]);
    assert.match(again.stderr, /dropped an incomplete last line .* nothing acknowledged was lost/);
    assert.deepEqual(pairsOf(torn), expected);
    assert.deepEqual(handEdits(torn), edits);
  });

  test('kill -9 mid-export: the target keeps the previous export whole, and a rerun writes the same bytes as an uninterrupted export', async () => {
    const ws = copyOf('export');
    await ok(['pairs', '--workspace', ws, ...allPairs]);
    const exportArgs = (out: string, ...more: string[]): string[] => ['export', '--workspace', ws, '--format', 'trl-standard', '--allow-eval-queries', '--out', out, '--json', ...more];
    const refDir = join(tmp, 'export-ref');
    const outDir = join(tmp, 'export-out');
    mkdirSync(refDir);
    mkdirSync(outDir);
    const ref = join(refDir, 'train.jsonl');
    const out = join(outDir, 'train.jsonl');
    const full = JSON.parse((await ok(exportArgs(ref))).stdout) as { records: number };
    assert.ok(full.records > 1000 && size(ref) > 1_000_000, `${full.records} records, ${size(ref)} bytes`);
    // An earlier, smaller export (the hand-decided pairs only) at the target.
    await ok(exportArgs(out, '--states', 'accepted,edited'));
    const previous = readFileSync(out);
    const previousManifest = readFileSync(`${out}.manifest.json`);

    const temps = (): string[] => readdirSync(outDir).filter((f) => f.startsWith('.train.jsonl.') && f.endsWith('.tmp'));
    let stop = (): void => {};
    const r = await qx(exportArgs(out), { onSpawn: (child) => (stop = when(() => temps().length > 0, () => child.kill('SIGKILL'))) });
    stop();
    assert.equal(r.signal, 'SIGKILL', `qx export ended before it started writing:\n${r.stderr}`);
    assert.ok(temps().length > 0, 'killed while the new export was being written');
    assert.ok(readFileSync(out).equals(previous), 'the target still holds the previous export, whole');
    assert.ok(readFileSync(`${out}.manifest.json`).equals(previousManifest), 'and the manifest that describes it');

    await ok(exportArgs(out));
    assert.ok(readFileSync(out).equals(readFileSync(ref)), 'the rerun writes the bytes of an uninterrupted export');
    const manifest = (f: string): Record<string, unknown> => ({ ...(JSON.parse(readFileSync(`${f}.manifest.json`, 'utf8')) as Record<string, unknown>), createdAt: null });
    assert.deepEqual(manifest(out), manifest(ref));
    assert.deepEqual(temps(), [], 'no temp file of the killed export is left beside it');
  });
});

// ---- the index build of a first qx score ----

test('kill -9 during the index build of qx score: the next qx score rebuilds it and scores as an uninterrupted run', async () => {
  const ws = await init('index-kill');
  await ok(['import', join(sample, 'expansions', 'Qwen2.5-72B-Instruct.query2doc-fs.0656857b.queries.tsv'), '--workspace', ws, '--model', 'Qwen2.5-72B-Instruct', '--method', 'query2doc-fs', '--role', 'teacher']);
  const indexDir = join(ws, '.qx', 'index');
  const building = (): boolean => existsSync(indexDir) && readdirSync(indexDir).some((f) => f.startsWith('gen-') && f.endsWith('.tmp'));
  let stop = (): void => {};
  const r = await qx(['score', '--workspace', ws], { onSpawn: (child) => (stop = when(building, () => child.kill('SIGKILL'))) });
  stop();
  assert.equal(r.signal, 'SIGKILL', `qx score ended before it built the index:\n${r.stderr}`);
  assert.ok(!existsSync(join(indexDir, 'CURRENT')), 'killed before the index was complete');
  assert.equal(journalLines(ws, 'scores.jsonl'), 0, 'nothing was scored yet');

  const rerun = await ok(['score', '--workspace', ws, '--json']);
  assert.match(rerun.stderr, /that locked the index .* is gone; taking the lock over/);
  assert.equal((JSON.parse(rerun.stdout) as { scored: number }).scored, QUERIES);
  const gens = readdirSync(indexDir).filter((f) => f !== 'CURRENT');
  assert.deepEqual(gens, [readFileSync(join(indexDir, 'CURRENT'), 'utf8').trim()], 'one complete index; the killed build\'s folder and lock are gone');
  // Lucene BM25 on this pool: 0.4644 for the original queries, 0.6421 with these expansions
  // (bench/RESULTS.md; cliBm25.test.ts checks the same figures through qx search and qx eval).
  const report = JSON.parse((await ok(['report', '--workspace', ws, '--json'])).stdout) as { original: { meanNdcg10: number }; methods: { method: string; meanNdcg10: number }[] };
  assert.equal(report.original.meanNdcg10.toFixed(4), '0.4644');
  assert.equal(report.methods.find((m) => m.method === 'query2doc-fs')?.meanNdcg10.toFixed(4), '0.6421');
});
