import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { removeAtomicTemps, writeFileAtomic } from '../files/atomicWrite.js';
import type { Logger } from '../logger.js';
import type { PairRecord } from './types.js';

/**
 * A checkpoint of the curation store: what `CurationStore.open` builds from the three journals
 * (expansion heads with their line positions, score summaries with theirs, the folded pairs), in
 * one compact binary file `.qx/store.checkpoint`, so that a store of 400,000 expansions opens by
 * reading tens of MB instead of replaying ~1 GB of JSONL. The journals stay the source of truth:
 * a checkpoint records how far into each journal it reaches (bytes, lines, mtime, and hashes of
 * the journal's first and last 64 KB up to there); an open replays only what was appended past
 * that, and a checkpoint that does not match the journals, or is damaged in any way, is ignored
 * with a log line (the store is rebuilt from the journals). It is written to a temporary file,
 * fsynced and renamed, so a crash while writing leaves the previous checkpoint or none.
 *
 * Layout (little-endian): magic "QXCP", format version (u32), body length (f64), sha256 of the
 * body (32 bytes), then the body: sections, each a u32 byte length followed by its bytes padded to
 * a multiple of 8: meta JSON, string table JSON, the pairs' shapes JSON, then the typed columns.
 */

/** Version of the checkpoint layout and of what the store derives from a journal line; a mismatch is ignored (rebuilt). */
export const checkpointFormatVersion = 2;

/** The checkpoint's file name in `.qx/`. */
export const CHECKPOINT_FILE = 'store.checkpoint';

const MAGIC = 'QXCP';
const PREFIX = 4 + 4 + 8 + 32;
const HASH_SPAN = 64 * 1024;

/** The three journals of a store. */
export type JournalName = 'expansions' | 'scores' | 'pairs';
export const journalNames: readonly JournalName[] = ['expansions', 'scores', 'pairs'];

/** How far a checkpoint reaches into one journal. */
export interface JournalMark {
  /** Bytes of the journal the checkpoint covers (whole lines). */
  size: number;
  /** Lines (newlines) in those bytes. */
  lines: number;
  /** The journal's mtime (ms) when the checkpoint was written; an equal size with another mtime means the file was rewritten. */
  mtimeMs: number;
  /** sha256 (hex) of the first min(64 KB, size) bytes. */
  head: string;
  /** sha256 (hex) of the last min(64 KB, size) bytes before `size`. */
  tail: string;
}

/**
 * The store's state in columns. Strings are indices into `strings`. Expansions are in the store's
 * order (first stored); `expCols` holds 6 indices per expansion (id, qid, role, method, model,
 * provider). Scores are in the store's order (by settings key, then first stored); `scoreCols`
 * holds 2 indices per score (settings key, expansion id) and `scoreNums` 3 numbers (nDCG@10,
 * delta, Judged@10). Offsets, lengths and line numbers locate each record's line in its journal.
 */
export interface CheckpointData {
  marks: Record<JournalName, JournalMark>;
  strings: string[];
  expCols: Uint32Array;
  expOffset: Float64Array;
  expLength: Uint32Array;
  expLine: Uint32Array;
  scoreCols: Uint32Array;
  scoreNums: Float64Array;
  scoreOffset: Float64Array;
  scoreLength: Uint32Array;
  scoreLine: Uint32Array;
  pairs: PairColumns;
}

/**
 * Pairs in columns: each pair's field names and kinds in order (`shapes`, one shared entry per
 * distinct list, e.g. `["id:s", "qid:s", "margin:n", …]`; s = string, n = number, j = other JSON
 * value), then its string fields (indices into the string table), numbers and other values in order.
 */
export interface PairColumns {
  shapes: string[][];
  shape: Uint32Array;
  str: Uint32Array;
  num: Float64Array;
  json: string[];
}

