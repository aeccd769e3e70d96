import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { CancellationError, QxError, errorMessage, throwIfAborted } from '../errors.js';
import type { ChatMessage } from '../expansion/expander.js';
import { ONNX_WEIGHT_FILES, type OnnxDtype, checkModelFolder, localTransformers } from '../expansion/onnxExpander.js';
import { nullLogger } from '../logger.js';
import type { JudgeCallOptions, JudgeOutcome, JudgeRequest, RelevanceJudge } from './types.js';
import { norm } from './template.js';

/** How a local judge model reads a (query, document). */
export type OnnxJudgeKind = 'cross-encoder' | 'causal-lm';

/** A local relevance judge: a transformers.js model folder (config, tokenizer, onnx/) run in-process. */
export interface OnnxJudgeOptions {
  /** The model folder holding config.json, tokenizer.json, tokenizer_config.json and onnx/model*.onnx. */
  modelPath: string;
  /** Name stored in judgments and in the judgments file name, default the folder name. */
  model?: string;
  /** Weights variant: "fp32" reads onnx/model.onnx, "q8" model_quantized.onnx, "q4" model_q4.onnx, "fp16" model_fp16.onnx. Default "fp32". */
  dtype?: OnnxDtype;
  /**
   * "cross-encoder" (a sequence-classification head over the (query, document) pair) or
   * "causal-lm" (the judge template through the tokenizer's chat template, one forward pass).
   * Default: from config.json `architectures` (`*ForSequenceClassification` or `*ForCausalLM`).
   */
  kind?: OnnxJudgeKind;
  /** Documents per forward pass of a cross-encoder, >= 1, default 16. A causal LM runs one prompt per pass. */
  batchSize?: number;
  /** Cross-encoder: (query, document) tokens kept, default the tokenizer's model_max_length capped at 512. */
  maxLength?: number;
}

/** Top alternatives a causal-LM judge reports beside the label tokens, like a server's top_logprobs (20). */
const TOP_ALTERNATIVES = 20;
/** The weights are fingerprinted from this many evenly spaced samples of this many bytes (4 MiB read at most). */
const FINGERPRINT_SAMPLES = 256;
const FINGERPRINT_SAMPLE_BYTES = 16 << 10;

interface Tensor {
  dims: number[];
  data: ArrayLike<number | bigint>;
}

interface Tokenizer {
  (text: string | string[], options?: Record<string, unknown>): Record<string, Tensor>;
  apply_chat_template(messages: ChatMessage[], options: Record<string, unknown>): string;
  encode(text: string, options?: { add_special_tokens?: boolean }): number[];
  decode(ids: number[], options?: { skip_special_tokens?: boolean }): string;
  chat_template?: unknown;
  model_max_length: number;
}

type Model = (inputs: Record<string, Tensor>) => Promise<{ logits: Tensor }>;

interface Loaded {
  tokenizer: Tokenizer;
  model: Model;
  /** `num_logits_to_keep` = 1, for exports that declare it (others never see it). */
  lastOnly: Tensor;
}

/**
 * A fingerprint of a model folder's content (sha256, hex): config.json, tokenizer.json,
 * tokenizer_config.json in full and, of the weights file of `dtype` (and its external `_data` file,
 * if any), the size and 256 evenly spaced 16 KiB samples from the first to the last byte (the whole
 * file when smaller than 4 MiB). A re-export or a fine-tuned checkpoint changes it (their changed
 * weights span the file); copying or moving the folder does not. Part of a local judge's cache
 * identity instead of the folder path.
 */
export function modelFolderFingerprint(folder: string, dtype: OnnxDtype = 'fp32'): string {
  const h = createHash('sha256');
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) {
    h.update(`${f}\0`);
    h.update(readFileSync(join(folder, f)));
  }
  const weights = join(folder, 'onnx', ONNX_WEIGHT_FILES[dtype]);
  for (const file of [weights, `${weights}_data`]) {
    if (!existsSync(file)) continue;
    const size = statSync(file).size;
    h.update(`${basename(file)}\0${size}\0`);
    if (size <= FINGERPRINT_SAMPLES * FINGERPRINT_SAMPLE_BYTES) {
      h.update(readFileSync(file));
      continue;
    }
    const fd = openSync(file, 'r');
    try {
      const buf = Buffer.alloc(FINGERPRINT_SAMPLE_BYTES);
      const step = (size - buf.length) / (FINGERPRINT_SAMPLES - 1);
      for (let i = 0; i < FINGERPRINT_SAMPLES; i++) {
        readSync(fd, buf, 0, buf.length, Math.round(i * step));
        h.update(buf);
      }
    } finally {
      closeSync(fd);
    }
  }
  return h.digest('hex');
}

