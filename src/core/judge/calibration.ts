import { createHash } from 'node:crypto';
import type { Qrels } from '../dataset/types.js';

/** One judged (query, document) with the judge's score. */
export interface ScoredDoc {
  qid: string;
  docid: string;
  score: number;
}

export interface CalibrationOptions {
  /** A qrels grade >= this counts as relevant (the manifest's relevance level, e.g. 2 on TREC DL). Default 1. */
  relevanceLevel?: number;
  /**
   * The queries the threshold is chosen on; the others are the held-out split κ and τ are reported
   * on. Default: the half of the queries (rounded up) whose sha256(qid) sorts first, so the split is
   * fixed by the query ids alone.
   */
  tuneQids?: ReadonlySet<string>;
}

/** How far the judge agrees with the qrels, on the documents that are judged. */
export interface CalibrationReport {
  /** Judged documents the judge scored, and their queries. */
  documents: number;
  queries: number;
  /** Unjudged documents the judge scored (not used here). */
  unjudged: number;
  relevanceLevel: number;
  /**
   * ROC AUC of the score for "grade >= relevanceLevel" (ties count one half): per query (null for
   * a query without both relevant and non-relevant judged documents), their mean, and pooled over
   * every document of every query.
   */
  auc: { perQuery: Record<string, number | null>; meanPerQuery: number | null; pooled: number | null };
  /** Mean judge score per qrels grade ("0", "1", …), with counts. */
  meanScoreByGrade: Record<string, { mean: number; n: number }>;
  /** The query split: threshold chosen on `tune`, agreement reported on `test`. */
  split: { tune: string[]; test: string[] };
  /** Score threshold (score >= t is relevant) maximising Cohen's κ on the tune split; null without judged documents there. */
  threshold: number | null;
  /** On the test split: Cohen's κ and accuracy of the thresholded judge vs the binarised qrels, Kendall's τ-b of score vs grade. */
  test: { documents: number; kappa: number | null; accuracy: number | null; kendallTauB: number | null };
  /** κ of the chosen threshold on the tune split itself (optimistic). */
  tuneKappa: number | null;
}

/** The default query split: sha256(qid) ascending, first ceil(n/2) tune. */
export function defaultTuneQids(qids: readonly string[]): Set<string> {
  const sorted = [...new Set(qids)].map((q) => ({ q, h: createHash('sha256').update(q).digest('hex') })).sort((a, b) => (a.h < b.h ? -1 : a.h > b.h ? 1 : 0));
  return new Set(sorted.slice(0, Math.ceil(sorted.length / 2)).map((x) => x.q));
}

/** ROC AUC of `pos` over `neg` scores (Mann-Whitney U / (|pos| × |neg|), ties one half); null when either is empty. */
export function rocAuc(pos: readonly number[], neg: readonly number[]): number | null {
  if (pos.length === 0 || neg.length === 0) return null;
  const all = [...pos.map((s) => ({ s, p: true })), ...neg.map((s) => ({ s, p: false }))].sort((a, b) => a.s - b.s);
  // Rank-sum with average ranks for ties: O(n log n).
  let rankSumPos = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j < all.length && all[j]!.s === all[i]!.s) j++;
    const avg = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) if (all[k]!.p) rankSumPos += avg;
    i = j;
  }
  const u = rankSumPos - (pos.length * (pos.length + 1)) / 2;
  return u / (pos.length * neg.length);
}

/** Cohen's κ of two binary labelings; null when chance agreement is 1 (both constant and equal). */
export function cohenKappa(a: readonly boolean[], b: readonly boolean[]): number | null {
  const n = a.length;
  if (n === 0) return null;
  let agree = 0;
  let a1 = 0;
  let b1 = 0;
  for (let i = 0; i < n; i++) {
    if (a[i] === b[i]) agree++;
    if (a[i]) a1++;
    if (b[i]) b1++;
  }
  const po = agree / n;
  const pe = (a1 / n) * (b1 / n) + (1 - a1 / n) * (1 - b1 / n);
  return pe >= 1 ? null : (po - pe) / (1 - pe);
}

