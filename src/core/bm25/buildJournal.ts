import { existsSync, readFileSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { crc32 } from 'node:zlib';
import { writeFileAtomic } from '../files/atomicWrite.js';
import { writeDurable } from './indexFiles.js';

/**
 * The journal of an on-disk build (`resume.json` in its generation folder): which segment files
 * are complete, so that a build killed or cancelled half-way can be resumed by running it again.
 *
 * A segment is journaled only after its file and its document lengths (`.len` beside it, Uint32
 * per document in doc-number order) are written and fsynced; the journal itself is replaced
 * atomically. On resume every journaled file is checked (size and CRC-32), and only the segments
 * that together cover a prefix of the corpus (doc numbers 0 … docs − 1) are reused: the build
 * re-reads the corpus up to there without analyzing it (docids, duplicates and the document store
 * are rebuilt as before) and analyzes the rest. Segment size and thread count do not matter for
 * reuse: the merge orders postings by doc number whatever the segments.
 */

/** Journal file name inside the generation folder. */
export const JOURNAL_FILE = 'resume.json';
/** Bumped when the journal or segment file layout changes: an older journal is not reused. */
const JOURNAL_VERSION = 1;

/** A segment file written and fsynced by a build, as reported by the thread that wrote it. */
export interface WrittenSegment {
  /** Path of the segment file. */
  file: string;
  /** Bytes of the segment file. */
  bytes: number;
  /** CRC-32 of the segment file. */
  crc32: number;
  /** Doc-number ranges [start, end) of its documents, ascending. */
  ranges: [number, number][];
}

/** A journaled segment. */
export interface JournalSegment {
  /** File name inside the generation folder. */
  file: string;
  bytes: number;
  crc32: number;
  ranges: [number, number][];
  /** The `.len` file: the documents' lengths in tokens, Uint32 each, in range order. */
  lengthsFile: string;
  lengthsCrc32: number;
}

interface Journal {
  version: number;
  /** What must be equal for reuse: the input (corpus files and fingerprints), analyzer, index format. */
  key: string;
  segments: JournalSegment[];
}

/** What a resumed build starts from. */
export interface ResumeState {
  /** Documents (unique, in doc-number order) whose segments are reused. */
  docs: number;
  /** Segment files reused (full paths). */
  files: string[];
  /** Lengths in tokens of documents 0 … docs − 1. */
  lengths: Uint32Array;
  /** The journal entries of the reused segments (carried into the resumed build's journal). */
  segments: JournalSegment[];
  /** Segments the journal listed (some may lie past the reusable prefix). */
  journaled: number;
}

/** Why an interrupted build in `dir` cannot be reused (one line), or its state. */
export type ResumeCheck = { state: ResumeState } | { reason: string };

const lengthsName = (segFile: string): string => basename(segFile).replace(/\.seg$/, '.len');

/**
 * Reads and checks the journal of the generation folder `dir` against `key`: every listed segment
 * and lengths file must be present with its recorded size and CRC-32. Returns the reusable prefix,
 * or why nothing can be reused. Files of the folder that the reused prefix does not list (segments
 * written after the last journal entry or past the prefix) are deleted.
 */
export async function checkJournal(dir: string, key: string): Promise<ResumeCheck> {
  const journalFile = join(dir, JOURNAL_FILE);
  if (!existsSync(journalFile)) return { reason: 'no segment of it was complete' };
  let journal: Journal;
  try {
    journal = JSON.parse(readFileSync(journalFile, 'utf8')) as Journal;
  } catch {
    return { reason: `its journal ${journalFile} is unreadable` };
  }
  if (journal.version !== JOURNAL_VERSION) return { reason: `its journal is of another qx version (${String(journal.version)})` };
  if (journal.key !== key) return { reason: describeKeyChange(journal.key, key) };
  if (!Array.isArray(journal.segments)) return { reason: `its journal ${journalFile} is unreadable` };
  // Only the segments of the prefix are checked and kept; the journal is cut to them before the
  // other files are deleted, so a resumed build interrupted again still finds what it lists.
  const kept = prefixSegments(journal.segments);
  for (const s of kept) {
    for (const [name, bytes, crc] of [
      [s.file, s.bytes, s.crc32],
      [s.lengthsFile, 4 * s.ranges.reduce((n, [a, b]) => n + b - a, 0), s.lengthsCrc32],
    ] as const) {
      const file = join(dir, name);
      let buf: Buffer;
      try {
        buf = readFileSync(file);
      } catch (e) {
        return { reason: `its file ${file} cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})` };
      }
      if (buf.byteLength !== bytes) return { reason: `its file ${file} has ${buf.byteLength} bytes, ${bytes} were written` };
      if (crc32(buf) !== crc) return { reason: `its file ${file} is damaged (checksum mismatch)` };
    }
  }
  if (kept.length < journal.segments.length) writeFileAtomic(journalFile, JSON.stringify({ ...journal, segments: kept } satisfies Journal));
  const docs = kept.reduce((n, s) => Math.max(n, ...s.ranges.map((r) => r[1])), 0);
  const lengths = new Uint32Array(docs);
  for (const s of kept) {
    const buf = readFileSync(join(dir, s.lengthsFile));
    const values = new Uint32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    let at = 0;
    for (const [a, b] of s.ranges) {
      lengths.set(values.subarray(at, at + b - a), a);
      at += b - a;
    }
  }
  const keep = new Set([JOURNAL_FILE, ...kept.flatMap((s) => [s.file, s.lengthsFile])]);
  for (const name of await readdir(dir)) {
    if ((name.endsWith('.seg') || name.endsWith('.len')) && !keep.has(name)) await rm(join(dir, name), { force: true });
  }
  if (kept.length === 0) return { reason: 'no complete run of documents from the start of the corpus was journaled' };
  return { state: { docs, files: kept.map((s) => join(dir, s.file)), lengths, segments: kept, journaled: journal.segments.length } };
}

/**
 * The segments that together hold doc numbers 0 … D − 1 and nothing beyond, for the largest such
 * D: worker threads take batches in turn, so a segment of one worker can reach past a gap that
 * another worker's unfinished segment would have filled.
 */
function prefixSegments(segments: readonly JournalSegment[]): JournalSegment[] {
  let kept = [...segments];
  for (;;) {
    const ranges = kept.flatMap((s) => s.ranges).sort((x, y) => x[0] - y[0]);
    let end = 0;
    for (const [a, b] of ranges) {
      if (a > end) break;
      end = Math.max(end, b);
    }
    const next = kept.filter((s) => s.ranges.every(([, b]) => b <= end));
    if (next.length === kept.length) return kept;
    kept = next;
  }
}

function describeKeyChange(was: string, now: string): string {
  try {
    const a = JSON.parse(was) as Record<string, unknown>;
    const b = JSON.parse(now) as Record<string, unknown>;
    for (const k of Object.keys({ ...a, ...b })) {
      if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) return k === 'corpus' ? 'the corpus changed since (size, modification time or content)' : `its ${k} differs (${JSON.stringify(a[k])}, now ${JSON.stringify(b[k])})`;
    }
  } catch {
    // an unparsable key is simply different
  }
  return 'it was built from other input';
}

