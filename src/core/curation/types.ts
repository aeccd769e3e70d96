/** A document that entered or left the top 10 when a query was expanded. */
export interface DocMove {
  docid: string;
  /** qrels grade, or null when the document is unjudged for this query. */
  grade: number | null;
  /** 1-based rank in the ranking where it is present (expanded for "entered", original for "left"). */
  rank: number;
}

/** Retrieval feedback for one expansion (or for the original query, where delta is 0). */
export interface ExpansionScore {
  expansionId: string;
  qid: string;
  ndcg10: number;
  /** ndcg10 minus the original query's ndcg10. */
  delta: number;
  /** Recall at `recallK` with relevance threshold `recallLevel`. */
  recall: number;
  recallK: number;
  /** Fraction of the top 10 with any judgment, 0..1. */
  judged10: number;
  entered: DocMove[];
  left: DocMove[];
  /** True when the delta rests on unjudged documents (some entered doc in the top 10 is unjudged). */
  unjudgedFlag: boolean;
  /** Top 10 docids of the expanded run, in rank order. */
  top10: string[];
}

export type PairState = 'auto' | 'accepted' | 'rejected' | 'edited';

/** A chosen/rejected pair for DPO. */
export interface PairRecord {
  id: string;
  qid: string;
  chosenId: string;
  rejectedId: string;
  /** nDCG@10(chosen) − nDCG@10(rejected) at the time of the last scoring. */
  margin: number;
  state: PairState;
  note?: string;
  /** "auto" when built by the rules, "manual" when a user picked the two expansions. */
  origin: 'auto' | 'manual';
  /** The rule set that built it (hash of PairRules), for auto pairs. */
  rulesHash?: string;
  createdAt: string;
  updatedAt: string;
}

/** How pairs are built from scores; recorded with every pair and export. */
export interface PairRules {
  /**
   * Methods or roles whose expansions can be in a pair, e.g. ["teacher", "student"]. Empty = every
   * model-written expansion (teacher, student, imported); model-free baselines (role "baseline",
   * RM3) only when named, since they are not text a student can learn to write. Exports never
   * include a pair with a baseline side.
   */
  pools: string[];
  /** Minimum nDCG@10 difference between chosen and rejected, default 0.05. */
  minMargin: number;
  /** "best-worst": one pair per query; "all": every pair above the margin, capped per query. */
  strategy: 'best-worst' | 'all';
  /** Cap on pairs per query for "all", default 5. */
  maxPairsPerQuery: number;
  /**
   * What to do when candidates tie on nDCG@10: skip them, prefer the shorter text, or prefer the
   * cheaper retrieval (fewer postings touched, then fewer analyzed terms; see feedback `queryCost`).
   */
  tiePolicy: 'skip' | 'prefer-shorter' | 'prefer-cheaper';
  /** Only build a pair when the chosen expansion beats the original query (delta > 0). */
  requireChosenBeatsOriginal: boolean;
  /**
   * Where the chosen side may come from (pool syntax, plus "round:N" for student round N and
   * "round" for any round), e.g. ["teacher"]; unset or empty = any candidate.
   */
  chosenFrom?: string[];
  /** Where the rejected side may come from, e.g. ["round:1"] for on-policy pairs; unset or empty = any candidate. */
  rejectedFrom?: string[];
}

export const defaultPairRules: PairRules = {
  pools: [],
  minMargin: 0.05,
  strategy: 'best-worst',
  maxPairsPerQuery: 5,
  tiePolicy: 'skip',
  requireChosenBeatsOriginal: true,
};
