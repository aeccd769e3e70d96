import type { RunHit } from '../dataset/types.js';

/** What produced a run: recorded in every run, score and export so numbers can be reproduced. */
export interface RetrieverInfo {
  /** e.g. "qx-bm25", "opensearch". */
  engine: string;
  /** Analyzer name and its parameters, e.g. { name: "english", stopwords: "lucene", stemmer: "porter" }. */
  analyzer: Record<string, string | number | boolean>;
  /** BM25 parameters, e.g. { k1: 0.9, b: 0.4 }. */
  params: Record<string, string | number | boolean>;
  /** Number of documents in the collection. */
  numDocs: number;
}

export interface SearchOptions {
  /** How many hits to return, default 1000. */
  k?: number;
  signal?: AbortSignal;
}

/**
 * Anything that turns a query string into a ranked list: the embedded BM25 engine, or an
 * external engine (OpenSearch/Elasticsearch) for corpora too big for one machine.
 * Hits come sorted by score descending, ties by docid descending (trec_eval's order).
 * A query that analyzes to no tokens returns an empty list.
 */
export interface Retriever {
  info(): RetrieverInfo;
  search(query: string, options?: SearchOptions): Promise<RunHit[]>;
  close?(): Promise<void>;
}
