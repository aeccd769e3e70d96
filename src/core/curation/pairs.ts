import type { ExpansionRecord } from '../expansion/types.js';
import type { QueryCost } from '../feedback/queryCost.js';
import { shortHash } from './hash.js';
import { lengthRatio, textLength } from './lengths.js';
import { conditioningOf, outputKindOfName, taskMismatch, type StudentTask } from './kinds.js';
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

function withinLengthCap(a: ScoredCandidate, b: ScoredCandidate, rules: PairRules): boolean {
  const cap = rules.maxLengthRatio ?? 0;
  return !(cap > 0) || lengthRatio(a.expansion.generated, b.expansion.generated) <= cap + 1e-12;
}

function acceptable(chosen: ScoredCandidate, rejected: ScoredCandidate, rules: PairRules): Candidate | null {
  if (chosen.expansion.id === rejected.expansion.id) return null;
  if (chosen.expansion.generated === rejected.expansion.generated) return null;
  const margin = chosen.score.ndcg10 - rejected.score.ndcg10;
  const tie = Math.abs(margin) < scoreTieEpsilon;
  if (tie && rules.tiePolicy === 'skip') return null;
  if (margin < rules.minMargin - scoreTieEpsilon) return null;
  if (rules.strategy === 'margin-band' && margin > (rules.maxMargin ?? 1) + scoreTieEpsilon) return null;
  if (rules.requireChosenBeatsOriginal && !(chosen.score.delta > scoreTieEpsilon)) return null;
  if (!withinLengthCap(chosen, rejected, rules)) return null;
  return { chosen, rejected, margin: tie ? 0 : margin };
}

/** The candidates for pairs among one query's scored expansions, and why each other one is not. */
export function screenCandidates(
  cands: readonly ScoredCandidate[],
  rules: PairRules,
): { pool: ScoredCandidate[]; leftOut: { candidate: ScoredCandidate; reason: string }[] } {
  const task = pairTask(rules);
  const pool: ScoredCandidate[] = [];
  const leftOut: { candidate: ScoredCandidate; reason: string }[] = [];
  for (const c of cands) {
    const e = c.expansion;
    let reason: string | null = null;
    if (!inPools(e, rules.pools)) reason = e.role === 'baseline' ? 'a model-free baseline, not text a student can learn to write' : 'not in the pools';
    else if (e.generated.trim() === '') reason = 'empty text';
    else if (e.role !== 'baseline') reason = taskMismatch(e, task);
    if (reason === null) pool.push(c);
    else leftOut.push({ candidate: c, reason });
  }
  return { pool, leftOut };
}

/** The student task the rules build pairs for: its template ("" → query2doc-zs) and that template's output kind. */
export function pairTask(rules: Pick<PairRules, 'task' | 'includeRetrievalConditioned'>): StudentTask {
  const template = rules.task === undefined || rules.task === '' ? 'query2doc-zs' : rules.task;
  return { template, kind: outputKindOfName(template) ?? 'passage', includeRetrievalConditioned: rules.includeRetrievalConditioned === true };
}

/** Rejected-side candidates for `chosen` within the length cap, worst first; with `lengthMatch`, those meeting the margin, nearest in length first. */
function rejectedOrder(chosen: ScoredCandidate, worstFirst: ScoredCandidate[], rules: PairRules): ScoredCandidate[] {
  const others = worstFirst.filter((c) => c !== chosen && withinLengthCap(chosen, c, rules));
  if (!rules.lengthMatch) return others;
  const meets = others.filter((c) => acceptable(chosen, c, rules) !== null);
  const gap = (c: ScoredCandidate): number => Math.abs(Math.log(Math.max(1, textLength(c.expansion.generated)) / Math.max(1, textLength(chosen.expansion.generated))));
  return [...meets].sort((a, b) => gap(a) - gap(b));
}

/**
 * The prompt a candidate's pairs are built under: the task's zero-shot prompt for a query-conditioned
 * expansion; for a retrieval-conditioned one (included on request), its own method's prompt with
 * the retrieved passages, so it is only paired with expansions of the same method.
 */
export function promptGroup(e: ExpansionRecord): string {
  return conditioningOf(e) === 'retrieval' ? `retrieval:${e.template?.id ?? e.method}` : 'task';
}

/** The auto pairs the rules build for one query's candidates, best first (per prompt group, see {@link promptGroup}). */
function pairsForQuery(cands: readonly ScoredCandidate[], rules: PairRules): Candidate[] {
  const { pool } = screenCandidates(cands, rules);
  const groups = new Map<string, ScoredCandidate[]>();
  for (const c of pool) {
    const g = promptGroup(c.expansion);
    groups.set(g, [...(groups.get(g) ?? []), c]);
  }
  return [...groups.keys()].sort().flatMap((g) => pairsForPool(groups.get(g) as ScoredCandidate[], rules));
}