/** Kendall's τ-b of two paired lists (ties in either handled); null when either is constant or n < 2. */
export function kendallTauB(x: readonly number[], y: readonly number[]): number | null {
  const n = x.length;
  let c = 0;
  let d = 0;
  let tx = 0;
  let ty = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const dx = Math.sign(x[i]! - x[j]!);
      const dy = Math.sign(y[i]! - y[j]!);
      if (dx === 0 && dy === 0) continue;
      if (dx === 0) tx++;
      else if (dy === 0) ty++;
      else if (dx === dy) c++;
      else d++;
    }
  }
  const denom = Math.sqrt((c + d + tx) * (c + d + ty));
  return denom === 0 ? null : (c - d) / denom;
}

/**
 * Calibrates a judge against the qrels on the documents that are judged: AUC per query, its mean
 * and pooled; mean score per grade; a threshold chosen on one half of the queries (maximising
 * Cohen's κ; the lowest on ties) and, on the other half, κ, accuracy and Kendall's τ-b.
 */
export function calibrate(judged: readonly ScoredDoc[], qrels: Qrels, options: CalibrationOptions = {}): CalibrationReport {
  const level = options.relevanceLevel ?? 1;
  const rows: { qid: string; score: number; grade: number }[] = [];
  let unjudged = 0;
  for (const j of judged) {
    const g = qrels.get(j.qid)?.get(j.docid);
    if (g === undefined) unjudged++;
    else rows.push({ qid: j.qid, score: j.score, grade: g });
  }
  const qids = [...new Set(rows.map((r) => r.qid))].sort();
  const perQuery: Record<string, number | null> = {};
  for (const q of qids) {
    const mine = rows.filter((r) => r.qid === q);
    perQuery[q] = rocAuc(mine.filter((r) => r.grade >= level).map((r) => r.score), mine.filter((r) => r.grade < level).map((r) => r.score));
  }
  const defined = Object.values(perQuery).filter((v): v is number => v !== null);
  const byGrade: Record<string, { mean: number; n: number }> = {};
  for (const g of [...new Set(rows.map((r) => r.grade))].sort((a, b) => a - b)) {
    const s = rows.filter((r) => r.grade === g).map((r) => r.score);
    byGrade[String(g)] = { mean: s.reduce((a, b) => a + b, 0) / s.length, n: s.length };
  }
  const tuneSet = options.tuneQids ?? defaultTuneQids(qids);
  const tune = rows.filter((r) => tuneSet.has(r.qid));
  const test = rows.filter((r) => !tuneSet.has(r.qid));
  let threshold: number | null = null;
  let tuneKappa: number | null = null;
  const truthTune = tune.map((r) => r.grade >= level);
  for (const t of [...new Set(tune.map((r) => r.score))].sort((a, b) => a - b)) {
    const k = cohenKappa(tune.map((r) => r.score >= t), truthTune);
    if (k !== null && (tuneKappa === null || k > tuneKappa + 1e-12)) {
      tuneKappa = k;
      threshold = t;
    }
  }
  const testLabels = threshold === null ? [] : test.map((r) => r.score >= (threshold as number));
  const testTruth = test.map((r) => r.grade >= level);
  return {
    documents: rows.length,
    queries: qids.length,
    unjudged,
    relevanceLevel: level,
    auc: {
      perQuery,
      meanPerQuery: defined.length === 0 ? null : defined.reduce((a, b) => a + b, 0) / defined.length,
      pooled: rocAuc(rows.filter((r) => r.grade >= level).map((r) => r.score), rows.filter((r) => r.grade < level).map((r) => r.score)),
    },
    meanScoreByGrade: byGrade,
    split: { tune: qids.filter((q) => tuneSet.has(q)), test: qids.filter((q) => !tuneSet.has(q)) },
    threshold,
    test: {
      documents: test.length,
      kappa: threshold === null ? null : cohenKappa(testLabels, testTruth),
      accuracy: threshold === null || test.length === 0 ? null : testLabels.filter((l, i) => l === testTruth[i]).length / test.length,
      kendallTauB: kendallTauB(test.map((r) => r.score), test.map((r) => r.grade)),
    },
    tuneKappa,
  };
}
