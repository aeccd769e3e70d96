import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { Bm25Index, type BuildOptions, type BuildReport } from '../../../../src/core/bm25/bm25Index.js';
import { corpusForIndex } from '../../../../src/core/bm25/docStore.js';
import { QxError, isCancellationError } from '../../../../src/core/errors.js';
import type { Logger } from '../../../../src/core/logger.js';
import type { ProgressReport } from '../../../../src/core/progress.js';
import { JOURNAL_FILE } from '../../../../src/core/bm25/buildJournal.js';
import { currentIndexFiles, writeSyntheticCorpus } from './indexBuildFixtures.js';

const tmp = (): string => mkdtempSync(path.join(tmpdir(), 'qx-resume-'));

/** A logger keeping its info/warn lines. */
function captureLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const keep = (m: string | Error): void => void lines.push(String(m));
  return { lines, trace: () => {}, debug: () => {}, info: keep, warn: keep, error: keep };
}

const OPTIONS: BuildOptions = { threads: 2, segmentPostings: 20_000 };

/** Builds `corpus` into `dir` as qx index does; `abortWhen` may cancel it (given the generation folder's journal and the progress report). */
async function build(
  corpus: string,
  dir: string,
  logger: Logger,
  abortWhen?: (journal: { segments: unknown[] } | undefined, p: ProgressReport) => boolean,
  abortOnLine?: (line: string) => boolean,
): Promise<{ report: BuildReport; index: Bm25Index }> {
  const controller = new AbortController();
  if (abortOnLine !== undefined) {
    const info = logger.info.bind(logger);
    logger = { ...logger, info: (m) => (info(m), abortOnLine(String(m)) ? controller.abort() : undefined) };
  }
  const journal = (): { segments: unknown[] } | undefined => {
    const gen = existsSync(dir) ? readdirSync(dir).find((n) => n.startsWith('gen-') && n.endsWith('.tmp')) : undefined;
    const file = gen === undefined ? undefined : path.join(dir, gen, JOURNAL_FILE);
    return file !== undefined && existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { segments: unknown[] }) : undefined;
  };
  const { docs, plan, onProgress, resumeInput } = await corpusForIndex([corpus], undefined, {
    signal: controller.signal,
    onProgress: (p) => {
      if (abortWhen?.(journal(), p) === true) controller.abort();
    },
  });
  const { index, report } = await Bm25Index.build(abortWhen === undefined ? docs : paced(docs), {
    ...OPTIONS,
    dir,
    store: plan,
    signal: controller.signal,
    logger,
    resumeInput,
    ...(onProgress === undefined ? {} : { onProgress }),
  });
  return { index, report };
}

/**
 * The documents with a pause every 1,000: the journal is written between reads, and on a loaded
 * machine a fast reader could reach the end of the corpus before any segment is journaled.
 */
async function* paced<T>(docs: AsyncIterable<T>): AsyncGenerator<T> {
  let n = 0;
  for await (const d of docs) {
    if (++n % 1000 === 0) await new Promise((r) => setTimeout(r, 10));
    yield d;
  }
}

/** Cancels a build of `corpus` into `dir` once at least `segments` segments are journaled. */
async function cancelledBuild(corpus: string, dir: string, segments: number): Promise<string[]> {
  const logger = captureLogger();
  await assert.rejects(
    build(corpus, dir, logger, (j) => (j?.segments.length ?? 0) >= segments),
    (e) => isCancellationError(e),
  );
  assert.ok(!existsSync(path.join(dir, 'CURRENT')), 'the build was cancelled before it finished (make the corpus larger)');
  return logger.lines;
}

const N = 60_000;

