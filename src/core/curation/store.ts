import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../files/atomicWrite.js';
import { QxError } from '../errors.js';
import type { ExpansionRecord } from '../expansion/types.js';
import { type Logger, nullLogger } from '../logger.js';
import { shortHash } from './hash.js';
import { type ExpansionHead, scanExpansionHead, scanScoreHead } from './expansionHead.js';
import { CHECKPOINT_FILE, encodePairs, type ReadCheckpoint, type JournalMark, type JournalName, journalNames, markJournal, readCheckpoint, removeCheckpointLeftovers, writeCheckpoint } from './checkpoint.js';
import { JournalWriter, type JournalLine, scanJournal } from './journal.js';
import { StoreLock } from '../files/lock.js';
import type { ExpansionScore, PairRecord, PairState } from './types.js';

/** The store schema this build writes and the newest it can read. */
export const storeSchemaVersion = 1;

/** Contents of `.qx/store.json`. */
export interface StoreMeta {
  schemaVersion: number;
  /** ISO time the store was created. */
  created: string;
  /** Version of QX Studio that created the store. */
  toolVersion: string;
}

/** Fields of a pair that an `update` event may change. */
export type PairPatch = Partial<Pick<PairRecord, 'chosenId' | 'rejectedId' | 'margin' | 'state' | 'rulesHash' | 'origin'>>;

/**
 * One line of `pairs.jsonl`. The current pairs are the fold of these events in file order;
 * nothing is ever rewritten, and undo appends the inverse event.
 */
export type PairEvent = { eid: string; at: string } & (
  | { op: 'create'; pair: PairRecord }
  | { op: 'setState'; pairId: string; state: PairState }
  /** An empty note clears it. */
  | { op: 'setNote'; pairId: string; note: string }
  /** Exchanges chosen and rejected (margin changes sign); `state` is the state after the swap. */
  | { op: 'swap'; pairId: string; state: PairState }
  | { op: 'update'; pairId: string; patch: PairPatch }
  | { op: 'delete'; pairId: string }
);

type PairEventBody = PairEvent extends infer E ? (E extends PairEvent ? Omit<E, 'eid' | 'at'> : never) : never;

/** A line of `expansions.jsonl` that withdraws an earlier record (written by undo only). */
interface ExpansionRetraction {
  retract: string;
  at: string;
}

/** A line of `scores.jsonl`. */
interface ScoreLine {
  /** Retrieval-settings key (see {@link retrievalSettingsKey}). */
  key: string;
  score: ExpansionScore;
}

export interface OpenStoreOptions {
  logger?: Logger;
  /** Open without the lock for viewing; every write throws. Default false. */
  readOnly?: boolean;
  /** Version of QX Studio, recorded when the store is created. Default "unknown". */
  toolVersion?: string;
  /** Clock, for tests. */
  now?: () => Date;
  /**
   * Use and write the checkpoint `.qx/store.checkpoint` (see {@link writeCheckpoint}). Default
   * true; false replays the journals from their start and writes none.
   */
  checkpoint?: boolean;
}

/**
 * Journal bytes past the checkpoint above which the store writes a new one: when an open had to
 * replay that much, and on `close` (1 MB: smaller suffixes replay in milliseconds).
 */
const CHECKPOINT_AFTER_BYTES = 1 << 20;
/**
 * Journal bytes appended past the checkpoint that trigger a checkpoint right away (big imports and
 * scoring runs, so a run killed later still opens fast): 256 MB, or as many bytes as the last
 * checkpoint covers when that is more, so the checkpoints written during a long run cost O(journal size) in all.
 */
const CHECKPOINT_WHILE_WRITING_BYTES = 256 << 20;

/** What `undo()` undid, for a status message; both null when there was nothing to undo. */
export interface StoreUndoResult {
  description: string | null;
  qid: string | null;
}

/**
 * An expansion as the store holds it: its head fields, and either the whole record (added in this
 * session, or loaded by `listExpansions`) or where its line is in `expansions.jsonl`.
 */
interface ExpansionEntry extends ExpansionHead {
  record?: ExpansionRecord;
  offset: number;
  length: number;
  line: number;
}

/** What the query browser needs of a score; the store holds these for every stored score. */
export interface ScoreSummary {
  ndcg10: number;
  delta: number;
  judged10: number;
}

/** A stored score: its summary, and the whole score (stored in this session, or loaded) or where its line is. */
interface ScoreEntry extends ScoreSummary {
  score?: ExpansionScore;
  offset: number;
  length: number;
  line: number;
}

interface UndoEntry {
  description: string;
  qid: string | null;
  pairEvents: PairEventBody[];
  retractExpansions: string[];
}

/**
 * Key of a retrieval configuration: a hash of whatever determines the scores (engine, analyzer,
 * BM25 parameters, metric cut-offs). Scores are stored under it, so changing k1 or b leaves the
 * old scores unused instead of mixing them with new ones.
 */
