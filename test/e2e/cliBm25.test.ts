// The BM25 commands end to end: the built CLI (dist/cli.js) is spawned the way a user runs it,
// relative paths from its working folder, on the real Cranfield collection and the DL19 pool.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DATA } from '../fixtures/dataPaths.js';

const repo = resolve(__dirname, '../..');
const cli = join(repo, 'dist', 'cli.js');
const cranfield = join(DATA, 'cranfield');
const cranDocs = join(cranfield, 'cran.all.1400');
const cranQueries = join(cranfield, 'cran.qry');
const cranQrels = join(cranfield, 'cranqrel');
const sample = join(repo, 'samples', 'dl19');
const pool = join(sample, 'corpus.dl19-pool.jsonl');
const dl19Topics = join(sample, 'topics.dl19-passage.txt');
const dl19Qrels = join(sample, 'qrels.dl19-passage.txt');
const query2doc = join(sample, 'expansions', 'Qwen2.5-72B-Instruct.query2doc-fs.0656857b.queries.tsv');

const tmp = mkdtempSync(join(tmpdir(), 'qx-bm25-e2e-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
/** A tiny corpus with a duplicate id. */
const small = join(tmp, 'small.jsonl');

/** Figures published in bench/RESULTS.md (BM25 k1 0.9, b 0.4, Lucene length norms unless noted). */
const PUBLISHED = {
  cranfield: { ndcg10: '0.3510', map: '0.2879' },
  dl19Pool: { ndcg10: '0.4644', query2doc: '0.6421', exactLengths: '0.4639' },
};

function newestMtime(dir: string): number {
  return Math.max(0, ...readdirSync(dir, { withFileTypes: true }).map((e) => (e.isDirectory() ? newestMtime(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs)));
}

// The test runs the bundle a user runs; rebuild it when the sources are newer (npm test builds first).
before(() => {
  if (!existsSync(cli) || statSync(cli).mtimeMs < newestMtime(join(repo, 'src'))) {
    execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: repo, stdio: 'pipe' });
  }
  writeFileSync(
    small,
    [
      { id: 'd1', text: 'wing in a propeller slipstream' },
      { id: 'd2', text: 'boundary layer of a flat plate' },
      { id: 'd1', text: 'a duplicate that mentions hypersonic flow' },
      { id: 'd3', text: 'hypersonic flow past a blunt body' },
    ]
      .map((d) => JSON.stringify(d))
      .join('\n') + '\n',
  );
});

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function qx(...args: string[]): Result {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: tmp, encoding: 'utf8', maxBuffer: 1 << 28, env: { ...process.env, QX_LOG: 'info' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Starts `qx` without waiting; `exited` resolves with its output. */
function qxAsync(...args: string[]): { pid: number; kill: (s: NodeJS.Signals) => void; exited: Promise<Result> } {
  const child = spawn(process.execPath, [cli, ...args], { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, QX_LOG: 'info' } });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<Result>((res) => child.on('close', (code) => res({ code, stdout, stderr })));
  return { pid: child.pid!, kill: (s) => child.kill(s), exited };
}

async function waitFor(what: string, ready: () => boolean, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ready()) {
    assert.ok(Date.now() < deadline, `timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The `all` value of one measure in trec_eval's output. */
function measure(stdout: string, name: string): string {
  const m = new RegExp(`^${name}\\s+\\tall\\t(\\S+)$`, 'm').exec(stdout);
  assert.ok(m, `no ${name} line in:\n${stdout}`);
  return m[1]!;
}

/** Reads a TREC run and checks every line as trec_eval would need it; returns the docids per qid. */
function readRun(file: string): Map<string, string[]> {
  const run = new Map<string, string[]>();
  const last = new Map<string, number>();
  readFileSync(file, 'utf8').trimEnd().split('\n').forEach((line, i) => {
    const cols = line.split(' ');
    assert.equal(cols.length, 6, `${file}:${i + 1}: "${line}"`);
    const [qid, q0, docid, rank, score] = cols as [string, string, string, string, string];
    assert.equal(q0, 'Q0');
    const docs = run.get(qid) ?? [];
    assert.equal(Number(rank), docs.length + 1, `${file}:${i + 1}: ranks of ${qid} run 1, 2, 3 …`);
    assert.ok(Number.isFinite(Number(score)) && Number(score) <= (last.get(qid) ?? Infinity), `${file}:${i + 1}: scores descend`);
    assert.ok(!docs.includes(docid), `${file}:${i + 1}: ${docid} twice for ${qid}`);
    docs.push(docid);
    run.set(qid, docs);
    last.set(qid, Number(score));
  });
  return run;
}

const currentGeneration = (dir: string): string => readFileSync(join(tmp, dir, 'CURRENT'), 'utf8').trim();
const countMatches = (file: string, re: RegExp): number => readFileSync(file, 'utf8').match(re)?.length ?? 0;
const lineCount = (file: string): number => readFileSync(file, 'utf8').trimEnd().split('\n').length;

describe('qx index, search and eval on the Cranfield collection', () => {
  test('qx index shows progress on stderr; a second qx index into the same folder rebuilds it cleanly', () => {
    const docs = countMatches(cranDocs, /^\.I /gm);
    const first = qx('index', '--corpus', cranDocs, '--out', 'cran-idx');
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, new RegExp(`^indexed ${docs} documents into ${join(tmp, 'cran-idx')} in [\\d.]+ s`));
    assert.match(first.stderr, new RegExp(`indexing: ${docs}/${docs} documents\n`));
    assert.match(first.stderr, /indexing: done in [\d.]+ s\n/);
    const gen1 = currentGeneration('cran-idx');
    const run1 = qx('search', '--index', 'cran-idx', '--topics', cranQueries);
    assert.equal(run1.code, 0, run1.stderr);

    // `qx index --help`: "Rebuilding into an existing index directory is atomic".
    const second = qx('index', '--corpus', cranDocs, '--out', 'cran-idx');
    assert.equal(second.code, 0, second.stderr);
    const gen2 = currentGeneration('cran-idx');
    assert.notEqual(gen2, gen1, 'a new generation was written');
    assert.deepEqual(readdirSync(join(tmp, 'cran-idx')).sort(), ['CURRENT', gen2], 'the old generation, temp folders and the lock are gone');
    const run2 = qx('search', '--index', 'cran-idx', '--topics', cranQueries);
    assert.equal(run2.code, 0, run2.stderr);
    assert.ok(run2.stdout.length > 0);
    assert.equal(run2.stdout, run1.stdout, 'the rebuilt index returns the same run');
  });

  test(`qx search writes a TREC run; qx eval gives RESULTS.md's nDCG@10 ${PUBLISHED.cranfield.ndcg10} and MAP ${PUBLISHED.cranfield.map}`, () => {
    const queries = countMatches(cranQueries, /^\.I /gm);
    const r = qx('search', '--index', 'cran-idx', '--topics', cranQueries, '--out', 'cran.run');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '', 'with --out the run goes to the file only');
    assert.match(r.stderr, new RegExp(`wrote ${queries} queries to ${join(tmp, 'cran.run')}`));
    assert.match(r.stderr, /searching: done in/);
    const run = readRun(join(tmp, 'cran.run'));
    assert.ok(run.size > 0.95 * queries, `${run.size} of ${queries} queries have hits`);
    for (const qid of run.keys()) assert.ok(Number(qid) >= 1 && Number(qid) <= queries, `qid ${qid} is a query's position, as the qrels number them`);
    for (const docs of run.values()) assert.ok(docs.length <= 1000);
    const meta = JSON.parse(readFileSync(join(tmp, 'cran.run.meta.json'), 'utf8')) as { retriever: { params: unknown }; k: number };
    assert.deepEqual(meta.retriever.params, { k1: 0.9, b: 0.4, lengths: 'lucene' });
    assert.equal(meta.k, 1000);

    const ev = qx('eval', '-c', '-m', 'ndcg_cut.10', '-m', 'map', '--qrels-format', 'cranfield', cranQrels, 'cran.run');
    assert.equal(ev.code, 0, ev.stderr);
    assert.equal(measure(ev.stdout, 'ndcg_cut_10'), PUBLISHED.cranfield.ndcg10);
    assert.equal(measure(ev.stdout, 'map'), PUBLISHED.cranfield.map);
  });
});

