import { closeSync, constants, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { crc32 } from 'node:zlib';
import { QxError } from '../errors.js';
import { type Logger, nullLogger } from '../logger.js';
import { type LockSubject, StoreLock, isLockTemp } from '../files/lock.js';
import type { Bm25Params, BuildReport } from './bm25Index.js';
import { type DocStore, type DocStoreMeta, openDocStore, type StoreFile } from './docStore.js';
import { type ByteSource, DocIdTable, TermTable, type WrittenPostings } from './postings.js';

/**
 * Bumped whenever the on-disk layout changes; `open` refuses any other version. Version 2:
 * compressed postings (varints) with per-term checksums checked on first read, binary term and
 * docid tables. Version 3: postings in bit-packed blocks of 128 (postings.ts).
 */
export const INDEX_FORMAT_VERSION = 3;
const FORMAT = 'qx-bm25';
const CURRENT = 'CURRENT';
/** Held in the index folder by the one process building it (created whole, stale pids taken over; files/lock.ts). */
export const INDEX_LOCK = 'write.lock';

/** What an index holds besides its statistics: postings, tables and norms, loaded lazily. */
export interface IndexTables {
  /** Terms (sorted), their document frequencies and postings. */
  terms: TermTable;
  /** Docids by doc number. */
  docIds: DocIdTable;
  /** Lucene's 1-byte length norm per document. */
  norms: Uint8Array;
  /** Exact number of terms per document (read on first call). */
  lengths: () => Uint32Array;
  /** The skip table (read on first call): per term its first block entry, per block (last doc, end offset). */
  skipTable: () => SkipTable;
  /** Number of postings (term, document) pairs. */
  numPostings: number;
  /** Size of the index in bytes without the document store. */
  bytes: number;
}

/**
 * Where each 128-posting block of the multi-block lists ends: the entries of term `i` are
 * [termSkip[i], termSkip[i + 1]); entry `e` is (skips[2e] = the block's last doc number,
 * skips[2e + 1] = its end byte offset relative to the term's postings).
 */
export interface SkipTable {
  termSkip: Uint32Array;
  skips: Uint32Array;
}

/** The pieces of an index a build hands to `writeIndex`. */
export interface IndexParts {
  postings: WrittenPostings;
  docIds: { text: Buffer; off: Uint32Array; sorted: Uint32Array };
  norms: Uint8Array;
  lengths: Uint32Array;
  /** The document store's files and how it keeps the texts (docStore.ts). */
  store: { files: StoreFile[]; meta: DocStoreMeta };
}

interface FileEntry {
  name: string;
  bytes: number;
  crc32: number;
}

/** meta.json of an index generation. */
export interface Meta {
  format: string;
  version: number;
  created: string;
  analyzer: string;
  analyzerInfo: Record<string, string | number | boolean>;
  params: Bm25Params;
  numDocs: number;
  numTerms: number;
  numPostings: number;
  docCount: number;
  sumTotalTermFreq: number;
  build: BuildReport;
  files: FileEntry[];
  /** How the document texts are kept (see docStore.ts; absent: a plain copy, store.jsonl + store.off). */
  store?: DocStoreMeta;
}

/** A generation being written: a sibling folder that only becomes current on commit. */
export interface Generation {
  root: string;
  name: string;
  dir: string;
  /** The postings file of the generation (written while merging). */
  postingsFile: string;
  /** Deletes the generation folder and releases the build lock. */
  abandon(): Promise<void>;
  /** Releases the build lock (done by commitGeneration and abandon). */
  release(): void;
}

/** The hint of every error about a damaged or outdated index in `dir`. */
export function rebuildHint(dir: string): string {
  return `Rebuild it: qx index --corpus <corpus> --out ${dir}`;
}

function lockSubject(root: string): LockSubject {
  return {
    code: 'index',
    name: `the index ${root}`,
    busy: 'is being built',
    held: 'is being built',
    liveHint: (file) => `Wait for that build (qx index, qx score or QX Studio in VS Code) to finish or stop it; delete ${file} only if that process is not qx.`,
    remoteHint: (file) => `Wait for it to finish there, or delete ${file} if that process is gone.`,
  };
}

/**
 * Starts a new generation folder inside `root`, holding the folder's build lock until the
 * generation is committed or abandoned: a second build of the same folder is refused with an
 * `index` error instead of deleting the first one's files. Stale generations of crashed builds are
 * removed; the current one is left alone. A non-empty folder that is not a qx index is refused.
 * `reuse` (called under the lock with the stale generation folders, newest first) may pick one of
 * them to continue in instead (a resumed build); the others are removed.
 */
export async function newGeneration(root: string, logger: Logger = nullLogger, reuse?: (stale: string[]) => Promise<string | undefined>): Promise<Generation> {
  await mkdir(root, { recursive: true });
  const lock = StoreLock.acquire(join(root, INDEX_LOCK), logger, undefined, lockSubject(root));
  const release = (): void => lock.release();
  try {
    // Another process taking the lock right now has its lock temp file here for a moment.
    const entries = (await readdir(root)).filter((e) => e !== INDEX_LOCK && !isLockTemp(e, INDEX_LOCK));
    const current = await readCurrent(root);
    if (entries.length > 0 && current === undefined && entries.some((e) => !e.startsWith('gen-'))) {
      throw new QxError('config', `${root} is not empty and holds no qx index`, { hint: 'Choose a new or empty directory for --out.' });
    }
    const stale = entries.filter((e) => e.startsWith('gen-') && e !== current && e.endsWith('.tmp')).map((e) => join(root, e));
    const mtimes = new Map(await Promise.all(stale.map(async (d) => [d, (await stat(d)).mtimeMs] as const)));
    stale.sort((a, b) => mtimes.get(b)! - mtimes.get(a)!);
    const kept = reuse === undefined || stale.length === 0 ? undefined : await reuse(stale);
    for (const d of stale) if (d !== kept) await rm(d, { recursive: true, force: true });
    const dir = kept ?? join(root, `gen-${Date.now().toString(36)}-${process.pid}.tmp`);
    const name = basename(dir).replace(/\.tmp$/, '');
    if (kept === undefined) await mkdir(dir);
    return {
      root,
      name,
      dir,
      postingsFile: join(dir, POSTINGS),
      abandon: async () => {
        try {
          await rm(dir, { recursive: true, force: true });
        } finally {
          release();
        }
      },
      release,
    };
  } catch (e) {
    release();
    throw e;
  }
}

/** Writes a file and fsyncs it. */
export async function writeDurable(file: string, data: Uint8Array | string): Promise<void> {
  const h = await open(file, 'w');
  try {
    await h.writeFile(data);
    await h.sync();
  } finally {
    await h.close();
  }
}

/** Fsyncs a file or folder. */
export async function fsyncPath(p: string): Promise<void> {
  const h = await open(p, constants.O_RDONLY);
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

const POSTINGS = 'postings.bin';
/** Files read and checked (size, CRC-32) when the index is opened: small ones. */
const EAGER = ['terms.bin', 'terms.off', 'terms.df', 'postings.off', 'postings.crc', 'norms.u8'];

/**
 * Writes the tables and meta.json into the generation folder beside its postings file (already
 * written), each file fsynced.
 */
export async function writeIndex(
  gen: Generation,
  stats: { analyzer: string; params: Bm25Params; numDocs: number; docCount: number; sumTotalTermFreq: number },
  parts: IndexParts,
  analyzerInfo: Record<string, string | number | boolean>,
  report: BuildReport,
): Promise<void> {
  const files: FileEntry[] = [];
  const put = async (name: string, content: Uint8Array): Promise<void> => {
    await writeDurable(join(gen.dir, name), content);
    files.push({ name, bytes: content.byteLength, crc32: crc32(content) });
  };
  const p = parts.postings;
  await put('terms.bin', p.termText);
  await put('terms.off', bytesOf(p.termOff));
  await put('terms.df', bytesOf(p.dfs));
  await put('postings.off', bytesOf(p.postOff));
  await put('postings.crc', bytesOf(p.crcs));
  await put('skips.off', bytesOf(p.termSkip));
  await put('skips.u32', bytesOf(p.skips));
  await put('docids.bin', parts.docIds.text);
  await put('docids.off', bytesOf(parts.docIds.off));
  await put('docids.sorted', bytesOf(parts.docIds.sorted));
  await put('lengths.u32', bytesOf(parts.lengths));
  await put('norms.u8', parts.norms);
  await fsyncPath(gen.postingsFile);
  // The postings carry one CRC-32 per term (postings.crc), checked when a term is first read.
  files.push({ name: POSTINGS, bytes: (await stat(gen.postingsFile)).size, crc32: -1 });
  files.push(...parts.store.files);
  const meta: Meta = {
    format: FORMAT,
    version: INDEX_FORMAT_VERSION,
    created: new Date().toISOString(),
    analyzer: stats.analyzer,
    analyzerInfo,
    params: stats.params,
    numDocs: stats.numDocs,
    numTerms: p.dfs.length,
    numPostings: p.numPostings,
    docCount: stats.docCount,
    sumTotalTermFreq: stats.sumTotalTermFreq,
    build: report,
    files,
    store: parts.store.meta,
  };
  await writeDurable(join(gen.dir, 'meta.json'), JSON.stringify(meta, null, 2));
  await fsyncPath(gen.dir);
}

/**
 * Makes the generation current: rename the folder to its final name, then atomically replace
 * CURRENT (write temp, fsync, rename, fsync dir). Older generations are deleted afterwards; a
 * crash before the CURRENT rename leaves the previous index in place. Releases the build lock.
 */
export async function commitGeneration(gen: Generation): Promise<void> {
  const final = join(gen.root, gen.name);
  await rename(gen.dir, final);
  const tmp = join(gen.root, `${CURRENT}.tmp`);
  await writeDurable(tmp, gen.name + '\n');
  const previous = await readCurrent(gen.root);
  await rename(tmp, join(gen.root, CURRENT));
  await fsyncPath(gen.root);
  if (previous !== undefined && previous !== gen.name) await rm(join(gen.root, previous), { recursive: true, force: true });
  gen.release();
}

async function readCurrent(root: string): Promise<string | undefined> {
  try {
    const name = (await readFile(join(root, CURRENT), 'utf8')).trim();
    return name.length > 0 ? name : undefined;
  } catch {
    return undefined;
  }
}

function aligned(buf: Buffer, bytesPer: number): ArrayBuffer {
  if (buf.byteOffset % bytesPer === 0) return buf.buffer as ArrayBuffer;
  const copy = new Uint8Array(buf.byteLength);
  copy.set(buf);
  return copy.buffer;
}

function view<T>(buf: Buffer, bytesPer: number, make: (b: ArrayBuffer, off: number, len: number) => T): T {
  const b = aligned(buf, bytesPer);
  const off = b === buf.buffer ? buf.byteOffset : 0;
  return make(b, off, buf.byteLength / bytesPer);
}

const u32 = (buf: Buffer): Uint32Array => view(buf, 4, (b, o, l) => new Uint32Array(b, o, l));
const f64 = (buf: Buffer): Float64Array => view(buf, 8, (b, o, l) => new Float64Array(b, o, l));

/** Positional reads of one file, opened on first use. */
class FileBytes implements ByteSource {
  private fd: number | undefined;
  constructor(private readonly file: string) {}
  read(start: number, end: number): Uint8Array {
    this.fd ??= openSync(this.file, 'r');
    const buf = Buffer.allocUnsafe(end - start);
    let done = 0;
    while (done < buf.length) {
      const n = readSync(this.fd, buf, done, buf.length - done, start + done);
      if (n === 0) break;
      done += n;
    }
    return done === buf.length ? buf : buf.subarray(0, done);
  }
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/**
 * Opens an index folder. Reads and checks (size and CRC-32) only the small files: meta.json, the
 * term tables and the norms (and what the document store checks at open, see `openDocStore`);
 * docids and lengths are read and checked on first use, the postings
 * of each term are read per search (positional reads) and checked against the term's CRC-32 the
 * first time. Every failure is an `index` error naming the file and a rebuild hint.
 */
export async function openIndexFiles(root: string): Promise<{ meta: Meta; tables: IndexTables; store: DocStore; generation: string }> {
  if (!existsSync(root)) throw new QxError('index', `no index at ${root}`, { hint: `Build one: qx index --corpus <corpus> --out ${root}` });
  const current = await readCurrent(root);
  if (current === undefined) {
    throw new QxError('index', `${root} holds no qx index (no ${CURRENT} file)`, { hint: `Build one: qx index --corpus <corpus> --out ${root}` });
  }
  const dir = join(root, current);
  const metaFile = join(dir, 'meta.json');
  let meta: Meta;
  try {
    meta = JSON.parse(await readFile(metaFile, 'utf8')) as Meta;
  } catch (e) {
    throw new QxError('index', 'index metadata is missing or damaged', { file: metaFile, cause: e, hint: rebuildHint(root) });
  }
  if (meta.format !== FORMAT) {
    throw new QxError('index', `not a ${FORMAT} index (format "${String(meta.format)}")`, { file: metaFile, hint: rebuildHint(root) });
  }
  if (meta.version !== INDEX_FORMAT_VERSION) {
    throw new QxError('index', `index format version ${String(meta.version)}, this qx reads version ${INDEX_FORMAT_VERSION}`, {
      file: metaFile,
      hint: rebuildHint(root),
    });
  }
  const entry = (name: string): FileEntry => {
    const e = meta.files.find((x) => x.name === name);
    if (e === undefined) throw new QxError('index', 'index file is not listed in meta.json', { file: join(dir, name), hint: rebuildHint(root) });
    return e;
  };
  const damaged = (file: string): QxError => new QxError('index', 'index file is damaged (size or checksum mismatch)', { file, hint: rebuildHint(root) });
  const readSyncChecked = (name: string): Buffer => {
    const file = join(dir, name);
    const e = entry(name);
    let buf: Buffer;
    try {
      buf = readFileSync(file);
    } catch (err) {
      throw new QxError('index', 'index file is missing', { file, cause: err, hint: rebuildHint(root) });
    }
    if (buf.byteLength !== e.bytes || crc32(buf) !== e.crc32) throw damaged(file);
    return buf;
  };
  const eager = new Map(EAGER.map((n) => [n, readSyncChecked(n)]));
  const termText = eager.get('terms.bin')!;
  const termOff = u32(eager.get('terms.off')!);
  const dfs = u32(eager.get('terms.df')!);
  const postOff = f64(eager.get('postings.off')!);
  const crcs = u32(eager.get('postings.crc')!);
  const normsBuf = eager.get('norms.u8')!;
  const norms = new Uint8Array(normsBuf.buffer, normsBuf.byteOffset, normsBuf.byteLength);
  const postingsFile = join(dir, POSTINGS);
  const sizeOf = (file: string): number => (existsSync(file) ? statSync(file).size : -1);
  const consistent =
    termOff.length === meta.numTerms + 1 &&
    dfs.length === meta.numTerms &&
    postOff.length === meta.numTerms + 1 &&
    crcs.length === meta.numTerms &&
    norms.length === meta.numDocs &&
    postOff[meta.numTerms] === entry(POSTINGS).bytes;
  if (!consistent) throw new QxError('index', 'index files disagree with each other', { file: dir, hint: rebuildHint(root) });
  if (sizeOf(postingsFile) !== entry(POSTINGS).bytes) throw damaged(postingsFile);
  const hint = rebuildHint(root);
  const terms = new TermTable(termText, termOff, dfs, postOff, new FileBytes(postingsFile), crcs, { file: postingsFile, hint });
  const docIds = new DocIdTable(
    meta.numDocs,
    () => {
      const off = u32(readSyncChecked('docids.off'));
      const text = readSyncChecked('docids.bin');
      if (off.length !== meta.numDocs + 1 || off[meta.numDocs] !== text.byteLength) throw damaged(join(dir, 'docids.off'));
      return { text, off };
    },
    () => {
      const sorted = u32(readSyncChecked('docids.sorted'));
      if (sorted.length !== meta.numDocs) throw damaged(join(dir, 'docids.sorted'));
      return sorted;
    },
  );
  let lengths: Uint32Array | undefined;
  let skipTable: SkipTable | undefined;
  const tables: IndexTables = {
    terms,
    docIds,
    norms,
    lengths: () => {
      if (lengths === undefined) {
        lengths = u32(readSyncChecked('lengths.u32'));
        if (lengths.length !== meta.numDocs) throw damaged(join(dir, 'lengths.u32'));
      }
      return lengths;
    },
    skipTable: () => {
      if (skipTable === undefined) {
        const t = { termSkip: u32(readSyncChecked('skips.off')), skips: u32(readSyncChecked('skips.u32')) };
        if (t.termSkip.length !== meta.numTerms + 1 || t.skips.length !== 2 * t.termSkip[meta.numTerms]!) throw damaged(join(dir, 'skips.off'));
        skipTable = t;
      }
      return skipTable;
    },
    numPostings: meta.numPostings,
    // Without the document store (store.*: a copy of the texts or pointers into the corpus).
    bytes: meta.files.filter((e) => !e.name.startsWith('store.')).reduce((s, e) => s + e.bytes, 0),
  };
  const store = openDocStore(dir, root, meta.store, meta.files, meta.numDocs, (docNo) => (docNo >= 0 && docNo < meta.numDocs ? docIds.get(docNo) : undefined));
  return { meta, tables, store, generation: current };
}
