import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { open, stat } from 'node:fs/promises';
import { Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';
import { datasetError, isCancellationError, throwIfAborted } from '../errors.js';

/**
 * How a data file is packed: `plain`, `gzip` (`collection.tsv.gz`, MIRACL `*.jsonl.gz`), or a tar
 * archive, gzipped (`collection.tar.gz`, `.tgz`) or not (`.tar`).
 */
export type Packing = 'plain' | 'gzip' | 'tar.gz' | 'tar';

/** A data file opened for streaming, through gzip and tar when it is packed. */
export interface DataStream {
  /** Bytes of the data itself (decompressed; the archive member for a tar). */
  chunks: AsyncIterable<Buffer>;
  /** Name telling the data's format: the path without `.gz`, or the tar member's path inside the archive. */
  innerName: string;
  packing: Packing;
}

export interface OpenDataOptions {
  signal?: AbortSignal | undefined;
  /** Called as the file on disk is read: bytes read so far and the file's size (compressed bytes for a packed file). */
  onBytes?: ((done: number, total: number) => void) | undefined;
}

const GZIP_MAGIC = [0x1f, 0x8b];

/** Whether the file starts with the gzip magic bytes (1f 8b), whatever its name. */
export async function isGzipFile(path: string): Promise<boolean> {
  const h = await open(path, 'r');
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await h.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1];
  } finally {
    await h.close();
  }
}

/** How `path` is packed: gzip from its magic bytes, tar from its name (`.tar`, `.tar.gz`, `.tgz`). */
export async function packingOf(path: string): Promise<Packing> {
  const name = baseName(path).toLowerCase();
  const gz = await isGzipFile(path);
  const tarName = /\.(tar|tar\.gz|tgz)$/.test(name);
  if (tarName) return gz ? 'tar.gz' : 'tar';
  return gz ? 'gzip' : 'plain';
}

/** Base name of a path (after the last slash or backslash). */
function baseName(path: string): string {
  return basename(path.replace(/\\/g, '/'));
}

/** `collection.tsv.gz` → `collection.tsv`: the name that tells the format of a gzipped file. */
export function stripGz(name: string): string {
  return name.replace(/\.gz$/i, '');
}

/**
 * Opens a data file as a stream of bytes, decompressing gzip and picking the data member of a tar
 * archive, all while streaming: nothing is extracted to disk. The member read from a tar is its
 * first regular file (macOS `._*` resource files skipped); MS MARCO's `collection.tar.gz` holds
 * only `collection.tsv`. A damaged gzip or tar stream throws a `dataset` QxError naming the file.
 */
export async function openDataStream(path: string, options: OpenDataOptions = {}): Promise<DataStream> {
  const packing = await packingOf(path);
  const total = (await stat(path)).size;
  const raw = createReadStream(path, { highWaterMark: 1 << 20 });
  const onBytes = options.onBytes;
  // Bytes are counted as they are pulled (never a 'data' listener, which would let the file flow before anyone reads).
  const counted = async function* (): AsyncGenerator<Buffer> {
    let done = 0;
    for await (const c of raw as AsyncIterable<Buffer>) {
      done += c.length;
      onBytes?.(done, total);
      yield c;
    }
  };
  if (packing === 'plain') return { chunks: guarded(counted(), path, packing, options.signal), innerName: baseName(path), packing };
  let bytes: Readable = Readable.from(counted(), { objectMode: false });
  if (packing === 'gzip' || packing === 'tar.gz') {
    const gunzip = createGunzip();
    pipeline(bytes, gunzip, () => {});
    bytes = gunzip;
  }
  if (packing === 'gzip') return { chunks: guarded(bytes, path, packing, options.signal), innerName: stripGz(baseName(path)), packing };
  const tar = extract();
  pipeline(bytes, tar as unknown as NodeJS.WritableStream, () => {});
  const entries = tar[Symbol.asyncIterator]();
  for (;;) {
    let next: IteratorResult<Readable & { header: { name: string; type: string } }>;
    try {
      next = (await entries.next()) as typeof next;
    } catch (e) {
      raw.destroy();
      throw packError(path, packing, e);
    }
    if (next.done) {
      raw.destroy();
      throw datasetError(path, undefined, 'the tar archive holds no regular file.', 'Pass the archive that holds the data file (e.g. MS MARCO collection.tar.gz), or the file itself.');
    }
    const entry = next.value;
    const member = baseName(entry.header.name);
    if (entry.header.type !== 'file' || member.startsWith('._') || member.startsWith('.')) {
      entry.resume();
      continue;
    }
    const finish = async (): Promise<void> => {
      raw.destroy();
      await entries.return?.();
    };
    return { chunks: guarded(entry, path, packing, options.signal, finish), innerName: entry.header.name, packing };
  }
}

async function* guarded(src: AsyncIterable<Buffer>, path: string, packing: Packing, signal: AbortSignal | undefined, finish?: () => Promise<void>): AsyncGenerator<Buffer> {
  try {
    for await (const c of src) {
      throwIfAborted(signal);
      yield c;
    }
  } catch (e) {
    throw packError(path, packing, e);
  } finally {
    if (src instanceof Readable) src.destroy();
    await finish?.();
  }
}

function packError(path: string, packing: Packing, e: unknown): unknown {
  if (isCancellationError(e) || (e as { code?: unknown })?.code === 'dataset') return e;
  const err = e as NodeJS.ErrnoException;
  if (packing === 'plain') {
    return datasetError(path, undefined, `cannot read the file (${err.code ?? String(err.message)}).`, 'Check that it exists and is readable.');
  }
  const what = packing === 'gzip' ? 'gzip' : packing === 'tar' ? 'tar' : 'gzipped tar';
  return datasetError(
    path,
    undefined,
    `not a valid ${what} file or cut short (${err.message ?? String(e)}).`,
    'Download it again (a partial download ends early), or pass the uncompressed file.',
  );
}

/**
 * The whole text (UTF-8) of a packed file (gzip, or the first file of a tar), for small data
 * files such as topics and qrels; undefined for a plain file, which the caller reads itself.
 */
export async function readPackedText(path: string): Promise<string | undefined> {
  if ((await packingOf(path)) === 'plain') return undefined;
  const data = await openDataStream(path);
  const parts: Buffer[] = [];
  for await (const c of data.chunks) parts.push(c);
  return Buffer.concat(parts).toString('utf8');
}
