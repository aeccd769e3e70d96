import { closeSync, existsSync, fsyncSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import { QxError } from '../errors.js';
import type { Logger } from '../logger.js';

/** What reading a journal found, besides its entries. */
export interface JournalReadResult<T> {
  entries: T[];
  /** Bytes of a torn or unparsable last line that were dropped (0 when the file was clean). */
  droppedBytes: number;
}

/**
 * Reads a JSONL journal. A last line without its newline, or one that does not parse, is the
 * trace of a write that was never acknowledged (the process died mid-append): it is dropped,
 * reported with `logger.warn`, and, when `repair` is set, cut off the file so the next append
 * starts on a clean line. A bad line anywhere else is damage we cannot explain away:
 * QxError('store') naming file and line.
 */
export function readJournal<T>(file: string, options: { logger: Logger; repair: boolean; label?: string }): JournalReadResult<T> {
  if (!existsSync(file)) return { entries: [], droppedBytes: 0 };
  const buf = readFileSync(file);
  const entries: T[] = [];
  // Work on bytes: a torn write may end inside a multi-byte character, and decoding only the
  // complete part avoids copying a large string once more.
  const lastNl = buf.lastIndexOf(0x0a);
  let keepBytes = lastNl + 1;
  let dropped = buf.length - keepBytes;
  const lines = lastNl < 0 ? [] : buf.toString('utf8', 0, lastNl).split('\n');
  const name = options.label ?? basename(file);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.length === 0) continue;
    try {
      entries.push(JSON.parse(line) as T);
    } catch (e) {
      if (i === lines.length - 1 && dropped === 0) {
        // A complete-looking but unparsable last line: the newline made it to disk, the rest did not.
        keepBytes -= Buffer.byteLength(line, 'utf8') + 1;
        dropped = buf.length - keepBytes;
        break;
      }
      throw new QxError('store', `line ${i + 1} of the curation journal is not valid JSON`, {
        file,
        line: i + 1,
        cause: e,
        hint: `The store is damaged in the middle of ${name}; restore .qx from version control or a backup, or delete that line by hand if you know what it held.`,
      });
    }
  }
  if (dropped > 0) {
    options.logger.warn(
      `${file}: dropped an incomplete last line (${dropped} bytes) left by an interrupted write; nothing acknowledged was lost.`,
    );
    if (options.repair) {
      const fd = openSync(file, 'r+');
      try {
        ftruncateSync(fd, keepBytes);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
  }
  return { entries, droppedBytes: dropped };
}

/**
 * An append-only JSONL file. Each `append` writes whole lines with one `write` and `fsync`s
 * before returning, so once a call returns its lines survive a crash or kill -9.
 */
export class JournalWriter {
  private fd: number | null;

  constructor(readonly file: string) {
    this.fd = openSync(file, 'a');
  }

  /** Appends one line per value and syncs to disk. Values must be JSON-serializable. */
  append(values: readonly unknown[]): void {
    if (this.fd === null) throw new QxError('internal', `journal ${this.file} is closed`);
    if (values.length === 0) return;
    let text = '';
    for (const v of values) text += JSON.stringify(v) + '\n';
    const data = Buffer.from(text, 'utf8');
    let off = 0;
    while (off < data.length) off += writeSync(this.fd, data, off, data.length - off);
    fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd !== null) {
      closeSync(this.fd);
      this.fd = null;
    }
  }
}