export function retrievalSettingsKey(settings: unknown): string {
  return shortHash(settings);
}

/** The expansion id under which the score of the original (unexpanded) query of `qid` is stored. */
export function originalScoreId(qid: string): string {
  return `original:${qid}`;
}

/**
 * The curation store of a workspace: `.qx/store.json` plus three append-only JSONL journals
 * (`expansions.jsonl`, `scores.jsonl`, `pairs.jsonl`). Every acknowledged write is one appended
 * line (or batch of lines) fsynced before the call returns. One process at a time holds
 * `.qx/lock`; read-only viewers may open without it.
 */
export class CurationStore {
  private readonly expansions = new Map<string, ExpansionEntry>();
  private readonly expansionsByQid = new Map<string, ExpansionEntry[]>();
  /** Read descriptor of expansions.jsonl, opened on the first record read from it. */
  private readFd: number | null = null;
  private readonly scores = new Map<string, Map<string, ScoreEntry>>();
  /** Whole scores per settings key, once `scoresFor` has loaded them. */
  private readonly fullScores = new Map<string, Map<string, ExpansionScore>>();
  private scoreFd: number | null = null;
  private readonly pairs = new Map<string, PairRecord>();
  private readonly undoStack: UndoEntry[] = [];
  private openGroup: UndoEntry | null = null;
  private writers: { expansions: JournalWriter; scores: JournalWriter; pairs: JournalWriter } | null = null;
  private lock: StoreLock | null = null;
  private closed = false;
  /** Journal sizes and lines the store has read or written (for a read-only store, what it read). */
  private readonly position: Record<JournalName, { size: number; lines: number }> = { expansions: { size: 0, lines: 0 }, scores: { size: 0, lines: 0 }, pairs: { size: 0, lines: 0 } };
  /** Journal bytes the last checkpoint read or written covers, all journals together. */
  private checkpointBytes = 0;
  private readonly useCheckpoint: boolean;
  /** How the last open built the state: from a checkpoint or not, and how many journal bytes it replayed. */
  opened: { fromCheckpoint: boolean; replayedBytes: number } = { fromCheckpoint: false, replayedBytes: 0 };
  private readonly now: () => Date;
  private readonly logger: Logger;

  private constructor(
    readonly dir: string,
    readonly meta: StoreMeta,
    readonly readOnly: boolean,
    options: OpenStoreOptions,
  ) {
    this.now = options.now ?? (() => new Date());
    this.logger = options.logger ?? nullLogger;
    this.useCheckpoint = options.checkpoint ?? true;
  }

  /** The `.qx` folder of a workspace root. */
  static storeDir(root: string): string {
    return join(root, '.qx');
  }

  /**
   * Opens (creating if needed) the store in `<root>/.qx`. Throws QxError('store') when another
   * live process holds the lock, when the store was written by a newer schema, or when a journal
   * is damaged in the middle. A torn last line left by a crash is cut off with a warning.
   */
  static open(root: string, options: OpenStoreOptions = {}): CurationStore {
    const logger = options.logger ?? nullLogger;
    const readOnly = options.readOnly ?? false;
    const now = options.now ?? (() => new Date());
    const dir = CurationStore.storeDir(root);
    const metaFile = join(dir, 'store.json');
    let meta: StoreMeta;
    if (existsSync(metaFile)) {
      meta = readMeta(metaFile);
    } else {
      if (readOnly) throw new QxError('store', 'there is no curation store here yet', { file: metaFile, hint: 'Open the workspace normally once to create it.' });
      mkdirSync(dir, { recursive: true });
      meta = { schemaVersion: storeSchemaVersion, created: now().toISOString(), toolVersion: options.toolVersion ?? 'unknown' };
    }
    const store = new CurationStore(dir, meta, readOnly, options);
    if (!readOnly) {
      store.lock = StoreLock.acquire(join(dir, 'lock'), logger, now);
      if (!existsSync(metaFile)) writeFileAtomic(metaFile, JSON.stringify(meta, null, 2) + '\n');
    }
    try {
      const replayed = store.load(!readOnly);
      if (!readOnly) {
        const { position: at } = store;
        store.writers = {
          expansions: new JournalWriter(join(dir, 'expansions.jsonl'), at.expansions.lines),
          scores: new JournalWriter(join(dir, 'scores.jsonl'), at.scores.lines),
          pairs: new JournalWriter(join(dir, 'pairs.jsonl'), at.pairs.lines),
        };
        removeCheckpointLeftovers(dir);
        // A checkpoint that could not be used is replaced at once, so it is not read (and logged) again.
        const unusable = !store.opened.fromCheckpoint && existsSync(join(dir, CHECKPOINT_FILE));
        if (store.useCheckpoint && (replayed >= CHECKPOINT_AFTER_BYTES || unusable)) store.checkpoint();
      }
    } catch (e) {
      store.lock?.release();
      throw e;
    }
    return store;
  }

