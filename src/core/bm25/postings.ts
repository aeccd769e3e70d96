import { crc32 } from 'node:zlib';
import { QxError } from '../errors.js';

/**
 * The compressed posting lists of the BM25 index (format version 3) and the two tables that
 * name what they hold: terms and docids.
 *
 * A term's postings are blocks of up to 128 postings in doc-number order (frame of reference
 * bit packing, as Lucene's postings formats pack full blocks). A block is three header bytes:
 * posting count − 1, the bit width `bg` (0–31) of its (gap − 1) values (gap = doc number −
 * previous doc number; the first gap of a list counts from −1) and the bit width `bt` (0–31) of
 * its (tf − 1) values;
 * then the gaps − 1 packed `bg` bits each, then the tfs − 1 packed `bt` bits each. Each packed
 * field is little-endian 32-bit words (least significant bits first), so a block decodes with
 * word reads and shifts, without a branch per posting on the value's size. Widths are at most 31
 * bits; a width of 0 stores nothing (every value 0). Per block the skip table keeps the block's
 * last doc number and the byte offset where the block ends, so a reader can start decoding at
 * any block without the ones before it (lists of one block have no skip entries).
 */
export const POSTINGS_BLOCK = 128;

/** A growable byte buffer with varint writes. */
export class ByteWriter {
  buf: Buffer;
  length = 0;
  constructor(initial = 1 << 16) {
    this.buf = Buffer.allocUnsafe(initial);
  }
  private grow(need: number): void {
    let size = this.buf.length * 2;
    while (size < this.length + need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
  /** Appends an unsigned integer < 2^53 as a little-endian base-128 varint. */
  varint(v: number): void {
    if (this.length + 8 > this.buf.length) this.grow(8);
    const b = this.buf;
    let n = this.length;
    while (v > 127) {
      b[n++] = (v & 127) | 128;
      v = Math.floor(v / 128);
    }
    b[n++] = v;
    this.length = n;
  }
  /** Appends one byte (0–255). */
  byte(v: number): void {
    if (this.length + 1 > this.buf.length) this.grow(1);
    this.buf[this.length++] = v;
  }
  /** Appends a 32-bit word, little-endian. */
  word(v: number): void {
    if (this.length + 4 > this.buf.length) this.grow(4);
    this.buf.writeInt32LE(v | 0, this.length);
    this.length += 4;
  }
  bytes(bytes: Uint8Array): void {
    if (this.length + bytes.length > this.buf.length) this.grow(bytes.length);
    this.buf.set(bytes, this.length);
    this.length += bytes.length;
  }
  /** The bytes written so far (a view; valid until the next write). */
  view(): Buffer {
    return this.buf.subarray(0, this.length);
  }
  reset(): void {
    this.length = 0;
  }
}

/** Bits needed for a value 0 ≤ v < 2^31 (0 for 0). */
const bitWidth = (v: number): number => 32 - Math.clz32(v);

/** Appends `n` values of `w` bits (0 < w ≤ 31) as little-endian 32-bit words. */
function pack(values: Int32Array, n: number, w: number, out: ByteWriter): void {
  let word = 0;
  let have = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    word |= v << have;
    if (have + w >= 32) {
      out.word(word);
      // have ≥ 1 here (w ≤ 31), so the shift is in 1..31.
      word = v >>> (32 - have);
      have = have + w - 32;
    } else have += w;
  }
  if (have > 0) out.word(word);
}

/** Reads the little-endian 32-bit word at byte `p`. */
const read32 = (b: Uint8Array, p: number): number => b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24);

const packGaps = new Int32Array(POSTINGS_BLOCK);
const packTfs = new Int32Array(POSTINGS_BLOCK);

/**
 * Encodes postings [start, end) of `docs`/`tfs` (doc numbers strictly ascending, from 0; tf ≥ 1)
 * into `out`, appending one skip entry per block to `skips` (last doc number, end byte offset
 * relative to the term's start) when the list has more than one block.
 */