/** The auto pairs the rules build among candidates that share one prompt, best first. */
function pairsForPool(pool: readonly ScoredCandidate[], rules: PairRules): Candidate[] {
  if (pool.length < 2) return [];
  const sorted = [...pool].sort((a, b) => compareForChosen(a, b, rules));
  if (rules.strategy === 'best-worst' || rules.strategy === 'best-sigma') {
    // The best allowed chosen side; the rejected side from the allowed ones (with side rules, each from its own pool).
    const best = sorted.find((c) => allowedSide(c.expansion, rules.chosenFrom));
    if (best === undefined) return [];
    // The worst is the last in chosen-order, so with "prefer-shorter" the longer of tied worst ones.
    let order = rejectedOrder(best, [...sorted].reverse().filter((c) => c !== best && allowedSide(c.expansion, rules.rejectedFrom)), rules.strategy === 'best-sigma' ? { ...rules, lengthMatch: false } : rules);
    if (rules.strategy === 'best-sigma') {
      const xs = pool.map((c) => c.score.ndcg10);
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
      const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
      const target = mean - (rules.sigmaK ?? 2) * sd;
      const dist = (c: ScoredCandidate): number => Math.abs(c.score.ndcg10 - target);
      // Stable sort keeps the worst-first order among equally near candidates.
      order = [...order].sort((a, b) => dist(a) - dist(b));
    }
    const rejected = order[0];
    const c = rejected === undefined ? null : acceptable(best, rejected, rules);
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
  const gap = (c: Candidate): number => (rules.lengthMatch ? Math.abs(Math.log(lengthRatio(c.chosen.expansion.generated, c.rejected.expansion.generated))) : 0);
  out.sort(
    (a, b) =>
      gap(a) - gap(b) ||
      b.margin - a.margin ||
      b.chosen.score.ndcg10 - a.chosen.score.ndcg10 ||
      (pairId(a.chosen.expansion.qid, a.chosen.expansion.id, a.rejected.expansion.id) <
      pairId(b.chosen.expansion.qid, b.chosen.expansion.id, b.rejected.expansion.id)
        ? -1
        : 1),
  );
  return out.slice(0, Math.max(0, rules.maxPairsPerQuery));
}

/** What a pair build left out, for the adapters to say. */
export interface PairBuildReport {
  /** Expansions that were not candidates, by method, role and reason (sorted by count, then method). */
  leftOut: { method: string; role: string; reason: string; expansions: number }[];
  /** Queries with scored expansions. */
  queries: number;
  /** Queries with fewer than two candidates. */
  fewCandidates: number;
  /** Queries with candidates but no pair meeting the rules. */
  noPair: number;
  /** Queries whose pairs the length cap changed or removed (0 without a cap). */
  lengthCapped: number;
}

/** Explains what the rules leave out of `scored` (see {@link PairBuildReport}). */
export function pairBuildReport(scored: Iterable<readonly ScoredCandidate[]>, rules: PairRules): PairBuildReport {
  const counts = new Map<string, { method: string; role: string; reason: string; expansions: number }>();
  let queries = 0;
  let fewCandidates = 0;
  let noPair = 0;
  let lengthCapped = 0;
  const uncapped: PairRules = { ...rules, maxLengthRatio: 0 };
  for (const group of scored) {
    if (group.length === 0) continue;
    queries++;
    const { pool, leftOut } = screenCandidates(group, rules);
    for (const { candidate, reason } of leftOut) {
      const key = `${candidate.expansion.method}\u0000${candidate.expansion.role}\u0000${reason}`;
      const cur = counts.get(key) ?? { method: candidate.expansion.method, role: candidate.expansion.role, reason, expansions: 0 };
      cur.expansions++;
      counts.set(key, cur);
    }
    if (pool.length < 2) {
      fewCandidates++;
      continue;
    }
    const built = pairsForQuery(group, rules);
    if (built.length === 0) noPair++;
    if ((rules.maxLengthRatio ?? 0) > 0) {
      const ids = (cs: Candidate[]): string => cs.map((c) => `${c.chosen.expansion.id}>${c.rejected.expansion.id}`).join(',');
      if (ids(built) !== ids(pairsForQuery(group, uncapped))) lengthCapped++;
    }
  }
  const leftOut = [...counts.values()].sort((a, b) => b.expansions - a.expansions || (a.method < b.method ? -1 : a.method > b.method ? 1 : a.reason < b.reason ? -1 : 1));
  return { leftOut, queries, fewCandidates, noPair, lengthCapped };
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
 * model-free baselines) whose output kind fits the student task (`rules.task`, see
 * {@link pairTask}; retrieval-conditioned ones only with `includeRetrievalConditioned`, and then
 * paired only among expansions of the same method: see {@link promptGroup}; each prompt group is
 * paired on its own, so the per-query counts below are per group); a pair needs
 * nDCG@10(chosen) − nDCG@10(rejected) ≥ `minMargin` (tolerance 1e-9), different generated texts,
 * with `requireChosenBeatsOriginal` a chosen delta > 0, and with `maxLengthRatio` > 0 a length
 * ratio (longer / shorter, characters) within it. "best-worst" pairs the best with the worst
 * candidate within the length cap (one pair per query); "best-sigma" pairs the best with the one
 * whose nDCG@10 is nearest mean − `sigmaK`·σ of the query's candidates (population σ; ties: the
 * worse); "all" takes every qualifying pair, highest margin first (then higher chosen nDCG@10,
 * then pair id), at most `maxPairsPerQuery`; "margin-band" the same with margins ≤ `maxMargin`.
 * `lengthMatch` makes the nearest length win first (best-worst: among the rejected candidates
 * that meet the margin; all/margin-band: before the margin order). Ties (|Δ| < 1e-9):
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