describe('qx index, search, bench-search and eval on the DL19 pool', () => {
  test(`original queries give RESULTS.md's nDCG@10 ${PUBLISHED.dl19Pool.ndcg10}, query2doc ${PUBLISHED.dl19Pool.query2doc}, exact lengths ${PUBLISHED.dl19Pool.exactLengths}`, () => {
    const ix = qx('index', '--corpus', pool, '--out', 'dl19-idx');
    assert.equal(ix.code, 0, ix.stderr);
    assert.match(ix.stdout, new RegExp(`^indexed ${lineCount(pool)} documents `));
    const ndcg = (run: string): string => {
      const ev = qx('eval', '-c', '-m', 'ndcg_cut.10', dl19Qrels, run);
      assert.equal(ev.code, 0, ev.stderr);
      return measure(ev.stdout, 'ndcg_cut_10');
    };
    const orig = qx('search', '--index', 'dl19-idx', '--topics', dl19Topics, '--out', 'dl19.run');
    assert.equal(orig.code, 0, orig.stderr);
    assert.equal(readRun(join(tmp, 'dl19.run')).size, lineCount(dl19Topics));
    assert.equal(ndcg('dl19.run'), PUBLISHED.dl19Pool.ndcg10);
    const exp = qx('search', '--index', 'dl19-idx', '--queries', query2doc, '--out', 'dl19-q2d.run');
    assert.equal(exp.code, 0, exp.stderr);
    assert.equal(ndcg('dl19-q2d.run'), PUBLISHED.dl19Pool.query2doc);
    const exact = qx('search', '--index', 'dl19-idx', '--topics', dl19Topics, '--lengths', 'exact', '--out', 'dl19-exact.run');
    assert.equal(exact.code, 0, exact.stderr);
    assert.equal(ndcg('dl19-exact.run'), PUBLISHED.dl19Pool.exactLengths);
  });

  for (const [name, queries, sameAs] of [
    ['original queries', dl19Topics, 'dl19.run'],
    ['query2doc expansions (QueryGym TSV)', query2doc, 'dl19-q2d.run'],
  ] as const) {
    test(`qx bench-search, ${name}: one JSON line of positive figures and the same run as qx search`, () => {
      const out = `bench-${sameAs}`;
      const r = qx('bench-search', '--corpus', pool, '--queries', queries, '--out', out, '--k', '1000');
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.split('\n');
      assert.equal(lines.length, 2, `exactly one line on stdout:\n${r.stdout}`);
      assert.equal(lines[1], '');
      const figures = JSON.parse(lines[0]!) as Record<string, unknown>;
      for (const key of ['build_s', 'index_mb', 'query_p50_ms', 'query_p95_ms', 'peak_rss_mb']) {
        assert.ok(typeof figures[key] === 'number' && Number.isFinite(figures[key]) && figures[key] > 0, `${key} = ${String(figures[key])}`);
      }
      assert.ok((figures.query_p95_ms as number) >= (figures.query_p50_ms as number));
      assert.equal(figures.queries, lineCount(queries));
      assert.equal(figures.docs, lineCount(pool));
      console.log(`bench-search ${name}: ${lines[0]}`);
      const run = readRun(join(tmp, out));
      const sizes = [...run.values()].map((d) => d.length);
      assert.ok(Math.max(...sizes) === 1000, 'some query fills its top 1000, none goes past it');
      assert.equal(readFileSync(join(tmp, out), 'utf8'), readFileSync(join(tmp, sameAs), 'utf8'), 'the in-memory engine ranks as the on-disk index');
      const k10 = qx('bench-search', '--corpus', pool, '--queries', queries, '--out', `k10-${out}`, '--k', '10');
      assert.equal(k10.code, 0, k10.stderr);
      assert.ok([...readRun(join(tmp, `k10-${out}`)).values()].every((d) => d.length <= 10));
    });
  }
});

