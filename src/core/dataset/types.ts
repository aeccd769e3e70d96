/** A query (TREC "topic"). `qid` is kept as the string found in the file. */
export interface Topic {
  qid: string;
  text: string;
  /** A turn of a conversation (CAsT, TopiOCQA, QReCC): which one, and what was said before it. */
  conversation?: TurnContext;
  /** Rewrites of the query the dataset ships (`manual`: a person's; `automatic`: a model's). */
  rewrites?: Partial<Record<RewriteKind, string>>;
}

/** Who wrote a dataset rewrite: a person (`manual`, the human teacher) or a model (`automatic`, a baseline). */
export type RewriteKind = 'manual' | 'automatic';

/** An earlier turn of a conversation, as the user said it. */
export interface HistoryTurn {
  qid: string;
  utterance: string;
  /** The system's answer to it, when the dataset has one. */
  response?: string;
}

/** Where a turn sits in its conversation. */
export interface TurnContext {
  /** Conversation id (the CAsT topic number). */
  id: string;
  /** Turn number within the conversation. */
  turn: number;
  /** Every earlier turn, oldest first; empty for the first turn. */
  history: HistoryTurn[];
}

/** One relevance judgment. `grade` is the qrels value as a number (may be 0 or negative). */
export interface Judgment {
  qid: string;
  docid: string;
  grade: number;
}

/** qid → docid → grade, the shape evaluation uses. */
export type Qrels = Map<string, Map<string, number>>;

/** One retrieved document of a ranking. `rank` is informational: evaluation re-sorts by score. */
export interface RunHit {
  docid: string;
  score: number;
  rank?: number;
}

/** qid → hits. Hits need not be sorted; writers and evaluators sort as trec_eval does. */
export type Run = Map<string, RunHit[]>;

/** One line of a TREC run file. */
export interface RunLine {
  qid: string;
  docid: string;
  rank: number;
  score: number;
  tag: string;
}

/** A corpus document. `title` is prepended to `text` for indexing when present. */
export interface CorpusDoc {
  id: string;
  title?: string;
  text: string;
  /** Where the record sits in its uncompressed corpus file; set only by `readCorpus(…, { spans: true })`. */
  span?: ByteSpan;
}

/** A record's place in a file: `bytes` bytes from byte offset `start` (its line ending excluded). */
export interface ByteSpan {
  start: number;
  bytes: number;
}

/** A row of an expansion file made elsewhere (QueryGym TSV, JSONL): the final retrieval string. */
export interface ExpansionRow {
  qid: string;
  text: string;
  /** 1-based line where the row starts, for error messages. */
  line: number;
  /** Any extra fields of a JSONL row (model, method, generated, ...). */
  extra?: Record<string, unknown>;
}
