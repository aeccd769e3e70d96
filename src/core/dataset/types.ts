/** A query (TREC "topic"). `qid` is kept as the string found in the file. */
export interface Topic {
  qid: string;
  text: string;
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
