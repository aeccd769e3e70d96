import { QxError } from '../errors.js';
import type { RunHit } from '../dataset/types.js';
import { type Bm25Index, DEFAULT_K } from './bm25Index.js';

/** RM3 pseudo-relevance feedback settings; defaults are Anserini's. */
export interface Rm3Options {
  /** Feedback documents taken from the first-pass ranking. Default 10. */
  fbDocs?: number;
  /** Expansion terms kept (per feedback document, and in the final model). Default 10. */
  fbTerms?: number;
  /** Weight of the original query in the interpolation, 0–1. Default 0.5. */
  originalQueryWeight?: number;
  /** Feedback terms must be 2–20 chars of [a-z0-9] (Anserini's filterTerms). Default true. */
  filterTerms?: boolean;
  /** Terms in more than this fraction of documents are not feedback terms. Default 0.1. */
  maxDfRatio?: number;
  /** Hits returned by the second pass. Default 1000. */
  k?: number;
}

const plainTerm = /^[a-z0-9]+$/;

function pruneToSize(v: Map<string, number>, size: number): Map<string, number> {
  if (v.size <= size) return v;
  return new Map([...v].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, size));
}

function l1Scaled(v: Map<string, number>): Map<string, number> {
  let sum = 0;
  for (const w of v.values()) sum += w;
  if (sum === 0) return v;
  return new Map([...v].map(([t, w]) => [t, w / sum]));
}

/**
 * The RM3 feedback query of Anserini's Rm3Reranker: the original query (term counts, L1-scaled)
 * interpolated with a relevance model built from the first-pass top `fbDocs` documents — each
 * document's term frequencies (filtered, pruned to `fbTerms`) divided by their L1 norm, weighted by
 * the document's BM25 score — pruned to `fbTerms` and L1-scaled. Needs the index's document
 * store (document vectors are re-analyzed from the stored text, as Anserini does without
 * stored term vectors). Returns term → boost; empty when the query has no terms.
 */
export function rm3Query(index: Bm25Index, query: string, options: Rm3Options = {}): Map<string, number> {
  const fbDocs = options.fbDocs ?? 10;
  const fbTerms = options.fbTerms ?? 10;
  const alpha = options.originalQueryWeight ?? 0.5;
  const filter = options.filterTerms ?? true;
  const maxDfRatio = options.maxDfRatio ?? 0.1;
  if (!(alpha >= 0 && alpha <= 1)) throw new QxError('config', `RM3 original query weight must be between 0 and 1, got ${alpha}`);
  if (!index.hasDocStore) {
    throw new QxError('config', 'RM3 needs the document texts, and this index keeps none', { hint: 'Build the index on disk (qx index) or with keepDocs: true.' });
  }
  const counts = index.queryTerms(query);
  if (counts.size === 0) return new Map();
  const first = index.searchWeighted(counts, fbDocs);
  const numDocs = index.numDocs;
  const vectors: Map<string, number>[] = [];
  for (const hit of first) {
    const doc = index.docSync(hit.docid);
    const v = new Map<string, number>();
    if (doc !== undefined) {
      const text = doc.title ? `${doc.title} ${doc.text}` : doc.text;
      for (const t of index.analyzer.analyze(text)) {
        if (filter && (t.length < 2 || t.length > 20 || !plainTerm.test(t))) continue;
        v.set(t, (v.get(t) ?? 0) + 1);
      }
      for (const t of [...v.keys()]) if (index.docFreq(t) / numDocs > maxDfRatio) v.delete(t);
    }
    vectors.push(pruneToSize(v, fbTerms));
  }
  const norms = vectors.map((v) => [...v.values()].reduce((s, w) => s + w, 0));
  const vocab = new Set(vectors.flatMap((v) => [...v.keys()]));
  const rm = new Map<string, number>();
  for (const t of vocab) {
    let w = 0;
    vectors.forEach((v, i) => {
      if (norms[i]! > 0.001) w += ((v.get(t) ?? 0) / norms[i]!) * first[i]!.score;
    });
    rm.set(t, w);
  }
  const model = l1Scaled(pruneToSize(rm, fbTerms));
  const q = l1Scaled(counts);
  const out = new Map<string, number>();
  for (const t of new Set([...q.keys(), ...model.keys()])) out.set(t, alpha * (q.get(t) ?? 0) + (1 - alpha) * (model.get(t) ?? 0));
  return out;
}

/** BM25 + RM3: first pass, feedback query (see `rm3Query`), second pass of `k` hits (default 1000). */
export function rm3Search(index: Bm25Index, query: string, options: Rm3Options = {}): RunHit[] {
  return index.searchWeighted(rm3Query(index, query, options), options.k ?? DEFAULT_K);
}
