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
  /**
   * "best-worst": one pair per query, the best and the worst candidate; "all": every pair above
   * the margin, capped per query; "best-sigma": one pair per query, the best and the candidate
   * nearest mean − `sigmaK`·σ of the query's candidate nDCG@10 ("Finding the Sweet Spot:
   * Preference Data Construction for Scaling Preference Optimization", arXiv 2502.16825);
   * "margin-band": every pair whose margin is within [`minMargin`, `maxMargin`], capped per query
   * (margin-based selection: "Less is More: Improving LLM Alignment via Preference Data
   * Selection", arXiv 2502.14560, drops small, noisy margins; "Difficulty-Based Preference Data
   * Selection by DPO Implicit Reward Gap", arXiv 2508.04149, prefers the harder pairs to the
   * widest gaps).
   */
  strategy: PairStrategy;
  /** Cap on pairs per query for "all" and "margin-band", default 5. */
  maxPairsPerQuery: number;
  /** "best-sigma": how many standard deviations below the mean the rejected side sits, default 2. */
  sigmaK: number;
  /** "margin-band": the largest nDCG@10 margin kept, default 1 (no upper bound). */
  maxMargin: number;
  /**
   * Cap on the length ratio of the two sides, longer / shorter in characters (so the chosen text
   * may be at most this many times longer or shorter than the rejected one); 0 = no cap (default).
   * Best-worst and best-sigma then take the rejected side among the candidates within the cap.
   */
  maxLengthRatio: number;
  /**
   * Length-match: among the rejected candidates that meet the margin, take the one nearest the
   * chosen text's length ("best-worst", "best-sigma"); "all"/"margin-band" keep the pairs nearest
   * in length first. Default false.
   */
  lengthMatch: boolean;
  /**
   * The student task: id of the zero-shot template the student is prompted with ("" = the dataset
   * language's zero-shot query2doc). Only expansions whose output kind fits it are candidates.
   */
  task: string;
  /** Let retrieval-conditioned expansions (LameR, CSQE) be candidates; default false. */
  includeRetrievalConditioned: boolean;
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

export type PairStrategy = 'best-worst' | 'all' | 'best-sigma' | 'margin-band';

/** Every pair strategy, in the order shown to users. */
export const pairStrategies: readonly PairStrategy[] = ['best-worst', 'all', 'best-sigma', 'margin-band'];

export const defaultPairRules: PairRules = {
  pools: [],
  minMargin: 0.05,
  strategy: 'best-worst',
  maxPairsPerQuery: 5,
  sigmaK: 2,
  maxMargin: 1,
  maxLengthRatio: 0,
  lengthMatch: false,
  task: '',
  includeRetrievalConditioned: false,
  tiePolicy: 'skip',
  requireChosenBeatsOriginal: true,
};
