import { getMaxListeners, setMaxListeners } from 'node:events';
import OpenAI from 'openai';
import { APIConnectionError, APIConnectionTimeoutError, APIError } from 'openai';
import { CancellationError, QxError, type QxErrorCode, errorMessage, isCancellationError, throwIfAborted } from '../errors.js';
import { type Logger, nullLogger } from '../logger.js';
import type { ChatMessage, ExpandOptions, Expander, GenerationOutcome, GenerationRequest, SamplingParams } from './expander.js';
import { type RetryPolicy, defaultRetryPolicy, parseRetryAfter, runBatch, withRetries } from './retry.js';
import { type FetchLike, createHttpFetch } from './httpFetch.js';
import { countTokens } from './tokenCount.js';
import { stripThinking } from './thinking.js';
import type { TokenUsage } from './types.js';

/** Settings of an OpenAI-compatible chat-completions endpoint (OpenAI, DeepSeek, vLLM, Ollama, llama.cpp). */
export interface OpenAiExpanderOptions {
  role: 'teacher' | 'student';
  /** e.g. "https://api.openai.com/v1" or "http://127.0.0.1:8000/v1". */
  baseUrl: string;
  model: string;
  /**
   * Supplies the API key at call time: SecretStorage in the extension, an env var in the CLI.
   * Never read from settings.
   */
  getApiKey: () => Promise<string | undefined> | string | undefined;
  /**
   * How the user can provide a missing key, in the adapter's words, default
   * 'Set QX_API_KEY (or OPENAI_API_KEY), or run "QX: Set API Key".'
   */
  missingKeyHint?: string;
  /** When false, a missing key is sent as "none" (local servers that ignore it). Default true. */
  requireApiKey?: boolean;
  sampling: SamplingParams;
  /**
   * Passed through into the request body, e.g. vLLM's `top_k`, `repetition_penalty`. A Qwen3
   * student also gets `chat_template_kwargs: {enable_thinking: false}` unless this sets it.
   */
  extraBody?: Record<string, unknown>;
  /** Max requests in flight, >= 1, default 4. */
  concurrency?: number;
  /** Per-request timeout, ms, default 60 000. */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** The HTTP client; default a keep-alive node:http client sized to `concurrency` (see createHttpFetch). */
  fetch?: FetchLike;
  /** Counts tokens where the server reports no usage; default the Qwen3 tokenizer. */
  countTokens?: (text: string) => Promise<number>;
}

/** Endpoints seen rejecting `n > 1` with a 400 (llama.cpp): later calls go straight to n single calls. */
const endpointsWithoutN = new Set<string>();

interface CallResult {
  texts: string[];
  usage: TokenUsage;
  /** How many of `texts` had the model's reasoning (a `<think>` block) removed. */
  thinkingStripped: number;
}

/** Qwen3 models reason before answering unless told not to; a student should only answer. */
const QWEN3 = /qwen3/i;

/**
 * The extra body actually sent: for a student whose model name contains "qwen3", vLLM's
 * `chat_template_kwargs.enable_thinking` is set to false unless the user set it themselves.
 */
export function effectiveExtraBody(role: 'teacher' | 'student', model: string, extraBody: Record<string, unknown> = {}): Record<string, unknown> {
  if (role !== 'student' || !QWEN3.test(model)) return extraBody;
  const kwargs = extraBody.chat_template_kwargs;
  if (kwargs === undefined || kwargs === null) return { ...extraBody, chat_template_kwargs: { enable_thinking: false } };
  if (typeof kwargs !== 'object' || Array.isArray(kwargs) || 'enable_thinking' in kwargs) return extraBody;
  return { ...extraBody, chat_template_kwargs: { ...kwargs, enable_thinking: false } };
}