describe('bad input through the CLI', () => {
  test('an empty corpus file: exit 3, no index written', () => {
    writeFileSync(join(tmp, 'empty.jsonl'), '');
    const r = qx('index', '--corpus', 'empty.jsonl', '--out', 'empty-idx');
    assert.equal(r.code, 3);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /qx index: \S*empty\.jsonl: the corpus has no documents\. Check the corpus path/, 'the message names the file');
    assert.ok(!existsSync(join(tmp, 'empty-idx', 'CURRENT')));
    assert.equal(qx('search', '--index', 'empty-idx', '--topics', dl19Topics).code, 3);
    const bench = qx('bench-search', '--corpus', 'empty.jsonl', '--queries', dl19Topics, '--out', 'empty.run');
    assert.equal(bench.code, 3);
    assert.match(bench.stderr, /the corpus has no documents/);
  });

  test('duplicate ids: the first document is kept, the later one reported and not searchable', () => {
    const r = qx('index', '--corpus', small, '--out', 'small-idx');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /indexed 3 documents .*\(1 duplicate ids skipped, first kept;/);
    assert.match(r.stderr, /1 documents with an already seen id were skipped \(first kept\), e\.g\. d1/);
    writeFileSync(join(tmp, 'hyper.tsv'), 'h\thypersonic\n');
    const s = qx('search', '--index', 'small-idx', '--topics', 'hyper.tsv');
    assert.equal(s.code, 0, s.stderr);
    assert.deepEqual(s.stdout.trimEnd().split('\n').map((l) => l.split(' ')[2]), ['d3']);
    // --threads parses (this small index starts no thread: the split is tested in the BM25 unit
    // tests); not a positive integer is a usage error.
    assert.equal(qx('search', '--index', 'small-idx', '--topics', 'hyper.tsv', '--threads', '1').stdout, s.stdout);
    const bad = qx('search', '--index', 'small-idx', '--topics', 'hyper.tsv', '--threads', '0');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--threads must be a positive integer, got 0/);
  });

  test('queries that analyze to no tokens get no hits, the others are searched (search, RM3, bench-search)', () => {
    writeFileSync(join(tmp, 'odd.tsv'), 'stop\tthe of and a to\npunct\t?!? ... --\nok\tflat plate boundary\n');
    for (const extra of [[], ['--rm3']]) {
      const r = qx('search', '--index', 'small-idx', '--topics', 'odd.tsv', '--out', 'odd.run', ...extra);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /wrote 3 queries/);
      assert.deepEqual([...readRun(join(tmp, 'odd.run')).keys()], ['ok']);
    }
    const b = qx('bench-search', '--corpus', small, '--queries', 'odd.tsv', '--out', 'odd-bench.run');
    assert.equal(b.code, 0, b.stderr);
    assert.equal((JSON.parse(b.stdout) as { queries: number }).queries, 3);
    assert.deepEqual([...readRun(join(tmp, 'odd-bench.run')).keys()], ['ok']);
  });

  test('a damaged index file or torn metadata: exit 3 naming the file and how to rebuild', () => {
    cpSync(join(tmp, 'small-idx'), join(tmp, 'damaged-idx'), { recursive: true });
    const gen = currentGeneration('damaged-idx');
    const postings = join(tmp, 'damaged-idx', gen, 'postings.bin');
    writeFileSync(postings, Buffer.concat([readFileSync(postings), Buffer.from([1, 2, 3, 4])]));
    const r = qx('search', '--index', 'damaged-idx', '--topics', 'hyper.tsv');
    assert.equal(r.code, 3);
    assert.equal(r.stdout, '');
    assert.ok(r.stderr.includes(`${postings}: index file is damaged`), r.stderr);
    assert.ok(r.stderr.includes(`qx index --corpus <corpus> --out ${join(tmp, 'damaged-idx')}`), r.stderr);

    const metaFile = join(tmp, 'damaged-idx', gen, 'meta.json');
    writeFileSync(metaFile, readFileSync(metaFile, 'utf8').slice(0, 40));
    const torn = qx('search', '--index', 'damaged-idx', '--topics', 'hyper.tsv');
    assert.equal(torn.code, 3);
    assert.ok(torn.stderr.includes(`${metaFile}: index metadata is missing or damaged`), torn.stderr);
    assert.match(torn.stderr, /Rebuild it: qx index --corpus/);
  });

  test('an index of an older format version: exit 3 naming meta.json; the rebuild it suggests works', () => {
    cpSync(join(tmp, 'small-idx'), join(tmp, 'old-idx'), { recursive: true });
    const metaFile = join(tmp, 'old-idx', currentGeneration('old-idx'), 'meta.json');
    const meta = JSON.parse(readFileSync(metaFile, 'utf8')) as { version: number };
    meta.version -= 1;
    writeFileSync(metaFile, JSON.stringify(meta));
    const r = qx('search', '--index', 'old-idx', '--topics', 'hyper.tsv');
    assert.equal(r.code, 3);
    assert.ok(r.stderr.includes(`${metaFile}: index format version ${meta.version}, this qx reads version ${meta.version + 1}`), r.stderr);
    const hint = /Rebuild it: qx index --corpus <corpus> --out (\S+)/.exec(r.stderr);
    assert.ok(hint, r.stderr);
    const rebuilt = qx('index', '--corpus', small, '--out', hint[1]!);
    assert.equal(rebuilt.code, 0, rebuilt.stderr);
    assert.equal(qx('search', '--index', 'old-idx', '--topics', 'hyper.tsv').code, 0);
  });

  test('missing files: exit 3 with the path', () => {
    const cases: Array<[string[], string]> = [
      [['index', '--corpus', 'nope.jsonl', '--out', 'nope-idx'], `${join(tmp, 'nope.jsonl')}: corpus file not found`],
      [['search', '--index', 'no-such-idx', '--topics', 'hyper.tsv'], `no index at ${join(tmp, 'no-such-idx')}`],
      [['search', '--index', 'small-idx', '--topics', 'nope.tsv'], `${join(tmp, 'nope.tsv')}: topics file not found`],
      [['search', '--index', 'small-idx', '--queries', 'nope.tsv'], `${join(tmp, 'nope.tsv')}: expansions file not found`],
      [['bench-search', '--corpus', 'nope.jsonl', '--queries', 'hyper.tsv', '--out', 'x.run'], `${join(tmp, 'nope.jsonl')}: corpus file not found`],
      [['bench-search', '--corpus', small, '--queries', 'nope.tsv', '--out', 'x.run'], `${join(tmp, 'nope.tsv')}: expansions file not found`],
    ];
    for (const [args, message] of cases) {
      const r = qx(...args);
      assert.equal(r.code, 3, `qx ${args.join(' ')}: ${r.stderr}`);
      assert.ok(r.stderr.includes(message), `qx ${args.join(' ')}: ${r.stderr}`);
    }
    assert.ok(!existsSync(join(tmp, 'x.run')));
  });

  test('usage errors exit 2; --help prints the usage and exits 0', () => {
    for (const cmd of ['index', 'search', 'bench-search']) {
      const h = qx(cmd, '--help');
      assert.equal(h.code, 0, h.stderr);
      assert.ok(h.stdout.startsWith(`usage: qx ${cmd} `), h.stdout);
      assert.equal(h.stderr, '');
      const bare = qx(cmd);
      assert.equal(bare.code, 2);
      assert.match(bare.stderr, new RegExp(`qx ${cmd} needs .*See qx ${cmd} --help`));
    }
    for (const cmd of ['search', 'bench-search']) {
      const args = cmd === 'search' ? ['--index', 'small-idx', '--topics', 'hyper.tsv'] : ['--corpus', small, '--queries', 'hyper.tsv', '--out', 'k0.run'];
      const r = qx(cmd, ...args, '--k', '0');
      assert.equal(r.code, 2, `${cmd} --k 0: ${r.stderr}`);
      assert.match(r.stderr, /--k must be a positive integer, got 0/);
    }
  });
});