  /**
   * Builds the in-memory state: from the checkpoint when it matches the journals, then the journal
   * lines past it (all of them without one). Returns the journal bytes replayed.
   */
  private load(repair: boolean): number {
    const cp = this.useCheckpoint ? readCheckpoint(this.dir, storeSchemaVersion, this.logger) : null;
    if (cp !== null) this.restore(cp);
    const from = (name: JournalName) => (cp === null ? undefined : { offset: cp.marks[name].size, lines: cp.marks[name].lines });
    const opts = (name: JournalName) => ({ logger: this.logger, repair, from: from(name) });
    // Only the head fields of each expansion are read here; texts stay on disk until asked for.
    const interned = new Map<string, string>();
    const intern = (v: string): string => {
      const have = interned.get(v);
      if (have !== undefined) return have;
      interned.set(v, v);
      return v;
    };
    const added: ExpansionEntry[] = [];
    let reorder = false;
    this.position.expansions = scanJournal(join(this.dir, 'expansions.jsonl'), opts('expansions'), (buf, start, end, offset, line) => {
      const head = scanExpansionHead(buf, start, end, intern);
      if (head !== null && 'retract' in head) {
        reorder = this.expansions.delete(head.retract) || reorder;
        return;
      }
      if (head !== null) {
        reorder = this.putEntry({ ...head, offset, length: end - start, line }, added) || reorder;
        return;
      }
      const v = JSON.parse(buf.toString('utf8', start, end)) as ExpansionRecord | ExpansionRetraction;
      if ('retract' in v) reorder = this.expansions.delete(v.retract) || reorder;
      else reorder = this.putEntry({ ...headOf(v), record: v, offset, length: end - start, line }, added) || reorder;
    });
    if (reorder || cp === null) {
      this.expansionsByQid.clear();
      for (const e of this.expansions.values()) this.indexExpansion(e);
    } else {
      for (const e of added) this.indexExpansion(e);
    }
    // Scores too: only what the query browser shows is kept; document lists stay on disk.
    this.position.scores = scanJournal(join(this.dir, 'scores.jsonl'), opts('scores'), (buf, start, end, offset, line) => {
      const head = scanScoreHead(buf, start, end, intern);
      if (head !== null) {
        this.scoreMap(head.key).set(head.expansionId, { ndcg10: head.ndcg10, delta: head.delta, judged10: head.judged10, offset, length: end - start, line });
        return;
      }
      const v = JSON.parse(buf.toString('utf8', start, end)) as ScoreLine;
      this.setScore(v.key, v.score, { offset, length: end - start, line });
    });
    const pairsFile = join(this.dir, 'pairs.jsonl');
    this.position.pairs = scanJournal(pairsFile, opts('pairs'), (buf, start, end, _offset, line) => {
      const problem = this.fold(JSON.parse(buf.toString('utf8', start, end)) as PairEvent);
      if (problem !== null) this.logger.warn(`${pairsFile}:${line}: ${problem}; event ignored.`);
    });
    const covered = cp === null ? 0 : journalNames.reduce((n, j) => n + cp.marks[j].size, 0);
    this.checkpointBytes = covered;
    this.opened = { fromCheckpoint: cp !== null, replayedBytes: this.journalBytes() - covered };
    this.logger.debug(`Opened the curation store in ${this.dir} ${cp === null ? 'from its journals' : 'from its checkpoint'}; replayed ${this.opened.replayedBytes} bytes of journal.`);
    return this.opened.replayedBytes;
  }

  /**
   * Sets an expansion entry as a journal line does: a new id goes at the end (and into `added`), a
   * known one is replaced in place. Returns true for a replacement (the per-query lists are then rebuilt).
   */
  private putEntry(e: ExpansionEntry, added: ExpansionEntry[]): boolean {
    const had = this.expansions.has(e.id);
    this.expansions.set(e.id, e);
    if (!had) added.push(e);
    return had;
  }

  private journalBytes(): number {
    return this.position.expansions.size + this.position.scores.size + this.position.pairs.size;
  }

  /** Loads the state a checkpoint holds. */
  private restore(cp: ReadCheckpoint): void {
    const str = cp.strings;
    const { expCols, expOffset, expLength, expLine } = cp;
    for (let i = 0; i < expOffset.length; i++) {
      const c = 6 * i;
      const e: ExpansionEntry = { id: str[expCols[c]!]!, qid: str[expCols[c + 1]!]!, role: str[expCols[c + 2]!]!, method: str[expCols[c + 3]!]!, model: str[expCols[c + 4]!]!, provider: str[expCols[c + 5]!]!, offset: expOffset[i]!, length: expLength[i]!, line: expLine[i]! };
      this.expansions.set(e.id, e);
      this.indexExpansion(e);
    }
    const { scoreCols, scoreNums, scoreOffset, scoreLength, scoreLine } = cp;
    let key = '';
    let map: Map<string, ScoreEntry> | undefined;
    for (let i = 0; i < scoreOffset.length; i++) {
      const k = str[scoreCols[2 * i]!]!;
      if (map === undefined || k !== key) map = this.scoreMap((key = k));
      map.set(str[scoreCols[2 * i + 1]!]!, { ndcg10: scoreNums[3 * i]!, delta: scoreNums[3 * i + 1]!, judged10: scoreNums[3 * i + 2]!, offset: scoreOffset[i]!, length: scoreLength[i]!, line: scoreLine[i]! });
    }
    for (const p of cp.pairRecords) this.pairs.set(p.id, p);
  }