/**
 * The resume key of a build: what must be equal for an interrupted build's segments to be reused.
 * `input` names the corpus (paths, format and fingerprints, from the caller); `analyzer` and the
 * index and journal versions are added here.
 */
export function resumeKey(input: unknown, analyzer: string, formatVersion: number): string {
  return JSON.stringify({ corpus: input, analyzer, format: formatVersion, journal: JOURNAL_VERSION });
}

/**
 * Appends segments to the journal of a generation folder, one at a time in the order given:
 * writes the segment's lengths file (fsynced), then replaces the journal atomically.
 */
export class JournalWriter {
  private readonly segments: JournalSegment[] = [];
  private chain: Promise<void> = Promise.resolve();

  /** `previous`: the state a resumed build starts from (its segments stay in the journal). */
  constructor(
    private readonly dir: string,
    private readonly key: string,
    previous?: ResumeState,
  ) {
    if (previous !== undefined) this.segments.push(...previous.segments);
  }

  /** Queues a journal entry for `seg` whose documents have `lengths` (in range order). */
  add(seg: WrittenSegment, lengths: Uint32Array): void {
    this.chain = this.chain.then(async () => {
      const lengthsFile = lengthsName(seg.file);
      const bytes = new Uint8Array(lengths.buffer, lengths.byteOffset, lengths.byteLength);
      await writeDurable(join(this.dir, lengthsFile), bytes);
      this.segments.push({ file: basename(seg.file), bytes: seg.bytes, crc32: seg.crc32, ranges: seg.ranges, lengthsFile, lengthsCrc32: crc32(bytes) });
      const journal: Journal = { version: JOURNAL_VERSION, key: this.key, segments: this.segments };
      writeFileAtomic(join(this.dir, JOURNAL_FILE), JSON.stringify(journal));
    });
    // Seen by flushed(); until then not an unhandled rejection.
    this.chain.catch(() => undefined);
  }

  /** Segments journaled so far. */
  get count(): number {
    return this.segments.length;
  }

  /** Waits for the queued entries; rejects with the first failure to write one. */
  flushed(): Promise<void> {
    return this.chain;
  }

  /** Deletes the journal and the lengths files (the build is complete). */
  async remove(): Promise<void> {
    await this.chain.catch(() => undefined);
    for (const s of this.segments) await rm(join(this.dir, s.lengthsFile), { force: true });
    await rm(join(this.dir, JOURNAL_FILE), { force: true });
  }
}
