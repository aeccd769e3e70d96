import type { QueryCostSection } from '../feedback/queryCost.js';
import type { QueryJudgeView } from '../judge/reviewJudge.js';
import type { CorpusDoc } from '../dataset/types.js';
import type { Conditioning, ExpansionRecord, OutputKind } from '../expansion/types.js';
import type { PairLengthStats } from '../curation/lengths.js';
import type { PairBuildReport } from '../curation/pairs.js';
import type { ExpansionScore, PairRecord, PairRules, PairState } from '../curation/types.js';
import type { TaskOptions } from '../progress.js';
import type { CalibrationReport } from '../judge/calibration.js';
import type { FillReport, JudgeSummary } from '../judge/workflow.js';

/**
 * The contract between the pipeline (src/core/workspace) and its two adapters, the VS Code
 * extension and the `qx` CLI. Everything is plain JSON-able data so it can cross to the webview.
 */

/** One row of the query browser. */
export interface QuerySummary {
  qid: string;
  text: string;
  /** Number of judged documents, and of those with grade > 0. */
  judged: number;
  relevant: number;
  /** nDCG@10 of the original query, null before scoring. */
  baseNdcg10: number | null;
  /** Best delta over the query's model expansions (model-free baselines such as RM3 are not candidates), null before scoring. */
  bestDelta: number | null;
  bestMethod: string | null;
  /** Mean Judged@10 over the query's scored expansions, null before scoring. */
  judged10: number | null;
  expansions: number;
  pairs: Record<PairState, number>;
  /** True when the qrels hold no positive judgment for this query: excluded from means. */
  noRelevant: boolean;
  /** A turn of a conversation (CAsT, QReCC, TopiOCQA): its conversation and turn number. */
  conversation?: { id: string; turn: number };
}

export interface ScoredExpansion {
  expansion: ExpansionRecord;
  /** Null until scored. */
  score: ExpansionScore | null;
}

/** Everything the Review panel shows for one query. */
export interface QueryReview {
  qid: string;
  text: string;
  qrels: { judged: number; byGrade: Record<string, number> };
  original: { ndcg10: number; recall: number; judged10: number; top10: string[] } | null;
  expansions: ScoredExpansion[];
  pairs: PairRecord[];
}

export interface ImportRequest {
  /** Path to a QueryGym TSV, JSONL, or OpenAI Batch output file. */
  file: string;
  format?: 'querygym-tsv' | 'jsonl' | 'openai-batch-output';
  model: string;
  method: string;
  role: ExpansionRecord['role'];
  /** How the file's text was formed, so the generated part can be separated, default "query2doc". */
  formulation?: string;
  /** What the text is (passage, keywords, ...); default: derived from the method and formulation (curation `outputKindOf`). */
  kind?: OutputKind;
  /** What its prompt held besides the query; default: derived from the method (LameR, CSQE: "retrieval"). */
  conditioning?: Conditioning;
}

export type ExportFormat = 'trl-standard' | 'trl-conversational' | 'openai-preference' | 'llama-factory' | 'sft-messages';

export interface ExportRequest {
  format: ExportFormat;
  /** Output file (JSONL); a manifest is written beside it as `<name>.manifest.json`. */
  out: string;
  /** Only pairs in these states, default ["auto", "accepted", "edited"]. */
  states?: PairState[];
  /** Override the leakage guard that refuses evaluation queries in training exports. */
  allowEvalQueries?: boolean;
  /** Preference formats: leave out pairs whose length ratio (longer / shorter, characters) exceeds this; 0 or absent = no cap. */
  maxLengthRatio?: number;
  /** SFT: the smallest nDCG@10 delta over the original query a target needs, default 0. */
  sftMinDelta?: number;
  /** The student task's template id; default that of the last pair build, else the pair settings' (`qx.pairs.task`, "" = the dataset language's zero-shot query2doc). */
  task?: string;
  /** Export retrieval-conditioned expansions (LameR, CSQE) too; default the pair settings'. */
  includeRetrievalConditioned?: boolean;
}

