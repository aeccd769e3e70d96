import { closeSync, existsSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import { QxError } from '../errors.js';
import type { Logger } from '../logger.js';

const CHUNK_BYTES = 16 << 20;

/** Options of {@link scanJournal}. */
export interface JournalScanOptions {
  logger: Logger;
  /** Cut a torn last line off the file (the store does when it holds the lock). */
  repair: boolean;
  /** The journal's name in messages; default its file name. */
  label?: string;
  /** Start here instead of at the beginning: a byte offset at a line start, and the lines before it. */
  from?: { offset: number; lines: number };
}

/** What a scan covered: the bytes and lines up to the end of the last whole line kept. */
export interface JournalScanResult {
  /** Bytes of a torn or unparsable last line that were dropped (0 when the file was clean). */
  droppedBytes: number;
  /** Bytes from the file's start to the end of the last whole line kept. */
  size: number;
  /** Lines (newlines) in those bytes, empty lines included. */
  lines: number;
}

/**
 * Streams a JSONL journal line by line as bytes, in 16 MB reads: `onLine(buf, start, end,
 * offset, line)` gets each non-empty complete line as `buf[start..end)` (no newline), its byte
 * offset in the file and its 1-based line number; `buf` is reused after the call returns. A
 * last line without its newline, or one that does not parse (`onLine` throws a `SyntaxError`), is
 * the trace of a write that was never acknowledged (the process died mid-append): it is dropped,
 * reported with `logger.warn`, and, when `repair` is set, cut off the file so the next append
 * starts on a clean line. A bad line anywhere else is damage we cannot explain away:
 * QxError('store') naming file and line. Streaming lets a journal be larger than the longest
 * string V8 can hold (~512 MB). With `from`, the scan starts at that line (e.g. where a
 * checkpoint ends).
 */
export function scanJournal(
  file: string,
  options: JournalScanOptions,
  onLine: (buf: Buffer, start: number, end: number, offset: number, line: number) => void,
): JournalScanResult {
  const start = options.from?.offset ?? 0;
  let line = options.from?.lines ?? 0;
  if (!existsSync(file)) return { droppedBytes: 0, size: 0, lines: 0 };
  const name = options.label ?? basename(file);
  const fd = openSync(file, 'r');
  let size = 0;
  let keepBytes = start;
  let keepLines = line;
  try {
    size = fstatSync(fd).size;
    let buf = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, Math.max(size - start, 1)));
    let have = 0;
    let base = start;
    let pos = start;
    let stop = false;
    while (!stop && pos < size) {
      if (have === buf.length) {
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, have);
        buf = bigger;
      }
      const n = readSync(fd, buf, have, Math.min(buf.length - have, size - pos), pos);
      if (n === 0) break;
      pos += n;
      have += n;
      const view = buf.subarray(0, have);
      let s = 0;
      for (;;) {
        const nl = view.indexOf(0x0a, s);
        if (nl < 0) break;
        line++;
        if (nl > s) {
          try {
            onLine(buf, s, nl, base + s, line);
          } catch (e) {
            if (!(e instanceof SyntaxError)) throw e;
            if (base + nl + 1 === size) {
              // A complete-looking but unparsable last line: the newline made it to disk, the rest did not.
              stop = true;
              break;
            }
            throw new QxError('store', `line ${line} of the curation journal is not valid JSON`, {
              file,
              line,
              cause: e,
              hint: `The store is damaged in the middle of ${name}; restore .qx from version control or a backup, or delete that line by hand if you know what it held.`,
            });
          }
        }
        s = nl + 1;
        keepBytes = base + s;
        keepLines = line;
      }
      buf.copy(buf, 0, s, have);
      base += s;
      have -= s;
    }
  } finally {
    closeSync(fd);
  }
  const dropped = size - keepBytes;
  if (dropped > 0) {
    options.logger.warn(
      `${file}: dropped an incomplete last line (${dropped} bytes) left by an interrupted write; nothing acknowledged was lost.`,
    );
    if (options.repair) {
      const wfd = openSync(file, 'r+');
      try {
        ftruncateSync(wfd, keepBytes);
        fsyncSync(wfd);
      } finally {
        closeSync(wfd);
      }
    }
  }
  return { droppedBytes: dropped, size: keepBytes, lines: keepLines };
}

/** Where an appended line is in its journal. */
export interface JournalLine {
  /** Byte offset of the line's start. */
  offset: number;
  /** Bytes of the line without its newline. */
  length: number;
  /** 1-based line number. */
  line: number;
}

/**
 * An append-only JSONL file. Each `append` writes whole lines with one `write` and `fsync`s
 * before returning, so once a call returns its lines survive a crash or kill -9. It keeps count
 * of the file's bytes and lines (given `lines`, the count when opened), so it can say where each
 * appended line is.
 */
export class JournalWriter {
  private fd: number | null;
  private bytes: number;

  constructor(
    readonly file: string,
    private lineCount = 0,
  ) {
    this.fd = openSync(file, 'a');
    this.bytes = fstatSync(this.fd).size;
  }

  /** Bytes in the file (as far as this writer knows: it holds the store lock). */
  get size(): number {
    return this.bytes;
  }

  /** Lines in the file. */
  get lines(): number {
    return this.lineCount;
  }

  /** Appends one line per value and syncs to disk; returns where each line is. Values must be JSON-serializable. */
  append(values: readonly unknown[]): JournalLine[] {
    if (this.fd === null) throw new QxError('internal', `journal ${this.file} is closed`);
    if (values.length === 0) return [];
    let text = '';
    const at: JournalLine[] = [];
    let offset = this.bytes;
    let line = this.lineCount;
    for (const v of values) {
      const json = JSON.stringify(v);
      const length = Buffer.byteLength(json, 'utf8');
      at.push({ offset, length, line: ++line });
      offset += length + 1;
      text += json + '\n';
    }
    const data = Buffer.from(text, 'utf8');
    let off = 0;
    while (off < data.length) off += writeSync(this.fd, data, off, data.length - off);
    fsyncSync(this.fd);
    this.bytes += data.length;
    this.lineCount = line;
    return at;
  }

  close(): void {
    if (this.fd !== null) {
      closeSync(this.fd);
      this.fd = null;
    }
  }
}
