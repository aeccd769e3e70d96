import { getMaxListeners, setMaxListeners } from 'node:events';
import type OpenAI from 'openai';
import { CancellationError, QxError, errorMessage, isCancellationError, throwIfAborted } from '../errors.js';
import type { ChatMessage } from '../expansion/expander.js';
import type { FetchLike } from '../expansion/httpFetch.js';
import { CallFailure, createCompletion, createOpenAiClient, effectiveExtraBody, normalizeBaseUrl } from '../expansion/openAiExpander.js';
import { type RetryPolicy, defaultRetryPolicy, runBatch, withRetries } from '../expansion/retry.js';
import type { TokenUsage } from '../expansion/types.js';
import { type Logger, nullLogger } from '../logger.js';
import type { JudgeCallOptions, JudgeOutcome, JudgeRequest, RelevanceJudge } from './types.js';

/** Settings of an OpenAI-compatible endpoint used as a relevance judge (vLLM, OpenAI, DeepSeek, Ollama). */
export interface OpenAiJudgeOptions {
  /** e.g. "http://127.0.0.1:8000/v1". */
  baseUrl: string;
  model: string;
  /** Supplies the API key at call time (SecretStorage, an env var); never read from settings. */
  getApiKey: () => Promise<string | undefined> | string | undefined;
  missingKeyHint?: string;
  /** When false, a missing key is sent as "none" (local servers). Default true. */
  requireApiKey?: boolean;
  /** Alternatives returned per answer position, 1..20 (OpenAI's maximum), default 20. */
  topLogprobs?: number;
  /** Tokens generated, default 1 (the label is the first token). */
  maxTokens?: number;
  /** Passed through into the body; a Qwen3 judge also gets `enable_thinking: false` unless set here. */
  extraBody?: Record<string, unknown>;
  /** Max requests in flight, >= 1, default 4. */
  concurrency?: number;
  /** Per-request timeout, ms, default 60 000. */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  fetch?: FetchLike;
}

/**
 * A relevance judge over chat completions with `logprobs: true`, `top_logprobs`, temperature 0 and
 * one generated token. Uses the expansion client's retries, backoff, timeouts, concurrency cap and
 * cancellation. A server that returns no logprobs stops the batch with QxError('badResponse'):
 * its answers cannot be scored.
 */
export class OpenAiJudge implements RelevanceJudge {
  readonly provider = 'openai-compatible';
  readonly model: string;
  readonly endpoint: string;
  /** What identifies this judge in a cache key besides the prompt. */
  readonly identity: Record<string, unknown>;
  private readonly policy: RetryPolicy;
  private readonly concurrency: number;
  private readonly timeoutMs: number;
  private readonly topLogprobs: number;
  private readonly maxTokens: number;
  private readonly extraBody: Record<string, unknown>;
  private client: OpenAI | undefined;

  constructor(private readonly options: OpenAiJudgeOptions) {
    this.model = options.model;
    this.endpoint = normalizeBaseUrl(options.baseUrl);
    this.policy = { ...defaultRetryPolicy, ...options.retry };
    this.concurrency = Math.max(1, Math.floor(options.concurrency ?? 4));
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.topLogprobs = Math.min(20, Math.max(1, Math.floor(options.topLogprobs ?? 20)));
    this.maxTokens = Math.max(1, Math.floor(options.maxTokens ?? 1));
    // A judge answers; it must not spend its one token on reasoning.
    this.extraBody = effectiveExtraBody('student', options.model, options.extraBody);
    this.identity = {
      provider: this.provider,
      kind: 'judge',
      endpoint: this.endpoint,
      model: options.model,
      topLogprobs: this.topLogprobs,
      maxTokens: this.maxTokens,
      extraBody: this.extraBody,
    };
  }