  /**
   * Writes the checkpoint of the current state (see {@link writeCheckpoint}): what an open would
   * build from the journals as they are now. Called by the store itself (on open after a long
   * replay, after big writes, on close); a failure is logged, never thrown (the journals hold everything).
   */
  checkpoint(): void {
    if (this.writers === null || !this.useCheckpoint) return;
    const t = performance.now();
    try {
      const ids = new Map<string, number>();
      const strings: string[] = [];
      const sid = (v: string): number => {
        let i = ids.get(v);
        if (i === undefined) {
          ids.set(v, (i = strings.length));
          strings.push(v);
        }
        return i;
      };
      const n = this.expansions.size;
      const expCols = new Uint32Array(6 * n);
      const expOffset = new Float64Array(n);
      const expLength = new Uint32Array(n);
      const expLine = new Uint32Array(n);
      let i = 0;
      for (const e of this.expansions.values()) {
        const c = 6 * i;
        expCols[c] = sid(e.id);
        expCols[c + 1] = sid(e.qid);
        expCols[c + 2] = sid(e.role);
        expCols[c + 3] = sid(e.method);
        expCols[c + 4] = sid(e.model);
        expCols[c + 5] = sid(e.provider);
        expOffset[i] = e.offset;
        expLength[i] = e.length;
        expLine[i] = e.line;
        i++;
      }
      let m = 0;
      for (const map of this.scores.values()) m += map.size;
      const scoreCols = new Uint32Array(2 * m);
      const scoreNums = new Float64Array(3 * m);
      const scoreOffset = new Float64Array(m);
      const scoreLength = new Uint32Array(m);
      const scoreLine = new Uint32Array(m);
      i = 0;
      for (const [key, map] of this.scores) {
        const k = sid(key);
        for (const [id, e] of map) {
          scoreCols[2 * i] = k;
          scoreCols[2 * i + 1] = sid(id);
          scoreNums[3 * i] = e.ndcg10;
          scoreNums[3 * i + 1] = e.delta;
          scoreNums[3 * i + 2] = e.judged10;
          scoreOffset[i] = e.offset;
          scoreLength[i] = e.length;
          scoreLine[i] = e.line;
          i++;
        }
      }
      const marks = {} as Record<JournalName, JournalMark>;
      for (const name of journalNames) marks[name] = markJournal(join(this.dir, `${name}.jsonl`), this.position[name].size, this.position[name].lines);
      const bytes = writeCheckpoint(this.dir, storeSchemaVersion, { marks, strings, expCols, expOffset, expLength, expLine, scoreCols, scoreNums, scoreOffset, scoreLength, scoreLine, pairs: encodePairs(this.pairs.values(), sid) });
      this.checkpointBytes = this.journalBytes();
      this.logger.debug(`Wrote ${join(this.dir, CHECKPOINT_FILE)} (${(bytes / 1e6).toFixed(1)} MB, ${n} expansions, ${m} scores, ${this.pairs.size} pairs) in ${(performance.now() - t).toFixed(0)} ms.`);
    } catch (e) {
      this.logger.warn(`Could not write the store checkpoint (${e instanceof Error ? e.message : String(e)}); the next open replays the journals.`);
    }
  }

  /** After an append: record the journal's new size, and checkpoint when much was written since the last one. */
  private appended(name: JournalName, writer: JournalWriter): void {
    this.position[name] = { size: writer.size, lines: writer.lines };
    if (this.journalBytes() - this.checkpointBytes >= Math.max(CHECKPOINT_WHILE_WRITING_BYTES, this.checkpointBytes)) this.checkpoint();
  }

  private indexExpansion(e: ExpansionEntry): void {
    let list = this.expansionsByQid.get(e.qid);
    if (list === undefined) this.expansionsByQid.set(e.qid, (list = []));
    list.push(e);
  }

  private scoreMap(key: string): Map<string, ScoreEntry> {
    let m = this.scores.get(key);
    if (m === undefined) this.scores.set(key, (m = new Map()));
    return m;
  }

  private setScore(key: string, score: ExpansionScore, at: JournalLine): void {
    this.scoreMap(key).set(score.expansionId, { ndcg10: score.ndcg10, delta: score.delta, judged10: score.judged10, score, offset: at.offset, length: at.length, line: at.line });
    this.fullScores.get(key)?.set(score.expansionId, score);
  }

