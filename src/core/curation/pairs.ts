import type { ExpansionRecord } from '../expansion/types.js';
import type { QueryCost } from '../feedback/queryCost.js';
import { shortHash } from './hash.js';
import type { ExpansionScore, PairRecord, PairRules } from './types.js';

/** An expansion with its retrieval feedback: the input of pair building. */
export interface ScoredCandidate {
  expansion: ExpansionRecord;
  score: ExpansionScore;
  /** Retrieval cost (postings, terms); needed by the "prefer-cheaper" tie policy. */
  cost?: QueryCost;
}

/** nDCG@10 values closer than this are equal (floating-point noise, not a real difference). */
export const scoreTieEpsilon = 1e-9;

/** Deterministic pair id: hash of (qid, chosenId, rejectedId), hex, 16 chars. */
export function pairId(qid: string, chosenId: string, rejectedId: string): string {
  return shortHash(`${qid}\u0000${chosenId}\u0000${rejectedId}`);
}

/** Hash of a rule set (pool order does not matter), recorded on every auto pair it builds. */
export function rulesHash(rules: PairRules): string {
  return shortHash({ ...rules, pools: [...rules.pools].sort() });
}

/**
 * True when a pair holds a human decision that a rebuild must keep: a manual pair, or one a
 * user accepted, rejected, edited (incl. swapped) or annotated.
 */
export function isHumanDecision(p: PairRecord): boolean {
  return p.origin === 'manual' || p.state !== 'auto' || (p.note !== undefined && p.note !== '');
}

/**
 * Whether an expansion belongs to the candidate pools. A pool entry matches a role
 * ("teacher", "student", "imported", "baseline"), a method ("query2doc-fs"), or both as
 * "role:method" ("teacher:query2doc-zs"). With no pools, every model-written expansion
 * (teacher, student, imported) is a candidate; model-free baselines (RM3) only when named.
 */
export function inPools(e: ExpansionRecord, pools: readonly string[]): boolean {
  if (pools.length === 0) return e.role !== 'baseline';
  return pools.some((p) => p === e.role || p === e.method || p === `${e.role}:${e.method}`);
}

/**
 * Whether an expansion may be a pair's side under `from` (a side rule of {@link PairRules}): pool
 * entries as in {@link inPools}, plus "round:N" (student round N) and "round" (any round).
 * Unset or empty allows every candidate.
 */
export function allowedSide(e: ExpansionRecord, from: readonly string[] | undefined): boolean {
  if (from === undefined || from.length === 0) return true;
  return from.some((p) => (p === 'round' ? e.round !== undefined : p.startsWith('round:') ? e.round === Number(p.slice(6)) : inPools(e, [p])));
}

/**
 * Order for picking the chosen side: higher nDCG@10 first; among ties, with "prefer-shorter",
 * the shorter generated text first, with "prefer-cheaper" the one whose retrieval touches fewer
 * postings (then fewer analyzed terms, then the shorter text; a candidate without a cost last);
 * then by id so the result never depends on input order.
 */
function compareForChosen(a: ScoredCandidate, b: ScoredCandidate, rules: PairRules): number {
  const d = b.score.ndcg10 - a.score.ndcg10;
  if (Math.abs(d) >= scoreTieEpsilon) return d;
  if (rules.tiePolicy === 'prefer-cheaper') {
    const pa = a.cost?.postings ?? Infinity;
    const pb = b.cost?.postings ?? Infinity;
    if (pa !== pb) return pa < pb ? -1 : 1;
    const ta = a.cost?.terms ?? Infinity;
    const tb = b.cost?.terms ?? Infinity;
    if (ta !== tb) return ta < tb ? -1 : 1;
  }
  if (rules.tiePolicy === 'prefer-shorter' || rules.tiePolicy === 'prefer-cheaper') {
    const l = a.expansion.generated.length - b.expansion.generated.length;
    if (l !== 0) return l;
  }
  return a.expansion.id < b.expansion.id ? -1 : a.expansion.id > b.expansion.id ? 1 : 0;
}

interface Candidate {
  chosen: ScoredCandidate;
  rejected: ScoredCandidate;
  margin: number;
}

function acceptable(chosen: ScoredCandidate, rejected: ScoredCandidate, rules: PairRules): Candidate | null {
  if (chosen.expansion.id === rejected.expansion.id) return null;
  if (chosen.expansion.generated === rejected.expansion.generated) return null;
  const margin = chosen.score.ndcg10 - rejected.score.ndcg10;
  const tie = Math.abs(margin) < scoreTieEpsilon;
  if (tie && rules.tiePolicy === 'skip') return null;
  if (margin < rules.minMargin - scoreTieEpsilon) return null;
  if (rules.requireChosenBeatsOriginal && !(chosen.score.delta > scoreTieEpsilon)) return null;
  return { chosen, rejected, margin: tie ? 0 : margin };
}

