import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileAtomic as writeFileDurably } from '../files/atomicWrite.js';
import { QxError, datasetError } from '../errors.js';
import { sortLikeTrecEval } from '../eval/trecOrder.js';
import { assertReadableFile, lineBatches } from './textFile.js';
import type { Run, RunLine } from './types.js';

/** Called for each valid line of a run file, in file order. */
type RunLineSink = (qid: string, docid: string, rank: number, score: number, tag: string, line: number) => void;

/**
 * Streams a run file in line batches (runs of thousands of queries do not fit one string) and checks
 * each line's shape. Duplicates are checked by the callers, per query.
 */
async function scanRunFile(path: string, sink: RunLineSink, signal?: AbortSignal): Promise<void> {
  await assertReadableFile(path, 'run');
  let count = 0;
  for await (const batch of lineBatches(path, signal)) {
    for (let i = 0; i < batch.lines.length; i++) {
      const line = batch.first + i;
      const trimmed = batch.lines[i]!.trim();
      if (trimmed === '') continue;
      const cols = trimmed.split(/\s+/);
      if (cols.length !== 6) {
        const missing = cols.length < 6 ? ` (is the ${['qid', 'Q0', 'docid', 'rank', 'score', 'tag'][cols.length]} missing?)` : '';
        throw datasetError(path, line, `expected 6 columns (qid Q0 docid rank score tag), found ${cols.length}${missing}.`, 'Write each hit as "qid Q0 docid rank score tag".');
      }
      const [qid, , docid, rankText, scoreText, tag] = cols as [string, string, string, string, string, string];
      const rank = Number(rankText);
      if (!Number.isFinite(rank)) throw datasetError(path, line, `rank "${rankText}" is not a number.`, 'The 4th column must be the rank (1, 2, ...).');
      const score = Number(scoreText);
      if (!Number.isFinite(score)) throw datasetError(path, line, `score "${scoreText}" is not a number.`, 'The 5th column must be the retrieval score.');
      sink(qid, docid, rank, score, tag, line);
      count++;
    }
  }
  if (count === 0) throw datasetError(path, undefined, 'the run file holds no results.', 'Check that this is the right file.');
}

/** Throws on the first docid listed twice for one query; `lines[i]` is the line of `docids[i]`. */
function checkDuplicates(path: string, qid: string, docids: readonly string[], lines: readonly number[]): void {
  const seen = new Map<string, number>();
  for (let i = 0; i < docids.length; i++) {
    const first = seen.get(docids[i]!);
    if (first !== undefined) {
      throw datasetError(path, lines[i], `docid "${docids[i]}" appears twice for qid "${qid}" (first on line ${first}).`, 'Keep one line per query and document (trec_eval refuses duplicates too).');
    }
    seen.set(docids[i]!, lines[i]!);
  }
}

/**
 * Reads every line of a TREC run file, `qid Q0 docid rank score tag` (space- or TAB-separated,
 * six columns), in file order. A line with another column count, a non-numeric rank or score, or
 * the same docid twice for one query (trec_eval refuses that too) is a `dataset` QxError naming
 * file and line; nothing is returned in that case.
 */
export async function readRunLines(path: string, options: { signal?: AbortSignal } = {}): Promise<RunLine[]> {
  const out: RunLine[] = [];
  const lineNos: number[] = [];
  await scanRunFile(path, (qid, docid, rank, score, tag, line) => {
    out.push({ qid, docid, rank, score, tag });
    lineNos.push(line);
  }, options.signal);
  const byQuery = new Map<string, number[]>();
  out.forEach((l, i) => {
    let idx = byQuery.get(l.qid);
    if (idx === undefined) byQuery.set(l.qid, (idx = []));
    idx.push(i);
  });
  for (const [qid, idx] of byQuery) checkDuplicates(path, qid, idx.map((i) => out[i]!.docid), idx.map((i) => lineNos[i]!));
  return out;
}

/**
 * Reads a TREC run into qid → hits (hits in file order; evaluation re-sorts them), streaming the
 * file. Same format and errors as {@link readRunLines}.
 */
export async function readRun(path: string, options: { signal?: AbortSignal } = {}): Promise<Run> {
  const run: Run = new Map();
  const lineNos = new Map<string, number[]>();
  await scanRunFile(path, (qid, docid, rank, score, _tag, line) => {
    let hits = run.get(qid);
    let nos = lineNos.get(qid);
    if (hits === undefined || nos === undefined) {
      run.set(qid, (hits = []));
      lineNos.set(qid, (nos = []));
    }
    hits.push({ docid, score, rank });
    nos.push(line);
  }, options.signal);
  for (const [qid, hits] of run) checkDuplicates(path, qid, hits.map((h) => h.docid), lineNos.get(qid)!);
  return run;
}

/** Groups run lines by query, keeping first-seen query order and line order within a query. */
export function runFromLines(lines: Iterable<RunLine>): Run {
  const run: Run = new Map();
  for (const l of lines) {
    let hits = run.get(l.qid);
    if (hits === undefined) run.set(l.qid, (hits = []));
    hits.push({ docid: l.docid, score: l.score, rank: l.rank });
  }
  return run;
}

/**
 * Formats a run as TREC run text, `qid Q0 docid rank score tag` per line. Queries keep the map's
 * order; hits are sorted like trec_eval (score descending, docid descending by strcmp) and ranked
 * 1..n, so the rank column agrees with what trec_eval evaluates. Scores are written in the
 * shortest form that reads back to the same number.
 * @param tag run tag (the 6th column): non-empty, no whitespace
 */
export function formatRun(run: Run, tag: string): string {
  if (tag === '' || /\s/.test(tag)) throw new QxError('usage', `run tag "${tag}" must be non-empty and contain no whitespace.`);
  const parts: string[] = [];
  for (const [qid, hits] of run) {
    if (/\s/.test(qid)) throw new QxError('internal', `qid "${qid}" contains whitespace and cannot be written to a run file.`);
    sortLikeTrecEval(hits).forEach((h, i) => {
      parts.push(`${qid} Q0 ${h.docid} ${i + 1} ${String(h.score)} ${tag}\n`);
    });
  }
  return parts.join('');
}

/**
 * Writes a run file (see {@link formatRun}) atomically: the text goes to a temporary file beside
 * `path` which is then renamed over it, so a reader never sees half a run. Creates the folder.
 */
export async function writeRun(path: string, run: Run, tag: string): Promise<void> {
  await writeFileAtomic(path, formatRun(run, tag));
}

/**
 * Writes `text` to `path` through a temporary file, fsync and a rename (files/atomicWrite.ts),
 * creating the folder first.
 */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  writeFileDurably(path, text);
}
