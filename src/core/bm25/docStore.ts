import { closeSync, openSync, readSync } from 'node:fs';
import { QxError } from '../errors.js';
import type { CorpusDoc } from '../dataset/types.js';

/** Document text by internal doc number (0-based, index order). */
export interface DocStore {
  get(docNo: number): CorpusDoc | undefined;
  close(): void;
}

/** Keeps every document in memory: for small corpora and tests. */
export class MemoryDocStore implements DocStore {
  private readonly docs: CorpusDoc[] = [];
  add(doc: CorpusDoc): void {
    this.docs.push(doc.title === undefined ? { id: doc.id, text: doc.text } : { id: doc.id, title: doc.title, text: doc.text });
  }
  get(docNo: number): CorpusDoc | undefined {
    return this.docs[docNo];
  }
  close(): void {}
}

/**
 * Reads documents lazily from the index's `store.jsonl` (one JSON object per line) using the byte
 * offsets in `store.off` (Float64, numDocs + 1 entries). Nothing is loaded until asked for.
 */
export class FileDocStore implements DocStore {
  private fd: number | undefined;
  constructor(
    private readonly file: string,
    private readonly offsets: Float64Array,
  ) {}

  get(docNo: number): CorpusDoc | undefined {
    if (docNo < 0 || docNo + 1 >= this.offsets.length) return undefined;
    const start = this.offsets[docNo]!;
    const end = this.offsets[docNo + 1]!;
    this.fd ??= openSync(this.file, 'r');
    const buf = Buffer.alloc(end - start);
    readSync(this.fd, buf, 0, buf.length, start);
    try {
      const o = JSON.parse(buf.toString('utf8')) as { id: string; title?: string; text: string };
      return o.title === undefined ? { id: o.id, text: o.text } : { id: o.id, title: o.title, text: o.text };
    } catch (e) {
      throw new QxError('index', `document store is damaged at document ${docNo}`, {
        file: this.file,
        cause: e,
        hint: 'Rebuild the index with `qx index`.',
      });
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