  /** Judges every request; resolves with one outcome each (failures recorded, not thrown). */
  async judge(requests: JudgeRequest[], options: JudgeCallOptions): Promise<JudgeOutcome[]> {
    const { signal } = options;
    const logger = options.logger ?? nullLogger;
    throwIfAborted(signal);
    this.client ??= await createOpenAiClient({ ...this.options, concurrency: this.concurrency, timeoutMs: this.timeoutMs });
    const client = this.client;
    setMaxListeners(Math.max(getMaxListeners(signal), 2 * this.concurrency + 10), signal);
    return runBatch(requests, { concurrency: this.concurrency, signal, onResult: options.onResult, onProgress: options.onProgress }, (r) => this.one(client, r, signal, logger));
  }

  private async one(client: OpenAI, request: JudgeRequest, signal: AbortSignal, logger: Logger): Promise<JudgeOutcome> {
    const start = Date.now();
    try {
      const r = await withRetries(() => this.call(client, request.messages, signal), {
        policy: this.policy,
        key: request.key,
        signal,
        logger,
        asFailure: (e) => (e instanceof CallFailure ? e : undefined),
      });
      logger.trace(`${request.key} prompt: ${JSON.stringify(request.messages)} → ${JSON.stringify(r.token)}`);
      return { key: request.key, ok: true, ...r, latencyMs: Date.now() - start };
    } catch (e) {
      if (isCancellationError(e) || signal.aborted) throw new CancellationError();
      if (e instanceof CallFailure) return { key: request.key, ok: false, code: e.code, message: e.message };
      if (QxError.is(e)) throw e;
      return { key: request.key, ok: false, code: 'badResponse', message: errorMessage(e) };
    }
  }

  private async call(client: OpenAI, messages: ChatMessage[], signal: AbortSignal): Promise<{ token: string; topLogprobs: { token: string; logprob: number }[]; usage: TokenUsage | undefined }> {
    const body: Record<string, unknown> = {
      ...this.extraBody,
      model: this.options.model,
      messages,
      temperature: 0,
      max_tokens: this.maxTokens,
      logprobs: true,
      top_logprobs: this.topLogprobs,
    };
    const response = await createCompletion(client, body, signal, this.timeoutMs);
    const choices: unknown = (response as { choices?: unknown }).choices;
    if (!Array.isArray(choices) || choices.length === 0) throw new CallFailure('badResponse', 'the server returned no choices', false);
    const content: unknown = (choices[0] as { logprobs?: { content?: unknown } | null } | null)?.logprobs?.content;
    if (!Array.isArray(content) || content.length === 0) {
      throw new QxError('badResponse', `${this.options.baseUrl} (model ${this.options.model}) returned no logprobs (choices[0].logprobs.content is empty), so its answers cannot be scored`, {
        hint: 'Use a server that returns top_logprobs for chat completions: vLLM, OpenAI, DeepSeek (deepseek-chat), or a recent Ollama.',
      });
    }
    const positions = content as { token?: unknown; top_logprobs?: unknown }[];
    const at = positions.find((p) => typeof p?.token === 'string' && p.token.trim() !== '') ?? positions[0];
    const top = at?.top_logprobs;
    if (typeof at?.token !== 'string' || !Array.isArray(top)) throw new CallFailure('badResponse', 'a logprobs entry has no token or top_logprobs', false);
    const topLogprobs: { token: string; logprob: number }[] = [];
    for (const x of top as { token?: unknown; logprob?: unknown }[]) {
      if (typeof x?.token === 'string' && typeof x.logprob === 'number' && Number.isFinite(x.logprob)) topLogprobs.push({ token: x.token, logprob: x.logprob });
    }
    if (topLogprobs.length === 0) {
      throw new QxError('badResponse', `${this.options.baseUrl} (model ${this.options.model}) returned logprobs without top_logprobs alternatives`, { hint: 'The judge asks for top_logprobs; use a server that returns them (vLLM: --max-logprobs >= 20).' });
    }
    const u = response.usage;
    const usage = u !== undefined && u !== null && Number.isFinite(u.prompt_tokens) && Number.isFinite(u.completion_tokens) ? { promptTokens: u.prompt_tokens, completionTokens: u.completion_tokens } : undefined;
    return { token: at.token, topLogprobs, usage };
  }
}