/** A failed call: its error code, whether a retry may fix it, the server's Retry-After and HTTP status. */
export class CallFailure extends Error {
  constructor(
    readonly code: QxErrorCode,
    message: string,
    readonly retryable: boolean,
    readonly retryAfterMs?: number,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** Chat completions through the `openai` package, with our own retries, timeouts and concurrency cap. */
export class OpenAiExpander implements Expander {
  readonly provider = 'openai-compatible';
  readonly role: 'teacher' | 'student';
  readonly model: string;
  readonly identity: Record<string, unknown>;
  private readonly policy: RetryPolicy;
  private readonly concurrency: number;
  private readonly timeoutMs: number;
  private readonly count: (text: string) => Promise<number>;
  private countFailure: string | undefined;
  private countFailureLogged = false;
  private readonly extraBody: Record<string, unknown>;
  private client: OpenAI | undefined;

  constructor(private readonly options: OpenAiExpanderOptions) {
    this.role = options.role;
    this.model = options.model;
    this.policy = { ...defaultRetryPolicy, ...options.retry };
    this.concurrency = Math.max(1, Math.floor(options.concurrency ?? 4));
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.count = options.countTokens ?? countTokens;
    this.extraBody = effectiveExtraBody(options.role, options.model, options.extraBody);
    this.identity = {
      provider: this.provider,
      endpoint: normalizeBaseUrl(options.baseUrl),
      model: options.model,
      sampling: options.sampling,
      extraBody: this.extraBody,
    };
  }

  async expand(requests: GenerationRequest[], options: ExpandOptions): Promise<GenerationOutcome[]> {
    const { signal } = options;
    const logger = options.logger ?? nullLogger;
    throwIfAborted(signal);
    const client = await this.getClient();
    // One listener per request in flight (and per backoff sleep) sits on the caller's signal.
    setMaxListeners(Math.max(getMaxListeners(signal), 2 * this.concurrency + 10), signal);
    // A finished call frees its slot at once; its onResult (a cache write) runs beside the next
    // call and is awaited before expand settles, also when it settles by cancellation.
    return runBatch(requests, { concurrency: this.concurrency, signal, onResult: options.onResult, onProgress: options.onProgress }, (request) => this.generate(client, request, signal, logger));
  }

  private async getClient(): Promise<OpenAI> {
    this.client ??= await createOpenAiClient({ ...this.options, concurrency: this.concurrency, timeoutMs: this.timeoutMs });
    return this.client;
  }

  private async generate(client: OpenAI, request: GenerationRequest, signal: AbortSignal, logger: Logger): Promise<GenerationOutcome> {
    const start = Date.now();
    const n = Math.max(1, Math.floor(request.n));
    const first = request.firstSampleIndex ?? 0;
    const endpoint = normalizeBaseUrl(this.options.baseUrl);
    try {
      let result: CallResult[];
      if (n === 1 || endpointsWithoutN.has(endpoint)) {
        result = await this.singles(client, request, n, first, signal, logger);
      } else {
        try {
          result = [await this.withRetries(() => this.call(client, request.messages, n, this.options.sampling.seed, signal), request.key, signal, logger)];
        } catch (e) {
          if (!(e instanceof CallFailure) || e.status !== 400) throw e;
          endpointsWithoutN.add(endpoint);
          logger.info(`${endpoint} rejected n=${n} (${e.message}); drawing samples with separate calls from now on`);
          result = await this.singles(client, request, n, first, signal, logger);
        }
      }
      const texts = result.flatMap((r) => r.texts);
      const stripped = result.reduce((a, r) => a + r.thinkingStripped, 0);
      if (this.countFailure !== undefined && !this.countFailureLogged) {
        this.countFailureLogged = true;
        logger.warn(`the token counter failed (${this.countFailure}); usage the server did not report is estimated as characters / 4`);
      }
      if (stripped > 0) logger.debug(`${request.key}: removed the model's <think> reasoning from ${stripped} of ${texts.length} samples`);
      logger.trace(`${request.key} prompt: ${JSON.stringify(request.messages)} → ${JSON.stringify(texts)}`);
      const usage = result.flatMap((r) => splitUsage(r.usage, r.texts.length));
      return { key: request.key, ok: true, texts, usage, latencyMs: Date.now() - start };
    } catch (e) {
      if (isCancellationError(e) || signal.aborted) throw new CancellationError();
      if (e instanceof CallFailure) return { key: request.key, ok: false, code: e.code, message: e.message };
      if (QxError.is(e, 'auth')) throw e;
      return { key: request.key, ok: false, code: 'badResponse', message: errorMessage(e) };
    }
  }

  private async singles(client: OpenAI, request: GenerationRequest, n: number, first: number, signal: AbortSignal, logger: Logger): Promise<CallResult[]> {
    const out: CallResult[] = [];
    const seed = this.options.sampling.seed;
    for (let i = 0; i < n; i++) {
      out.push(await this.withRetries(() => this.call(client, request.messages, 1, seed === undefined ? undefined : seed + first + i, signal), request.key, signal, logger));
    }
    return out;
  }

  private withRetries(fn: () => Promise<CallResult>, key: string, signal: AbortSignal, logger: Logger): Promise<CallResult> {
    return withRetries(fn, { policy: this.policy, key, signal, logger, asFailure: (e) => (e instanceof CallFailure ? e : undefined) });
  }

  /**
   * Tokens of `text` for a server that reported no usage. A tokenizer that cannot load must not
   * throw away an answer that was already paid for: the count then falls back to characters / 4.
   */
  private async estimateTokens(text: string): Promise<number> {
    try {
      return await this.count(text);
    } catch (e) {
      this.countFailure ??= errorMessage(e);
      return Math.ceil(text.length / 4);
    }
  }

  private async call(client: OpenAI, messages: ChatMessage[], n: number, seed: number | undefined, signal: AbortSignal): Promise<CallResult> {
    const s = this.options.sampling;
    const body: Record<string, unknown> = {
      ...this.extraBody,
      model: this.options.model,
      messages,
      temperature: s.temperature,
      top_p: s.topP,
      max_tokens: s.maxTokens,
      ...(n > 1 ? { n } : {}),
      ...(seed === undefined ? {} : { seed }),
    };
    const response = await createCompletion(client, body, signal, this.timeoutMs);
    const choices: unknown = (response as { choices?: unknown }).choices;
    if (!Array.isArray(choices) || choices.length === 0) throw new CallFailure('badResponse', 'the server returned no choices', false);
    const texts: string[] = [];
    let thinkingStripped = 0;
    const onlyReasoning = 'the model returned only its reasoning and no answer (it ran out of tokens while thinking)';
    const reasoningHint = 'raise max tokens, or turn thinking off (vLLM: extraBody {"chat_template_kwargs": {"enable_thinking": false}})';
    for (const c of choices as unknown[]) {
      // The answer is `content` only: a separate `reasoning_content` (DeepSeek-reasoner, vLLM's
      // reasoning parsers) is never part of an expansion.
      const message = (c as { message?: { content?: unknown; reasoning_content?: unknown } } | null)?.message;
      const content: unknown = message?.content;
      const reasoned = typeof message?.reasoning_content === 'string' && message.reasoning_content.trim() !== '';
      if ((typeof content !== 'string' || content.trim() === '') && reasoned) throw new CallFailure('badResponse', `${onlyReasoning}; ${reasoningHint}`, false);
      if (typeof content !== 'string') throw new CallFailure('badResponse', 'a choice has no message content', false);
      const answer = stripThinking(content);
      if (answer.stripped && (answer.unfinished || answer.text === '')) throw new CallFailure('badResponse', `${onlyReasoning}; ${reasoningHint}`, false);
      if (answer.stripped) thinkingStripped++;
      texts.push(answer.text);
    }
    if (texts.length !== n) throw new CallFailure('badResponse', `the server returned ${texts.length} of ${n} samples`, false);
    const u = response.usage;
    if (u !== undefined && u !== null && Number.isFinite(u.prompt_tokens) && Number.isFinite(u.completion_tokens)) {
      return { texts, usage: { promptTokens: u.prompt_tokens, completionTokens: u.completion_tokens }, thinkingStripped };
    }
    const promptTokens = await this.estimateTokens(messages.map((m) => m.content).join('\n'));
    let completionTokens = 0;
    for (const t of texts) completionTokens += await this.estimateTokens(t);
    return { texts, usage: { promptTokens, completionTokens, estimated: true }, thinkingStripped };
  }
}

/** Maps an `openai` client error to a CallFailure (retryable or not), an auth QxError, or a CancellationError. */
export function classify(e: unknown, signal: AbortSignal, timeoutMs: number): unknown {
  if (signal.aborted || (isCancellationError(e) && !(e instanceof APIConnectionTimeoutError))) return new CancellationError();
  if (e instanceof APIConnectionTimeoutError) return new CallFailure('timeout', `no answer within ${timeoutMs} ms`, true);
  if (e instanceof APIConnectionError) return new CallFailure('network', `cannot reach the endpoint: ${rootCause(e)}`, true);
  if (e instanceof APIError) {
    const status = e.status ?? 0;
    const detail = errorMessage(e);
    if (status === 429) {
      const h = e.headers;
      const ms = h?.get('retry-after-ms');
      const retryAfter = ms !== null && ms !== undefined && /^\d+$/.test(ms) ? Number(ms) : parseRetryAfter(h?.get('retry-after'));
      return new CallFailure('rateLimit', `rate limited (429): ${detail}`, true, retryAfter);
    }
    if (status === 401 || status === 403) return new QxError('auth', `The endpoint rejected the API key (${status}): ${detail}`, { hint: 'Check the key for this endpoint.' });
    if (status === 408 || status >= 500) return new CallFailure('network', `server error ${status}: ${detail}`, true);
    return new CallFailure('config', `the server rejected the request (${status}): ${detail}`, false, undefined, status);
  }
  if (e instanceof SyntaxError) return new CallFailure('badResponse', `malformed JSON from the server: ${e.message}`, false);
  return new CallFailure('badResponse', errorMessage(e), false);
}

/** What building an `openai` client for an endpoint takes (a subset of OpenAiExpanderOptions). */
export interface OpenAiClientOptions {
  baseUrl: string;
  getApiKey: () => Promise<string | undefined> | string | undefined;
  missingKeyHint?: string | undefined;
  requireApiKey?: boolean | undefined;
  concurrency: number;
  timeoutMs: number;
  fetch?: FetchLike | undefined;
}

/**
 * An `openai` client for an OpenAI-compatible endpoint with the client's own retries off (ours
 * apply). Throws QxError('auth') when a key is required and missing.
 */
export async function createOpenAiClient(options: OpenAiClientOptions): Promise<OpenAI> {
  const key = (await options.getApiKey())?.trim();
  if ((key === undefined || key === '') && options.requireApiKey !== false) {
    throw new QxError('auth', `No API key for ${options.baseUrl}.`, {
      hint: options.missingKeyHint ?? 'Set QX_API_KEY (or OPENAI_API_KEY), or run "QX: Set API Key".',
    });
  }
  return new OpenAI({
    apiKey: key === undefined || key === '' ? 'none' : key,
    baseURL: options.baseUrl,
    maxRetries: 0,
    timeout: options.timeoutMs,
    fetch: options.fetch ?? createHttpFetch(options.concurrency),
  });
}

/**
 * One chat-completions call with `body` as the request body; errors are classified (see
 * `classify`). The client leaves a listener on the signal it gets, so it gets a per-call one and a
 * long batch does not pile listeners onto the caller's signal.
 */
export async function createCompletion(client: OpenAI, body: Record<string, unknown>, signal: AbortSignal, timeoutMs: number): Promise<OpenAI.Chat.Completions.ChatCompletion> {
  const call = new AbortController();
  const forward = (): void => call.abort(signal.reason);
  signal.addEventListener('abort', forward, { once: true });
  try {
    return await client.chat.completions.create(body as unknown as OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming, {
      signal: call.signal,
      timeout: timeoutMs,
      maxRetries: 0,
    });
  } catch (e) {
    throw classify(e, signal, timeoutMs);
  } finally {
    signal.removeEventListener('abort', forward);
  }
}

/** Splits one call's usage over its `n` samples so the per-sample figures sum to the call's. */
function splitUsage(u: TokenUsage, n: number): TokenUsage[] {
  if (n <= 1) return [u];
  const out: TokenUsage[] = [];
  for (let i = 0; i < n; i++) {
    const share = (total: number): number => Math.floor(total / n) + (i < total % n ? 1 : 0);
    out.push({ promptTokens: share(u.promptTokens), completionTokens: share(u.completionTokens), ...(u.estimated ? { estimated: true } : {}) });
  }
  return out;
}

/** The base URL without trailing slashes, as it goes into cache keys. */
export function normalizeBaseUrl(url: string): string {
  return url.replace(/\/+$/, '');
}

/** The innermost cause of a connection error ("connect ECONNREFUSED 127.0.0.1:9", not "fetch failed"). */
function rootCause(e: unknown): string {
  let cur: unknown = e;
  for (let depth = 0; depth < 8 && cur instanceof Error && cur.cause !== undefined; depth++) cur = cur.cause;
  return errorMessage(cur);
}