/** Puts pairs in columns; `sid` gives a string's index in the checkpoint's string table. Undefined fields are left out, as in JSON. */
export function encodePairs(pairs: Iterable<PairRecord>, sid: (s: string) => number): PairColumns {
  const shapes: string[][] = [];
  const shapeIds = new Map<string, number>();
  const shape: number[] = [];
  const str: number[] = [];
  const num: number[] = [];
  const json: string[] = [];
  for (const p of pairs) {
    const keys: string[] = [];
    for (const [k, v] of Object.entries(p)) {
      if (v === undefined) continue;
      if (typeof v === 'string') {
        keys.push(`${k}:s`);
        str.push(sid(v));
      } else if (typeof v === 'number') {
        keys.push(`${k}:n`);
        num.push(v);
      } else {
        keys.push(`${k}:j`);
        json.push(JSON.stringify(v));
      }
    }
    const id = keys.join(',');
    let at = shapeIds.get(id);
    if (at === undefined) {
      shapeIds.set(id, (at = shapes.length));
      shapes.push(keys);
    }
    shape.push(at);
  }
  return { shapes, shape: Uint32Array.from(shape), str: Uint32Array.from(str), num: Float64Array.from(num), json };
}

/** The pairs of {@link encodePairs}' columns; throws when the columns do not add up. */
function decodePairs(cols: PairColumns, strings: readonly string[]): PairRecord[] {
  const fields = cols.shapes.map((keys) => keys.map((k) => [k.slice(0, -2), k.slice(-1)] as const));
  const out: PairRecord[] = new Array(cols.shape.length);
  let s = 0;
  let n = 0;
  let j = 0;
  for (let i = 0; i < cols.shape.length; i++) {
    const f = fields[cols.shape[i]!];
    if (f === undefined) throw new Damaged('a pair shape index is out of range');
    const p: Record<string, unknown> = {};
    for (const [k, kind] of f) {
      if (kind === 's') {
        const v = strings[cols.str[s++]!];
        if (v === undefined) throw new Damaged('a pair string index is out of range');
        p[k] = v;
      } else if (kind === 'n') {
        if (n >= cols.num.length) throw new Damaged('pair numbers are missing');
        p[k] = cols.num[n++];
      } else {
        const v = cols.json[j++];
        if (v === undefined) throw new Damaged('pair values are missing');
        p[k] = JSON.parse(v);
      }
    }
    out[i] = p as unknown as PairRecord;
  }
  if (s !== cols.str.length || n !== cols.num.length || j !== cols.json.length) throw new Damaged('pair columns of the wrong size');
  return out;
}

interface CheckpointMeta {
  storeSchemaVersion: number;
  marks: Record<JournalName, JournalMark>;
  expansions: number;
  scores: number;
  strings: number;
  pairs: number;
  pairStrings: number;
  pairNumbers: number;
}

function sha256(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}

