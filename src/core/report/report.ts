import type { PairLengthStats } from '../curation/lengths.js';
import type { ExpansionScore } from '../curation/types.js';
import type { ExpansionRecord, ExpansionRole } from '../expansion/types.js';
import type { QueryCostSection } from '../feedback/queryCost.js';
import { buildCostSection, type CostInput, type CostSection } from './cost.js';
import type { JudgeFilledSection } from './judgeFilled.js';
import { pairedBootstrapRatio, pairedPermutationTest, pairedTTest, type BootstrapInterval, type PairedTTest, type PermutationTest } from './stats.js';

/** One query as the report needs it. */
export interface ReportQuery {
  qid: string;
  text: string;
  /** Number of judgments with grade > 0. Queries with 0 are excluded from every mean. */
  relevant: number;
  /** Number of judgments of any grade; 0 (absent from the qrels) is reported as "no judgments". */
  judged?: number;
}

export interface ReportInput {
  datasetName: string;
  queries: readonly ReportQuery[];
  expansions: readonly ExpansionRecord[];
  /** Scores by expansion id, under the current retrieval settings. */
  scores: ReadonlyMap<string, ExpansionScore>;
  /** Score of each original (unexpanded) query, by qid. */
  originals: ReadonlyMap<string, ExpansionScore>;
  /** |delta| below this counts as a tie, default 1e-9 (i.e. identical nDCG@10). */
  tieThreshold?: number;
  /** Random sign flips of the permutation test when n > 16, default 10,000. */
  permutations?: number;
  /** Seed of the permutation test and of the bootstrap, default 42. */
  seed?: number;
  /** Bootstrap resamples of each student/teacher ratio's confidence interval, default 10,000. */
  bootstrapResamples?: number;
  /** Documents in the corpus (the index), when known: with it a corpus of at most `recallK` documents is flagged. */
  corpusSize?: number;
  /**
   * Per qid, the highest Recall@k any run can reach: min(k, relevant documents in the corpus) /
   * relevant documents judged (grade ≥ the relevance level), in [0, 1]. With it, runs that reach
   * it on every query are marked (their Recall@k cannot rise).
   */
  recallCeilings?: ReadonlyMap<string, number>;
  /** Clock, for tests. */
  now?: () => Date;
  /** Prices (and local token counts) for the cost section; without it `cost` is null. */
  cost?: CostInput;
}

/** Per method (role + method + model) results over the included queries it covers. */
export interface MethodResult {
  /** "role/method/model", unique. */
  key: string;
  role: ExpansionRole;
  method: string;
  model: string;
  /** Included queries with at least one scored expansion of this method. */
  queries: number;
  /** Mean number of scored samples per query (each query's score is the mean over its samples). */
  samplesPerQuery: number;
  meanOriginalNdcg10: number;
  meanNdcg10: number;
  meanDelta: number;
  meanOriginalRecall: number;
  meanRecall: number;
  recallK: number;
  wins: number;
  ties: number;
  losses: number;
  /** Paired two-sided t-test of per-query nDCG@10 vs the original query; null when undefined. */
  tTest: PairedTTest | null;
  /** Paired randomization test of the same; null with no queries. */
  permutation: PermutationTest | null;
  /** Scored expansions (samples) over the included queries. */
  expansions: number;
  /** Of them, those whose delta rests on unjudged documents: an unjudged document entered the top 10 (`unjudgedFlag`). */
  unjudgedExpansions: number;
  /** Recall@k equals the query's ceiling on every query the method covers; null without ceilings. */
  recallAtCeiling: boolean | null;
}

/** Student mean nDCG@10 as a percentage of a teacher's, over the queries both cover. */
export interface StudentTeacherComparison {
  student: string;
  teacher: string;
  queries: number;
  studentNdcg10: number;
  teacherNdcg10: number;
  originalNdcg10: number;
  /** 100 × student / teacher; null when the teacher's mean is 0. */
  percent: number | null;
  /** 100 × (student − original) / (teacher − original): share of the teacher's gain recovered; null when the teacher gains nothing. */
  gainRecoveredPercent: number | null;
  /** Paired percentile bootstrap 95% interval of `percent` over the common queries (low/high in percent); null when undefined. */
  percentCI: BootstrapInterval | null;
  /** Per common query: student's nDCG@10 above / within the report's tie threshold of / below the teacher's. */
  wins: number;
  ties: number;
  losses: number;
  /** Paired two-sided t-test of student vs teacher per-query nDCG@10; null when undefined. */
  tTest: PairedTTest | null;
  /** Paired randomization test of the same; null with no common queries. */
  permutation: PermutationTest | null;
}