export interface ExportResult {
  out: string;
  manifest: string;
  records: number;
  /** Records by source: "chosen role method > rejected role method" (preference) or "teacher method" (SFT). */
  bySource?: Record<string, number>;
  /** Why pairs or candidates were left out, with counts. */
  leftOut?: { reason: string; count: number }[];
  /** Preference: chosen/rejected lengths of the exported pairs and of the fitting pairs before the length cap. */
  lengths?: {
    exported: PairLengthStats;
    beforeCap: PairLengthStats;
    maxLengthRatio: number;
    pairRuleMaxLengthRatio: number;
    /** Without an export cap: what a cap of `maxLengthRatio` would keep. */
    preview?: { maxLengthRatio: number; kept: PairLengthStats };
  } | null;
  /** The student task the records were exported for. */
  task?: { template: string; kind: OutputKind };
}

/** An OpenAI-compatible endpoint (OpenAI, DeepSeek, vLLM, Ollama, llama.cpp). The key is never here. */
export interface EndpointSettings {
  /** e.g. "https://api.deepseek.com/v1" or "http://127.0.0.1:8000/v1". */
  baseUrl: string;
  model: string;
  temperature: number;
  topP: number;
  maxTokens: number;
  seed?: number;
  /** Samples per query (the `n` parameter, or separate calls where a server rejects n > 1). */
  samples: number;
  /** Extra body parameters passed through (vLLM's top_k, repetition_penalty, ...). */
  extraBody?: Record<string, unknown>;
}

/** Typed settings handed to the core by the adapters (the extension reads `qx.*`, the CLI flags/env). */
export interface QxSettings {
  teacher: EndpointSettings;
  /** The student: an OpenAI-compatible endpoint, or a local ONNX text-generation model folder. */
  student: EndpointSettings & { kind: 'openai' | 'onnx'; modelPath?: string };
  /** `analyzer` "auto": from the dataset's language (zh/ja/ko → cjk, else english), see `effectiveAnalyzer`. */
  bm25: { k1: number; b: number; analyzer: 'auto' | 'english' | 'cjk' | 'whitespace'; luceneNorms: boolean; topK: number };
  pairs: PairRules;
  /** Max concurrent LLM requests. */
  concurrency: number;
  requestTimeoutMs: number;
  maxRetries: number;
  /** The relevance judge the editor runs (`qx.judge.*`); optional: added later, the CLI takes flags. */
  judge?: JudgeSettings;
}

/** The relevance judge's settings: an empty baseUrl or model means the teacher's. */
export interface JudgeSettings {
  baseUrl: string;
  model: string;
  /** "judge-binary", "judge-graded" or a template file. */
  template: string;
  /** 1..20. */
  topLogprobs: number;
  /** Also judge the pool's judged documents (for calibration). */
  includeJudged: boolean;
}

export interface ExpandRequest {
  role: 'teacher' | 'student';
  /** Template id, e.g. "query2doc-zs", "query2doc-fs"; default: the dataset language's zero-shot query2doc (`defaultTemplateId`). */
  template?: string;
  /** Only these queries; default all. */
  qids?: string[];
  /** Method label of the records, default the template id (student rounds use "<template>@r<N>"). */
  method?: string;
  /** Overrides of the student endpoint for this run (a student round's checkpoint, its sampling). */
  student?: Partial<QxSettings['student']>;
  /** Student round the records belong to: stored on each record and part of the cache key. */
  round?: number;
}

export interface UndoResult {
  /** What was undone, for a status message; null when nothing was left to undo. */
  description: string | null;
  qid: string | null;
}

/** Which LLM judge to run, as `qx judge` takes it (the API key comes from the workspace's getApiKey). */
export interface JudgeRequest {
  /** OpenAI-compatible endpoint that returns logprobs, e.g. http://localhost:8000/v1. */
  baseUrl: string;
  model: string;
  /** "judge-binary" (default), "judge-graded", or the path of a judge template file. */
  template?: string;
  /** Top logprobs per answer position, 1..20, default 20. */
  topLogprobs?: number;
  /** Also judge the pool's documents the qrels judge (calibration needs them). Default false. */
  includeJudged?: boolean;
}

