import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { CancellationError, QxError, errorMessage, throwIfAborted } from '../errors.js';
import { nullLogger } from '../logger.js';
import type { ChatMessage, ExpandOptions, Expander, GenerationOutcome, GenerationRequest, SamplingParams } from './expander.js';
import type { TokenUsage } from './types.js';
import { stripThinking } from './thinking.js';

/** A local text-generation model folder in the transformers.js layout (config, tokenizer, onnx/). */
export interface OnnxExpanderOptions {
  role: 'teacher' | 'student';
  /** The model folder, e.g. ".../Qwen2.5-0.5B-Instruct" holding config.json, tokenizer.json, onnx/model*.onnx. */
  modelPath: string;
  /** Name shown in records, default the folder name. */
  model?: string;
  /**
   * `temperature` 0 means greedy decoding; otherwise samples with temperature and top_p.
   * `maxTokens` is always passed as max_new_tokens (the pipeline's own default is 256). No seed.
   */
  sampling: SamplingParams;
  /** Weights variant: "fp32" reads onnx/model.onnx, "q8" model_quantized.onnx, "q4" model_q4.onnx, "fp16" model_fp16.onnx. Default "fp32". */
  dtype?: 'fp32' | 'fp16' | 'q8' | 'q4' | 'q4f16';
}

interface Tokenizer {
  apply_chat_template(messages: ChatMessage[], options: { add_generation_prompt: boolean; tokenize: false }): string;
  encode(text: string, options?: { add_special_tokens?: boolean }): number[];
}

interface Generator {
  (messages: ChatMessage[], options: Record<string, unknown>): Promise<unknown>;
  tokenizer: Tokenizer;
}

/** A weights variant of a transformers.js model folder. */
export type OnnxDtype = NonNullable<OnnxExpanderOptions['dtype']>;

/** The file under onnx/ that holds each weights variant. */
export const ONNX_WEIGHT_FILES: Record<OnnxDtype, string> = {
  fp32: 'model.onnx',
  fp16: 'model_fp16.onnx',
  q8: 'model_quantized.onnx',
  q4: 'model_q4.onnx',
  q4f16: 'model_q4f16.onnx',
};

/** Every weights variant, as `--dtype` accepts them: fp32, fp16, q8, q4, q4f16. */
export const ONNX_DTYPES = Object.keys(ONNX_WEIGHT_FILES) as readonly OnnxDtype[];

/**
 * Checks a model folder before transformers.js sees it, whose own errors for a missing file are
 * unreadable. Throws QxError('modelLoad') naming the folder and the missing file.
 */
export function checkModelFolder(folder: string, dtype: OnnxDtype = 'fp32', what = 'the student model path'): void {
  if (!existsSync(folder) || !statSync(folder).isDirectory()) {
    throw new QxError('modelLoad', `The model folder ${folder} does not exist.`, { hint: `Point ${what} at a folder with config.json, tokenizer.json and onnx/.` });
  }
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) {
    if (!existsSync(join(folder, f))) {
      throw new QxError('modelLoad', `The model folder ${folder} has no ${f}.`, { hint: `Export the model with its tokenizer (e.g. optimum-cli export onnx) so the folder holds ${f}.` });
    }
  }
  const weights = join(folder, 'onnx', ONNX_WEIGHT_FILES[dtype]);
  if (!existsSync(weights)) {
    const present = existsSync(join(folder, 'onnx')) ? readdirSync(join(folder, 'onnx')).filter((n) => n.endsWith('.onnx')) : [];
    throw new QxError('modelLoad', `The model folder ${folder} has no onnx/${ONNX_WEIGHT_FILES[dtype]} (dtype ${dtype}).`, {
      hint: present.length > 0 ? `It holds ${present.join(', ')}: pick the matching dtype.` : 'Put the exported ONNX weights under onnx/.',
    });
  }
}

/**
 * Imports @huggingface/transformers (and with it the onnxruntime-node addon: call this only when a
 * model is needed) set to load `folder` from disk only, remote models off. Returns the module and
 * the name to pass to `from_pretrained`/`pipeline`.
 */
export async function localTransformers(folder: string): Promise<{ t: typeof import('@huggingface/transformers'); name: string }> {
  const t = await import('@huggingface/transformers');
  t.env.allowRemoteModels = false;
  t.env.allowLocalModels = true;
  t.env.localModelPath = dirname(folder);
  return { t, name: basename(folder) };
}