function readRange(fd: number, start: number, end: number): Buffer {
  const buf = Buffer.allocUnsafe(Math.max(0, end - start));
  let got = 0;
  while (got < buf.length) {
    const n = readSync(fd, buf, got, buf.length - got, start + got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

/** The mark of a journal file at `size` bytes / `lines` lines (an absent file is the empty journal). */
export function markJournal(file: string, size: number, lines: number): JournalMark {
  if (!existsSync(file)) return { size: 0, lines: 0, mtimeMs: 0, head: sha256(Buffer.alloc(0)), tail: sha256(Buffer.alloc(0)) };
  const fd = openSync(file, 'r');
  try {
    const mtimeMs = fstatSync(fd).mtimeMs;
    return { size, lines, mtimeMs, head: sha256(readRange(fd, 0, Math.min(size, HASH_SPAN))), tail: sha256(readRange(fd, Math.max(0, size - HASH_SPAN), size)) };
  } finally {
    closeSync(fd);
  }
}

/** Why the journal `file` no longer matches `mark`, or null when it does (it may have grown past it). */
export function journalMismatch(file: string, mark: JournalMark): string | null {
  let size = 0;
  let mtimeMs = 0;
  if (existsSync(file)) {
    const st = statSync(file);
    size = st.size;
    mtimeMs = st.mtimeMs;
  }
  if (size < mark.size) return `it is ${size} bytes, shorter than the ${mark.size} the checkpoint covers`;
  if (size === mark.size && mark.size > 0 && mtimeMs !== mark.mtimeMs) return 'it was rewritten (same size, another modification time)';
  if (mark.size === 0) return null;
  const now = markJournal(file, mark.size, mark.lines);
  if (now.head !== mark.head || now.tail !== mark.tail) return 'its content up to the checkpoint changed';
  return null;
}

function section(parts: Buffer[], data: Buffer | ArrayBufferView): void {
  const bytes = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const len = Buffer.alloc(8);
  len.writeUInt32LE(bytes.length, 0);
  parts.push(len.subarray(0, 4), bytes);
  const pad = (8 - ((4 + bytes.length) % 8)) % 8;
  if (pad > 0) parts.push(Buffer.alloc(pad));
}

/**
 * Writes `data` to `<dir>/store.checkpoint` atomically (`writeFileAtomic`: temporary file, fsync,
 * rename, fsync of the folder). Returns the bytes written.
 */
export function writeCheckpoint(dir: string, storeSchemaVersion: number, data: CheckpointData): number {
  const meta: CheckpointMeta = {
    storeSchemaVersion,
    marks: data.marks,
    expansions: data.expOffset.length,
    scores: data.scoreOffset.length,
    strings: data.strings.length,
    pairs: data.pairs.shape.length,
    pairStrings: data.pairs.str.length,
    pairNumbers: data.pairs.num.length,
  };
  const parts: Buffer[] = [];
  section(parts, Buffer.from(JSON.stringify(meta), 'utf8'));
  section(parts, Buffer.from(JSON.stringify(data.strings), 'utf8'));
  section(parts, Buffer.from(JSON.stringify({ shapes: data.pairs.shapes, json: data.pairs.json }), 'utf8'));
  for (const col of [data.expCols, data.expOffset, data.expLength, data.expLine, data.scoreCols, data.scoreNums, data.scoreOffset, data.scoreLength, data.scoreLine, data.pairs.shape, data.pairs.str, data.pairs.num]) section(parts, col);
  const body = Buffer.concat(parts);
  const prefix = Buffer.alloc(PREFIX);
  prefix.write(MAGIC, 0, 'latin1');
  prefix.writeUInt32LE(checkpointFormatVersion, 4);
  prefix.writeDoubleLE(body.length, 8);
  createHash('sha256').update(body).digest().copy(prefix, 16);
  writeFileAtomic(join(dir, CHECKPOINT_FILE), [prefix, body]);
  return PREFIX + body.length;
}

/**
 * Removes temporary checkpoint files left by a process that died while writing one (call with the
 * store lock held): `writeFileAtomic`'s, and the `store.checkpoint.tmp-<pid>` of earlier versions.
 */
export function removeCheckpointLeftovers(dir: string): void {
  removeAtomicTemps(join(dir, CHECKPOINT_FILE), { includeLive: true });
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) if (n.startsWith(`${CHECKPOINT_FILE}.tmp-`)) rmSync(join(dir, n), { force: true });
}

class Damaged extends Error {}
/** A checkpoint of another format or store schema: not damage, just not this build's. */
class Outdated extends Damaged {}

/**
 * Reads `<dir>/store.checkpoint` and checks it: layout, checksum, store schema, column sizes and
 * string indices, and that every journal still starts with what the checkpoint covers. Returns
 * null (after a `logger.info` naming the reason, and a `warn` when the file is damaged) when there
 * is none or it cannot be used; the caller then replays the journals.
 */
export function readCheckpoint(dir: string, storeSchemaVersion: number, logger: Logger): ReadCheckpoint | null {
  const file = join(dir, CHECKPOINT_FILE);
  if (!existsSync(file)) return null;
  let data: ReadCheckpoint;
  try {
    data = decode(readFileSync(file), storeSchemaVersion);
  } catch (e) {
    if (!(e instanceof Damaged) && !(e instanceof SyntaxError) && !(e instanceof RangeError)) throw e;
    if (e instanceof Outdated) {
      logger.info(`${file} was written in another format (${e.message}); replaying the journals.`);
      return null;
    }
    logger.warn(`${file} is damaged (${e.message}); ignoring it and replaying the journals (nothing is lost: they hold every record).`);
    return null;
  }
  for (const name of journalNames) {
    const why = journalMismatch(join(dir, `${name}.jsonl`), data.marks[name]);
    if (why !== null) {
      logger.info(`${file} no longer matches ${name}.jsonl (${why}); replaying the journals.`);
      return null;
    }
  }
  return data;
}

/** A checkpoint as read: its columns, and its pairs decoded (and checked). */
export type ReadCheckpoint = CheckpointData & { pairRecords: PairRecord[] };

function decode(buf: Buffer, storeSchemaVersion: number): ReadCheckpoint {
  if (buf.length < PREFIX || buf.toString('latin1', 0, 4) !== MAGIC) throw new Damaged('not a checkpoint file');
  const version = buf.readUInt32LE(4);
  if (version !== checkpointFormatVersion) throw new Outdated(`format version ${version}, this build reads ${checkpointFormatVersion}`);
  const bodyLength = buf.readDoubleLE(8);
  if (bodyLength !== buf.length - PREFIX) throw new Damaged(`${buf.length - PREFIX} body bytes, the header says ${bodyLength}`);
  const body = buf.subarray(PREFIX);
  if (!createHash('sha256').update(body).digest().equals(buf.subarray(16, 48))) throw new Damaged('checksum mismatch');
  let at = 0;
  const next = (): Buffer => {
    if (at + 4 > body.length) throw new Damaged('truncated');
    const len = body.readUInt32LE(at);
    const start = at + 4;
    if (start + len > body.length) throw new Damaged('truncated');
    at = start + len + ((8 - ((4 + len) % 8)) % 8);
    return body.subarray(start, start + len);
  };
  const meta = JSON.parse(next().toString('utf8')) as CheckpointMeta;
  if (meta.storeSchemaVersion !== storeSchemaVersion) throw new Outdated(`store schema ${meta.storeSchemaVersion}, the store is ${storeSchemaVersion}`);
  const strings = JSON.parse(next().toString('utf8')) as string[];
  const pairTables = JSON.parse(next().toString('utf8')) as { shapes: string[][]; json: string[] };
  // Columns are copied into their own aligned buffers.
  const column = <T extends Uint32Array | Float64Array>(make: (n: number) => T, n: number): T => {
    const b = next();
    const out = make(n);
    if (b.length !== out.byteLength) throw new Damaged('a column has the wrong size');
    Buffer.from(out.buffer).set(b);
    return out;
  };
  const u32 = (n: number) => column((k) => new Uint32Array(k), n);
  const f64 = (n: number) => column((k) => new Float64Array(k), n);
  const e = meta.expansions;
  const s = meta.scores;
  const data: CheckpointData = {
    marks: meta.marks,
    strings,
    expCols: u32(6 * e),
    expOffset: f64(e),
    expLength: u32(e),
    expLine: u32(e),
    scoreCols: u32(2 * s),
    scoreNums: f64(3 * s),
    scoreOffset: f64(s),
    scoreLength: u32(s),
    scoreLine: u32(s),
    pairs: { shapes: pairTables.shapes, json: pairTables.json, shape: u32(meta.pairs), str: u32(meta.pairStrings), num: f64(meta.pairNumbers) },
  };
  if (!Array.isArray(strings) || strings.length !== meta.strings || !Array.isArray(pairTables.shapes) || !Array.isArray(pairTables.json)) throw new Damaged('tables of the wrong size');
  for (const cols of [data.expCols, data.scoreCols]) for (let i = 0; i < cols.length; i++) if (cols[i]! >= strings.length) throw new Damaged('a string index is out of range');
  for (const name of journalNames) {
    const m = meta.marks?.[name];
    if (m === undefined || typeof m.size !== 'number' || typeof m.lines !== 'number' || typeof m.head !== 'string' || typeof m.tail !== 'string') throw new Damaged(`no mark for ${name}.jsonl`);
  }
  return { ...data, pairRecords: decodePairs(data.pairs, strings) };
}