/** The judge kind a config.json declares through `architectures`, or undefined. */
function kindOf(folder: string): OnnxJudgeKind | undefined {
  let config: { architectures?: unknown };
  try {
    config = JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8')) as { architectures?: unknown };
  } catch (e) {
    throw new QxError('modelLoad', `Cannot read ${join(folder, 'config.json')}: ${errorMessage(e)}`, { file: join(folder, 'config.json'), cause: e });
  }
  const arch = Array.isArray(config.architectures) ? config.architectures.filter((a): a is string => typeof a === 'string') : [];
  if (arch.some((a) => a.endsWith('ForSequenceClassification'))) return 'cross-encoder';
  if (arch.some((a) => a.endsWith('ForCausalLM'))) return 'causal-lm';
  return undefined;
}


/** log(sigmoid(z)), stable for large |z|. */
function logSigmoid(z: number): number {
  return z >= 0 ? -Math.log1p(Math.exp(-z)) : z - Math.log1p(Math.exp(z));
}

/** The ids of the `k` largest values, largest first (one pass; ties keep the lower id first). */
function topIds(row: Float64Array, k: number): number[] {
  const top: number[] = [];
  for (let id = 0; id < row.length; id++) {
    const x = row[id] as number;
    if (top.length === k && x <= (row[top[k - 1] as number] as number)) continue;
    let at = top.length;
    while (at > 0 && x > (row[top[at - 1] as number] as number)) at--;
    top.splice(at, 0, id);
    if (top.length > k) top.pop();
  }
  return top;
}

/**
 * A relevance judge on a local ONNX model through @huggingface/transformers on onnxruntime-node,
 * driven by the same runner as the OpenAI-compatible judge (cache, progress, storage), with the
 * same scoring rule applied to what it reports:
 *
 * - cross-encoder (sequence classification): P(relevant) = sigmoid(logit) for one output, or
 *   softmax(logits)[1] for two; reported as the binary template's two label tokens, so the score is
 *   P(Yes) / (P(Yes) + P(No)) = P(relevant). Graded templates are refused.
 * - causal LM: the judge template (document first) through the tokenizer's chat template (with
 *   `enable_thinking: false`), one forward pass, log-softmax of the next-token logits; reported as
 *   the top 20 alternatives plus every single-token spelling of each label ("Yes", " yes", …), so
 *   binary and graded templates score exactly as with a server's top_logprobs.
 *
 * The folder is checked and fingerprinted when the judge is made (clear QxError('modelLoad')
 * naming the folder and the missing file); the native module is imported on the first call. The
 * signal is checked between batches (a cross-encoder batch, or one causal-LM prompt).
 */
export class OnnxJudge implements RelevanceJudge {
  readonly provider = 'onnx';
  readonly model: string;
  readonly endpoint: string;
  readonly kind: OnnxJudgeKind;
  readonly identity: Record<string, unknown>;
  private readonly dtype: OnnxDtype;
  private readonly batchSize: number;
  private loaded: Promise<Loaded> | undefined;
  private readonly labelIds = new Map<string, number[]>();

  constructor(private readonly options: OnnxJudgeOptions) {
    const folder = resolve(options.modelPath);
    this.endpoint = folder;
    this.dtype = options.dtype ?? 'fp32';
    checkModelFolder(folder, this.dtype, 'the judge model path');
    const kind = options.kind ?? kindOf(folder);
    if (kind === undefined) {
      throw new QxError('modelLoad', `The config.json of ${folder} names no *ForSequenceClassification or *ForCausalLM architecture, so it is not known how to judge with it.`, {
        file: join(folder, 'config.json'),
        hint: 'Export a cross-encoder (optimum-cli export onnx --task text-classification) or a causal LM (--task text-generation-with-past); its config.json lists the architecture, e.g. "BertForSequenceClassification".',
      });
    }
    this.kind = kind;
    this.model = options.model ?? basename(folder);
    this.batchSize = kind === 'cross-encoder' ? Math.max(1, Math.floor(options.batchSize ?? 16)) : 1;
    this.identity = {
      provider: this.provider,
      kind: 'judge',
      judgeKind: kind,
      dtype: this.dtype,
      fingerprint: modelFolderFingerprint(folder, this.dtype),
      ...(kind === 'cross-encoder' ? { maxLength: options.maxLength ?? null } : { topAlternatives: TOP_ALTERNATIVES }),
    };
  }

