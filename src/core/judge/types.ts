import type { QxErrorCode } from '../errors.js';
import type { ChatMessage } from '../expansion/expander.js';
import type { TemplateRef, TokenUsage } from '../expansion/types.js';
import type { TaskOptions } from '../progress.js';

/** One judging call: the rendered (document, query) prompt. */
export interface JudgeRequest {
  /** Caller's key, unique within one `judge` call. */
  key: string;
  messages: ChatMessage[];
  /** The (query, document) the messages were rendered from: what a cross-encoder reads instead. */
  pair?: { query: string; document: string };
}

/** The answer position's alternatives of one call, or why there are none. */
export type JudgeOutcome =
  | {
      key: string;
      ok: true;
      /** The first non-blank generated token. */
      token: string;
      /** Its top alternatives with natural-log probabilities, as the server returned them. */
      topLogprobs: { token: string; logprob: number }[];
      usage: TokenUsage | undefined;
      latencyMs: number;
    }
  | { key: string; ok: false; code: QxErrorCode; message: string };

export interface JudgeCallOptions extends TaskOptions {
  /** Called once per request as it settles, awaited before it counts (the runner caches here). */
  onResult?: (outcome: JudgeOutcome) => Promise<void> | void;
  /**
   * The template's answer tokens, grades ascending. A server returns only its top alternatives; a
   * local judge reads the whole distribution and adds these tokens' log-probabilities to them.
   */
  labels?: readonly string[];
}

/**
 * A relevance judge the judging runner drives: an OpenAI-compatible endpoint (OpenAiJudge) or a
 * local ONNX model (OnnxJudge). Each outcome carries the answer position's label alternatives with
 * natural-log probabilities; the runner scores them with one rule (scoreLabels).
 */
export interface RelevanceJudge {
  /** "openai-compatible" or "onnx", stored in every judgment. */
  readonly provider: string;
  readonly model: string;
  /** Where it runs: the endpoint URL, or the model folder of a local judge. */
  readonly endpoint: string;
  /** What identifies this judge in a cache key besides the prompt (never a secret, never a machine path for a local model). */
  readonly identity: Record<string, unknown>;
  /** Judges every request; one outcome each (failures recorded, not thrown); the signal is checked between calls or batches. */
  judge(requests: JudgeRequest[], options: JudgeCallOptions): Promise<JudgeOutcome[]>;
}

/**
 * One LLM relevance judgment of one (query, document). Kept beside the qrels, never mixed into
 * them: a judgment names the judge (provider, endpoint, model) and its template.
 */
export interface JudgmentRecord {
  qid: string;
  docid: string;
  /** P(relevant) in [0, 1] for a binary judge; the expected grade for a graded one. */
  score: number;
  /** Probability per grade ("0", "1", …) at the answer position, as read from top logprobs. */
  probs: Record<string, number>;
  /** Probability mass on label tokens, 0..1 (low = the model wanted to say something else). */
  mass: number;
  /** The token the model generated. */
  token: string;
  mode: 'binary' | 'graded';
  /** "judge:<template id>", the label the cost ledger groups by. */
  method: string;
  provider: string;
  endpoint: string;
  model: string;
  template: TemplateRef;
  usage?: TokenUsage;
  latencyMs?: number;
  /** ISO time of the call. */
  createdAt: string;
}
