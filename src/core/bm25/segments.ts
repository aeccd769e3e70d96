import { closeSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { createAnalyzer, type Analyzer } from './analyzer.js';
import type { WrittenSegment } from './buildJournal.js';
import { ByteWriter, NumberList, type PostingsWriter, decodePostings, encodePostings } from './postings.js';

/**
 * Segments of a build: documents are analyzed and inverted a segment at a time (in worker threads
 * for on-disk builds), each segment is written sorted by term to a file of its own, and the
 * segment files are merged term by term into the final postings. Memory is bounded by the
 * segment size, not by the corpus.
 *
 * A segment file is a sequence of records, one per term in ascending (JavaScript string) order:
 * varint record length, varint df, varint term byte length, the term (UTF-8), then the term's
 * postings in the index's codec (see postings.ts) with global doc numbers.
 */

const chunked = (): NumberList => new NumberList((n) => new Int32Array(n), 1 << 20);

/** Visits the values of two equally long lists in lockstep, releasing chunks as it goes. */
function drainBoth(a: NumberList, b: NumberList, fn: (x: number, y: number) => void): void {
  const ca = a.takeChunks();
  const cb = b.takeChunks();
  for (let c = 0; c < ca.length; c++) {
    const x = ca[c]!;
    const y = cb[c]!;
    for (let i = 0; i < x.length; i++) fn(x[i]!, y[i]!);
    ca[c] = new Int32Array(0);
    cb[c] = new Int32Array(0);
  }
}

/** A segment inverted in memory: terms sorted, postings of term i at [offsets[i], offsets[i+1]). */
export interface InvertedSegment {
  terms: string[];
  offsets: Uint32Array;
  postDocs: Int32Array;
  postTfs: Uint32Array;
}

/**
 * Analyzes documents and collects their (term, tf) pairs until `invert`. Doc numbers are given by
 * the caller and must ascend.
 */
export class SegmentBuilder {
  private readonly analyzer: Analyzer;
  private vocab = new Map<string, number>();
  private terms: string[] = [];
  private fwdTerm = chunked();
  private fwdTf = chunked();
  private docNos: number[] = [];
  private uniq: number[] = [];
  private lastDoc: Int32Array = new Int32Array(1024).fill(-1);
  private count: Int32Array = new Int32Array(1024);
  private df: Int32Array = new Int32Array(1024);
  private readonly docTerms: number[] = [];
  private seq = 0;

  constructor(analyzer: string) {
    this.analyzer = createAnalyzer(analyzer);
  }

  /** Number of documents added since the last `invert`. */
  get docs(): number {
    return this.docNos.length;
  }

  /** Number of postings collected since the last `invert`. */
  get postings(): number {
    return this.fwdTerm.length;
  }

  /** Doc-number ranges [start, end) of the documents added since the last `invert`, ascending. */
  ranges(): [number, number][] {
    const out: [number, number][] = [];
    for (const d of this.docNos) {
      const last = out[out.length - 1];
      if (last !== undefined && last[1] === d) last[1] = d + 1;
      else out.push([d, d + 1]);
    }
    return out;
  }

  /** Analyzes one document; returns its length in tokens. */
  add(docNo: number, text: string): number {
    const toks = this.analyzer.analyze(text);
    const docTerms = this.docTerms;
    docTerms.length = 0;
    // Per-document term counting without a Map: lastDoc[t] marks terms already seen in this doc.
    const seq = this.seq++;
    for (const t of toks) {
      let id = this.vocab.get(t);
      if (id === undefined) {
        id = this.terms.length;
        this.vocab.set(t, id);
        this.terms.push(t);
        if (id >= this.lastDoc.length) {
          const grow = (a: Int32Array, fill: number): Int32Array => {
            const b = new Int32Array(a.length * 2).fill(fill);
            b.set(a);
            return b;
          };
          this.lastDoc = grow(this.lastDoc, -1);
          this.count = grow(this.count, 0);
          this.df = grow(this.df, 0);
        }
      }
      if (this.lastDoc[id] !== seq) {
        this.lastDoc[id] = seq;
        this.count[id] = 1;
        docTerms.push(id);
      } else this.count[id]!++;
    }
    for (const id of docTerms) {
      this.fwdTerm.push(id);
      this.fwdTf.push(this.count[id]!);
      this.df[id]!++;
    }
    this.docNos.push(docNo);
    this.uniq.push(docTerms.length);
    return toks.length;
  }

  /** Inverts what was added (terms sorted) and starts an empty segment. */
  invert(): InvertedSegment {
    const V = this.terms.length;
    const order = Array.from(this.terms.keys()).sort((x, y) => (this.terms[x]! < this.terms[y]! ? -1 : 1));
    const rank = new Int32Array(V);
    for (let r = 0; r < V; r++) rank[order[r]!] = r;
    const offsets = new Uint32Array(V + 1);
    for (let r = 0; r < V; r++) offsets[r + 1] = offsets[r]! + this.df[order[r]!]!;
    const total = this.fwdTerm.length;
    const postDocs = new Int32Array(total);
    const postTfs = new Uint32Array(total);
    const fill = offsets.slice(0, V);
    const docNos = this.docNos;
    const uniq = this.uniq;
    let doc = 0;
    let left = uniq[0] ?? 0;
    drainBoth(this.fwdTerm, this.fwdTf, (t, tf) => {
      while (left === 0) left = uniq[++doc]!;
      const at = fill[rank[t]!]!++;
      postDocs[at] = docNos[doc]!;
      postTfs[at] = tf;
      left--;
    });
    const terms = order.map((t) => this.terms[t]!);
    this.vocab = new Map();
    this.terms = [];
    this.fwdTerm = chunked();
    this.fwdTf = chunked();
    this.docNos = [];
    this.uniq = [];
    this.lastDoc.fill(-1);
    this.count.fill(0);
    this.df.fill(0);
    this.seq = 0;
    return { terms, offsets, postDocs, postTfs };
  }
}

/** Writes an inverted segment as a segment file through `write` (called with ~8 MB pieces). */
export function writeSegment(seg: InvertedSegment, write: (bytes: Uint8Array) => void): void {
  const out = new ByteWriter(1 << 20);
  const body = new ByteWriter(1 << 16);
  const skips = new NumberList();
  for (let i = 0; i < seg.terms.length; i++) {
    const start = seg.offsets[i]!;
    const end = seg.offsets[i + 1]!;
    const term = Buffer.from(seg.terms[i]!, 'utf8');
    body.reset();
    body.varint(end - start);
    body.varint(term.length);
    body.bytes(term);
    encodePostings(seg.postDocs, seg.postTfs, start, end, body, skips);
    out.varint(body.length);
    out.bytes(body.view());
    if (out.length >= 8 << 20) {
      write(out.view());
      out.reset();
    }
  }
  if (out.length > 0) write(out.view());
}

/** Reads a segment file's records in order, through a buffer that grows to the largest record. */
class SegmentReader {
  private fd: number;
  private buf = Buffer.allocUnsafe(4 << 20);
  private start = 0;
  private end = 0;
  private eof = false;
  /** The current record's term, df and postings bytes (undefined at the end). */
  term: string | undefined;
  df = 0;
  postings: Uint8Array = new Uint8Array(0);

  constructor(readonly file: string) {
    this.fd = openSync(file, 'r');
    this.next();
  }

  private fill(need: number): void {
    if (this.end - this.start >= need || this.eof) return;
    if (need > this.buf.length) {
      const b = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2));
      this.buf.copy(b, 0, this.start, this.end);
      this.buf = b;
    } else this.buf.copy(this.buf, 0, this.start, this.end);
    this.end -= this.start;
    this.start = 0;
    while (this.end < need && !this.eof) {
      const n = readSync(this.fd, this.buf, this.end, this.buf.length - this.end, null);
      if (n === 0) this.eof = true;
      this.end += n;
    }
  }

  private varint(): number {
    let v = 0;
    let mul = 1;
    for (;;) {
      const b = this.buf[this.start++]!;
      v += (b & 127) * mul;
      if (b < 128) return v;
      mul *= 128;
    }
  }

  /** Moves to the next record. */
  next(): void {
    this.fill(10);
    if (this.start >= this.end) {
      this.term = undefined;
      return;
    }
    const len = this.varint();
    this.fill(len);
    if (this.end - this.start < len) throw new Error(`segment file ${this.file} is truncated`);
    const recordEnd = this.start + len;
    this.df = this.varint();
    const termLen = this.varint();
    this.term = this.buf.toString('utf8', this.start, this.start + termLen);
    this.postings = this.buf.subarray(this.start + termLen, recordEnd);
    this.start = recordEnd;
  }

  close(): void {
    closeSync(this.fd);
  }
}

