/** Who wrote an expansion. `baseline` covers model-free expanders such as RM3. */
export type ExpansionRole = 'teacher' | 'student' | 'imported' | 'baseline';

export interface TemplateRef {
  /** e.g. "query2doc-zs". */
  id: string;
  version: number;
  /** sha256 of the template file's text, hex, first 16 chars. */
  hash: string;
}

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
  /** True when counted locally by a tokenizer because the server reported none. */
  estimated?: boolean;
}

/**
 * A model-free expansion's query (provider "rm3"): analyzed index terms with their weights, which
 * BM25 searches as they are (a boosted term query, as Anserini's RM3 second pass does).
 */
export interface WeightedQuery {
  /** [analyzed term, weight] in the order they are searched (the original query's terms first). */
  terms: [string, number][];
  /** How it was made: RM3's fbDocs, fbTerms, originalQueryWeight and the first pass's BM25 settings. */
  parameters: Record<string, string | number | boolean>;
}

/**
 * What an expansion's generated text is, which decides the student tasks it can train:
 * `passage` (a pseudo-document: query2doc, HyDE, MuGI, CoT, LameR), `keywords` (a term list:
 * Q2E, GenQR), `answer-list` (several short answers: QA-Expand), `rewrite` (a reformulated
 * query), `extract` (sentences quoted from retrieved passages: CSQE), `terms` (weighted index
 * terms of a model-free baseline: RM3), `other` (none of these).
 */
export type OutputKind = 'passage' | 'keywords' | 'answer-list' | 'rewrite' | 'extract' | 'terms' | 'other';

/**
 * What the prompt that wrote an expansion held besides the query: `query` (the query, maybe
 * fixed exemplars) or `retrieval` (passages retrieved for the query: LameR, CSQE), which a student
 * prompted with the query alone never sees.
 */
export type Conditioning = 'query' | 'retrieval';

/**
 * One expansion of one query: the generated text and the exact string the retriever received.
 * Records are immutable; a hand edit makes a new record with `editedFrom` set.
 */
export interface ExpansionRecord {
  /** Stable id: hash of (qid, method, model, template hash, sample index, final; for a weighted query, its terms and parameters in place of final). */
  id: string;
  qid: string;
  /** The original query text. */
  query: string;
  /** Method label shown to users, e.g. "query2doc-zs", "query2doc-fs", "q2d-cot", "rm3", "edited". */
  method: string;
  role: ExpansionRole;
  /** Model name as the user named it, e.g. "Qwen2.5-72B-Instruct". */
  model: string;
  /** "openai-compatible" | "onnx" | "import" | "rm3" | "edit". */
  provider: string;
  template?: TemplateRef;
  /** 0-based sample index when several samples are drawn per query. */
  sampleIndex: number;
  /** The model's output only (without the repeated query). */
  generated: string;
  /** Name of the query formulation that built `final`, e.g. "query2doc", "concat". */
  formulation: string;
  /** The exact string sent to the retriever; for a weighted query, its readable rendering (`term^0.1234 …`). */
  final: string;
  /** Model-free baselines only: the weighted query BM25 searches instead of parsing `final`. */
  weightedQuery?: WeightedQuery;
  usage?: TokenUsage;
  /** Wall time of the generation call, ms. */
  latencyMs?: number;
  /** Where it came from when imported (file path relative to the workspace, line). */
  source?: string;
  editedFrom?: string;
  /** The student round that wrote it (0 = the base student; see workspace/rounds.ts), when generated as a round. */
  round?: number;
  /** What the text is; absent in stores written before it existed: derived from template, method and formulation (curation `outputKindOf`). */
  outputKind?: OutputKind;
  /** What its prompt held besides the query; absent: derived (curation `conditioningOf`). */
  conditioning?: Conditioning;
  /** Sampling parameters of the generation (temperature, top_p, max tokens, ...) when known. */
  sampling?: Record<string, unknown>;
  /** ISO time. */
  createdAt: string;
}