export function encodePostings(docs: ArrayLike<number>, tfs: ArrayLike<number>, start: number, end: number, out: ByteWriter, skips: NumberList): void {
  const base = out.length;
  // A list of one block needs no skip entry: it is read whole.
  const blocks = end - start > POSTINGS_BLOCK;
  let prev = -1;
  for (let b = start; b < end; b += POSTINGS_BLOCK) {
    const n = Math.min(end - b, POSTINGS_BLOCK);
    let gmax = 0;
    let tmax = 0;
    for (let i = 0; i < n; i++) {
      const d = docs[b + i]!;
      const g = d - prev - 1;
      const t = tfs[b + i]! - 1;
      if (!(g >= 0 && g < 0x80000000 && t >= 0 && t < 0x80000000)) throw new Error(`postings out of order or tf < 1 at doc ${d} (previous ${prev}, tf ${t + 1})`);
      packGaps[i] = g;
      packTfs[i] = t;
      gmax |= g;
      tmax |= t;
      prev = d;
    }
    const bg = bitWidth(gmax);
    const bt = bitWidth(tmax);
    out.byte(n - 1);
    out.byte(bg);
    out.byte(bt);
    if (bg > 0) pack(packGaps, n, bg, out);
    if (bt > 0) pack(packTfs, n, bt, out);
    if (blocks) {
      skips.push(prev);
      skips.push(out.length - base);
    }
  }
}

/** Byte length of the block at byte `p` of `bytes`, from its header: 3 + 4·⌈n·bg/32⌉ + 4·⌈n·bt/32⌉. */
function blockBytes(bytes: Uint8Array, p: number): number {
  const n = bytes[p]! + 1;
  return 3 + 4 * Math.ceil((n * bytes[p + 1]!) / 32) + 4 * Math.ceil((n * bytes[p + 2]!) / 32);
}

/** Scratch for the block `PostingsWriter.addEncoded` decodes for its last doc number. */
const skipDocs = new Int32Array(POSTINGS_BLOCK);
const skipTfs = new Uint32Array(POSTINGS_BLOCK);

/**
 * Decodes the block at byte `p` of `bytes` into `docs`/`tfs` from index `at`; `prev` is the doc
 * number before the block (−1 for a list's first). Returns the byte offset after the block; the
 * block's posting count is `bytes[p] + 1`.
 */
export function decodeBlock(bytes: Uint8Array, p: number, docs: Int32Array, tfs: Uint32Array, at: number, prev: number): number {
  const n = bytes[p]! + 1;
  const bg = bytes[p + 1]!;
  const bt = bytes[p + 2]!;
  p += 3;
  // The gap and tf loops are written out twice on purpose: one shared unpack into a scratch
  // array, then the prefix sum and the +1, decoded 1.4-1.6x slower (5.2 vs 3.2-3.9 ns a posting,
  // bench/out profiling over the 8.8M index's query2doc lists).
  let d = prev;
  if (bg === 0) {
    for (let i = 0; i < n; i++) docs[at + i] = ++d;
  } else {
    const mask = bg === 31 ? 0x7fffffff : (1 << bg) - 1;
    let word = read32(bytes, p);
    p += 4;
    // Signed shifts keep `word` an int32 (no heap numbers); the bits above `have` may be copies of
    // the sign and are masked off before use.
    let have = 32;
    for (let i = 0; i < n; i++) {
      let v: number;
      if (have >= bg) {
        v = word & mask;
        word >>= bg;
        have -= bg;
      } else {
        const next = read32(bytes, p);
        p += 4;
        v = ((word & ((1 << have) - 1)) | (next << have)) & mask;
        word = next >> (bg - have);
        have += 32 - bg;
      }
      d += v + 1;
      docs[at + i] = d;
    }
  }
  if (bt === 0) {
    for (let i = 0; i < n; i++) tfs[at + i] = 1;
  } else {
    const mask = bt === 31 ? 0x7fffffff : (1 << bt) - 1;
    let word = read32(bytes, p);
    p += 4;
    let have = 32;
    for (let i = 0; i < n; i++) {
      let v: number;
      if (have >= bt) {
        v = word & mask;
        word >>= bt;
        have -= bt;
      } else {
        const next = read32(bytes, p);
        p += 4;
        v = ((word & ((1 << have) - 1)) | (next << have)) & mask;
        word = next >> (bt - have);
        have += 32 - bt;
      }
      tfs[at + i] = v + 1;
    }
  }
  return p;
}