  private load(): Promise<Loaded> {
    this.loaded ??= (async () => {
      const { t, name } = await localTransformers(this.endpoint);
      try {
        const tokenizer = (await t.AutoTokenizer.from_pretrained(name)) as unknown as Tokenizer;
        const auto = this.kind === 'cross-encoder' ? t.AutoModelForSequenceClassification : t.AutoModelForCausalLM;
        const model = (await auto.from_pretrained(name, { dtype: this.dtype })) as unknown as Model;
        return { tokenizer, model, lastOnly: new t.Tensor('int64', [1n], []) as unknown as Tensor };
      } catch (e) {
        throw new QxError('modelLoad', `Cannot load the ${this.kind} judge in ${this.endpoint}: ${errorMessage(e)}`, { cause: e, hint: `Check that it is a ${this.kind === 'cross-encoder' ? 'text-classification' : 'text-generation'} export for transformers.js (optimum-cli export onnx).` });
      }
    })();
    this.loaded.catch(() => {
      this.loaded = undefined;
    });
    return this.loaded;
  }

  async judge(requests: JudgeRequest[], options: JudgeCallOptions): Promise<JudgeOutcome[]> {
    const { signal } = options;
    const logger = options.logger ?? nullLogger;
    throwIfAborted(signal);
    const labels = options.labels ?? [];
    if (this.kind === 'cross-encoder' && labels.length !== 2) {
      throw new QxError('config', `${this.model} is a cross-encoder: it gives one relevance probability, not ${labels.length} grades`, { hint: 'Judge with the binary template (judge-binary), or use a causal LM for graded judgments.' });
    }
    const loaded = await this.load();
    if (this.kind === 'causal-lm') this.checkLabels(loaded.tokenizer, labels);
    const outcomes: JudgeOutcome[] = [];
    for (let i = 0; i < requests.length; i += this.batchSize) {
      if (signal.aborted) throw new CancellationError();
      const batch = requests.slice(i, i + this.batchSize);
      const start = Date.now();
      let results: JudgeOutcome[];
      try {
        results = this.kind === 'cross-encoder' ? await this.crossEncode(loaded, batch, labels, start) : [await this.nextToken(loaded, batch[0] as JudgeRequest, labels, start)];
      } catch (e) {
        if (QxError.is(e)) throw e;
        results = batch.map((r) => ({ key: r.key, ok: false as const, code: 'badResponse' as const, message: `local judging failed: ${errorMessage(e)}` }));
      }
      for (const o of results) {
        if (o.ok) logger.trace(`${o.key} → ${JSON.stringify(o.token)} ${JSON.stringify(o.topLogprobs.slice(0, 4))}`);
        await options.onResult?.(o);
        outcomes.push(o);
      }
      options.onProgress?.({ done: outcomes.length, total: requests.length, unit: 'documents' });
    }
    return outcomes;
  }

  private async crossEncode({ tokenizer, model }: Loaded, batch: JudgeRequest[], labels: readonly string[], start: number): Promise<JudgeOutcome[]> {
    const pairs = batch.map((r) => {
      if (r.pair === undefined) throw new QxError('config', `request ${r.key} has no (query, document) pair for the cross-encoder ${this.model}`);
      return { query: r.pair.query.trim(), document: r.pair.document.replace(/\s+/g, ' ').trim() };
    });
    const maxLength = this.options.maxLength ?? Math.min(512, Number.isFinite(tokenizer.model_max_length) ? tokenizer.model_max_length : 512);
    const inputs = tokenizer(
      pairs.map((p) => p.query),
      // Segment ids as the tokenizer's post-processor assigns them (document = 1 for BERT-style
      // models); transformers.js returns them only for a few tokenizer classes unless asked.
      { text_pair: pairs.map((p) => p.document), padding: true, truncation: true, max_length: maxLength, return_token_type_ids: true },
    );
    const { logits } = await model(inputs);
    const [rows, width] = logits.dims as [number, number];
    if (rows !== batch.length || (width !== 1 && width !== 2)) {
      throw new QxError('modelLoad', `The cross-encoder in ${this.endpoint} returns logits of shape [${logits.dims.join(', ')}]; the judge reads one logit (sigmoid) or two (softmax, label 1 = relevant) per document.`, {
        hint: 'Use a relevance cross-encoder (e.g. cross-encoder/ms-marco-MiniLM-L6-v2) exported with --task text-classification.',
      });
    }
    const mask = inputs.attention_mask;
    const seq = mask?.dims[1] ?? 0;
    const latencyMs = Math.round((Date.now() - start) / batch.length);
    const [no, yes] = labels as [string, string];
    return batch.map((r, b) => {
      const z = Number(logits.data[b * width + width - 1]);
      // Two labels: log softmax of label 1; one: log sigmoid. Either way P(no) = 1 - P(yes).
      const margin = width === 1 ? z : z - Number(logits.data[b * width]);
      const lpYes = logSigmoid(margin);
      const lpNo = logSigmoid(-margin);
      let promptTokens = 0;
      for (let t = 0; t < seq; t++) promptTokens += Number(mask?.data[b * seq + t] ?? 0);
      return { key: r.key, ok: true as const, token: margin >= 0 ? yes : no, topLogprobs: [{ token: yes, logprob: lpYes }, { token: no, logprob: lpNo }], usage: { promptTokens, completionTokens: 0 }, latencyMs };
    });
  }