  /** Applies one event to the in-memory pairs; returns a problem description or null. */
  private fold(ev: PairEvent): string | null {
    if (ev.op === 'create') {
      this.pairs.set(ev.pair.id, { ...ev.pair, updatedAt: ev.at });
      return null;
    }
    const p = this.pairs.get(ev.pairId);
    if (p === undefined) return `${ev.op} of unknown pair ${ev.pairId}`;
    switch (ev.op) {
      case 'setState':
        p.state = ev.state;
        break;
      case 'setNote':
        if (ev.note === '') delete p.note;
        else p.note = ev.note;
        break;
      case 'swap':
        [p.chosenId, p.rejectedId] = [p.rejectedId, p.chosenId];
        p.margin = -p.margin;
        p.state = ev.state;
        break;
      case 'update':
        // As the event reads back from the journal: JSON leaves undefined fields out of the patch.
        for (const [k, v] of Object.entries(ev.patch)) if (v !== undefined) (p as unknown as Record<string, unknown>)[k] = v;
        break;
      case 'delete':
        this.pairs.delete(ev.pairId);
        return null;
    }
    p.updatedAt = ev.at;
    return null;
  }

  private writable(): { expansions: JournalWriter; scores: JournalWriter; pairs: JournalWriter } {
    if (this.closed) throw new QxError('store', 'the curation store is closed');
    if (this.writers === null) throw new QxError('store', 'the curation store was opened read-only', { hint: 'Open the workspace for editing to change it.' });
    return this.writers;
  }

  private pushUndo(description: string, qid: string | null, pairEvents: PairEventBody[], retract: string[]): void {
    if (this.openGroup !== null) {
      this.openGroup.pairEvents.unshift(...pairEvents);
      this.openGroup.retractExpansions.push(...retract);
      return;
    }
    this.undoStack.push({ description, qid, pairEvents, retractExpansions: retract });
  }

  /** Writes pair events (one append, one fsync) and folds them in. */
  private writePairEvents(bodies: PairEventBody[]): PairEvent[] {
    const w = this.writable();
    const at = this.now().toISOString();
    const events = bodies.map((b) => ({ ...b, eid: randomUUID(), at }) as PairEvent);
    w.pairs.append(events);
    for (const ev of events) this.fold(ev);
    this.appended('pairs', w.pairs);
    return events;
  }

  /**
   * Runs `fn` so that every edit it makes is undone by one `undo()`, e.g. an expansion edit
   * together with the pairs re-pointed to the edited copy.
   */
  group<T>(description: string, qid: string | null, fn: () => T): T {
    if (this.openGroup !== null) return fn();
    const entry: UndoEntry = { description, qid, pairEvents: [], retractExpansions: [] };
    this.openGroup = entry;
    try {
      return fn();
    } finally {
      this.openGroup = null;
      if (entry.pairEvents.length > 0 || entry.retractExpansions.length > 0) this.undoStack.push(entry);
    }
  }

  // ---- expansions ----

  /**
   * Every expansion, in the order first stored. The first call reads every record's text from
   * `expansions.jsonl` in one pass and keeps them in memory for the later calls.
   */
  listExpansions(): ExpansionRecord[] {
    const missing = new Map<number, ExpansionEntry>();
    for (const e of this.expansions.values()) if (e.record === undefined) missing.set(e.offset, e);
    if (missing.size > 0) {
      scanJournal(join(this.dir, 'expansions.jsonl'), { logger: nullLogger, repair: false }, (buf, start, end, offset) => {
        const e = missing.get(offset);
        if (e !== undefined) e.record = this.parseRecord(e, buf.toString('utf8', start, end));
      });
    }
    return [...this.expansions.values()].map((e) => this.record(e));
  }

  getExpansion(id: string): ExpansionRecord | undefined {
    const e = this.expansions.get(id);
    return e === undefined ? undefined : this.record(e);
  }

  /** Expansions of one query, in the order stored. */
  expansionsForQuery(qid: string): ExpansionRecord[] {
    return (this.expansionsByQid.get(qid) ?? []).map((e) => this.record(e));
  }

  /** The head fields (id, qid, role, method, model, provider) of one query's expansions, in the order stored; reads no text. */
  expansionHeadsForQuery(qid: string): ExpansionHead[] {
    return (this.expansionsByQid.get(qid) ?? []).map(({ id, qid: q, role, method, model, provider }) => ({ id, qid: q, role, method, model, provider }));
  }

  /** The whole record of an entry: in memory, or its line of expansions.jsonl (one positioned read). */
  private record(e: ExpansionEntry): ExpansionRecord {
    if (e.record !== undefined) return e.record;
    const file = join(this.dir, 'expansions.jsonl');
    this.readFd ??= openSync(file, 'r');
    const buf = Buffer.allocUnsafe(e.length);
    let got = 0;
    while (got < e.length) {
      const n = readSync(this.readFd, buf, got, e.length - got, e.offset + got);
      if (n === 0) break;
      got += n;
    }
    return this.parseRecord(e, buf.toString('utf8', 0, got));
  }

