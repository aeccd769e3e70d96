import type { ExpansionScore, PairRecord } from '../curation/types.js';
import type { Qrels } from '../dataset/types.js';
import type { ExpansionRecord } from '../expansion/types.js';
import { type RankingsToFill, fillRankings, pairFlips } from '../judge/fill.js';
import { type ReviewJudgeInfo, fillOptionsOf } from '../judge/reviewJudge.js';

/** One method's row of the judge-filled column (same key as the report's method row). */
export interface JudgeFilledMethod {
  /** "role/method/model", as `MethodResult.key`. */
  key: string;
  /** Mean nDCG@10 with unjudged = not relevant: equals the report's nDCG@10 column. */
  judgedOnly: number;
  /** Mean nDCG@10 with the judge's grade on the documents the qrels leave unjudged. */
  filled: number;
  /** Pairs (not rejected, on included queries) with an expansion of this method on either side, and of those, the ones whose order flips. */
  pairs: number;
  flippedPairs: number;
}

/** The report's judge-filled column: judged-only beside judge-filled nDCG@10 per method, and flipped pairs. */
export interface JudgeFilledSection {
  /** The judge (the newest `.qx/judgments/` file, as the Review panel shows it) and how its scores fill the holes. */
  judge: ReviewJudgeInfo;
  original: { judgedOnly: number; filled: number };
  methods: JudgeFilledMethod[];
  /** Pairs not rejected on the included queries, and those whose judge-filled margin has the opposite sign of the judged-only one. */
  pairs: number;
  flipped: number;
}

export interface JudgeFilledInput {
  /** The report's included queries (its `perQuery` qids). */
  includedQids: readonly string[];
  expansions: readonly ExpansionRecord[];
  scores: ReadonlyMap<string, ExpansionScore>;
  originals: ReadonlyMap<string, ExpansionScore>;
  qrels: Qrels;
  /** Current pairs; rejected ones are left out. */
  pairs: readonly PairRecord[];
  /** docid → judge score of one query. */
  judgeScores: (qid: string) => ReadonlyMap<string, number>;
  judge: ReviewJudgeInfo;
}

const mean = (xs: readonly number[]): number => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);

/**
 * Judge-filled nDCG@10 per method, aggregated as the report aggregates nDCG@10: on each included
 * query the mean over the method's scored samples, then the mean over the queries it covers; so
 * the judged-only figure equals the report's nDCG@10 column. Each ranking's top 10 is rescored
 * with the qrels plus the judge's grade on their holes (`fillQuery`); pairs are compared with
 * `pairFlips` (flipped: the judge-filled margin has the opposite sign of a non-zero judged-only one).
 */
export function buildJudgeFilledSection(input: JudgeFilledInput): JudgeFilledSection {
  const included = new Set(input.includedQids);
  const byQid = new Map<string, RankingsToFill['expansions'][number][]>();
  const methodOf = new Map<string, string>();
  for (const e of input.expansions) {
    const s = input.scores.get(e.id);
    if (!included.has(e.qid) || s === undefined) continue;
    const key = `${e.role}/${e.method}/${e.model}`;
    methodOf.set(e.id, key);
    let list = byQid.get(e.qid);
    if (list === undefined) byQid.set(e.qid, (list = []));
    list.push({ id: e.id, key, top10: s.top10 });
  }
  const queries = input.includedQids.map((qid): RankingsToFill => ({ qid, original: input.originals.get(qid)?.top10, expansions: byQid.get(qid) ?? [] }));
  const filled = fillRankings(queries, input.qrels, input.judgeScores, fillOptionsOf(input.judge));
  const flips = pairFlips(
    input.pairs.filter((p) => p.state !== 'rejected' && included.has(p.qid)),
    filled.byId,
  );
  // Each flip counts once for every method on either side of its pair.
  const pairById = new Map(input.pairs.map((p) => [p.id, p]));
  const flipsOf = new Map<string, { pairs: number; flipped: number }>();
  for (const f of flips) {
    const p = pairById.get(f.pairId);
    if (p === undefined) continue;
    for (const key of new Set([methodOf.get(p.chosenId), methodOf.get(p.rejectedId)])) {
      if (key === undefined) continue;
      const c = flipsOf.get(key) ?? { pairs: 0, flipped: 0 };
      flipsOf.set(key, c);
      c.pairs++;
      if (f.flipped) c.flipped++;
    }
  }
  const methods: JudgeFilledMethod[] = [...filled.byMethod].map(([key, q]) => ({
    key,
    judgedOnly: mean([...q.values()].map((xs) => mean(xs.map((x) => x.judgedOnly)))),
    filled: mean([...q.values()].map((xs) => mean(xs.map((x) => x.filled)))),
    pairs: flipsOf.get(key)?.pairs ?? 0,
    flippedPairs: flipsOf.get(key)?.flipped ?? 0,
  }));
  const original = { judgedOnly: filled.originals.map((s) => s.judgedOnly), filled: filled.originals.map((s) => s.filled) };
  return {
    judge: input.judge,
    original: { judgedOnly: mean(original.judgedOnly), filled: mean(original.filled) },
    methods,
    pairs: flips.length,
    flipped: flips.filter((f) => f.flipped).length,
  };
}

/** Which judge and rule the column used, and the flipped pairs in all, as one sentence for the note under the table. */
export function judgeFilledRuleText(j: JudgeFilledSection): string {
  const { judge } = j;
  const rule =
    judge.threshold === null
      ? 'graded judge: the rounded expected grade fills each hole'
      : `binary judge: score >= ${judge.threshold.toFixed(3)} (${judge.thresholdSource === 'calibrated' ? 'threshold calibrated on the judged documents, qx judge --calibrate' : 'default, no judged document to calibrate on'}) counts as grade ${judge.relevantGrade}`;
  return `Judge-filled nDCG@10: the holes of the qrels (unjudged documents in a top 10) filled by ${judge.model} (${judge.template.id} ${judge.template.hash.slice(0, 8)}) at ${judge.endpoint}, ${judge.judgments} judgments in ${judge.file}; ${rule}; the qrels are never changed. Flipped pairs: pairs not rejected whose judge-filled nDCG@10 margin has the opposite sign of the judged-only one: ${j.flipped} of ${j.pairs}.`;
}

/** The judge-filled nDCG@10 and flipped-pairs cells of a method row (`key`) or of the original's (null key); empty without the section. */
export function judgeFilledCells(j: JudgeFilledSection | null, key: string | null, digits: number): { filled: string; flipped: string } {
  if (j === null) return { filled: '', flipped: '' };
  if (key === null) return { filled: j.original.filled.toFixed(digits), flipped: '' };
  const m = j.methods.find((x) => x.key === key);
  return m === undefined ? { filled: 'n/a', flipped: 'n/a' } : { filled: m.filled.toFixed(digits), flipped: `${m.flippedPairs} of ${m.pairs}` };
}
