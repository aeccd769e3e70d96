import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { QxError, datasetError, throwIfAborted } from '../errors.js';
import { readPackedText } from './dataStream.js';

/**
 * Reads a whole UTF-8 data file (a UTF-8 byte-order mark is dropped); a gzipped file, or the
 * first file of a tar archive, is decompressed in memory (`queries.train.tsv.gz`). A missing file, a folder
 * or an unreadable file is a `dataset` QxError naming the path, never a raw ENOENT.
 * @param path file to read
 * @param what what the file should hold, for the message (e.g. "qrels", "run")
 */
export async function readDataFile(path: string, what: string): Promise<string> {
  await assertReadableFile(path, what);
  let text: string;
  try {
    text = (await readPackedText(path)) ?? (await readFile(path, 'utf8'));
  } catch (e) {
    if (e instanceof QxError) throw e;
    throw datasetError(path, undefined, `cannot read the ${what} file (${(e as NodeJS.ErrnoException).code ?? String(e)}).`, 'Check its permissions.');
  }
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Throws a `dataset` QxError unless `path` is an existing regular file. */
export async function assertReadableFile(path: string, what: string): Promise<void> {
  try {
    const s = await stat(path);
    if (!s.isFile()) throw datasetError(path, undefined, `the ${what} path is ${s.isDirectory() ? 'a folder' : 'not a regular file'}.`, `Point it at the ${what} file itself.`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw datasetError(path, undefined, `${what} file not found.`, 'Check the path (relative paths are resolved from the current folder or, in a manifest, from the manifest\'s folder).');
    }
    throw e;
  }
}

/** Splits text into lines, accepting LF and CRLF endings; a final newline makes no empty last line. */
export function splitLines(text: string): string[] {
  const lines = text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Lower-case file extension including the dot, "" when the name has none. */
export function extensionOf(path: string): string {
  const base = path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1);
  const dot = base.lastIndexOf('.');
  return dot <= 0 ? '' : base.slice(dot).toLowerCase();
}

/** Base name of a path (after the last slash or backslash). */
export function baseName(path: string): string {
  return path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1);
}

/** A batch of lines of a text stream. */
export interface LineBatch {
  lines: string[];
  /** 1-based number of the first line. */
  first: number;
  /**
   * With `offsets`: byte offset in the (decompressed) file where each line starts, and its length
   * in bytes without the `\n` (a `\r` before it is counted, though stripped from `lines`).
   */
  starts?: number[];
  byteLengths?: number[];
}

/**
 * Streams a UTF-8 text file as batches of lines (LF or CRLF endings stripped, BOM dropped), for
 * files too big for one string. Several times faster than `readline`. `first` is the 1-based
 * number of the batch's first line. Checks `signal` between batches.
 */
export async function* lineBatches(path: string, signal?: AbortSignal): AsyncGenerator<LineBatch> {
  yield* lineBatchesOf(createReadStream(path, { highWaterMark: 1 << 20 }), signal);
}

/**
 * {@link lineBatches} over any stream of bytes (a plain or decompressed file). With `offsets`,
 * each batch also carries the exact byte span of every line, as the document store needs to point
 * into the file; the BOM counts as bytes before line 1.
 */
export async function* lineBatchesOf(chunks: AsyncIterable<Buffer>, signal?: AbortSignal, offsets = false): AsyncGenerator<LineBatch> {
  let rest: Buffer = Buffer.alloc(0);
  /** Byte offset in the file of rest[0]. */
  let pos = 0;
  let next = 1;
  const cut = (buf: Buffer, end: number): LineBatch => {
    let from = 0;
    if (next === 1 && pos === 0 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) from = 3;
    const lines = buf.toString('utf8', from, end).split('\n');
    const batch: LineBatch = { lines, first: next };
    if (offsets) {
      const starts: number[] = new Array<number>(lines.length);
      const byteLengths: number[] = new Array<number>(lines.length);
      let s = from;
      for (let i = 0; i < lines.length; i++) {
        const nl = i === lines.length - 1 ? end : buf.indexOf(10, s);
        starts[i] = pos + s;
        byteLengths[i] = nl - s;
        s = nl + 1;
      }
      batch.starts = starts;
      batch.byteLengths = byteLengths;
    }
    for (let i = 0; i < lines.length; i++) {
      const l = lines[i]!;
      if (l.endsWith('\r')) lines[i] = l.slice(0, -1);
    }
    next += lines.length;
    return batch;
  };
  for await (const chunk of chunks) {
    throwIfAborted(signal);
    const buf = rest.length === 0 ? chunk : Buffer.concat([rest, chunk]);
    const last = buf.lastIndexOf(10);
    if (last < 0) {
      rest = buf;
      continue;
    }
    yield cut(buf, last);
    rest = buf.subarray(last + 1);
    pos += last + 1;
  }
  if (rest.length > 0) yield cut(rest, rest.length);
}

/**
 * Parses one JSONL line that must hold a JSON object. Invalid JSON or another JSON value is a
 * `dataset` error naming the file and line, with `example` (one valid line) as the fix.
 */
export function parseJsonObjectLine(path: string, line: number | undefined, raw: string, example: string): Record<string, unknown> {
  let obj: unknown;
  try {
    obj = JSON.parse(raw);
  } catch (e) {
    throw datasetError(path, line, `not valid JSON (${(e as Error).message}).`, `Each line must be one JSON object like ${example}.`);
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    throw datasetError(path, line, 'expected a JSON object.', `Each line must be one JSON object like ${example}.`);
  }
  return obj as Record<string, unknown>;
}