  private parseRecord(e: ExpansionEntry, text: string): ExpansionRecord {
    const file = join(this.dir, 'expansions.jsonl');
    let r: ExpansionRecord;
    try {
      r = JSON.parse(text) as ExpansionRecord;
    } catch (cause) {
      throw new QxError('store', `line ${e.line} of the curation journal is not valid JSON`, { file, line: e.line, cause, hint: 'The store is damaged in the middle of expansions.jsonl; restore .qx from version control or a backup.' });
    }
    if (r.id !== e.id) throw new QxError('store', `line ${e.line} of the curation journal no longer holds expansion ${e.id}`, { file, line: e.line, hint: 'expansions.jsonl was changed while the store was open; reopen the workspace.' });
    return r;
  }

  /**
   * Stores expansions whose ids are new (one append, one fsync); returns how many were new.
   * With `undoable` (for hand edits), one `undo()` withdraws them again.
   */
  addExpansions(records: readonly ExpansionRecord[], undoable?: { description: string }): number {
    const w = this.writable();
    const fresh: ExpansionRecord[] = [];
    const seen = new Set<string>();
    for (const r of records) {
      if (this.expansions.has(r.id) || seen.has(r.id)) continue;
      seen.add(r.id);
      fresh.push(r);
    }
    const lines = w.expansions.append(fresh);
    for (let i = 0; i < fresh.length; i++) {
      const r = fresh[i]!;
      const { offset, length, line } = lines[i]!;
      const e: ExpansionEntry = { ...headOf(r), record: r, offset, length, line };
      this.expansions.set(r.id, e);
      this.indexExpansion(e);
    }
    if (undoable !== undefined && fresh.length > 0) {
      this.pushUndo(undoable.description, fresh[0]?.qid ?? null, [], fresh.map((r) => r.id));
    }
    this.appended('expansions', w.expansions);
    return fresh.length;
  }

  // ---- scores ----

  /** The score of an expansion under a retrieval-settings key, if scored with those settings. */
  getScore(settingsKey: string, expansionId: string): ExpansionScore | undefined {
    const e = this.scores.get(settingsKey)?.get(expansionId);
    if (e === undefined) return undefined;
    if (e.score !== undefined) return e.score;
    const file = join(this.dir, 'scores.jsonl');
    this.scoreFd ??= openSync(file, 'r');
    const buf = Buffer.allocUnsafe(e.length);
    let got = 0;
    while (got < e.length) {
      const n = readSync(this.scoreFd, buf, got, e.length - got, e.offset + got);
      if (n === 0) break;
      got += n;
    }
    return this.parseScore(e, expansionId, buf.toString('utf8', 0, got));
  }

  /**
   * All scores under a settings key, by expansion id (original queries under {@link originalScoreId}).
   * The first call per key reads their document lists from `scores.jsonl` in one pass and keeps them.
   */
  scoresFor(settingsKey: string): ReadonlyMap<string, ExpansionScore> {
    const have = this.fullScores.get(settingsKey);
    if (have !== undefined) return have;
    const entries = this.scores.get(settingsKey);
    if (entries === undefined) return new Map();
    const missing = new Map<number, [string, ScoreEntry]>();
    for (const [id, e] of entries) if (e.score === undefined) missing.set(e.offset, [id, e]);
    if (missing.size > 0) {
      scanJournal(join(this.dir, 'scores.jsonl'), { logger: nullLogger, repair: false }, (buf, start, end, offset) => {
        const m = missing.get(offset);
        if (m !== undefined) m[1].score = this.parseScore(m[1], m[0], buf.toString('utf8', start, end));
      });
    }
    const full = new Map<string, ExpansionScore>();
    for (const [id, e] of entries) full.set(id, e.score ?? this.getScore(settingsKey, id)!);
    this.fullScores.set(settingsKey, full);
    return full;
  }

  /** What the query browser shows of every score under a settings key (nDCG@10, delta, Judged@10), without loading document lists. */
  scoreSummariesFor(settingsKey: string): ReadonlyMap<string, ScoreSummary> {
    return this.scores.get(settingsKey) ?? new Map<string, ScoreSummary>();
  }

  private parseScore(e: ScoreEntry, expansionId: string, text: string): ExpansionScore {
    const file = join(this.dir, 'scores.jsonl');
    let v: ScoreLine;
    try {
      v = JSON.parse(text) as ScoreLine;
    } catch (cause) {
      throw new QxError('store', `line ${e.line} of the curation journal is not valid JSON`, { file, line: e.line, cause, hint: 'The store is damaged in the middle of scores.jsonl; restore .qx from version control or a backup.' });
    }
    if (v.score?.expansionId !== expansionId) throw new QxError('store', `line ${e.line} of the curation journal no longer holds the score of ${expansionId}`, { file, line: e.line, hint: 'scores.jsonl was changed while the store was open; reopen the workspace.' });
    return v.score;
  }

