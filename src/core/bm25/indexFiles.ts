import { constants, existsSync } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { QxError } from '../errors.js';
import { type Logger, nullLogger } from '../logger.js';
import { type LockSubject, StoreLock } from '../curation/lock.js';
import type { Bm25Params, BuildReport, IndexData } from './bm25Index.js';
import { type DocStore, type DocStoreMeta, openDocStore, type StoreFile } from './docStore.js';

/** Bumped whenever the on-disk layout changes; `open` refuses any other version. */
export const INDEX_FORMAT_VERSION = 1;
const FORMAT = 'qx-bm25';
const CURRENT = 'CURRENT';
/** Held in the index folder by the one process building it (O_EXCL, stale pids taken over). */
export const INDEX_LOCK = 'write.lock';

/** The typed arrays of an index. */
export interface IndexArrays {
  /** Per term t, its postings are [offsets[t], offsets[t+1]). Length = terms + 1. */
  offsets: Uint32Array;
  /** Doc number of each posting, ascending within a term. */
  postDocs: Int32Array;
  /** Term frequency of each posting (Uint32 only when some tf exceeds 65,535). */
  postTfs: Uint16Array | Uint32Array;
  /** Exact number of terms per document. */
  lengths: Uint32Array;
  /** Lucene's 1-byte length norm per document. */
  norms: Uint8Array;
}

interface FileEntry {
  name: string;
  bytes: number;
  crc32: number;
}

interface Meta {
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
  tfBytes: 2 | 4;
  build: BuildReport;
  files: FileEntry[];
  /** How the document texts are kept (absent before pointer stores: copied). */
  store?: DocStoreMeta;
}

/** A generation being written: a sibling folder that only becomes current on commit. */
export interface Generation {
  root: string;
  name: string;
  dir: string;
  /** Deletes the generation folder and releases the build lock. */
  abandon(): Promise<void>;
  /** Releases the build lock (done by commitGeneration and abandon). */
  release(): void;
}

function rebuildHint(dir: string): string {
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
 */
export async function newGeneration(root: string, logger: Logger = nullLogger): Promise<Generation> {
  await mkdir(root, { recursive: true });
  const lock = StoreLock.acquire(join(root, INDEX_LOCK), logger, undefined, lockSubject(root));
  const release = (): void => lock.release();
  try {
    const entries = (await readdir(root)).filter((e) => e !== INDEX_LOCK);
    const current = await readCurrent(root);
    if (entries.length > 0 && current === undefined && entries.some((e) => !e.startsWith('gen-'))) {
      throw new QxError('config', `${root} is not empty and holds no qx index`, { hint: 'Choose a new or empty directory for --out.' });
    }
    for (const e of entries) {
      if (e.startsWith('gen-') && e !== current && e.endsWith('.tmp')) await rm(join(root, e), { recursive: true, force: true });
    }
    const name = `gen-${Date.now().toString(36)}-${process.pid}`;
    const dir = join(root, `${name}.tmp`);
    await mkdir(dir);
    return {
      root,
      name,
      dir,
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

/** Writes every array and meta.json into the generation folder, each file fsynced. */
export async function writeIndexArrays(
  gen: Generation,
  data: IndexData,
  store: { files: StoreFile[]; meta: DocStoreMeta },
  analyzerInfo: Record<string, string | number | boolean>,
  report: BuildReport,
): Promise<void> {
  const files: FileEntry[] = [];
  const put = async (name: string, content: Uint8Array | string): Promise<void> => {
    const buf = typeof content === 'string' ? Buffer.from(content) : content;
    await writeDurable(join(gen.dir, name), buf);
    files.push({ name, bytes: buf.byteLength, crc32: crc32(buf) });
  };
  await put('terms.json', JSON.stringify(data.terms));
  await put('docids.json', JSON.stringify(data.docIds));
  await put('offsets.u32', bytesOf(data.offsets));
  await put('postdocs.i32', bytesOf(data.postDocs));
  await put('posttfs.bin', bytesOf(data.postTfs));
  await put('lengths.u32', bytesOf(data.lengths));
  await put('norms.u8', data.norms);
  files.push(...store.files);
  const meta: Meta = {
    format: FORMAT,
    version: INDEX_FORMAT_VERSION,
    created: new Date().toISOString(),
    analyzer: data.analyzer,
    analyzerInfo,
    params: data.params,
    numDocs: data.docIds.length,
    numTerms: data.terms.length,
    numPostings: data.postDocs.length,
    docCount: data.docCount,
    sumTotalTermFreq: data.sumTotalTermFreq,
    tfBytes: data.postTfs.BYTES_PER_ELEMENT === 2 ? 2 : 4,
    build: report,
    files,
    store: store.meta,
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

/** Reads and checks an index folder. Every failure is an `index` error naming the file and a rebuild hint. */
export async function openIndexFiles(root: string): Promise<{ data: IndexData; store: DocStore }> {
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
  const read = async (name: string): Promise<Buffer> => {
    const entry = meta.files.find((e) => e.name === name);
    const file = join(dir, name);
    let buf: Buffer;
    try {
      buf = await readFile(file);
    } catch (e) {
      throw new QxError('index', 'index file is missing', { file, cause: e, hint: rebuildHint(root) });
    }
    if (entry === undefined || buf.byteLength !== entry.bytes || crc32(buf) !== entry.crc32) {
      throw new QxError('index', 'index file is damaged (size or checksum mismatch)', { file, hint: rebuildHint(root) });
    }
    return buf;
  };
  const terms = JSON.parse((await read('terms.json')).toString('utf8')) as string[];
  const docIds = JSON.parse((await read('docids.json')).toString('utf8')) as string[];
  const offsets = view(await read('offsets.u32'), 4, (b, o, l) => new Uint32Array(b, o, l));
  const postDocs = view(await read('postdocs.i32'), 4, (b, o, l) => new Int32Array(b, o, l));
  const tfBuf = await read('posttfs.bin');
  const postTfs = meta.tfBytes === 2 ? view(tfBuf, 2, (b, o, l) => new Uint16Array(b, o, l)) : view(tfBuf, 4, (b, o, l) => new Uint32Array(b, o, l));
  const lengths = view(await read('lengths.u32'), 4, (b, o, l) => new Uint32Array(b, o, l));
  const normsBuf = await read('norms.u8');
  const norms = new Uint8Array(normsBuf.buffer, normsBuf.byteOffset, normsBuf.byteLength);
  const consistent =
    terms.length === meta.numTerms &&
    docIds.length === meta.numDocs &&
    offsets.length === meta.numTerms + 1 &&
    offsets[meta.numTerms] === meta.numPostings &&
    postDocs.length === meta.numPostings &&
    postTfs.length === meta.numPostings &&
    lengths.length === meta.numDocs &&
    norms.length === meta.numDocs;
  if (!consistent) throw new QxError('index', 'index files disagree with each other', { file: dir, hint: rebuildHint(root) });
  const store = openDocStore(dir, root, meta.store, meta.files, meta.numDocs, (docNo) => docIds[docNo]);
  return {
    data: {
      analyzer: meta.analyzer,
      params: meta.params,
      terms,
      docIds,
      docCount: meta.docCount,
      sumTotalTermFreq: meta.sumTotalTermFreq,
      offsets,
      postDocs,
      postTfs,
      lengths,
      norms,
    },
    store,
  };
}
