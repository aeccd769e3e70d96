import type { QxErrorCode } from '../errors.js';
import type { TaskOptions } from '../progress.js';
import type { TokenUsage } from './types.js';

/** One chat message sent to a model. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** One generation call: a rendered prompt and how many samples to draw from it. */
export interface GenerationRequest {
  /** Caller's key to match the outcome to its request (unique within one `expand` call). */
  key: string;
  messages: ChatMessage[];
  /** Samples to draw, >= 1. */
  n: number;
  /**
   * Index of the first sample, >= 0, default 0. With a `seed`, sample i of a query is drawn with
   * seed + i where a server cannot return several samples at once, so reruns are reproducible.
   */
  firstSampleIndex?: number;
}

/** The samples of one request, or why there are none. */
export type GenerationOutcome =
  | {
      key: string;
      ok: true;
      /** Exactly `n` texts, in sample order. */
      texts: string[];
      /** Usage per sample, same order as `texts`; summed it equals the calls' usage. */
      usage: TokenUsage[];
      /** Wall time of the call(s), ms. */
      latencyMs: number;
    }
  | { key: string; ok: false; code: QxErrorCode; message: string };

/** Everything `expand` takes besides the requests. */
export interface ExpandOptions extends TaskOptions {
  /**
   * Called once per request as soon as it settles, and awaited before the request counts as done
   * (the batch runner persists results here, so a cancelled batch loses nothing it reported).
   */
  onResult?: (outcome: GenerationOutcome) => Promise<void> | void;
}

/** Sampling parameters shared by every provider. */
export interface SamplingParams {
  /** 0..2, default 1. */
  temperature: number;
  /** 0..1, default 1. */
  topP: number;
  /** Maximum generated tokens per sample. */
  maxTokens: number;
  /** Integer seed, where the provider supports one. */
  seed?: number;
}

/**
 * A teacher or student LLM that turns prompts into text. Implementations: the OpenAI-compatible
 * client (`OpenAiExpander`) and a local ONNX text-generation model (`OnnxExpander`).
 * `expand` resolves with one outcome per request (failures recorded, not thrown); it throws only
 * on cancellation (`CancellationError`) or when nothing can work at all (missing API key, model
 * folder that cannot load).
 */
export interface Expander {
  readonly role: 'teacher' | 'student';
  /** "openai-compatible" | "onnx". */
  readonly provider: string;
  /** Model name as the user named it. */
  readonly model: string;
  /**
   * What identifies this generator in a cache key besides the prompt: endpoint or model folder,
   * model, sampling and extra parameters. Plain JSON.
   */
  readonly identity: Record<string, unknown>;
  expand(requests: GenerationRequest[], options: ExpandOptions): Promise<GenerationOutcome[]>;
}