  /** Stores scores (one append, one fsync); a later score for the same expansion and key replaces the earlier. */
  putScores(settingsKey: string, scores: readonly ExpansionScore[]): void {
    const w = this.writable();
    const lines = w.scores.append(scores.map((score) => ({ key: settingsKey, score }) satisfies ScoreLine));
    scores.forEach((s, i) => this.setScore(settingsKey, s, lines[i]!));
    this.appended('scores', w.scores);
  }

  // ---- pairs ----

  /** Current pairs (the fold of `pairs.jsonl`), in creation order. Returned objects are copies. */
  listPairs(): PairRecord[] {
    return [...this.pairs.values()].map((p) => ({ ...p }));
  }

  /** Current pairs of one query, in creation order (copies). */
  pairsForQuery(qid: string): PairRecord[] {
    const out: PairRecord[] = [];
    for (const p of this.pairs.values()) if (p.qid === qid) out.push({ ...p });
    return out;
  }

  getPair(id: string): PairRecord | undefined {
    const p = this.pairs.get(id);
    return p === undefined ? undefined : { ...p };
  }

  private mustGet(id: string): PairRecord {
    const p = this.pairs.get(id);
    if (p === undefined) throw new QxError('store', `there is no pair ${id}`, { hint: 'It may have been removed by a rebuild; refresh the view.' });
    return p;
  }

  /** Adds a pair (its id must be new). Undoable. */
  createPair(pair: PairRecord): PairRecord {
    if (this.pairs.has(pair.id)) throw new QxError('store', `pair ${pair.id} already exists`);
    this.writePairEvents([{ op: 'create', pair }]);
    this.pushUndo(`create pair ${pair.id}`, pair.qid, [{ op: 'delete', pairId: pair.id }], []);
    return { ...this.mustGet(pair.id) };
  }

  /** Sets accepted/rejected/edited/auto. Undoable. */
  setPairState(id: string, state: PairState): PairRecord {
    const p = this.mustGet(id);
    const prev = p.state;
    this.writePairEvents([{ op: 'setState', pairId: id, state }]);
    this.pushUndo(`mark pair ${state}`, p.qid, [{ op: 'setState', pairId: id, state: prev }], []);
    return { ...p };
  }

  /** Sets the note; an empty string clears it. Undoable. */
  setPairNote(id: string, note: string): PairRecord {
    const p = this.mustGet(id);
    const prev = p.note ?? '';
    this.writePairEvents([{ op: 'setNote', pairId: id, note }]);
    this.pushUndo('edit note', p.qid, [{ op: 'setNote', pairId: id, note: prev }], []);
    return { ...p };
  }

  /**
   * Exchanges chosen and rejected. The pair keeps its id; an "auto" pair becomes "edited" so a
   * rebuild keeps the human decision. Undoable.
   */
  swapPair(id: string): PairRecord {
    const p = this.mustGet(id);
    const prev = p.state;
    this.writePairEvents([{ op: 'swap', pairId: id, state: prev === 'auto' ? 'edited' : prev }]);
    this.pushUndo('swap chosen and rejected', p.qid, [{ op: 'swap', pairId: id, state: prev }], []);
    return { ...p };
  }

  /** Changes fields of a pair (e.g. re-points it to an edited expansion). Undoable. */
  updatePair(id: string, patch: PairPatch): PairRecord {
    const p = this.mustGet(id);
    const prev: PairPatch = {};
    for (const k of Object.keys(patch) as (keyof PairPatch)[]) (prev as Record<string, unknown>)[k] = p[k];
    this.writePairEvents([{ op: 'update', pairId: id, patch }]);
    this.pushUndo(`update pair ${id}`, p.qid, [{ op: 'update', pairId: id, patch: prev }], []);
    return { ...p };
  }

  /** Removes a pair. Undoable. */
  deletePair(id: string): void {
    const p = { ...this.mustGet(id) };
    this.writePairEvents([{ op: 'delete', pairId: id }]);
    this.pushUndo(`delete pair ${id}`, p.qid, [{ op: 'create', pair: p }], []);
  }