describe('two qx index processes on one folder', { skip: process.platform === 'win32' ? 'pauses the first build with SIGSTOP/SIGCONT, which Windows lacks' : false }, () => {
  /** Starts `qx index` of the DL19 pool into `dir` and waits until it is writing its temp generation. */
  async function startBuild(dir: string): Promise<ReturnType<typeof qxAsync>> {
    const build = qxAsync('index', '--corpus', pool, '--out', dir);
    await waitFor(`the first qx index writes into ${dir}`, () => existsSync(join(tmp, dir)) && readdirSync(join(tmp, dir)).some((n) => n.startsWith('gen-') && n.endsWith('.tmp')));
    return build;
  }

  test('the second build is refused with exit 3 while the first runs; the first completes a whole index', async () => {
    const first = await startBuild('race-idx');
    first.kill('SIGSTOP');
    let second: Result;
    try {
      assert.ok(readdirSync(join(tmp, 'race-idx')).some((n) => n.startsWith('gen-') && n.endsWith('.tmp')), 'the first build is paused mid-way');
      second = qx('index', '--corpus', small, '--out', 'race-idx');
    } finally {
      first.kill('SIGCONT');
    }
    assert.equal(second.code, 3, second.stderr);
    assert.equal(second.stdout, '');
    assert.match(second.stderr, new RegExp(`qx index: ${join(tmp, 'race-idx', 'write.lock')}: the index ${join(tmp, 'race-idx')} is being built by process ${first.pid} since `));
    assert.match(second.stderr, /Wait for that build .* to finish or stop it/);

    const done = await first.exited;
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stdout, new RegExp(`^indexed ${lineCount(pool)} documents`));
    const s = qx('search', '--index', 'race-idx', '--topics', dl19Topics, '--out', 'race.run');
    assert.equal(s.code, 0, s.stderr);
    const ev = qx('eval', '-c', '-m', 'ndcg_cut.10', dl19Qrels, 'race.run');
    assert.equal(measure(ev.stdout, 'ndcg_cut_10'), PUBLISHED.dl19Pool.ndcg10, 'the first build was not disturbed');
    const third = qx('index', '--corpus', small, '--out', 'race-idx');
    assert.equal(third.code, 0, `the lock is released when the build ends: ${third.stderr}`);
  });

  test('a build killed mid-way leaves a stale lock that the next qx index takes over with a warning', async () => {
    const killed = await startBuild('killed-idx');
    killed.kill('SIGKILL');
    await killed.exited;
    assert.ok(existsSync(join(tmp, 'killed-idx', 'write.lock')));
    const r = qx('index', '--corpus', small, '--out', 'killed-idx');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`\\[warn\\] .*write\\.lock: process ${killed.pid} that locked the index .* is gone; taking the lock over`));
    assert.deepEqual(readdirSync(join(tmp, 'killed-idx')).sort(), ['CURRENT', currentGeneration('killed-idx')]);
  });
});
