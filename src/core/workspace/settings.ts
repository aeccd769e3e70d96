import { defaultPairRules } from '../curation/types.js';
import type { QxSettings } from './api.js';

/**
 * The settings the CLI uses and the extension's `contributes.configuration` declares (a unit test
 * keeps the two equal). Teacher: DeepSeek's OpenAI-compatible API (`deepseek-chat`), temperature 1,
 * top-p 1, 128 tokens (QueryGym's query2doc setting). Student: Qwen3-4B (the product paper's
 * student) on a local OpenAI-compatible server such as vLLM at http://127.0.0.1:8000/v1, with
 * thinking turned off (see `effectiveExtraBody`). Retrieval: Anserini/Pyserini
 * BM25 (k1 0.9, b 0.4, Lucene norms, English analyzer), top 1000. Pairs: `defaultPairRules`.
 */
export const defaultSettings: QxSettings = {
  teacher: {
    baseUrl: 'https://api.deepseek.com/v1',
    model: 'deepseek-chat',
    temperature: 1,
    topP: 1,
    maxTokens: 128,
    samples: 1,
    extraBody: {},
  },
  student: {
    kind: 'openai',
    modelPath: '',
    baseUrl: 'http://127.0.0.1:8000/v1',
    model: 'Qwen/Qwen3-4B',
    temperature: 0.7,
    topP: 1,
    maxTokens: 128,
    samples: 1,
    extraBody: {},
  },
  bm25: { k1: 0.9, b: 0.4, analyzer: 'english', luceneNorms: true, topK: 1000 },
  pairs: { ...defaultPairRules },
  concurrency: 4,
  requestTimeoutMs: 60_000,
  maxRetries: 4,
};

/** A deep copy of {@link defaultSettings} with `patch` applied section by section. */
export function withSettings(patch: { [K in keyof QxSettings]?: Partial<QxSettings[K]> } = {}): QxSettings {
  const base = structuredClone(defaultSettings);
  return {
    ...base,
    ...(patch.concurrency === undefined ? {} : { concurrency: patch.concurrency as number }),
    ...(patch.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: patch.requestTimeoutMs as number }),
    ...(patch.maxRetries === undefined ? {} : { maxRetries: patch.maxRetries as number }),
    teacher: { ...base.teacher, ...patch.teacher },
    student: { ...base.student, ...patch.student },
    bm25: { ...base.bm25, ...patch.bm25 },
    pairs: { ...base.pairs, ...patch.pairs },
  };
}