/**
 * Decodes a whole posting list into `docs`/`tfs` from position `at`; returns the number of
 * postings decoded (= df when the bytes are intact).
 */
export function decodePostings(bytes: Uint8Array, docs: Int32Array, tfs: Uint32Array, at: number): number {
  let p = 0;
  let i = at;
  const len = bytes.length;
  while (p < len) {
    const n = bytes[p]! + 1;
    p = decodeBlock(bytes, p, docs, tfs, i, i === at ? -1 : docs[i - 1]!);
    i += n;
  }
  return i - at;
}

/**
 * An append-only list of numbers in typed-array chunks (no per-item objects, no huge
 * reallocations): Float64 chunks of 65,536 by default.
 */
export class NumberList {
  private chunks: (Float64Array | Int32Array)[] = [];
  private cur: Float64Array | Int32Array;
  private pos = 0;
  length = 0;
  constructor(
    private readonly make: (n: number) => Float64Array | Int32Array = (n) => new Float64Array(n),
    private readonly size = 1 << 16,
  ) {
    this.cur = make(size);
  }
  push(v: number): void {
    if (this.pos === this.size) {
      this.chunks.push(this.cur);
      this.cur = this.make(this.size);
      this.pos = 0;
    }
    this.cur[this.pos++] = v;
    this.length++;
  }
  /** Hands over the chunks (the last one trimmed) and leaves the list empty and unusable. */
  takeChunks(): (Float64Array | Int32Array)[] {
    const chunks = [...this.chunks, this.cur.subarray(0, this.pos)];
    this.chunks = [];
    this.cur = this.make(0);
    return chunks;
  }
  /** The values copied into one array of the given type. */
  to<T extends Float64Array | Uint32Array>(make: (n: number) => T): T {
    const out = make(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    out.set(this.cur.subarray(0, this.pos), at);
    return out;
  }
}

/** Reads a byte range of the postings (memory or file). */
export interface ByteSource {
  read(start: number, end: number): Uint8Array;
  close(): void;
}

/** Where a table's failures point: the file named in errors and the fix. */
export interface TableOrigin {
  file: string;
  hint: string;
}

/**
 * Terms sorted by JavaScript string order, looked up by binary search (no Map of the whole
 * vocabulary), with each term's document frequency and posting bytes. A term's bytes are checked
 * against their CRC-32 the first time they are read (`crcs` given: on-disk indexes).
 */
export class TermTable {
  private readonly verified: Uint8Array;
  constructor(
    private readonly text: Buffer,
    private readonly textOff: Float64Array | Uint32Array,
    /** Document frequency per term id. */
    readonly dfs: Uint32Array,
    /** Byte offset of each term's postings; one more entry: the end. */
    readonly postOff: Float64Array,
    private readonly source: ByteSource,
    private readonly crcs?: Uint32Array,
    private readonly origin?: TableOrigin,
  ) {
    this.verified = new Uint8Array(crcs === undefined ? 0 : dfs.length);
  }

  /** Number of distinct terms. */
  get size(): number {
    return this.dfs.length;
  }

  /** The term with id `i` (ids follow sorted order). */
  term(i: number): string {
    return this.text.toString('utf8', this.textOff[i]!, this.textOff[i + 1]!);
  }

  /** Id of a term, or -1 when the index does not hold it. */
  id(term: string): number {
    let lo = 0;
    let hi = this.dfs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const t = this.term(mid);
      if (t < term) lo = mid + 1;
      else if (t > term) hi = mid - 1;
      else return mid;
    }
    return -1;
  }