/**
 * Merges segment files into `out`: terms in ascending order, each term's postings from every
 * segment merged by doc number (segments hold interleaved runs of documents). Calls `onTerm`
 * every 4,096 terms (for cancellation checks and progress).
 */
export function mergeSegments(files: readonly string[], out: PostingsWriter, onTerm?: (terms: number) => void): void {
  const readers = files.map((f) => new SegmentReader(f));
  try {
    let docs = new Int32Array(1 << 16);
    let tfs = new Uint32Array(1 << 16);
    let mergedDocs = new Int32Array(1 << 16);
    let mergedTfs = new Uint32Array(1 << 16);
    const starts: number[] = [];
    const ends: number[] = [];
    let merged = 0;
    for (;;) {
      let term: string | undefined;
      for (const r of readers) if (r.term !== undefined && (term === undefined || r.term < term)) term = r.term;
      if (term === undefined) break;
      let total = 0;
      let holders = 0;
      let holder: SegmentReader | undefined;
      for (const r of readers) {
        if (r.term !== term) continue;
        total += r.df;
        holders++;
        holder = r;
      }
      if (holders === 1 && holder !== undefined) {
        // Its bytes in the segment are what the writer would encode (same codec, global doc numbers).
        out.addEncoded(term, holder.postings, holder.df);
        holder.next();
        if (++merged % 4096 === 0) onTerm?.(merged);
        continue;
      }
      if (docs.length < total) {
        const size = Math.max(total, docs.length * 2);
        docs = new Int32Array(size);
        tfs = new Uint32Array(size);
        mergedDocs = new Int32Array(size);
        mergedTfs = new Uint32Array(size);
      }
      starts.length = 0;
      ends.length = 0;
      let at = 0;
      for (const r of readers) {
        if (r.term !== term) continue;
        starts.push(at);
        at += decodePostings(r.postings, docs, tfs, at);
        ends.push(at);
        r.next();
      }
      // Take runs from the list with the smallest head while they stay below the next head.
      let o = 0;
      const k = starts.length;
      for (;;) {
        let best = -1;
        let second = 0x7fffffff;
        for (let i = 0; i < k; i++) {
          if (starts[i]! >= ends[i]!) continue;
          const h = docs[starts[i]!]!;
          if (best < 0 || h < docs[starts[best]!]!) {
            if (best >= 0) second = docs[starts[best]!]!;
            best = i;
          } else if (h < second) second = h;
        }
        if (best < 0) break;
        let p = starts[best]!;
        const e = ends[best]!;
        while (p < e && docs[p]! < second) {
          mergedDocs[o] = docs[p]!;
          mergedTfs[o++] = tfs[p]!;
          p++;
        }
        starts[best] = p;
      }
      out.add(term, mergedDocs, mergedTfs, 0, o);
      if (++merged % 4096 === 0) onTerm?.(merged);
    }
  } finally {
    for (const r of readers) r.close();
  }
}

/**
 * Inverts the builder's documents and writes them to `file`, fsynced (so that a journal entry
 * written afterwards never names a file still in the page cache); undefined when it holds none.
 */
export function flushSegment(builder: SegmentBuilder, file: string): WrittenSegment | undefined {
  if (builder.docs === 0) return undefined;
  const ranges = builder.ranges();
  const seg = builder.invert();
  const fd = openSync(file, 'w');
  let bytes = 0;
  let crc = 0;
  try {
    writeSegment(seg, (piece) => {
      let done = 0;
      while (done < piece.length) done += writeSync(fd, piece, done, piece.length - done);
      bytes += piece.length;
      crc = crc32(piece, crc);
    });
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return { file, bytes, crc32: crc, ranges };
}
