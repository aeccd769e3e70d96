import { createHash } from 'node:crypto';
import { QxError } from '../errors.js';
import { mulberry32 } from '../random.js';

/**
 * Negative sampling for contrastive and distillation exports, shared by every exporter that needs
 * negatives (BM25-teacher KD lists and triples, the LLM relevance-teacher export).
 *
 * ```ts
 * const negs = sampleNegatives({
 *   candidates: hits,                 // ranked by the teacher: [{docid, score}], best first
 *   positives: new Set(['d1']),       // never returned
 *   strategy: 'random-top-k', count: 8, seed: deriveSeed(13, qid), topK: 100,
 * });
 * ```
 */

/** One candidate of a teacher ranking. */
export interface RankedCandidate {
  docid: string;
  /** The teacher's score (higher = more relevant); any scale. */
  score: number;
}

/** A sampled negative: the candidate, with its 1-based rank in the teacher ranking (undefined when drawn from `pool`). */
export interface SampledNegative {
  docid: string;
  /** Teacher score; undefined for a `random` draw from `pool` outside the ranking. */
  score?: number;
  rank?: number;
}

/**
 * How negatives are chosen:
 * - `top-k-hard`: the best-ranked non-positive candidates, in rank order (hard negatives, as
 *   DPR's BM25 negatives; deterministic, the seed is not used);
 * - `random-top-k`: uniformly at random among the non-positive candidates of the top `topK` ranks
 *   (RocketQA/ANCE-style sampling from the top of a ranking, which softens false negatives);
 * - `score-bands`: the non-positive candidates of the top `topK` split into `bands` bands of equal
 *   score width (highest band first), `count` spread over the bands as evenly as possible (extra
 *   ones to the higher bands; a band short of candidates passes its share down, then up), random
 *   within a band: negatives that span easy to hard;
 * - `random`: uniformly at random from `pool` (e.g. every docid of the corpus) or, without one,
 *   from all candidates, never a positive: easy negatives, the kind in-batch training adds.
 */
export type NegativeStrategy = 'top-k-hard' | 'random-top-k' | 'score-bands' | 'random';

/** Every strategy, for validation and help texts. */
export const NEGATIVE_STRATEGIES: readonly NegativeStrategy[] = ['top-k-hard', 'random-top-k', 'score-bands', 'random'];

export interface SampleRequest {
  /** The teacher ranking, best first (sorted by score descending; ties as given). */
  candidates: readonly RankedCandidate[];
  /** Docids that are relevant: never returned as negatives. */
  positives: ReadonlySet<string>;
  strategy: NegativeStrategy;
  /** Negatives wanted, integer >= 1. */
  count: number;
  /** PRNG seed, a 32-bit unsigned integer (see {@link deriveSeed} for one per query). */
  seed: number;
  /** Ranks `random-top-k` and `score-bands` draw from; default 100. */
  topK?: number;
  /** Bands of `score-bands`, integer >= 1; default 4. */
  bands?: number;
  /** `random` only: the docids to draw from instead of the candidates (e.g. the whole corpus). */
  pool?: readonly string[];
}

/**
 * Draws `count` distinct negatives. Returns exactly `count` when at least that many eligible
 * documents exist (non-positives within the strategy's range), otherwise every eligible one; the
 * same request (including the seed) always gives the same negatives in the same order: rank order
 * for the ranking strategies, draw order for `random`. Throws QxError('usage') for a bad count,
 * topK, bands or strategy.
 */