  /** The encoded postings of term `i` (see `encodePostings`). */
  postings(i: number): Uint8Array {
    const bytes = this.source.read(this.postOff[i]!, this.postOff[i + 1]!);
    if (this.crcs !== undefined && this.verified[i] === 0) {
      if (crc32(bytes) !== this.crcs[i]) {
        throw new QxError('index', `index file is damaged (checksum mismatch in the postings of "${this.term(i)}")`, this.origin ?? {});
      }
      this.verified[i] = 1;
    }
    return bytes;
  }

  close(): void {
    this.source.close();
  }
}

/**
 * Document ids by doc number: one concatenated UTF-8 buffer and offsets, plus doc numbers sorted
 * by id hash for lookups (binary search). Loaded on first use through `load`.
 */
export class DocIdTable implements Iterable<string> {
  private text: Buffer | undefined;
  private off: Float64Array | Uint32Array | undefined;
  private sorted: Uint32Array | undefined;
  constructor(
    readonly length: number,
    private readonly load: () => { text: Buffer; off: Float64Array | Uint32Array },
    private readonly loadSorted: () => Uint32Array,
  ) {}

  /** True once the docids were read. */
  get loaded(): boolean {
    return this.text !== undefined;
  }

  private table(): { text: Buffer; off: Float64Array | Uint32Array } {
    if (this.text === undefined || this.off === undefined) {
      const t = this.load();
      this.text = t.text;
      this.off = t.off;
    }
    return { text: this.text, off: this.off };
  }

  /** The id of doc number `i` (0 ≤ i < length). */
  get(i: number): string {
    const { text, off } = this.table();
    return text.toString('utf8', off[i]!, off[i + 1]!);
  }

  /** Doc number of an id, or undefined (binary search by id hash, see `sortedDocNos`). */
  docNo(id: string): number | undefined {
    this.sorted ??= this.loadSorted();
    const s = this.sorted;
    const h = idHash(id);
    let lo = 0;
    let hi = s.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (idHash(this.get(s[mid]!)) < h) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < s.length; i++) {
      const t = this.get(s[i]!);
      if (t === id) return s[i]!;
      if (idHash(t) !== h) break;
    }
    return undefined;
  }

  *[Symbol.iterator](): Iterator<string> {
    for (let i = 0; i < this.length; i++) yield this.get(i);
  }

  /** Every id in doc-number order (materializes the whole table: for small corpora or sampling). */
  toArray(): string[] {
    return [...this];
  }
}

/** Appends strings as UTF-8 with Uint32 offsets; refuses more than 4 GB of text. */
export class StringPacker {
  private readonly w = new ByteWriter(1 << 16);
  private off: Uint32Array;
  private n = 0;
  constructor(expected = 1024) {
    this.off = new Uint32Array(Math.max(1, expected) + 1);
  }
  add(s: string): void {
    if (this.n + 2 > this.off.length) {
      const next = new Uint32Array(this.off.length * 2);
      next.set(this.off);
      this.off = next;
    }
    const len = Buffer.byteLength(s, 'utf8');
    if (this.w.length + len > 0xffffffff) throw new QxError('index', 'more than 4 GB of ids or terms: too large for one index');
    if (this.w.length + len > this.w.buf.length) this.w.bytes(Buffer.from(s, 'utf8'));
    else this.w.length += this.w.buf.write(s, this.w.length, 'utf8');
    this.off[++this.n] = this.w.length;
  }
  get count(): number {
    return this.n;
  }
  /** The `i`-th string added. */
  get(i: number): string {
    return this.w.buf.toString('utf8', this.off[i]!, this.off[i + 1]!);
  }
  finish(): { text: Buffer; off: Uint32Array } {
    return { text: Buffer.from(this.w.view()), off: this.off.slice(0, this.n + 1) };
  }
}

