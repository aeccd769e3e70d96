import { closeSync, createWriteStream, existsSync, fstatSync, openSync, readFileSync, readSync, statSync, type WriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { basename, join, resolve } from 'node:path';
import { crc32, deflateRaw, inflateRawSync } from 'node:zlib';
import { QxError } from '../errors.js';
import {
  type CorpusFormat,
  detectCorpusFormat,
  POINTABLE_FORMATS,
  parseCorpusRecord,
  readCorpus,
  readCorpusPool,
  type ReadCorpusOptions,
} from '../dataset/corpus.js';
import { assertReadableFile } from '../dataset/textFile.js';
import { packingOf } from '../dataset/dataStream.js';
import type { CorpusDoc } from '../dataset/types.js';
import { etaText, type ProgressCallback } from '../progress.js';
import { fsyncPath, rebuildHint, writeDurable } from './indexFiles.js';
import { NumberList } from './postings.js';

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
 * How an on-disk index keeps its documents' texts:
 * - `copy`: copied into the index, compressed in blocks (`store.jsonl.z`, `store.off`,
 *   `store.blk`; indexes built before that: plain `store.jsonl`); works for any corpus.
 * - `pointer`: only each document's byte span in the user's corpus file (`store.ptr`, 12 bytes a
 *   document) plus a fingerprint of that file, checked before the first read.
 */
export type DocStoreMode = 'copy' | 'pointer';

/**
 * What `planDocStore` decided, handed to `Bm25Index.build({ store })`. `csvColumns`: a csv
 * corpus's header, filled in when `corpusForIndex`'s reader parses it (the store records it to
 * parse the records it reads back).
 */
export type DocStorePlan = { mode: 'copy'; reason: string } | { mode: 'pointer'; corpus: string; format: CorpusFormat; csvColumns?: string[] };

/** A corpus file's identity, cheap to check at 3 GB: size, modification time and a hash of sampled blocks. */
export interface CorpusFingerprint {
  /** Bytes. */
  size: number;
  /** Modification time, milliseconds since the epoch. */
  mtimeMs: number;
  /** sha256 (hex) of {@link FINGERPRINT_BLOCKS} blocks of {@link FINGERPRINT_BLOCK_BYTES} bytes spread evenly over the file, first and last included. */
  sampleSha256: string;
}

/** The store's part of the index metadata (`meta.json` → `store`); absent in indexes made before pointer stores (= copy). */
export type DocStoreMeta = { mode: 'copy'; compression?: 'deflate-blocks' } | { mode: 'pointer'; corpus: string; format: CorpusFormat; fingerprint: CorpusFingerprint; csvColumns?: string[] };

/** A file of the store, as listed in the index metadata (crc32 -1: not checked, too big). */
export interface StoreFile {
  name: string;
  bytes: number;
  crc32: number;
}

/** Blocks hashed for a fingerprint. */
export const FINGERPRINT_BLOCKS = 32;
/** Bytes per fingerprint block. */
export const FINGERPRINT_BLOCK_BYTES = 4096;

/** Copied stores of indexes built before block compression: plain JSONL. */
const COPY_FILE = 'store.jsonl';
/** Each document's offset in the uncompressed JSONL (Float64, numDocs + 1): both copy layouts. */
const COPY_OFFSETS = 'store.off';
const COPY_BLOCKS = 'store.jsonl.z';
const COPY_INDEX = 'store.blk';
/** Uncompressed bytes per compressed block of a copied store (a block ends after the document that reaches it). */
export const STORE_BLOCK_BYTES = 64 * 1024;
const POINTER_FILE = 'store.ptr';

/**
 * Chooses how a build keeps the documents: pointers into the corpus when it is one uncompressed
 * jsonl, tsv or csv file and `copyDocs` is not set; a copy otherwise (gzip or tar input, several
 * pool files, rank_llm JSON, Cranfield). `reason` says why a copy was chosen. `format`: as given
 * to `readCorpus` (undefined: from the file name).
 */
export async function planDocStore(paths: readonly string[], format: CorpusFormat | undefined, copyDocs = false): Promise<DocStorePlan> {
  if (copyDocs) return { mode: 'copy', reason: 'asked for (--copy-docs)' };
  if (paths.length !== 1) return { mode: 'copy', reason: 'several corpus files' };
  const packing = await packingOf(paths[0]!);
  if (packing !== 'plain') return { mode: 'copy', reason: `the corpus is a ${packing} file` };
  const fmt = format ?? detectCorpusFormat(paths[0]!);
  if (!POINTABLE_FORMATS.includes(fmt)) return { mode: 'copy', reason: `${fmt} records cannot be read back alone` };
  return { mode: 'pointer', corpus: resolve(paths[0]!), format: fmt };
}

/**
 * The documents of a corpus (one file, or a pool of several) read for `Bm25Index.build`, the
 * document store plan that goes with them (pointer spans are read only when pointing), what
 * identifies them for resuming an interrupted build (`resumeInput`: paths, format and each
 * file's fingerprint), and the progress callback to give the build: for one file it reports
 * megabytes of the file on disk (compressed bytes for `.gz`; unit "MB", with a total, the
 * document count in `message`), so a progress bar has an end; the build's final report
 * (documents, with total) passes through. The ETA counts from the end of the documents a resumed
 * build reuses (`ProgressReport.reused`).
 */
export async function corpusForIndex(
  paths: readonly string[],
  format: CorpusFormat | undefined,
  options: { signal?: AbortSignal | undefined; copyDocs?: boolean; onProgress?: ProgressCallback | undefined },
): Promise<{ docs: AsyncIterable<CorpusDoc>; plan: DocStorePlan; onProgress: ProgressCallback | undefined; resumeInput: unknown }> {
  for (const p of paths) await assertReadableFile(p, 'corpus');
  const plan = await planDocStore(paths, format, options.copyDocs === true);
  const resumeInput = { format: format ?? null, files: paths.map((p) => ({ path: resolve(p), ...fingerprintFile(p) })) };
  let bytes: { done: number; total: number } | undefined;
  const read: ReadCorpusOptions = { spans: plan.mode === 'pointer', onBytes: (done, total) => (bytes = { done, total }), ...(options.signal === undefined ? {} : { signal: options.signal }) };
  if (plan.mode === 'pointer' && plan.format === 'csv') read.onCsvColumns = (columns) => (plan.csvColumns = columns);
  const docs = paths.length === 1 ? readCorpus(paths[0]!, format, read) : readCorpusPool(paths, format, read);
  const report = options.onProgress;
  // Where the ETA counts from: the start, or the end of the documents a resumed build reuses.
  let from = { ms: Date.now(), bytes: 0 };
  let fromSet = false;
  // floor/ceil keep the bar short of its end until the build's own final report. The ETA assumes
  // the bytes-per-second so far holds (the merge of segments after the last document is not in it).
  const onProgress: ProgressCallback | undefined =
    report === undefined
      ? undefined
      : (p) => {
          if (bytes === undefined || p.total !== undefined || bytes.done >= bytes.total) return report(p);
          const reusing = p.reused !== undefined && p.done <= p.reused;
          if (p.reused !== undefined && !reusing && !fromSet) {
            from = { ms: Date.now(), bytes: bytes.done };
            fromSet = true;
          }
          const eta = reusing ? undefined : etaText(Date.now() - from.ms, bytes.done - from.bytes, bytes.total - from.bytes);
          const parts = [`${p.done.toLocaleString('en-US')} documents`, ...(p.message === undefined ? [] : [p.message]), ...(eta === undefined ? [] : [eta])];
          report({ done: Math.floor(bytes.done / 1e6), total: Math.ceil(bytes.total / 1e6), unit: 'MB', message: parts.join(', ') });
        };
  return { docs, plan, onProgress, resumeInput };
}

/** Fingerprints a file (see {@link CorpusFingerprint}); reads at most 128 KB. */
export function fingerprintFile(path: string): CorpusFingerprint {
  const fd = openSync(path, 'r');
  try {
    return fingerprintSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes a build's document store into the generation folder, one document at a time in doc-number order. */
export interface DocStoreWriter {
  /** Adds the next document; returns a promise only when the caller must wait (backpressure). */
  add(doc: CorpusDoc): Promise<void> | undefined;
  /** Flushes and fsyncs the store's files; returns them and the metadata to record. */
  finish(): Promise<{ files: StoreFile[]; meta: DocStoreMeta }>;
  /** Closes what is open after a failed build (the folder is deleted by the caller). */
  abort(): Promise<void>;
}

/** A writer for `plan` (default: copy) into the generation folder `dir`. */
export async function createDocStoreWriter(dir: string, plan: DocStorePlan = { mode: 'copy', reason: 'default' }): Promise<DocStoreWriter> {
  return plan.mode === 'pointer' ? PointerWriter.start(dir, plan) : new CopyWriter(dir);
}

async function writeSynced(file: string, data: Uint8Array): Promise<StoreFile> {
  await writeDurable(file, data);
  return { name: basename(file), bytes: data.byteLength, crc32: crc32(data) };
}

/**
 * Copies the documents as JSONL, compressed in blocks of about {@link STORE_BLOCK_BYTES} with raw
 * deflate (node:zlib, run on the libuv thread pool while indexing goes on): `store.jsonl.z` holds
 * the blocks, `store.off` each document's offset in the uncompressed text (Float64, numDocs + 1),
 * `store.blk` each block's first document and offset in `store.jsonl.z` (Float64 pairs, blocks + 1).
 */
class CopyWriter implements DocStoreWriter {
  private out: WriteStream | undefined;
  private readonly offsets = new NumberList(undefined, 1 << 20);
  private readonly firstDocs = new NumberList(undefined, 1 << 20);
  private readonly sizes: number[] = [];
  private bytes = 0;
  private pending: string[] = [];
  private pendingBytes = 0;
  private docs = 0;
  private blockFirst = 0;
  private inFlight = 0;
  private tail: Promise<void> = Promise.resolve();
  constructor(private readonly dir: string) {
    this.out = createWriteStream(join(dir, COPY_BLOCKS));
    this.offsets.push(0);
  }
  add(doc: CorpusDoc): Promise<void> | undefined {
    const line = JSON.stringify(doc.title === undefined ? { id: doc.id, text: doc.text ?? '' } : { id: doc.id, title: doc.title, text: doc.text ?? '' }) + '\n';
    const n = Buffer.byteLength(line);
    this.bytes += n;
    this.offsets.push(this.bytes);
    this.pending.push(line);
    this.pendingBytes += n;
    this.docs++;
    if (this.pendingBytes < STORE_BLOCK_BYTES) return undefined;
    this.flushBlock();
    // Keep a few blocks compressing at once; wait when more are queued.
    return this.inFlight > 4 ? this.tail : undefined;
  }
  private flushBlock(): void {
    if (this.pending.length === 0) return;
    const raw = Buffer.from(this.pending.join(''));
    this.firstDocs.push(this.blockFirst);
    this.blockFirst = this.docs;
    this.pending = [];
    this.pendingBytes = 0;
    this.inFlight++;
    const compressed = new Promise<Buffer>((res, rej) => deflateRaw(raw, (e, z) => (e ? rej(e) : res(z))));
    compressed.catch(() => undefined);
    const out = this.out!;
    this.tail = this.tail.then(async () => {
      const z = await compressed;
      this.inFlight--;
      this.sizes.push(z.length);
      if (!out.write(z)) await new Promise<void>((r) => out.once('drain', () => r()));
    });
    // Marked handled here; add() and finish() still see a failure when they wait on it.
    this.tail.catch(() => undefined);
  }
  async finish(): Promise<{ files: StoreFile[]; meta: DocStoreMeta }> {
    this.flushBlock();
    await this.tail;
    const out = this.out!;
    this.out = undefined;
    await new Promise<void>((res, rej) => out.end((e?: Error | null) => (e ? rej(e) : res())));
    const blockFile = join(this.dir, COPY_BLOCKS);
    await fsyncPath(blockFile);
    const first = this.firstDocs.to((n) => new Float64Array(n));
    const index = new Float64Array(2 * (first.length + 1));
    let at = 0;
    for (let i = 0; i < first.length; i++) {
      index[2 * i] = first[i]!;
      index[2 * i + 1] = at;
      at += this.sizes[i]!;
    }
    index[2 * first.length] = this.docs;
    index[2 * first.length + 1] = at;
    const off = await writeSynced(join(this.dir, COPY_OFFSETS), new Uint8Array(this.offsets.to((n) => new Float64Array(n)).buffer));
    const blk = await writeSynced(join(this.dir, COPY_INDEX), new Uint8Array(index.buffer));
    return { files: [off, blk, { name: COPY_BLOCKS, bytes: (await stat(blockFile)).size, crc32: -1 }], meta: { mode: 'copy', compression: 'deflate-blocks' } };
  }
  async abort(): Promise<void> {
    const out = this.out;
    this.out = undefined;
    await this.tail.catch(() => undefined);
    if (out !== undefined) {
      await new Promise<void>((res) => {
        out.on('error', () => res());
        out.end(() => res());
      });
    }
  }
}

class PointerWriter implements DocStoreWriter {
  private readonly starts = new NumberList(undefined, 1 << 20);
  private readonly lengths = new NumberList(undefined, 1 << 20);
  private constructor(
    private readonly dir: string,
    private readonly plan: Extract<DocStorePlan, { mode: 'pointer' }>,
    private readonly before: CorpusFingerprint,
  ) {}
  static async start(dir: string, plan: Extract<DocStorePlan, { mode: 'pointer' }>): Promise<PointerWriter> {
    return new PointerWriter(dir, plan, fingerprintFile(plan.corpus));
  }
  add(doc: CorpusDoc): undefined {
    if (doc.span === undefined) {
      throw new QxError('internal', `document ${doc.id} has no byte span in ${this.plan.corpus}`, { hint: 'Read the corpus with readCorpus(…, { spans: true }) for a pointer store.' });
    }
    if (doc.span.bytes > 0xffffffff) {
      throw new QxError('dataset', `document ${doc.id} is larger than 4 GB`, { file: this.plan.corpus, hint: 'Index with --copy-docs.' });
    }
    this.starts.push(doc.span.start);
    this.lengths.push(doc.span.bytes);
    return undefined;
  }
  async finish(): Promise<{ files: StoreFile[]; meta: DocStoreMeta }> {
    const after = fingerprintFile(this.plan.corpus);
    const change = fingerprintChange(this.before, after);
    if (change !== undefined) {
      throw new QxError('dataset', `the corpus changed while it was being indexed (${change})`, {
        file: this.plan.corpus,
        hint: 'Index it again once nothing writes to it.',
      });
    }
    const n = this.starts.length;
    const buf = new Uint8Array(n * 12);
    new Float64Array(buf.buffer, 0, n).set(this.starts.to((n) => new Float64Array(n)));
    new Uint32Array(buf.buffer, n * 8, n).set(this.lengths.to((n) => new Float64Array(n)));
    const file = await writeSynced(join(this.dir, POINTER_FILE), buf);
    const meta: DocStoreMeta = { mode: 'pointer', corpus: this.plan.corpus, format: this.plan.format, fingerprint: this.before };
    if (this.plan.format === 'csv') {
      if (this.plan.csvColumns === undefined && n > 0) {
        throw new QxError('internal', `the header of ${this.plan.corpus} was not captured`, { hint: 'Read a csv corpus for a pointer store through corpusForIndex, which records its columns.' });
      }
      meta.csvColumns = this.plan.csvColumns ?? [];
    }
    return { files: [file], meta };
  }
  async abort(): Promise<void> {}
}

/** What differs between two fingerprints, in words; undefined when they match. */
export function fingerprintChange(was: CorpusFingerprint, now: CorpusFingerprint): string | undefined {
  if (was.size !== now.size) return `size ${was.size} → ${now.size} bytes`;
  // Millisecond resolution: copying tools and utimes keep no more.
  if (Math.abs(was.mtimeMs - now.mtimeMs) >= 1) return `modified ${new Date(now.mtimeMs).toISOString()}, indexed as of ${new Date(was.mtimeMs).toISOString()}`;
  if (was.sampleSha256 !== now.sampleSha256) return 'content differs';
  return undefined;
}

/**
 * Opens the store of an index generation folder `dir` (`root`: the index folder, for hints),
 * checking that its files are present and agree with `numDocs`. Nothing is read up front: a
 * pointer store checks its corpus's fingerprint and loads its offsets on the first `get`.
 * `idOf(docNo)` gives the indexed docid, which every pointed read must find again.
 */
export function openDocStore(
  dir: string,
  root: string,
  meta: DocStoreMeta | undefined,
  files: readonly StoreFile[],
  numDocs: number,
  idOf: (docNo: number) => string | undefined,
): DocStore {
  const entry = (name: string): StoreFile => {
    const e = files.find((f) => f.name === name);
    const file = join(dir, name);
    const size = existsSync(file) ? statSync(file).size : -1;
    if (e === undefined || size !== e.bytes) throw new QxError('index', 'index file is missing or damaged (size mismatch)', { file, hint: rebuildHint(root) });
    return e;
  };
  if (meta?.mode === 'copy' && meta.compression === 'deflate-blocks') {
    const off = entry(COPY_OFFSETS);
    const blk = entry(COPY_INDEX);
    const data = entry(COPY_BLOCKS);
    if (off.bytes !== (numDocs + 1) * 8 || blk.bytes % 16 !== 0) throw new QxError('index', 'index files disagree with each other', { file: dir, hint: rebuildHint(root) });
    return new BlockDocStore(dir, root, off, blk, data.bytes, numDocs);
  }
  if (meta === undefined || meta.mode === 'copy') {
    const off = entry(COPY_OFFSETS);
    entry(COPY_FILE);
    if (off.bytes !== (numDocs + 1) * 8) throw new QxError('index', 'index files disagree with each other', { file: dir, hint: rebuildHint(root) });
    const buf = readFileSync(join(dir, COPY_OFFSETS));
    if (crc32(buf) !== off.crc32) throw new QxError('index', 'index file is damaged (size or checksum mismatch)', { file: join(dir, COPY_OFFSETS), hint: rebuildHint(root) });
    const offsets = new Float64Array(new Uint8Array(buf).buffer);
    return new FileDocStore(join(dir, COPY_FILE), offsets);
  }
  const ptr = entry(POINTER_FILE);
  if (ptr.bytes !== numDocs * 12) throw new QxError('index', 'index files disagree with each other', { file: dir, hint: rebuildHint(root) });
  return new PointerDocStore(join(dir, POINTER_FILE), ptr.crc32, meta, numDocs, idOf, root);
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

/**
 * Reads documents of a copied, block-compressed store (see `CopyWriter`): one `pread` of the
 * block, one inflate (the last block is kept, so neighbours cost nothing), one JSON parse. The
 * offset tables (12 bytes a document) are loaded and checksummed on the first `get`, not at open.
 */
export class BlockDocStore implements DocStore {
  private fd: number | undefined;
  private offsets: Float64Array | undefined;
  /** [firstDoc, zOffset] pairs, blocks + 1. */
  private blocks: Float64Array | undefined;
  private cached: { block: number; text: Buffer } | undefined;
  constructor(
    private readonly dir: string,
    private readonly root: string,
    private readonly off: StoreFile,
    private readonly blk: StoreFile,
    private readonly dataBytes: number,
    private readonly numDocs: number,
  ) {}

  private damaged(file: string, cause?: unknown): QxError {
    return new QxError('index', 'document store is damaged', { file, hint: rebuildHint(this.root), ...(cause === undefined ? {} : { cause }) });
  }

  private table(entry: StoreFile): Float64Array {
    const file = join(this.dir, entry.name);
    const buf = readFileSync(file);
    if (buf.byteLength !== entry.bytes || crc32(buf) !== entry.crc32) throw this.damaged(file);
    return new Float64Array(new Uint8Array(buf).buffer);
  }

  private load(): number {
    this.offsets = this.table(this.off);
    this.blocks = this.table(this.blk);
    const last = this.blocks.length / 2 - 1;
    if (this.blocks[2 * last] !== this.numDocs || this.blocks[2 * last + 1] !== this.dataBytes) throw this.damaged(join(this.dir, COPY_INDEX));
    this.fd = openSync(join(this.dir, COPY_BLOCKS), 'r');
    return this.fd;
  }

  get(docNo: number): CorpusDoc | undefined {
    if (docNo < 0 || docNo >= this.numDocs) return undefined;
    const fd = this.fd ?? this.load();
    const blocks = this.blocks!;
    // Last block whose first document is ≤ docNo.
    let lo = 0;
    let hi = blocks.length / 2 - 2;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (blocks[2 * mid]! <= docNo) lo = mid;
      else hi = mid - 1;
    }
    const file = join(this.dir, COPY_BLOCKS);
    try {
      if (this.cached?.block !== lo) {
        const z = Buffer.alloc(blocks[2 * lo + 3]! - blocks[2 * lo + 1]!);
        readSync(fd, z, 0, z.length, blocks[2 * lo + 1]!);
        this.cached = { block: lo, text: inflateRawSync(z) };
      }
      const base = this.offsets![blocks[2 * lo]!]!;
      const line = this.cached.text.toString('utf8', this.offsets![docNo]! - base, this.offsets![docNo + 1]! - base);
      const o = JSON.parse(line) as { id: string; title?: string; text: string };
      return o.title === undefined ? { id: o.id, text: o.text } : { id: o.id, title: o.title, text: o.text };
    } catch (e) {
      throw this.damaged(file, e);
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.cached = undefined;
  }
}

/**
 * Reads documents from the user's corpus file at the byte spans recorded at build time: one
 * `pread` and a parse with the corpus reader's own rules per document. Before the first read it
 * checks the corpus's fingerprint (size, mtime, sampled blocks) and loads the spans (12 bytes a
 * document); each read also checks that the record still holds the indexed docid. A moved, edited
 * or truncated corpus is an `index` QxError naming the file and the fix.
 */
export class PointerDocStore implements DocStore {
  private fd: number | undefined;
  private starts: Float64Array | undefined;
  private lengths: Uint32Array | undefined;
  constructor(
    private readonly ptrFile: string,
    private readonly ptrCrc: number,
    private readonly meta: Extract<DocStoreMeta, { mode: 'pointer' }>,
    private readonly numDocs: number,
    private readonly idOf: (docNo: number) => string | undefined,
    private readonly root: string,
  ) {}

  /** The corpus file the documents are read from. */
  get corpus(): string {
    return this.meta.corpus;
  }

  private changed(problem: string): QxError {
    return new QxError('index', `the index ${this.root} reads its document texts from ${this.meta.corpus}, which ${problem}`, {
      file: this.meta.corpus,
      hint: `Put the original file back, or index again: qx index --corpus ${this.meta.corpus} --out ${this.root} (add --copy-docs to keep the texts inside the index).`,
    });
  }

  private load(): number {
    let fd: number;
    try {
      fd = openSync(this.meta.corpus, 'r');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw this.changed(code === 'ENOENT' ? 'is missing (moved or deleted)' : `cannot be read (${code ?? String(e)})`);
    }
    try {
      const now = fingerprintSync(fd);
      const change = fingerprintChange(this.meta.fingerprint, now);
      if (change !== undefined) throw this.changed(`changed since the index was built (${change})`);
      const buf = readFileSync(this.ptrFile);
      if (crc32(buf) !== this.ptrCrc) throw new QxError('index', 'index file is damaged (size or checksum mismatch)', { file: this.ptrFile, hint: rebuildHint(this.root) });
      const copy = new Uint8Array(buf).buffer;
      this.starts = new Float64Array(copy, 0, this.numDocs);
      this.lengths = new Uint32Array(copy, this.numDocs * 8, this.numDocs);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    this.fd = fd;
    return fd;
  }

  get(docNo: number): CorpusDoc | undefined {
    if (docNo < 0 || docNo >= this.numDocs) return undefined;
    const fd = this.fd ?? this.load();
    const start = this.starts![docNo]!;
    const buf = Buffer.alloc(this.lengths![docNo]!);
    const got = readSync(fd, buf, 0, buf.length, start);
    const want = this.idOf(docNo);
    if (got < buf.length) throw this.changed(`ends before document ${want ?? docNo} (byte ${start}): it was cut short`);
    let doc: CorpusDoc;
    try {
      doc = parseCorpusRecord(this.meta.format, this.meta.corpus, buf.toString('utf8'), this.meta.csvColumns);
    } catch (e) {
      throw this.changed(`no longer holds a valid record for document ${want ?? docNo} at byte ${start} (${(e as Error).message})`);
    }
    if (want !== undefined && doc.id !== want) throw this.changed(`holds document ${doc.id} where ${want} was indexed (byte ${start})`);
    return doc;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

function fingerprintSync(fd: number): CorpusFingerprint {
  const st = fstatSync(fd);
  const hash = createHash('sha256');
  hash.update(`${st.size}\n`);
  const buf = Buffer.alloc(FINGERPRINT_BLOCK_BYTES);
  const last = Math.max(0, st.size - FINGERPRINT_BLOCK_BYTES);
  for (let i = 0; i < FINGERPRINT_BLOCKS; i++) {
    const at = Math.floor((last * i) / (FINGERPRINT_BLOCKS - 1));
    const n = readSync(fd, buf, 0, buf.length, at);
    hash.update(buf.subarray(0, n));
  }
  return { size: st.size, mtimeMs: st.mtimeMs, sampleSha256: hash.digest('hex') };
}
