import { QxError } from '../errors.js';
import type { EndpointSettings } from '../workspace/api.js';
import type { Expander } from './expander.js';
import { OnnxExpander } from './onnxExpander.js';
import { OpenAiExpander } from './openAiExpander.js';

/** What the adapter supplies besides the settings. */
export interface ExpanderHostOptions {
  /** The key for `endpoint.baseUrl`: SecretStorage in the extension, QX_API_KEY/OPENAI_API_KEY in the CLI. */
  getApiKey: () => Promise<string | undefined> | string | undefined;
  /** How to set a missing key, in the adapter's words. */
  missingKeyHint?: string;
  /** Max requests in flight, default 4. */
  concurrency?: number;
  /** Per-request timeout, ms, default 60 000. */
  requestTimeoutMs?: number;
  /** Retries on 429/5xx/timeouts/connection errors, default 4. */
  maxRetries?: number;
}

/**
 * The teacher or student of the settings as an Expander: an OpenAI-compatible endpoint, or (for a
 * student of kind "onnx") the local model folder `modelPath`. Nothing is loaded or contacted yet.
 */
export function createExpander(role: 'teacher' | 'student', endpoint: EndpointSettings & { kind?: 'openai' | 'onnx'; modelPath?: string }, host: ExpanderHostOptions): Expander {
  const sampling = { temperature: endpoint.temperature, topP: endpoint.topP, maxTokens: endpoint.maxTokens, ...(endpoint.seed === undefined ? {} : { seed: endpoint.seed }) };
  if (endpoint.kind === 'onnx') {
    if (endpoint.modelPath === undefined || endpoint.modelPath.trim() === '') {
      throw new QxError('config', `The ${role} is a local ONNX model but no model folder is set.`, { hint: 'Set the model path to a folder with config.json, tokenizer.json and onnx/model.onnx.' });
    }
    return new OnnxExpander({ role, modelPath: endpoint.modelPath, ...(endpoint.model === '' ? {} : { model: endpoint.model }), sampling });
  }
  return new OpenAiExpander({
    role,
    baseUrl: endpoint.baseUrl,
    model: endpoint.model,
    getApiKey: host.getApiKey,
    ...(host.missingKeyHint === undefined ? {} : { missingKeyHint: host.missingKeyHint }),
    sampling,
    ...(endpoint.extraBody === undefined ? {} : { extraBody: endpoint.extraBody }),
    ...(host.concurrency === undefined ? {} : { concurrency: host.concurrency }),
    ...(host.requestTimeoutMs === undefined ? {} : { timeoutMs: host.requestTimeoutMs }),
    ...(host.maxRetries === undefined ? {} : { retry: { maxRetries: host.maxRetries } }),
  });
}
