import * as vscode from 'vscode';
import type { EndpointSettings, JudgeRequest, JudgeSettings, QxSettings } from '../core/workspace/api.js';
import { pairStrategies, type PairRules } from '../core/curation/types.js';
import { resolveJudgeTemplateSpec } from '../core/judge/template.js';

/**
 * Typed reader of the `qx.*` settings. The `contributes.configuration` schema owns the defaults;
 * the fallbacks here only guard against a user writing a value of the wrong type.
 */
export const configSection = 'qx';

type Get = <T>(key: string, fallback: T) => T;

function getter(config: vscode.WorkspaceConfiguration): Get {
  return <T>(key: string, fallback: T): T => {
    const v = config.get<unknown>(key);
    if (v === undefined || v === null) return fallback;
    if (Array.isArray(fallback)) return (Array.isArray(v) ? v : fallback) as T;
    return (typeof v === typeof fallback ? v : fallback) as T;
  };
}

function finite(v: number, fallback: number): number {
  return Number.isFinite(v) ? v : fallback;
}

function endpoint(get: Get, who: 'teacher' | 'student'): EndpointSettings {
  const seed = get<number | null>(`${who}.seed`, null as number | null);
  const extra = get<Record<string, unknown>>(`${who}.extraBody`, {});
  return {
    baseUrl: get(`${who}.baseUrl`, '').trim().replace(/\/+$/, ''),
    model: get(`${who}.model`, '').trim(),
    temperature: finite(get(`${who}.temperature`, 1), 1),
    topP: finite(get(`${who}.topP`, 1), 1),
    maxTokens: Math.max(1, Math.round(get(`${who}.maxTokens`, 128))),
    ...(typeof seed === 'number' && Number.isInteger(seed) ? { seed } : {}),
    samples: Math.max(1, Math.round(get(`${who}.samples`, 1))),
    ...(typeof extra === 'object' && Object.keys(extra).length > 0 ? { extraBody: extra } : {}),
  };
}

/** Reads every `qx.*` setting into the plain object the core takes. */
export function readSettings(config: vscode.WorkspaceConfiguration = vscode.workspace.getConfiguration(configSection)): QxSettings {
  const get = getter(config);
  const modelPath = get('student.modelPath', '').trim();
  const analyzer = get<string>('bm25.analyzer', 'auto');
  const pairs: PairRules = {
    pools: get<string[]>('pairs.pools', []).filter((p): p is string => typeof p === 'string'),
    minMargin: finite(get('pairs.minMargin', 0.05), 0.05),
    strategy: pairStrategies.find((s) => s === get<string>('pairs.strategy', 'best-worst')) ?? 'best-worst',
    maxPairsPerQuery: Math.max(1, Math.round(get('pairs.maxPairsPerQuery', 5))),
    sigmaK: Math.max(0, finite(get('pairs.sigmaK', 2), 2)),
    maxMargin: Math.min(1, Math.max(0, finite(get('pairs.maxMargin', 1), 1))),
    maxLengthRatio: Math.max(0, finite(get('pairs.maxLengthRatio', 0), 0)),
    lengthMatch: get('pairs.lengthMatch', false),
    task: get('pairs.task', '').trim(),
    includeRetrievalConditioned: get('pairs.includeRetrievalConditioned', false),
    tiePolicy: ((t) => (t === 'prefer-shorter' || t === 'prefer-cheaper' ? t : 'skip'))(get<string>('pairs.tiePolicy', 'skip')),
    requireChosenBeatsOriginal: get('pairs.requireChosenBeatsOriginal', true),
  };
  return {
    teacher: endpoint(get, 'teacher'),
    student: {
      ...endpoint(get, 'student'),
      kind: get<string>('student.kind', 'openai') === 'onnx' ? 'onnx' : 'openai',
      ...(modelPath.length > 0 ? { modelPath } : {}),
    },
    bm25: {
      k1: finite(get('bm25.k1', 0.9), 0.9),
      b: finite(get('bm25.b', 0.4), 0.4),
      analyzer: analyzer === 'english' || analyzer === 'cjk' || analyzer === 'whitespace' ? analyzer : 'auto',
      luceneNorms: get('bm25.luceneNorms', true),
      topK: Math.max(10, Math.round(get('bm25.topK', 1000))),
    },
    pairs,
    concurrency: Math.max(1, Math.round(get('concurrency', 4))),
    requestTimeoutMs: Math.max(1000, Math.round(get('requestTimeoutMs', 60000))),
    maxRetries: Math.max(0, Math.round(get('maxRetries', 4))),
    judge: judgeSettings(get),
  };
}

function judgeSettings(get: Get): JudgeSettings {
  return {
    baseUrl: get('judge.baseUrl', '').trim().replace(/\/+$/, ''),
    model: get('judge.model', '').trim(),
    template: get('judge.template', 'judge-binary').trim() || 'judge-binary',
    topLogprobs: Math.min(20, Math.max(1, Math.round(finite(get('judge.topLogprobs', 20), 20)))),
    includeJudged: get('judge.includeJudged', false),
  };
}

/**
 * What the judge commands run, from `qx.judge.*`: endpoint and model (each empty = the teacher's),
 * the template ("judge-binary", "judge-graded", or a file, relative to the workspace root).
 */
export function readJudgeSettings(root: string, settings: QxSettings = readSettings()): JudgeRequest {
  const j = settings.judge ?? judgeSettings(getter(vscode.workspace.getConfiguration(configSection)));
  return {
    baseUrl: j.baseUrl || settings.teacher.baseUrl,
    model: j.model || settings.teacher.model,
    template: resolveJudgeTemplateSpec(j.template, root),
    topLogprobs: j.topLogprobs,
    includeJudged: j.includeJudged,
  };
}

/** Which parts of the pipeline a configuration change invalidates. */
export interface SettingsChange {
  /** Retrieval settings changed: scores are keyed by them, so the views must be redrawn. */
  retrieval: boolean;
  /** Endpoint or request settings changed: picked up at the next expansion. */
  endpoints: boolean;
  pairs: boolean;
}

export function classifyChange(e: vscode.ConfigurationChangeEvent): SettingsChange | null {
  const change: SettingsChange = {
    retrieval: e.affectsConfiguration('qx.bm25'),
    endpoints: ['qx.teacher', 'qx.student', 'qx.concurrency', 'qx.requestTimeoutMs', 'qx.maxRetries'].some((s) => e.affectsConfiguration(s)),
    pairs: e.affectsConfiguration('qx.pairs'),
  };
  return change.retrieval || change.endpoints || change.pairs ? change : null;
}