  /**
   * Replaces the pair set with `next` (the output of `buildPairs`) in one append: new ids are
   * created, missing ones deleted, changed margins/rules/states updated. Undoable as one step.
   */
  applyPairs(next: readonly PairRecord[], description = 'rebuild pairs'): { created: number; updated: number; deleted: number } {
    const bodies: PairEventBody[] = [];
    const inverse: PairEventBody[] = [];
    const nextIds = new Set<string>();
    let created = 0;
    let updated = 0;
    let deleted = 0;
    for (const n of next) {
      nextIds.add(n.id);
      const cur = this.pairs.get(n.id);
      if (cur === undefined) {
        bodies.push({ op: 'create', pair: n });
        inverse.push({ op: 'delete', pairId: n.id });
        created++;
        continue;
      }
      const patch: PairPatch = {};
      const prev: PairPatch = {};
      for (const k of ['chosenId', 'rejectedId', 'margin', 'state', 'rulesHash', 'origin'] as const) {
        if (cur[k] !== n[k]) {
          (patch as Record<string, unknown>)[k] = n[k];
          (prev as Record<string, unknown>)[k] = cur[k];
        }
      }
      if (Object.keys(patch).length > 0) {
        bodies.push({ op: 'update', pairId: n.id, patch });
        inverse.push({ op: 'update', pairId: n.id, patch: prev });
        updated++;
      }
      if ((cur.note ?? '') !== (n.note ?? '')) {
        bodies.push({ op: 'setNote', pairId: n.id, note: n.note ?? '' });
        inverse.push({ op: 'setNote', pairId: n.id, note: cur.note ?? '' });
      }
    }
    for (const cur of this.pairs.values()) {
      if (nextIds.has(cur.id)) continue;
      bodies.push({ op: 'delete', pairId: cur.id });
      inverse.push({ op: 'create', pair: { ...cur } });
      deleted++;
    }
    if (bodies.length > 0) {
      this.writePairEvents(bodies);
      this.pushUndo(description, null, inverse.reverse(), []);
    }
    return { created, updated, deleted };
  }

  // ---- undo ----

  /** True when `undo()` has something to undo (edits made since this store was opened). */
  canUndo(): boolean {
    return this.undoStack.length > 0;
  }

  /**
   * Undoes the last edit of this session by appending inverse events (history is never rewritten).
   * Returns what was undone, or nulls when nothing is left.
   */
  undo(): StoreUndoResult {
    const w = this.writable();
    const entry = this.undoStack.pop();
    if (entry === undefined) return { description: null, qid: null };
    if (entry.pairEvents.length > 0) this.writePairEvents(entry.pairEvents);
    if (entry.retractExpansions.length > 0) {
      const at = this.now().toISOString();
      w.expansions.append(entry.retractExpansions.map((id) => ({ retract: id, at }) satisfies ExpansionRetraction));
      this.position.expansions = { size: w.expansions.size, lines: w.expansions.lines };
      for (const id of entry.retractExpansions) {
        const e = this.expansions.get(id);
        this.expansions.delete(id);
        if (e === undefined) continue;
        const list = this.expansionsByQid.get(e.qid);
        if (list !== undefined) this.expansionsByQid.set(e.qid, list.filter((x) => x.id !== id));
      }
    }
    return { description: entry.description, qid: entry.qid };
  }

  /**
   * Closes the journals and releases the lock, first writing a checkpoint when the journals grew
   * by 1 MB or more past the last one. Safe to call twice.
   */
  close(): void {
    if (this.closed) return;
    if (this.writers !== null && this.journalBytes() - this.checkpointBytes >= CHECKPOINT_AFTER_BYTES) this.checkpoint();
    this.closed = true;
    if (this.readFd !== null) {
      closeSync(this.readFd);
      this.readFd = null;
    }
    if (this.scoreFd !== null) {
      closeSync(this.scoreFd);
      this.scoreFd = null;
    }
    if (this.writers !== null) {
      this.writers.expansions.close();
      this.writers.scores.close();
      this.writers.pairs.close();
      this.writers = null;
    }
    this.lock?.release();
    this.lock = null;
  }
}

function headOf(r: ExpansionRecord): ExpansionHead {
  return { id: r.id, qid: r.qid, role: r.role, method: r.method, model: r.model, provider: r.provider };
}

function readMeta(file: string): StoreMeta {
  let v: Partial<StoreMeta>;
  try {
    v = JSON.parse(readFileSync(file, 'utf8')) as Partial<StoreMeta>;
  } catch (e) {
    throw new QxError('store', 'store.json is not valid JSON', { file, cause: e, hint: 'Restore .qx/store.json from version control or a backup.' });
  }
  if (typeof v.schemaVersion !== 'number' || !Number.isInteger(v.schemaVersion) || v.schemaVersion < 1) {
    throw new QxError('store', `store.json has no valid schemaVersion (found ${JSON.stringify(v.schemaVersion)})`, {
      file,
      hint: 'Restore .qx/store.json from version control or a backup.',
    });
  }
  if (v.schemaVersion > storeSchemaVersion) {
    throw new QxError(
      'store',
      `the curation store has schema version ${v.schemaVersion}, newer than this QX Studio understands (up to ${storeSchemaVersion}); it was written by QX Studio ${v.toolVersion ?? 'unknown'}`,
      { file, hint: 'Upgrade QX Studio to open it; nothing was changed.' },
    );
  }
  return { schemaVersion: v.schemaVersion, created: String(v.created ?? ''), toolVersion: String(v.toolVersion ?? 'unknown') };
}