  private async nextToken({ tokenizer, model, lastOnly }: Loaded, request: JudgeRequest, labels: readonly string[], start: number): Promise<JudgeOutcome> {
    if (tokenizer.chat_template === undefined || tokenizer.chat_template === null) {
      throw new QxError('modelLoad', `The tokenizer in ${this.endpoint} has no chat_template, so the judge prompt cannot be laid out for it.`, { file: join(this.endpoint, 'tokenizer_config.json'), hint: 'Use an instruction-tuned model whose tokenizer_config.json holds a chat_template (e.g. Qwen2.5-0.5B-Instruct).' });
    }
    const prompt = tokenizer.apply_chat_template(request.messages, { add_generation_prompt: true, tokenize: false, enable_thinking: false });
    const inputs = tokenizer(prompt, { add_special_tokens: false });
    // Only the last position is read; an export with num_logits_to_keep then skips the LM head elsewhere.
    const { logits } = await model({ ...inputs, num_logits_to_keep: lastOnly });
    const [, steps, vocab] = logits.dims as [number, number, number];
    const row = Float64Array.from({ length: vocab }, (_, v) => Number(logits.data[(steps - 1) * vocab + v]));
    let max = -Infinity;
    for (const x of row) if (x > max) max = x;
    let sum = 0;
    for (const x of row) sum += Math.exp(x - max);
    const logZ = max + Math.log(sum);
    // The top alternatives, then every spelling of every label (each token id once).
    const ids = topIds(row, TOP_ALTERNATIVES);
    for (const l of labels) for (const id of this.labelIds.get(l) ?? []) if (!ids.includes(id)) ids.push(id);
    const topLogprobs = ids.map((id) => ({ token: tokenizer.decode([id], { skip_special_tokens: false }), logprob: (row[id] as number) - logZ }));
    return { key: request.key, ok: true, token: topLogprobs[0]?.token ?? '', topLogprobs, usage: { promptTokens: inputs.input_ids?.dims[1] ?? 0, completionTokens: 0 }, latencyMs: Date.now() - start };
  }

  /** Finds each label's single-token spellings (case, leading space) once; a label with none cannot be scored. */
  private checkLabels(tokenizer: Tokenizer, labels: readonly string[]): void {
    for (const label of labels) {
      if (this.labelIds.has(label)) continue;
      const want = norm(label);
      const found = new Set<number>();
      const cap = want.charAt(0).toUpperCase() + want.slice(1);
      for (const v of new Set([label, want, cap, want.toUpperCase()])) {
        for (const text of [v, ` ${v}`]) {
          const ids = tokenizer.encode(text, { add_special_tokens: false });
          if (ids.length === 1 && norm(tokenizer.decode(ids, { skip_special_tokens: false })) === want) found.add(ids[0] as number);
        }
      }
      if (found.size === 0) {
        throw new QxError('config', `The label "${label}" is not one token of the tokenizer in ${this.endpoint}, so its probability cannot be read from the next-token logits.`, { hint: 'Use a template whose labels are single tokens for this model (e.g. Yes/No, 0-3).' });
      }
      this.labelIds.set(label, [...found]);
    }
  }
}