/** The workspace: dataset + curation store, opened from a folder holding `qx.dataset.json`. */
export interface WorkspaceApi {
  readonly root: string;
  readonly name: string;
  /** The zero-shot query2doc template of the dataset's language (query2doc-zh for Chinese): `expand`'s default. */
  readonly defaultTemplate: string;

  listQueries(): QuerySummary[];
  getQueryReview(qid: string): QueryReview;
  getDocument(docid: string): CorpusDoc | undefined;
  /** The LLM judge on one query (scores of its documents, judged-only beside judge-filled nDCG@10, flipped pairs); null without judgments. `review`: the query's review when the caller has it already (not computed again). Optional: added later. */
  getQueryJudge?(qid: string, review?: QueryReview): QueryJudgeView | null;

  /** Build or reopen the BM25 index of the corpus. */
  buildIndex(options: TaskOptions & { rebuild?: boolean }): Promise<void>;
  importExpansions(request: ImportRequest, options: TaskOptions): Promise<{ imported: number; skipped: number; warnings?: string[] }>;
  /** Score every expansion not yet scored with the current retrieval settings. */
  score(options: TaskOptions): Promise<{ scored: number }>;
  /** Rebuilds the auto pairs; also returns the rules used (task resolved) and what they left out and why (optional: added later). */
  buildPairs(rules: Partial<PairRules>, options: TaskOptions): Promise<{ pairs: number; rules?: PairRules; report?: PairBuildReport }>;
  exportData(request: ExportRequest, options: TaskOptions): Promise<ExportResult>;
  /** Generate expansions with the teacher or student (cached: completed calls are never repeated). */
  expand(request: ExpandRequest, options: TaskOptions): Promise<{ generated: number; cached: number; failed: number }>;
  /** Adds a model-free baseline expansion (BM25+RM3, Anserini defaults unless given) to every query that lacks one. */
  expandBaseline(request: { method: 'rm3'; fbDocs?: number; fbTerms?: number; originalQueryWeight?: number }, options: TaskOptions): Promise<{ added: number; present: number }>;
  /** Retrieval cost (terms, postings walked) beside the gain per method; null without an index. Optional for hosts that cannot count postings. */
  queryCosts?(): QueryCostSection | null;
  /** Write the report (Markdown + self-contained HTML) into `.qx/reports/`; returns the paths. */
  writeReport(options: TaskOptions): Promise<{ markdown: string; html: string }>;

  /** Score a final retrieval string for a query without storing anything (live editing). */
  previewScore(qid: string, finalText: string): Promise<ExpansionScore>;
  /** Store a hand-edited copy of an expansion (generated text changed), scored; pairs that used it become "edited". */
  editExpansion(expansionId: string, generated: string): Promise<ScoredExpansion>;
  setPairState(pairId: string, state: PairState): PairRecord;
  setPairNote(pairId: string, note: string): PairRecord;
  swapPair(pairId: string): PairRecord;
  createPair(qid: string, chosenId: string, rejectedId: string): PairRecord;
  undo(): UndoResult;

  /**
   * Applies changed settings without reopening (optional: added after the first contract). Scores
   * are keyed to the retrieval settings, so new BM25 settings make expansions unscored until
   * the next `score`.
   */
  updateSettings?(settings: QxSettings): Promise<void>;

  /**
   * Judges with an LLM judge, per query, the documents the qrels leave unjudged that entered the
   * top 10 of the original or of any scored expansion; judgments go to `.qx/judgments/` (cached:
   * a rerun makes no request; a cancelled run keeps what it judged). Optional: added later.
   */
  judge?(request: JudgeRequest, options: TaskOptions): Promise<JudgeSummary>;
  /** The judge's calibration against the qrels and judge-filled feedback (no calls); null when it has no judgments here. */
  judgeFeedback?(request: JudgeRequest): Promise<{ file: string; judgments: number; calibration: CalibrationReport; fill: FillReport } | null>;

  close(): Promise<void>;
}