export function sampleNegatives(req: SampleRequest): SampledNegative[] {
  const { count, strategy } = req;
  if (!Number.isInteger(count) || count < 1) throw new QxError('usage', `negatives per query must be an integer >= 1, got ${count}`);
  const topK = req.topK ?? 100;
  if (!Number.isInteger(topK) || topK < 1) throw new QxError('usage', `the top-k of negative sampling must be an integer >= 1, got ${topK}`);
  const bands = req.bands ?? 4;
  if (!Number.isInteger(bands) || bands < 1) throw new QxError('usage', `score bands must be an integer >= 1, got ${bands}`);
  const rand = mulberry32(req.seed >>> 0);
  const seen = new Set<string>();
  const ranked: Array<SampledNegative & { score: number; rank: number }> = [];
  req.candidates.forEach((c, i) => {
    if (req.positives.has(c.docid) || seen.has(c.docid)) return;
    seen.add(c.docid);
    ranked.push({ docid: c.docid, score: c.score, rank: i + 1 });
  });
  const byRank = (xs: typeof ranked): SampledNegative[] => xs.sort((a, b) => a.rank - b.rank).map((x) => ({ docid: x.docid, score: x.score, rank: x.rank }));
  switch (strategy) {
    case 'top-k-hard':
      return byRank(ranked.slice(0, count));
    case 'random-top-k':
      return byRank(drawWithoutReplacement(ranked.filter((x) => x.rank <= topK), count, rand));
    case 'score-bands':
      return byRank(scoreBands(ranked.filter((x) => x.rank <= topK), count, bands, rand));
    case 'random': {
      if (req.pool === undefined) return drawWithoutReplacement(ranked, count, rand).map((x) => ({ docid: x.docid, score: x.score, rank: x.rank }));
      const inRanking = new Map(ranked.map((x) => [x.docid, x]));
      const uniq = [...new Set(req.pool)].filter((d) => !req.positives.has(d));
      return drawWithoutReplacement(uniq, count, rand).map((d) => {
        const r = inRanking.get(d);
        return r === undefined ? { docid: d } : { docid: d, score: r.score, rank: r.rank };
      });
    }
    default:
      throw new QxError('usage', `unknown negative sampling strategy "${String(strategy)}"`, { hint: `Use one of: ${NEGATIVE_STRATEGIES.join(', ')}.` });
  }
}

/** A 32-bit seed for one query (or any key) from a run seed: the first 4 bytes of sha256(seed, key). */
export function deriveSeed(seed: number, key: string): number {
  return createHash('sha256').update(`${seed}\u0000${key}`).digest().readUInt32BE(0);
}

/** `k` distinct items drawn uniformly (a partial Fisher–Yates shuffle of a copy), in draw order. */
function drawWithoutReplacement<T>(items: readonly T[], k: number, rand: () => number): T[] {
  const a = [...items];
  const n = Math.min(k, a.length);
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(rand() * (a.length - i));
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
  return a.slice(0, n);
}

function scoreBands<T extends { score: number }>(items: readonly T[], count: number, bands: number, rand: () => number): T[] {
  if (items.length <= count) return [...items];
  const hi = Math.max(...items.map((x) => x.score));
  const lo = Math.min(...items.map((x) => x.score));
  const width = (hi - lo) / bands;
  const groups: T[][] = Array.from({ length: bands }, () => []);
  for (const x of items) {
    // Band 0 holds the highest scores; the lowest score falls in the last band.
    const b = width === 0 ? 0 : Math.min(bands - 1, Math.floor((hi - x.score) / width));
    groups[b]!.push(x);
  }
  const quota = groups.map((_, i) => Math.floor(count / bands) + (i < count % bands ? 1 : 0));
  // A band short of candidates passes what it cannot give to the next band down, then the rest up.
  for (let i = 0; i < bands; i++) {
    const extra = quota[i]! - groups[i]!.length;
    if (extra > 0) {
      quota[i] = groups[i]!.length;
      if (i + 1 < bands) quota[i + 1]! += extra;
      else {
        let left = extra;
        for (let j = bands - 1; j >= 0 && left > 0; j--) {
          const room = groups[j]!.length - quota[j]!;
          const take = Math.min(room, left);
          quota[j]! += take;
          left -= take;
        }
      }
    }
  }
  return groups.flatMap((g, i) => drawWithoutReplacement(g, quota[i]!, rand));
}