test('a cancelled build keeps its finished segments and says how to resume; the rerun reuses them, analyzes only the rest and writes the same index files as an uninterrupted build', async () => {
  const root = tmp();
  try {
    const corpus = path.join(root, 'corpus.jsonl');
    writeSyntheticCorpus(corpus, N);
    const fresh = await build(corpus, path.join(root, 'fresh'), captureLogger());
    assert.equal(fresh.report.reusedDocs, undefined);
    const dir = path.join(root, 'resumed');
    const cancelLines = await cancelledBuild(corpus, dir, 4);
    assert.ok(
      cancelLines.some((l) => /cancelled; \d+ finished segments are kept in .*: run the same build again to resume/.test(l)),
      cancelLines.join('\n'),
    );
    const logger = captureLogger();
    const progress: string[] = [];
    const again = await (async () => {
      const { docs, plan, onProgress, resumeInput } = await corpusForIndex([corpus], undefined, { onProgress: (p) => progress.push(p.message ?? '') });
      return Bm25Index.build(docs, { ...OPTIONS, dir, store: plan, logger, resumeInput, ...(onProgress === undefined ? {} : { onProgress }) });
    })();
    const line = logger.lines.find((l) => l.startsWith('resuming: '));
    assert.ok(line !== undefined, logger.lines.join('\n'));
    const m = /^resuming: (\d+) of (\d+) segments \(([\d,]+) documents\) reused from an interrupted build$/.exec(line);
    assert.ok(m !== null, line);
    const reused = Number(m[3]!.replace(/,/g, ''));
    assert.ok(Number(m[1]) >= 2 && reused > 0 && reused < N, line);
    assert.equal(again.report.reusedDocs, reused, 'the report counts the reused documents');
    assert.equal(again.report.numDocs, N);
    const during = progress.filter((p) => p.includes('resuming: '));
    assert.ok(during.length > 0, 'progress shows the reuse');
    assert.ok(
      during.every((p) => !p.includes('ETA')),
      'no ETA while re-reading reused documents (their rate says nothing of the rest)',
    );
    assert.ok(progress.some((p) => /documents\/s.*ETA/.test(p)), `an ETA once analyzing: ${progress.join(' | ')}`);
    // Byte-identical tables, postings and store: the same index.
    const want = currentIndexFiles(path.join(root, 'fresh'));
    const got = currentIndexFiles(dir);
    assert.deepEqual([...got.keys()], [...want.keys()], 'no journal, lengths or segment file is left in the index');
    for (const [name, bytes] of want) assert.ok(bytes.equals(got.get(name)!), `${name} differs from an uninterrupted build's`);
    for (const q of ['w1 w2 w3', 'wa wb', 'w10 w2s w7']) assert.deepEqual(again.index.searchSync(q, 100), fresh.index.searchSync(q, 100), q);
    assert.equal((await again.index.doc('d59999'))?.text, (await fresh.index.doc('d59999'))?.text);
    await again.index.close();
    await fresh.index.close();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

interface Interrupted {
  root: string;
  corpus: string;
  /** The index folder and the kept generation folder in it. */
  dir: string;
  gen: string;
  /** The first journaled segment: file name and bytes. */
  first: { file: string; bytes: number };
}

/** Runs `fn` on a fresh corpus of N documents whose build was cancelled after `segments` journaled segments. */
async function withInterrupted(segments: number, fn: (it: Interrupted) => Promise<void>): Promise<void> {
  const root = tmp();
  try {
    const corpus = path.join(root, 'corpus.jsonl');
    writeSyntheticCorpus(corpus, N);
    const dir = path.join(root, 'idx');
    await cancelledBuild(corpus, dir, segments);
    const gen = path.join(dir, readdirSync(dir).find((n) => n.startsWith('gen-') && n.endsWith('.tmp'))!);
    const journal = JSON.parse(readFileSync(path.join(gen, JOURNAL_FILE), 'utf8')) as { segments: { file: string; bytes: number }[] };
    await fn({ root, corpus, dir, gen, first: journal.segments[0]! });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** Rebuilds `it` and checks that it started over from scratch with a log line matching `why`. */
async function startsOver(it: Interrupted, why: (line: string) => boolean, restart = false): Promise<Bm25Index> {
  const logger = captureLogger();
  const { docs, plan, resumeInput } = await corpusForIndex([it.corpus], undefined, {});
  const { report, index } = await Bm25Index.build(docs, { ...OPTIONS, dir: it.dir, store: plan, logger, resumeInput, restart });
  assert.ok(logger.lines.some(why), logger.lines.join('\n'));
  assert.equal(report.reusedDocs, undefined, 'nothing reused');
  return index;
}

test('a build cancelled after its last document (before the merge) resumes with every document reused and none analyzed', async () => {
  const root = tmp();
  try {
    const corpus = path.join(root, 'corpus.jsonl');
    writeSyntheticCorpus(corpus, N);
    const fresh = await build(corpus, path.join(root, 'fresh'), captureLogger());
    const dir = path.join(root, 'idx');
    // The report with a total comes once every document is analyzed and every segment written.
    await assert.rejects(
      build(corpus, dir, captureLogger(), (_, p) => p.unit === 'documents' && p.total !== undefined),
      (e) => isCancellationError(e),
    );
    assert.ok(!existsSync(path.join(dir, 'CURRENT')));
    const logger = captureLogger();
    const again = await build(corpus, dir, logger);
    assert.ok(logger.lines.some((l) => l.includes(`(${N.toLocaleString('en-US')} documents) reused`)), logger.lines.join('\n'));
    assert.equal(again.report.reusedDocs, N);
    const want = currentIndexFiles(path.join(root, 'fresh'));
    const got = currentIndexFiles(dir);
    for (const [name, bytes] of want) assert.ok(bytes.equals(got.get(name)!), `${name} differs from an uninterrupted build's`);
    await again.index.close();
    await fresh.index.close();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a journal whose last checkpoint is incomplete (one worker\'s segment missing) reuses only the complete prefix and still gives the same index', async () => {
  await withInterrupted(6, async (it) => {
    const fresh = await build(it.corpus, path.join(it.root, 'fresh'), captureLogger());
    // As if killed between the two workers' journal entries of the last complete checkpoint
    // (segment files are named seg-<run>-w<worker>-<checkpoint>.seg): drop worker 1's entry.
    const journalFile = path.join(it.gen, JOURNAL_FILE);
    const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as { segments: { file: string }[] };
    const names = journal.segments.map((e) => e.file);
    const complete = names.map((f) => /-w0-(\d+)\.seg$/.exec(f)?.[1]).filter((k) => k !== undefined && names.some((f) => f.endsWith(`-w1-${k}.seg`)));
    assert.ok(complete.length >= 2, `two complete checkpoints journaled: ${names.join(', ')}`);
    const last = Math.max(...complete.map(Number));
    journal.segments = journal.segments.filter((e) => !e.file.endsWith(`-w1-${last}.seg`));
    writeFileSync(journalFile, JSON.stringify(journal));
    const logger = captureLogger();
    const again = await build(it.corpus, it.dir, logger);
    const m = / (\d+) of (\d+) segments /.exec(logger.lines.find((l) => l.startsWith('resuming: ')) ?? '');
    assert.ok(m !== null, logger.lines.join('\n'));
    assert.equal(Number(m[2]), journal.segments.length);
    assert.ok(Number(m[1]) < journal.segments.length, 'worker 0\'s segment of the incomplete checkpoint is not reused');
    const want = currentIndexFiles(path.join(it.root, 'fresh'));
    const got = currentIndexFiles(it.dir);
    for (const [name, bytes] of want) assert.ok(bytes.equals(got.get(name)!), `${name} differs from an uninterrupted build's`);
    await again.index.close();
    await fresh.index.close();
  });
});

test('a resumed build cancelled again before it journals a new segment still resumes on the next run (the journal lists only what was kept)', async () => {
  await withInterrupted(6, async (it) => {
    const fresh = await build(it.corpus, path.join(it.root, 'fresh'), captureLogger());
    // A segment past the reusable prefix: worker 1's entry of the last checkpoint dropped, as if
    // killed between the two workers' entries. The first resume deletes worker 0's file of it.
    const journalFile = path.join(it.gen, JOURNAL_FILE);
    const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as { segments: { file: string }[] };
    const last = Math.max(...journal.segments.map((e) => Number(/-w1-(\d+)\.seg$/.exec(e.file)?.[1] ?? -1)));
    journal.segments = journal.segments.filter((e) => !e.file.endsWith(`-w1-${last}.seg`));
    writeFileSync(journalFile, JSON.stringify(journal));
    // Cancelled as soon as it says it resumes, before it journals anything new.
    await assert.rejects(
      build(it.corpus, it.dir, captureLogger(), () => false, (line) => line.startsWith('resuming: ')),
      (e) => isCancellationError(e),
    );
    const logger = captureLogger();
    const again = await build(it.corpus, it.dir, logger);
    assert.ok(again.report.reusedDocs !== undefined && again.report.reusedDocs > 0, logger.lines.join('\n'));
    assert.ok(!logger.lines.some((l) => l.startsWith('starting over')), logger.lines.join('\n'));
    const want = currentIndexFiles(path.join(it.root, 'fresh'));
    const got = currentIndexFiles(it.dir);
    for (const [name, bytes] of want) assert.ok(bytes.equals(got.get(name)!), `${name} differs from an uninterrupted build's`);
    await again.index.close();
    await fresh.index.close();
  });
});

test('a corpus changed since the interrupted build starts it over and says why', async () => {
  await withInterrupted(2, async (it) => {
    appendFileSync(it.corpus, JSON.stringify({ id: 'added', text: 'appended later' }) + '\n');
    const index = await startsOver(it, (l) => /^starting over: the interrupted build in .* cannot be resumed, the corpus changed since/.test(l));
    assert.equal(index.numDocs, N + 1);
    assert.deepEqual(index.searchSync('appended').map((h) => h.docid), ['added']);
    await index.close();
  });
});

test('a truncated segment file is not reused: the build starts over, says which file, and gives the right index', async () => {
  await withInterrupted(2, async (it) => {
    const fresh = await build(it.corpus, path.join(it.root, 'fresh'), captureLogger());
    truncateSync(path.join(it.gen, it.first.file), it.first.bytes - 10);
    const index = await startsOver(it, (l) => l.startsWith('starting over: ') && l.includes(`${it.first.file} has ${it.first.bytes - 10} bytes, ${it.first.bytes} were written`));
    for (const q of ['w1 w2 w3', 'w10 w2s w7']) assert.deepEqual(index.searchSync(q, 100), fresh.index.searchSync(q, 100), q);
    await index.close();
    await fresh.index.close();
  });
});

test('a bit flipped in a segment file fails its checksum: not reused', async () => {
  await withInterrupted(2, async (it) => {
    const file = path.join(it.gen, it.first.file);
    const bytes = readFileSync(file);
    bytes[bytes.length >> 1]! ^= 1;
    writeFileSync(file, bytes);
    const index = await startsOver(it, (l) => l.startsWith('starting over: ') && l.includes('is damaged (checksum mismatch)'));
    assert.equal(index.numDocs, N);
    await index.close();
  });
});

test('restart discards an interrupted build and says so', async () => {
  await withInterrupted(2, async (it) => {
    const index = await startsOver(it, (l) => l.startsWith('starting over as asked'), true);
    assert.equal(index.numDocs, N);
    await index.close();
  });
});

test('a segment that passes its checksum but does not decode fails the merge as an index error naming the build folder and how to start over', async () => {
  await withInterrupted(2, async (it) => {
    // As a disk fault after the checksum was taken, or a bug, would leave it: the file cut short
    // and the journal agreeing with it.
    const file = path.join(it.gen, it.first.file);
    const cut = readFileSync(file).subarray(0, it.first.bytes - 64);
    writeFileSync(file, cut);
    const journalFile = path.join(it.gen, JOURNAL_FILE);
    const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as { segments: { file: string; bytes: number; crc32: number }[] };
    journal.segments[0]!.bytes = cut.length;
    journal.segments[0]!.crc32 = crc32(cut);
    writeFileSync(journalFile, JSON.stringify(journal));
    const { docs, plan, resumeInput } = await corpusForIndex([it.corpus], undefined, {});
    await assert.rejects(Bm25Index.build(docs, { ...OPTIONS, dir: it.dir, store: plan, logger: captureLogger(), resumeInput }), (e: unknown) => {
      assert.ok(QxError.is(e, 'index'), String(e));
      assert.match(e.message, new RegExp(`merging the index segments in .*${path.basename(it.gen)}.* failed`));
      assert.match(e.message, /qx index --rebuild/);
      return true;
    });
    assert.ok(!existsSync(path.join(it.dir, 'CURRENT')), 'no index was published');
  });
});
