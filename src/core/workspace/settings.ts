import { defaultPairRules } from '../curation/types.js';
import type { QxSettings } from './api.js';

/**
 * The settings the CLI uses and the extension's `contributes.configuration` declares (a unit test
 * keeps the two equal). Teacher: DeepSeek's OpenAI-compatible API (`deepseek-chat`), temperature 1,
 * top-p 1, 128 tokens (QueryGym's query2doc setting). Student: Qwen3-4B (the product paper's
 * student) on a local OpenAI-compatible server such as vLLM at http://127.0.0.1:8000/v1, with
 * thinking turned off (see `effectiveExtraBody`). Retrieval: Anserini/Pyserini
 * BM25 (k1 0.9, b 0.4, Lucene norms, the analyzer of the dataset's language: see
 * `effectiveAnalyzer`), top 1000. Pairs: `defaultPairRules`.
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
  bm25: { k1: 0.9, b: 0.4, analyzer: 'auto', luceneNorms: true, topK: 1000 },
  pairs: { ...defaultPairRules },
  concurrency: 4,
  requestTimeoutMs: 60_000,
  maxRetries: 4,
  judge: { baseUrl: '', model: '', template: 'judge-binary', topLogprobs: 20, includeJudged: false },
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

/** The analyzer names the BM25 engine knows ("auto" is resolved before it gets there). */
export type AnalyzerName = Exclude<QxSettings['bm25']['analyzer'], 'auto'>;

/** Primary subtag of a BCP-47 language tag, lowercased: "zh-Hans" → "zh". */
export function primaryLanguage(language: string): string {
  return language.split('-')[0]!.toLowerCase();
}

/**
 * The analyzer a workspace scores with: the setting, unless it is "auto", in which case the
 * dataset's language picks it: Chinese, Japanese and Korean get Lucene's CJK bigrams (`cjk`),
 * everything else the English chain (`english`, the default before "auto" existed, so English
 * workspaces keep their index and scores).
 */
export function effectiveAnalyzer(setting: QxSettings['bm25']['analyzer'], language: string): AnalyzerName {
  if (setting !== 'auto') return setting;
  return ['zh', 'ja', 'ko'].includes(primaryLanguage(language)) ? 'cjk' : 'english';
}

/** The zero-shot query2doc template of a dataset language: `query2doc-zh` for Chinese, else `query2doc-zs`. */
export function defaultTemplateId(language: string): string {
  return primaryLanguage(language) === 'zh' ? 'query2doc-zh' : 'query2doc-zs';
}