/** Whether the Recall@k column can tell runs apart. */
export interface RecallNote {
  k: number;
  /** Documents in the corpus; null when unknown (no index). */
  corpusSize: number | null;
  /** corpusSize ≤ k: every run's top k holds every document it matches at all, so Recall@k does not measure ranking. */
  corpusWithinK: boolean;
  /** Mean over included queries of the best reachable Recall@k (see `ReportInput.recallCeilings`); null without ceilings. */
  meanCeiling: number | null;
  /** The original query reaches the ceiling on every included query; null without ceilings. */
  originalAtCeiling: boolean | null;
  /** The column cannot differ between runs: `corpusWithinK`, or the original and every method are at the ceiling on every query. */
  cannotMove: boolean;
}

export interface QxReport {
  dataset: string;
  createdAt: string;
  tieThreshold: number;
  recallK: number;
  queries: {
    total: number;
    included: number;
    /** Queries left out of every mean, with why. */
    excluded: { qid: string; text: string; reason: 'no judgments' | 'no positive judgment' | 'original query not scored' }[];
  };
  original: { meanNdcg10: number; meanRecall: number };
  /** Whether Recall@k can move at all on this corpus and these judgments. */
  recall: RecallNote;
  methods: MethodResult[];
  studentVsTeacher: StudentTeacherComparison[];
  /** Best student (highest mean nDCG@10) vs best teacher: the headline figure; null without both. */
  headline: StudentTeacherComparison | null;
  /** Per included query: original nDCG@10 and each method's (mean over samples), for plots. */
  perQuery: { qid: string; original: number; methods: Record<string, number> }[];
  /** Tokens, requests, wall time and estimated price per method over every generated expansion (see `buildCostSection`); null without prices. */
  cost: CostSection | null;
  /** Retrieval cost (terms, postings walked) and generation tokens beside the gain per method (feedback `methodQueryCosts`); absent without an index. */
  queryCost?: QueryCostSection | null;
  /** Chosen/rejected lengths of the current pairs not rejected by a user (curation `pairLengthStats`); absent when not computed. */
  pairLengths?: PairLengthStats;
  /** Judged-only beside judge-filled nDCG@10 per method and the flipped pairs, from the workspace's newest LLM judgments (`qx judge`); absent or null without judgments. */
  judgeFilled?: JudgeFilledSection | null;
}

const mean = (xs: readonly number[]): number => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);

/**
 * Compares every method with the original queries. Rules:
 * - queries with no positive judgment (relevant = 0; "no judgments" when absent from the qrels)
 *   and queries whose original is not scored are excluded from all means and listed in
 *   `queries.excluded`;
 * - a method's score on a query is the mean over its scored samples of that query; a method is
 *   compared with the original only on the included queries it covers (`queries`);
 * - win/tie/loss: delta > tie, |delta| ≤ tie, delta < −tie, with tie = `tieThreshold` (1e-9);
 * - significance: paired two-sided t-test and paired randomization test on per-query nDCG@10;
 * - student vs teacher: for every student × teacher method, over the queries both cover, the ratio
 *   of mean nDCG@10 with a paired percentile bootstrap 95% interval over queries (`bootstrapResamples`,
 *   `seed`), W/T/L of student vs teacher per query (same tie), paired t and randomization tests; model-free
 *   baselines (role "baseline", e.g. BM25+RM3) get their row, delta, W/T/L and p like any method,
 *   and are in no student/teacher comparison;
 * - unjudged: per method, the scored expansions with `unjudgedFlag` (an unjudged document entered the top 10);
 * - Recall@k: flagged (`recall.cannotMove`) when the corpus has ≤ k documents, or when the original
 *   and every method reach each query's ceiling (`recallCeilings`); methods at the ceiling are marked;
 * - cost (with `cost` prices): per method over all its generated expansions (see `buildCostSection`).
 * Methods are sorted by role (teacher, student, imported, baseline), then mean nDCG@10 descending.
 */
