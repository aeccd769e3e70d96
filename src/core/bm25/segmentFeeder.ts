import { startWorker, workerEntry } from '../workerThreads.js';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { SegmentBuilder, flushSegment } from './segments.js';
import type { JournalWriter, ResumeState, WrittenSegment } from './buildJournal.js';

/** What an index worker thread is started with. */
export interface IndexWorkerData {
  analyzer: string;
  /** Segment files are written as `${prefix}-N.seg`. */
  prefix: string;
}

/** Main thread → index worker. `flush`: write the segment held so far; `end`: the last one. */
export type IndexWorkerRequest = { type: 'batch'; base: number; texts: string[] } | { type: 'flush' } | { type: 'end' };

/** Index worker → main thread. `postings`: held in the worker's unwritten segment. */
export type IndexWorkerReply =
  | { type: 'done'; base: number; lengths: Uint32Array; postings: number }
  | { type: 'flushed'; segment?: WrittenSegment }
  | { type: 'ended'; segment?: WrittenSegment }
  | { type: 'error'; message: string; stack?: string };

/** Documents per batch sent to a worker. */
const BATCH_DOCS = 1024;
/** Batches a worker may have queued before the reader waits. */
const MAX_IN_FLIGHT = 4;

interface Slot {
  worker: Worker;
  inFlight: number;
  /** Batches sent before the last flush and not yet done: their postings counts are from before it. */
  beforeFlush: number;
  ended?: () => void;
}

/**
 * Hands documents to worker threads in batches of 1,024 (or analyzes them in the calling thread
 * with `threads` 0); each worker inverts its batches into segments written to `dir`. Collects the
 * document lengths in doc-number order and the segment files. Workers start with the first full
 * batch, so a tiny corpus is indexed without starting any. Once a worker holds `segmentPostings`
 * postings, every worker writes its segment before taking the next batch: the segments written
 * up to such a checkpoint hold exactly the documents before it, which a resumed build reuses.
 */
export class SegmentFeeder {
  private batch: string[] = [];
  private batchBase = 0;
  private lengthsBuf = new Uint32Array(1 << 16);
  private count = 0;
  private readonly files: string[] = [];
  private readonly slots: Slot[] = [];
  private failure: Error | undefined;
  private waiting: (() => void) | undefined;
  private inline: SegmentBuilder | undefined;
  private inlineSegments = 0;
  private checkpoint = false;
  private readonly tag = Date.now().toString(36);

  /**
   * `journal`: records each segment once written (for resuming). `resume`: the state of an
   * interrupted build whose segments are reused; documents are then numbered from `resume.docs`.
   */
  constructor(
    private readonly dir: string,
    private readonly analyzer: string,
    private readonly threads: number,
    private readonly segmentPostings: number,
    private readonly journal?: JournalWriter,
    resume?: ResumeState,
  ) {
    if (resume !== undefined) {
      this.count = resume.docs;
      this.lengthsBuf = new Uint32Array(Math.max(1 << 16, resume.docs * 2));
      this.lengthsBuf.set(resume.lengths);
      this.files.push(...resume.files);
    }
  }

  /** Documents handed over so far. */
  get docs(): number {
    return this.count;
  }

  /** Adds the document with the next doc number; a promise when the reader should wait. */
  add(text: string): Promise<void> | undefined {
    if (this.batch.length === 0) this.batchBase = this.count;
    this.batch.push(text);
    this.count++;
    if (this.count > this.lengthsBuf.length) {
      const next = new Uint32Array(this.lengthsBuf.length * 2);
      next.set(this.lengthsBuf);
      this.lengthsBuf = next;
    }
    return this.batch.length >= BATCH_DOCS ? this.dispatch() : undefined;
  }