/** 32-bit FNV-1a hash of a string's UTF-16 code units. */
export function idHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * Doc numbers 0..n-1 ordered by the hash of their id (`idHash`), ties by doc number: the lookup
 * table of `DocIdTable.docNo`. A two-pass radix sort on 16-bit halves: no strings, no comparator.
 */
export function sortedDocNos(hashes: Uint32Array): Uint32Array {
  const n = hashes.length;
  let src = new Uint32Array(n);
  let dst = new Uint32Array(n);
  for (let i = 0; i < n; i++) src[i] = i;
  for (const shift of [0, 16]) {
    const count = new Uint32Array(65537);
    for (let i = 0; i < n; i++) count[((hashes[i]! >>> shift) & 0xffff) + 1]!++;
    for (let b = 0; b < 65536; b++) count[b + 1]! += count[b]!;
    for (let i = 0; i < n; i++) {
      const d = src[i]!;
      dst[count[(hashes[d]! >>> shift) & 0xffff]!++] = d;
    }
    [src, dst] = [dst, src];
  }
  return src;
}

/**
 * Ids in arrival order (UTF-8, see `StringPacker`) with an open-addressing hash index over them,
 * so duplicates are found without a Set of millions of strings (≈ 12 bytes per id besides the
 * text).
 */
export class UniqueStrings {
  private readonly packer: StringPacker;
  private slots = new Int32Array(1 << 16).fill(-1);
  private hashesBuf = new Uint32Array(1 << 15);
  private n = 0;
  constructor(expected = 1024) {
    this.packer = new StringPacker(expected);
  }

  /** Number of distinct strings added. */
  get count(): number {
    return this.n;
  }

  /** Adds `s`; false when it was added before. */
  add(s: string): boolean {
    const h = idHash(s);
    const mask = this.slots.length - 1;
    let i = h & mask;
    for (let e = this.slots[i]!; e !== -1; e = this.slots[i]!) {
      if (this.hashesBuf[e] === h && this.packer.get(e) === s) return false;
      i = (i + 1) & mask;
    }
    if (this.n >= this.hashesBuf.length) {
      const next = new Uint32Array(this.hashesBuf.length * 2);
      next.set(this.hashesBuf);
      this.hashesBuf = next;
    }
    this.slots[i] = this.n;
    this.hashesBuf[this.n] = h;
    this.packer.add(s);
    this.n++;
    if (this.n * 10 > this.slots.length * 7) this.rehash();
    return true;
  }

  private rehash(): void {
    const slots = new Int32Array(this.slots.length * 2).fill(-1);
    const mask = slots.length - 1;
    for (let e = 0; e < this.n; e++) {
      let i = this.hashesBuf[e]! & mask;
      while (slots[i] !== -1) i = (i + 1) & mask;
      slots[i] = e;
    }
    this.slots = slots;
  }

  /** The `i`-th string added. */
  get(i: number): string {
    return this.packer.get(i);
  }

  /** The packed strings and the hash of each (drops the hash index). */
  finish(): { text: Buffer; off: Uint32Array; hashes: Uint32Array } {
    this.slots = new Int32Array(0);
    return { ...this.packer.finish(), hashes: this.hashesBuf.slice(0, this.n) };
  }
}

/** Bytes held in memory (in-memory indexes). */
export class MemoryBytes implements ByteSource {
  constructor(private readonly buf: Uint8Array) {}
  read(start: number, end: number): Uint8Array {
    return this.buf.subarray(start, end);
  }
  close(): void {}
}

/** The term dictionary and skip table a `PostingsWriter` produced. */
export interface WrittenPostings {
  termText: Buffer;
  termOff: Uint32Array;
  dfs: Uint32Array;
  postOff: Float64Array;
  crcs: Uint32Array;
  /** Per term, its first block in `skips`; one more entry: the total. */
  termSkip: Uint32Array;
  /** Per block: last doc number, end byte offset relative to the term's start. */
  skips: Uint32Array;
  numPostings: number;
  /** Postings bytes, when written to memory. */
  bytes?: Buffer;
}