/**
 * A local student (or teacher) through @huggingface/transformers on onnxruntime-node. Loaded lazily
 * on the first call (the native addon is never loaded at activation), from the local folder only:
 * remote models are switched off. Requests run one at a time; the signal is checked between
 * samples.
 */
export class OnnxExpander implements Expander {
  readonly provider = 'onnx';
  readonly role: 'teacher' | 'student';
  readonly model: string;
  readonly identity: Record<string, unknown>;
  private readonly folder: string;
  private readonly dtype: NonNullable<OnnxExpanderOptions['dtype']>;
  private generator: Promise<Generator> | undefined;

  constructor(private readonly options: OnnxExpanderOptions) {
    this.folder = resolve(options.modelPath);
    this.role = options.role;
    this.model = options.model ?? basename(this.folder);
    this.dtype = options.dtype ?? 'fp32';
    this.identity = { provider: this.provider, modelPath: this.folder, model: this.model, dtype: this.dtype, sampling: options.sampling };
  }

  private load(): Promise<Generator> {
    this.generator ??= (async () => {
      checkModelFolder(this.folder, this.dtype);
      const { t, name } = await localTransformers(this.folder);
      try {
        return (await t.pipeline('text-generation', name, { dtype: this.dtype })) as unknown as Generator;
      } catch (e) {
        throw new QxError('modelLoad', `Cannot load the model in ${this.folder}: ${errorMessage(e)}`, { cause: e, hint: 'Check that it is a text-generation (causal LM) export for transformers.js.' });
      }
    })();
    this.generator.catch(() => {
      this.generator = undefined;
    });
    return this.generator;
  }

  async expand(requests: GenerationRequest[], options: ExpandOptions): Promise<GenerationOutcome[]> {
    const { signal } = options;
    const logger = options.logger ?? nullLogger;
    throwIfAborted(signal);
    const generator = await this.load();
    const s = this.options.sampling;
    const greedy = s.temperature <= 0;
    const outcomes: GenerationOutcome[] = [];
    for (const [done, request] of requests.entries()) {
      throwIfAborted(signal);
      const start = Date.now();
      let outcome: GenerationOutcome;
      try {
        const texts: string[] = [];
        const usage: TokenUsage[] = [];
        const prompt = generator.tokenizer.apply_chat_template(request.messages, { add_generation_prompt: true, tokenize: false });
        const promptTokens = generator.tokenizer.encode(prompt, { add_special_tokens: false }).length;
        for (let i = 0; i < Math.max(1, request.n); i++) {
          if (signal.aborted) throw new CancellationError();
          const out = await generator(request.messages, {
            max_new_tokens: s.maxTokens,
            do_sample: !greedy,
            ...(greedy ? {} : { temperature: s.temperature, top_p: s.topP }),
          });
          const answer = stripThinking(assistantText(out));
          if (answer.stripped && answer.text === '') throw new Error('the model returned only its reasoning (<think>) and no answer; raise max tokens');
          const text = answer.text;
          texts.push(text);
          usage.push({ promptTokens, completionTokens: generator.tokenizer.encode(text, { add_special_tokens: false }).length });
          logger.trace(`${this.model} → ${text}`);
        }
        outcome = { key: request.key, ok: true, texts, usage, latencyMs: Date.now() - start };
      } catch (e) {
        if (e instanceof CancellationError) throw e;
        outcome = { key: request.key, ok: false, code: 'badResponse', message: `local generation failed: ${errorMessage(e)}` };
      }
      await options.onResult?.(outcome);
      options.onProgress?.({ done: done + 1, total: requests.length, unit: 'requests' });
      outcomes.push(outcome);
    }
    return outcomes;
  }
}

/** The assistant's reply in a chat-mode pipeline output: `[{ generated_text: [...messages, reply] }]`. */
function assistantText(out: unknown): string {
  const first = Array.isArray(out) ? (out[0] as { generated_text?: unknown } | undefined) : undefined;
  const g = first?.generated_text;
  if (typeof g === 'string') return g;
  if (Array.isArray(g)) {
    const last = g[g.length - 1] as { role?: unknown; content?: unknown } | undefined;
    if (last?.role === 'assistant' && typeof last.content === 'string') return last.content;
  }
  throw new Error('the pipeline returned no assistant message');
}