  private check(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  private start(): void {
    const file = workerEntry(__dirname, 'indexWorker');
    for (let i = 0; i < this.threads; i++) {
      const workerData: IndexWorkerData = { analyzer: this.analyzer, prefix: join(this.dir, `seg-${this.tag}-w${i}`) };
      const worker = startWorker(file, workerData);
      const slot: Slot = { worker, inFlight: 0, beforeFlush: 0 };
      worker.on('message', (r: IndexWorkerReply) => {
        if (r.type === 'error') {
          const e = new Error(r.message);
          if (r.stack !== undefined) e.stack = r.stack;
          this.fail(e);
          return;
        }
        if (r.type === 'done') {
          this.lengthsBuf.set(r.lengths, r.base);
          if (slot.beforeFlush > 0) slot.beforeFlush--;
          else if (r.postings >= this.segmentPostings) this.checkpoint = true;
          slot.inFlight--;
          this.wake();
          return;
        }
        if (r.segment !== undefined) this.written(r.segment);
        if (r.type === 'ended') slot.ended?.();
      });
      worker.on('error', (e) => this.fail(e));
      worker.on('exit', (code) => {
        if (slot.ended !== undefined || this.failure !== undefined) return;
        this.fail(new Error(`an index worker thread exited (code ${code})`));
      });
      this.slots.push(slot);
    }
  }

  private fail(e: Error): void {
    this.failure ??= e;
    this.wake();
    for (const s of this.slots) s.ended?.();
  }

  private wake(): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
  }

  private async dispatch(): Promise<void> {
    this.check();
    const texts = this.batch;
    const base = this.batchBase;
    this.batch = [];
    if (this.threads <= 0) {
      this.inline ??= new SegmentBuilder(this.analyzer);
      for (let i = 0; i < texts.length; i++) this.lengthsBuf[base + i] = this.inline.add(base + i, texts[i]!);
      if (this.inline.postings >= this.segmentPostings) this.flushInline();
      return;
    }
    if (this.slots.length === 0) this.start();
    if (this.checkpoint) {
      this.checkpoint = false;
      for (const s of this.slots) {
        s.beforeFlush = s.inFlight;
        s.worker.postMessage({ type: 'flush' } satisfies IndexWorkerRequest);
      }
    }
    for (;;) {
      this.check();
      let best: Slot | undefined;
      for (const s of this.slots) if (s.inFlight < MAX_IN_FLIGHT && (best === undefined || s.inFlight < best.inFlight)) best = s;
      if (best !== undefined) {
        best.inFlight++;
        best.worker.postMessage({ type: 'batch', base, texts } satisfies IndexWorkerRequest);
        return;
      }
      await new Promise<void>((r) => (this.waiting = r));
    }
  }

  private flushInline(): void {
    const segment = flushSegment(this.inline!, join(this.dir, `seg-${this.tag}-main-${this.inlineSegments++}.seg`));
    if (segment !== undefined) this.written(segment);
  }

  /** A segment file is complete (its documents' lengths are known): journal it. */
  private written(segment: WrittenSegment): void {
    this.files.push(segment.file);
    if (this.journal === undefined) return;
    const n = segment.ranges.reduce((s, [a, b]) => s + b - a, 0);
    const lengths = new Uint32Array(n);
    let at = 0;
    for (const [a, b] of segment.ranges) {
      lengths.set(this.lengthsBuf.subarray(a, b), at);
      at += b - a;
    }
    this.journal.add(segment, lengths);
  }

  /**
   * Sends the last batch, waits for every worker to write its last segment, and returns the
   * segment files and the length (in tokens) of each document.
   */
  async finish(): Promise<{ files: string[]; lengths: Uint32Array }> {
    if (this.batch.length > 0) {
      // A corpus smaller than one batch is analyzed here: starting workers would cost more.
      if (this.slots.length === 0) {
        this.inline ??= new SegmentBuilder(this.analyzer);
        const base = this.batchBase;
        this.batch.forEach((t, i) => (this.lengthsBuf[base + i] = this.inline!.add(base + i, t)));
        this.batch = [];
      } else await this.dispatch();
    }
    if (this.inline !== undefined) this.flushInline();
    await Promise.all(
      this.slots.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.ended = resolve;
            s.worker.postMessage({ type: 'end' } satisfies IndexWorkerRequest);
          }),
      ),
    );
    this.check();
    await this.close();
    await this.journal?.flushed();
    return { files: [...this.files].sort(), lengths: this.lengthsBuf.subarray(0, this.count) };
  }

  /** Stops the workers (after a failure or cancellation). */
  async close(): Promise<void> {
    const slots = this.slots.splice(0);
    for (const s of slots) s.ended ??= () => {};
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }
}