/**
 * Writes terms in ascending (JavaScript string) order with their postings: to a file descriptor
 * (flushed every 8 MB, positional writes) or, without one, to memory.
 */
export class PostingsWriter {
  private readonly out = new ByteWriter(1 << 20);
  private readonly term = new ByteWriter(1 << 16);
  private readonly terms = new StringPacker();
  private readonly dfs = new NumberList();
  private readonly postOff = new NumberList();
  private readonly crcs = new NumberList();
  private readonly termSkip = new NumberList();
  private readonly skips = new NumberList();
  private written = 0;
  private numPostings = 0;
  private last: string | undefined;
  constructor(private readonly write?: (bytes: Uint8Array, position: number) => void) {
    this.postOff.push(0);
    this.termSkip.push(0);
  }

  /** Adds a term and its postings [start, end) (doc numbers ascending, at least one posting). */
  add(term: string, docs: ArrayLike<number>, tfs: ArrayLike<number>, start: number, end: number): void {
    this.begin(term);
    this.term.reset();
    encodePostings(docs, tfs, start, end, this.term, this.skips);
    this.append(term, this.term.view(), end - start);
  }

  /**
   * Adds a term whose postings are already encoded in this codec with the index's doc numbers
   * (`df` postings, as `encodePostings` writes them from a list's start: a segment file's record),
   * copying the bytes as they are. Only the skip entries are rebuilt, by walking the block headers
   * (a list of more than one block decodes each block once for its last doc number). Gives the
   * same bytes and skip entries as `add` with the decoded postings.
   */
  addEncoded(term: string, bytes: Uint8Array, df: number): void {
    this.begin(term);
    let count = 0;
    if (df > POSTINGS_BLOCK) {
      let p = 0;
      let prev = -1;
      while (p < bytes.length) {
        const n = bytes[p]! + 1;
        p = decodeBlock(bytes, p, skipDocs, skipTfs, 0, prev);
        prev = skipDocs[n - 1]!;
        count += n;
        this.skips.push(prev);
        this.skips.push(p);
      }
      if (p !== bytes.length) throw new Error(`the postings of "${term}" end inside a block`);
    } else if (bytes.length > 0) {
      count = bytes[0]! + 1;
      if (blockBytes(bytes, 0) !== bytes.length) throw new Error(`the postings of "${term}" are not one block`);
    }
    if (count !== df) throw new Error(`the postings of "${term}" hold ${count} postings, not ${df}`);
    this.append(term, bytes, df);
  }

  private begin(term: string): void {
    if (this.last !== undefined && !(this.last < term)) throw new Error(`terms out of order: "${this.last}" then "${term}"`);
    this.last = term;
  }

  /** Appends a term's encoded postings (its skip entries already pushed). */
  private append(term: string, bytes: Uint8Array, df: number): void {
    this.terms.add(term);
    this.dfs.push(df);
    this.crcs.push(crc32(bytes));
    this.numPostings += df;
    this.termSkip.push(this.skips.length / 2);
    this.out.bytes(bytes);
    this.postOff.push(this.written + this.out.length);
    if (this.write !== undefined && this.out.length >= 8 << 20) this.flush();
  }

  private flush(): void {
    if (this.write === undefined || this.out.length === 0) return;
    this.write(this.out.view(), this.written);
    this.written += this.out.length;
    this.out.reset();
  }

  finish(): WrittenPostings {
    this.flush();
    const { text, off } = this.terms.finish();
    return {
      termText: text,
      termOff: off,
      dfs: this.dfs.to((n) => new Uint32Array(n)),
      postOff: this.postOff.to((n) => new Float64Array(n)),
      crcs: this.crcs.to((n) => new Uint32Array(n)),
      termSkip: this.termSkip.to((n) => new Uint32Array(n)),
      skips: this.skips.to((n) => new Uint32Array(n)),
      numPostings: this.numPostings,
      ...(this.write === undefined ? { bytes: Buffer.from(this.out.view()) } : {}),
    };
  }
}