/** The auto pairs the rules build for one query's candidates, best first. */
function pairsForQuery(cands: readonly ScoredCandidate[], rules: PairRules): Candidate[] {
  const pool = cands.filter((c) => inPools(c.expansion, rules.pools) && c.expansion.generated.trim() !== '');
  if (pool.length < 2) return [];
  const sorted = [...pool].sort((a, b) => compareForChosen(a, b, rules));
  if (rules.strategy === 'best-worst') {
    // The best allowed chosen side and the worst allowed rejected side (with side rules, each from its own pool).
    const best = sorted.find((c) => allowedSide(c.expansion, rules.chosenFrom));
    // The worst is the last in chosen-order, so with "prefer-shorter" the longer of tied worst ones.
    const worst = [...sorted].reverse().find((c) => allowedSide(c.expansion, rules.rejectedFrom));
    const c = best === undefined || worst === undefined ? null : acceptable(best, worst, rules);
    return c === null ? [] : [c];
  }
  const out: Candidate[] = [];
  for (let i = 0; i < sorted.length; i++) {
    for (let j = i + 1; j < sorted.length; j++) {
      if (!allowedSide((sorted[i] as ScoredCandidate).expansion, rules.chosenFrom) || !allowedSide((sorted[j] as ScoredCandidate).expansion, rules.rejectedFrom)) continue;
      const c = acceptable(sorted[i] as ScoredCandidate, sorted[j] as ScoredCandidate, rules);
      if (c !== null) out.push(c);
    }
  }
  out.sort(
    (a, b) =>
      b.margin - a.margin ||
      b.chosen.score.ndcg10 - a.chosen.score.ndcg10 ||
      (pairId(a.chosen.expansion.qid, a.chosen.expansion.id, a.rejected.expansion.id) <
      pairId(b.chosen.expansion.qid, b.chosen.expansion.id, b.rejected.expansion.id)
        ? -1
        : 1),
  );
  return out.slice(0, Math.max(0, rules.maxPairsPerQuery));
}

export interface BuildPairsOptions {
  /** ISO time stamped on new and changed pairs; default now. */
  now?: string;
}

/**
 * Builds chosen/rejected pairs from scored expansions, grouped per query, and merges them with
 * the `existing` pairs without clobbering human decisions:
 * - a pair that is manual, accepted, rejected, edited or has a note is kept as it is (its margin
 *   is refreshed when both sides are scored); an auto pair over the same two expansions, or with
 *   its id (a pair re-pointed to an edited expansion keeps the id of its original sides), is not
 *   added beside it;
 * - an existing auto pair the rules still produce keeps its id and createdAt (margin and
 *   rulesHash refreshed); one they no longer produce is left out (the store deletes it).
 *
 * Rules: candidates are the expansions in `rules.pools` (see {@link inPools}: by default not the
 * model-free baselines); a pair needs
 * nDCG@10(chosen) − nDCG@10(rejected) ≥ `minMargin` (tolerance 1e-9), different generated texts,
 * and with `requireChosenBeatsOriginal` a chosen delta > 0. "best-worst" pairs the best with the
 * worst candidate (one pair per query); "all" takes every qualifying pair, highest margin first
 * (then higher chosen nDCG@10, then pair id), at most `maxPairsPerQuery`. Ties (|Δ| < 1e-9):
 * "skip" never pairs tied candidates and breaks ties in best/worst picks by expansion id;
 * "prefer-shorter" ranks the shorter text higher, "prefer-cheaper" the candidate whose retrieval
 * touches fewer postings (each candidate's `cost`), so among tied candidates it is chosen
 * (a tied pair then has margin 0 and is built only when `minMargin` is 0).
 *
 * Output is sorted by qid, then pair id.
 */
export function buildPairs(
  scored: Iterable<readonly ScoredCandidate[]>,
  rules: PairRules,
  existing: readonly PairRecord[] = [],
  options: BuildPairsOptions = {},
): PairRecord[] {
  const now = options.now ?? new Date().toISOString();
  const hash = rulesHash(rules);
  const byId = new Map<string, ScoredCandidate>();
  const built: Candidate[] = [];
  for (const group of scored) {
    for (const c of group) byId.set(c.expansion.id, c);
    built.push(...pairsForQuery(group, rules));
  }

  const out = new Map<string, PairRecord>();
  const humanSides = new Set<string>();
  const unordered = (qid: string, a: string, b: string): string => (a < b ? `${qid}\u0000${a}\u0000${b}` : `${qid}\u0000${b}\u0000${a}`);
  const existingById = new Map(existing.map((p) => [p.id, p]));
  for (const p of existing) {
    if (!isHumanDecision(p)) continue;
    const c = byId.get(p.chosenId);
    const r = byId.get(p.rejectedId);
    const margin = c !== undefined && r !== undefined ? c.score.ndcg10 - r.score.ndcg10 : p.margin;
    out.set(p.id, { ...p, margin });
    humanSides.add(unordered(p.qid, p.chosenId, p.rejectedId));
  }
  for (const c of built) {
    const qid = c.chosen.expansion.qid;
    if (humanSides.has(unordered(qid, c.chosen.expansion.id, c.rejected.expansion.id))) continue;
    const id = pairId(qid, c.chosen.expansion.id, c.rejected.expansion.id);
    // A pair re-pointed to an edited expansion keeps its id: the rules' pair of the sides it had
    // before the edit must not take its place.
    if (out.has(id)) continue;
    const old = existingById.get(id);
    const changed = old === undefined || old.margin !== c.margin || old.rulesHash !== hash;
    out.set(id, {
      id,
      qid,
      chosenId: c.chosen.expansion.id,
      rejectedId: c.rejected.expansion.id,
      margin: c.margin,
      state: 'auto',
      origin: 'auto',
      rulesHash: hash,
      createdAt: old?.createdAt ?? now,
      updatedAt: changed ? now : (old?.updatedAt ?? now),
    });
  }
  return [...out.values()].sort((a, b) => (a.qid < b.qid ? -1 : a.qid > b.qid ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