export function buildReport(input: ReportInput): QxReport {
  const tie = input.tieThreshold ?? 1e-9;
  const excluded: QxReport['queries']['excluded'] = [];
  const included: ReportQuery[] = [];
  for (const q of input.queries) {
    if (q.relevant <= 0) excluded.push({ qid: q.qid, text: q.text, reason: q.judged === 0 ? 'no judgments' : 'no positive judgment' });
    else if (!input.originals.has(q.qid)) excluded.push({ qid: q.qid, text: q.text, reason: 'original query not scored' });
    else included.push(q);
  }
  const includedSet = new Set(included.map((q) => q.qid));
  const recallK = [...input.originals.values()][0]?.recallK ?? 0;

  interface Acc {
    role: ExpansionRole;
    method: string;
    model: string;
    byQid: Map<string, { ndcg: number[]; recall: number[] }>;
    unjudged: number;
  }
  const groups = new Map<string, Acc>();
  for (const e of input.expansions) {
    if (!includedSet.has(e.qid)) continue;
    const s = input.scores.get(e.id);
    if (s === undefined) continue;
    const key = `${e.role}/${e.method}/${e.model}`;
    let g = groups.get(key);
    if (g === undefined) groups.set(key, (g = { role: e.role, method: e.method, model: e.model, byQid: new Map(), unjudged: 0 }));
    let q = g.byQid.get(e.qid);
    if (q === undefined) g.byQid.set(e.qid, (q = { ndcg: [], recall: [] }));
    q.ndcg.push(s.ndcg10);
    q.recall.push(s.recall);
    if (s.unjudgedFlag) g.unjudged++;
  }
  const ceilings = input.recallCeilings;
  // Recall is a ratio of small integers: equal to the ceiling up to rounding.
  const atCeiling = (qid: string, recall: number): boolean => Math.abs(recall - (ceilings?.get(qid) ?? Number.NaN)) < 1e-9;

  const perMethodQuery = new Map<string, Map<string, number>>();
  const methods: MethodResult[] = [];
  for (const [key, g] of groups) {
    const qids = [...g.byQid.keys()].sort();
    const orig = qids.map((q) => (input.originals.get(q) as ExpansionScore).ndcg10);
    const origRecall = qids.map((q) => (input.originals.get(q) as ExpansionScore).recall);
    const ndcg = qids.map((q) => mean(g.byQid.get(q)?.ndcg ?? []));
    const recall = qids.map((q) => mean(g.byQid.get(q)?.recall ?? []));
    const deltas = ndcg.map((x, i) => x - (orig[i] as number));
    perMethodQuery.set(key, new Map(qids.map((q, i) => [q, ndcg[i] as number])));
    methods.push({
      key,
      role: g.role,
      method: g.method,
      model: g.model,
      queries: qids.length,
      samplesPerQuery: mean(qids.map((q) => g.byQid.get(q)?.ndcg.length ?? 0)),
      meanOriginalNdcg10: mean(orig),
      meanNdcg10: mean(ndcg),
      meanDelta: mean(deltas),
      meanOriginalRecall: mean(origRecall),
      meanRecall: mean(recall),
      recallK,
      wins: deltas.filter((d) => d > tie).length,
      ties: deltas.filter((d) => Math.abs(d) <= tie).length,
      losses: deltas.filter((d) => d < -tie).length,
      expansions: qids.reduce((n, q) => n + (g.byQid.get(q)?.ndcg.length ?? 0), 0),
      unjudgedExpansions: g.unjudged,
      recallAtCeiling: ceilings === undefined ? null : qids.every((q) => (g.byQid.get(q)?.recall ?? []).every((x) => atCeiling(q, x))),
      tTest: pairedTTest(orig, ndcg),
      permutation: pairedPermutationTest(orig, ndcg, {
        ...(input.permutations === undefined ? {} : { iterations: input.permutations }),
        ...(input.seed === undefined ? {} : { seed: input.seed }),
      }),
    });
  }
  const roleOrder: Record<ExpansionRole, number> = { teacher: 0, student: 1, imported: 2, baseline: 3 };
  methods.sort((a, b) => roleOrder[a.role] - roleOrder[b.role] || b.meanNdcg10 - a.meanNdcg10 || (a.key < b.key ? -1 : 1));

  const compare = (s: MethodResult, t: MethodResult): StudentTeacherComparison => {
    const sq = perMethodQuery.get(s.key) as Map<string, number>;
    const tq = perMethodQuery.get(t.key) as Map<string, number>;
    const common = [...sq.keys()].filter((q) => tq.has(q)).sort();
    const sv = common.map((q) => sq.get(q) as number);
    const tv = common.map((q) => tq.get(q) as number);
    const diffs = sv.map((x, i) => x - (tv[i] as number));
    const sm = mean(sv);
    const tm = mean(tv);
    const ci = pairedBootstrapRatio(tv, sv, {
      ...(input.bootstrapResamples === undefined ? {} : { resamples: input.bootstrapResamples }),
      ...(input.seed === undefined ? {} : { seed: input.seed }),
    });
    const om = mean(common.map((q) => (input.originals.get(q) as ExpansionScore).ndcg10));
    return {
      student: s.key,
      teacher: t.key,
      queries: common.length,
      studentNdcg10: sm,
      teacherNdcg10: tm,
      originalNdcg10: om,
      percent: tm > 0 && common.length > 0 ? (100 * sm) / tm : null,
      gainRecoveredPercent: tm - om > 1e-12 && common.length > 0 ? (100 * (sm - om)) / (tm - om) : null,
      percentCI: ci === null || !(tm > 0) ? null : { ...ci, low: 100 * ci.low, high: 100 * ci.high },
      wins: diffs.filter((d) => d > tie).length,
      ties: diffs.filter((d) => Math.abs(d) <= tie).length,
      losses: diffs.filter((d) => d < -tie).length,
      tTest: pairedTTest(tv, sv),
      permutation: pairedPermutationTest(tv, sv, {
        ...(input.permutations === undefined ? {} : { iterations: input.permutations }),
        ...(input.seed === undefined ? {} : { seed: input.seed }),
      }),
    };
  };
  const students = methods.filter((m) => m.role === 'student');
  const teachers = methods.filter((m) => m.role === 'teacher');
  const studentVsTeacher = students.flatMap((s) => teachers.map((t) => compare(s, t)));
  const headline = students[0] !== undefined && teachers[0] !== undefined ? compare(students[0], teachers[0]) : null;

  const perQuery = included.map((q) => {
    const m: Record<string, number> = {};
    for (const [key, byQ] of perMethodQuery) {
      const v = byQ.get(q.qid);
      if (v !== undefined) m[key] = v;
    }
    return { qid: q.qid, original: (input.originals.get(q.qid) as ExpansionScore).ndcg10, methods: m };
  });

  const corpusSize = input.corpusSize ?? null;
  const corpusWithinK = corpusSize !== null && recallK > 0 && corpusSize <= recallK;
  const originalAtCeiling = ceilings === undefined ? null : included.every((q) => atCeiling(q.qid, (input.originals.get(q.qid) as ExpansionScore).recall));
  const recall: RecallNote = {
    k: recallK,
    corpusSize,
    corpusWithinK,
    meanCeiling: ceilings === undefined ? null : mean(included.map((q) => ceilings.get(q.qid) ?? 0)),
    originalAtCeiling,
    cannotMove: corpusWithinK || (originalAtCeiling === true && included.length > 0 && methods.every((m) => m.recallAtCeiling === true)),
  };

  return {
    dataset: input.datasetName,
    createdAt: (input.now ?? (() => new Date()))().toISOString(),
    tieThreshold: tie,
    recallK,
    queries: { total: input.queries.length, included: included.length, excluded },
    original: {
      meanNdcg10: mean(included.map((q) => (input.originals.get(q.qid) as ExpansionScore).ndcg10)),
      meanRecall: mean(included.map((q) => (input.originals.get(q.qid) as ExpansionScore).recall)),
    },
    recall,
    methods,
    studentVsTeacher,
    headline,
    perQuery,
    cost: input.cost === undefined ? null : buildCostSection(input.expansions, input.cost, studentVsTeacher),
  };
}
