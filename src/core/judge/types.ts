import type { TemplateRef, TokenUsage } from '../expansion/types.js';

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
