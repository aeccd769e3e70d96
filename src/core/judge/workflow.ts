import { join } from 'node:path';
import { readRun } from '../dataset/runs.js';
import { QxError, throwIfAborted } from '../errors.js';
import { ExpansionCache } from '../expansion/cache.js';
import { type CostRow, summarizeCost } from '../expansion/cost.js';
import type { OnnxDtype } from '../expansion/onnxExpander.js';
import type { Logger } from '../logger.js';
import type { TaskOptions } from '../progress.js';
import { loadWorkspacePrices } from '../report/cost.js';
import type { Workspace } from '../workspace/workspace.js';
import { type CalibrationReport, calibrate } from './calibration.js';
import { type FilledScore, type PairFlip, type RankingsToFill, fillRankings, pairFlips } from './fill.js';
import { type KdCandidateList, type KdFormat, type KdPairSampler, topVersusRest, writeKdExport } from './kdExport.js';
import { OnnxJudge } from './onnxJudge.js';
import { OpenAiJudge } from './openAiJudge.js';
import { type PoolEntry, type QueryRankings, expansionPool, runPool } from './pool.js';
import { type JudgeFailure, type JudgeItem, type RunJudgmentsResult, runJudgments } from './runner.js';
import { JudgmentStore, judgmentsFile } from './store.js';
import { type JudgeTemplate, judgeTemplateRef } from './template.js';
import type { RelevanceJudge } from './types.js';

/**
 * Which judge: an endpoint and model (the key comes from the workspace's getApiKey), or a local
 * ONNX model folder (`modelPath`), and the template.
 */
export interface JudgeSelection {
  baseUrl: string;
  /** The endpoint's model; for a local judge the name its judgments are stored under (default the folder name). */
  model: string;
  template: JudgeTemplate;
  /** A local ONNX judge's folder (cross-encoder or causal LM, see OnnxJudge); with it `baseUrl` is not used. */
  modelPath?: string;
  /** The local judge's weights variant, default "fp32". */
  dtype?: OnnxDtype;
  /** Documents per forward pass of a local cross-encoder, default 16. */
  batchSize?: number;
  /** Top logprobs per answer position, default 20. */
  topLogprobs?: number;
  extraBody?: Record<string, unknown>;
}

/** What `judgeWorkspace` judges: the expansions' pool (default) or a run to a depth. */
export interface JudgeRequestSpec {
  /** A TREC run file; with it, its top `depth` documents per query are the pool. */
  run?: string;
  /** Depth into `run`, default 10. */
  depth?: number;
  /** Also judge the documents the qrels already judge (needed to calibrate). Default false. */
  includeJudged?: boolean;
  qids?: string[];
}

export interface JudgeSummary {
  /** Documents in the pool, of which `unjudgedInPool` are unjudged by the qrels. */
  pool: number;
  unjudgedInPool: number;
  judged: number;
  cached: number;
  failed: number;
  failures: JudgeFailure[];
  /** Documents without text in the index (not judged). */
  missingText: number;
  /** The judgments file. */
  file: string;
  stored: number;
  cost: CostRow[];
}

/** The rankings (original and every scored expansion's top 10) of every query of a workspace. */
export function workspaceRankings(ws: Workspace): (QueryRankings & { ids: string[] })[] {
  return ws.topics.map((t) => {
    const review = ws.getQueryReview(t.qid);
    const scored = review.expansions.filter((e) => e.score !== null);
    return { qid: t.qid, original: review.original?.top10, expansions: scored.map((e) => e.score!.top10), ids: scored.map((e) => e.expansion.id) };
  });
}

/** The judge's file and store of a workspace. */
export function openJudgments(ws: Workspace, judge: { model: string; template: JudgeTemplate }, logger?: Logger): JudgmentStore {
  return JudgmentStore.open(judgmentsFile(ws.root, judge.model, judgeTemplateRef(judge.template)), logger);
}

/**
 * Judges the pool of a workspace with an LLM judge and stores the judgments beside the qrels
 * (`.qx/judgments/`, never in the qrels file). Needs scores (`qx score`) for the expansions' pool.
 * Answers are cached (`cacheDir`, default `.qx/cache`): a rerun makes no request.
 */
export async function judgeWorkspace(
  ws: Workspace,
  judgeSel: JudgeSelection,
  spec: JudgeRequestSpec,
  options: JudgeEnv,
): Promise<JudgeSummary> {
  await ws.buildIndex(options);
  let pool: PoolEntry[];
  const poolOptions = { ...(spec.includeJudged === undefined ? {} : { includeJudged: spec.includeJudged }), ...(spec.qids === undefined ? {} : { qids: spec.qids }) };
  if (spec.run !== undefined) {
    pool = runPool(ws.topics, ws.qrels, await readRun(spec.run, { signal: options.signal }), spec.depth ?? 10, poolOptions);
  } else {
    const rankings = workspaceRankings(ws);
    if (rankings.every((r) => r.original === undefined)) throw new QxError('usage', 'nothing is scored yet, so there are no top 10s to judge', { hint: 'Run qx score first, or give --run FILE --depth N.' });
    pool = expansionPool(ws.topics, ws.qrels, rankings, poolOptions);
  }
  const { r, store, missingText } = await judgePool(ws, judgeSel, pool, options);
  const prices = await loadWorkspacePrices(ws.root);
  return {
    pool: pool.length,
    unjudgedInPool: pool.filter((p) => p.grade === null).length,
    judged: r.judged,
    cached: r.cached,
    failed: r.failures.length,
    failures: r.failures,
    missingText,
    file: store.file,
    stored: store.size,
    cost: summarizeCost(r.records, prices.table),
  };
}

/** What judging needs from the host: logger, API keys, the cache folder (default `.qx/cache`). */
export type JudgeEnv = TaskOptions & { logger: Logger; getApiKey: (baseUrl: string) => Promise<string | undefined>; cacheDir?: string | undefined };

/** Judges the given pool entries (their text from the index, which must be open) and stores the judgments. */
async function judgePool(ws: Workspace, judgeSel: JudgeSelection, pool: readonly { qid: string; docid: string }[], options: JudgeEnv): Promise<{ r: RunJudgmentsResult; store: JudgmentStore; missingText: number }> {
  const text = new Map(ws.topics.map((t) => [t.qid, t.text]));
  const items: JudgeItem[] = [];
  let missingText = 0;
  for (const e of pool) {
    throwIfAborted(options.signal);
    const doc = ws.getDocument(e.docid);
    if (doc === undefined || doc.text.trim() === '') {
      missingText++;
      continue;
    }
    items.push({ qid: e.qid, query: text.get(e.qid) ?? '', docid: e.docid, text: doc.title === undefined || doc.title === '' ? doc.text : `${doc.title}\n${doc.text}` });
  }
  const judge = createJudge(judgeSel, ws, options);
  const store = openJudgments(ws, judgeSel, options.logger);
  const r = await runJudgments({
    judge,
    template: judgeSel.template,
    items,
    cache: new ExpansionCache(options.cacheDir ?? join(ws.root, '.qx', 'cache')),
    signal: options.signal,
    ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
    logger: options.logger,
    onRecords: (records) => store.add(records),
  });
  return { r, store, missingText };
}

/** The judge a selection names: a local ONNX model when `modelPath` is set, else the OpenAI-compatible endpoint. */
function createJudge(judgeSel: JudgeSelection, ws: Workspace, options: JudgeEnv): RelevanceJudge {
  if (judgeSel.modelPath !== undefined) {
    return new OnnxJudge({
      modelPath: judgeSel.modelPath,
      model: judgeSel.model,
      ...(judgeSel.dtype === undefined ? {} : { dtype: judgeSel.dtype }),
      ...(judgeSel.batchSize === undefined ? {} : { batchSize: judgeSel.batchSize }),
    });
  }
  const s = ws.settings;
  const local = /^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(\/|$)/.test(judgeSel.baseUrl);
  return new OpenAiJudge({
    baseUrl: judgeSel.baseUrl,
    model: judgeSel.model,
    getApiKey: () => options.getApiKey(judgeSel.baseUrl),
    requireApiKey: !local,
    ...(judgeSel.topLogprobs === undefined ? {} : { topLogprobs: judgeSel.topLogprobs }),
    ...(judgeSel.extraBody === undefined ? {} : { extraBody: judgeSel.extraBody }),
    concurrency: s.concurrency,
    timeoutMs: s.requestTimeoutMs,
    retry: { maxRetries: s.maxRetries },
  });
}

/** Calibration of a judge's stored judgments against the workspace's qrels (relevance level of the manifest). */
export function workspaceCalibration(ws: Workspace, store: JudgmentStore): CalibrationReport {
  return calibrate(store.all(), ws.qrels, { relevanceLevel: ws.manifest.relevanceLevel ?? 1 });
}

/** Per method: judged-only and judge-filled mean nDCG@10 over its scored expansions. */
export interface FilledMethodRow {
  /** "original", or role/model/method of the expansions. */
  key: string;
  expansions: number;
  judgedOnly: number;
  filled: number;
  /** Mean unjudged documents in the top 10, and how many of those the judge filled. */
  unjudged10: number;
  judgeFilled10: number;
}

export interface FillReport {
  threshold: number | null;
  mode: 'binary' | 'graded';
  methods: FilledMethodRow[];
  /** Every expansion (and original, id "original:<qid>"). */
  scores: FilledScore[];
  pairs: PairFlip[];
  flipped: number;
  agreeing: number;
}

/**
 * Judge-filled feedback: every scored expansion's nDCG@10 judged-only (the qrels, unjudged = not
 * relevant) beside its nDCG@10 with the judge filling the holes (binary: score >= threshold counts
 * as the dataset's relevance level; graded: the rounded expected grade), per method means, and the
 * pairs whose order flips between the two.
 */
export function workspaceFill(ws: Workspace, store: JudgmentStore, mode: 'binary' | 'graded', threshold: number | undefined): FillReport {
  const fillOptions = { mode, ...(threshold === undefined ? {} : { threshold }), relevantGrade: ws.manifest.relevanceLevel ?? 1 };
  const pairs: { id: string; qid: string; chosenId: string; rejectedId: string; state: string }[] = [];
  const queries: RankingsToFill[] = ws.topics.map((t) => {
    const review = ws.getQueryReview(t.qid);
    for (const p of review.pairs) pairs.push(p);
    const expansions: RankingsToFill['expansions'][number][] = [];
    for (const e of review.expansions) if (e.score !== null) expansions.push({ id: e.expansion.id, key: `${e.expansion.role}/${e.expansion.model}/${e.expansion.method}`, top10: e.score.top10 });
    return { qid: t.qid, original: review.original?.top10, expansions };
  });
  const filled = fillRankings(queries, ws.qrels, (qid) => store.scoresFor(qid), fillOptions);
  const scores = filled.scores;
  const groups = new Map<string, FilledScore[]>();
  if (filled.originals.length > 0) groups.set('original', filled.originals);
  for (const [key, perQid] of filled.byMethod) groups.set(key, [...perQid.values()].flat());
  const mean = (xs: number[]): number => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
  const methods = [...groups.entries()]
    .map(([key, list]) => ({ key, expansions: list.length, judgedOnly: mean(list.map((s) => s.judgedOnly)), filled: mean(list.map((s) => s.filled)), unjudged10: mean(list.map((s) => s.unjudged10)), judgeFilled10: mean(list.map((s) => s.judgeFilled10)) }))
    .sort((a, b) => (a.key === 'original' ? -1 : b.key === 'original' ? 1 : a.key.localeCompare(b.key)));
  const flips = pairFlips(pairs, filled.byId);
  return { threshold: threshold ?? null, mode, methods, scores, pairs: flips, flipped: flips.filter((f) => f.flipped).length, agreeing: flips.filter((f) => f.agree).length };
}

/** What a KD export takes its candidates from and how. */
export interface KdExportSpec {
  format: KdFormat;
  /** Output JSONL, resolved by the caller. */
  out: string;
  /**
   * "original" (default) or a method key "role/model/method" (the first scored expansion of that
   * method per query, lowest sample index): its top `k` (at most 10, what scoring keeps).
   */
  from?: string;
  /** A TREC run whose top `k` are the candidates instead. */
  run?: string;
  /** Candidates per query, default 10. */
  k?: number;
  /** kd-margin-mse: a pair's teacher margin must be at least this, default 0 (> 0). */
  minMargin?: number;
  /** Refuse the dataset's evaluation queries unless true (the manifest's split is not train/dev). */
  allowEvalQueries?: boolean;
  /** Replaces the default pair sampler (top-1 vs the rest), e.g. {@link sampledPairs}. */
  sampler?: KdPairSampler;
  /** How the manifest names `sampler` (e.g. "random-top-k, 4 negatives per query, seed 13"). */
  samplerName?: string;
  toolVersion?: string;
}

/**
 * Writes a knowledge-distillation export of the judge's scores: per query, the candidates (top k
 * of the original, of one method's expansion, or of a run) with teacher scores, listwise or as
 * MarginMSE pairs. Candidates the judge has not scored yet are judged first (cached). Refuses
 * evaluation queries unless allowed, like the DPO exports.
 */
export async function kdExportWorkspace(ws: Workspace, judgeSel: JudgeSelection, spec: KdExportSpec, options: JudgeEnv): Promise<{ out: string; manifest: string; records: number; queries: number; judged: number; cached: number; failed: number }> {
  const split = ws.manifest.split;
  const evalSplit = split !== 'train' && split !== 'dev';
  if (evalSplit && spec.allowEvalQueries !== true) {
    throw new QxError('export', `dataset ${ws.manifest.name} is marked split "${split ?? 'unspecified'}": its queries are evaluation queries, and a model distilled on them cannot be evaluated on them`, { hint: 'Use a training split, or pass --allow-eval-queries to export them anyway (recorded in the manifest).' });
  }
  const k = spec.k ?? 10;
  if (!Number.isInteger(k) || k < 2) throw new QxError('usage', `the candidates per query must be an integer >= 2, got ${k}`);
  await ws.buildIndex(options);
  const from = spec.from ?? 'original';
  const ranked = new Map<string, string[]>();
  let candidates: string;
  if (spec.run !== undefined) {
    const run = await readRun(spec.run, { signal: options.signal });
    for (const e of runPool(ws.topics, ws.qrels, run, k, { includeJudged: true })) ranked.set(e.qid, [...(ranked.get(e.qid) ?? []), e.docid]);
    candidates = `run ${spec.run} top ${k}`;
  } else {
    if (k > 10) throw new QxError('usage', `scoring keeps each ranking's top 10, so --k ${k} needs --run FILE (e.g. from qx search)`);
    for (const t of ws.topics) {
      const review = ws.getQueryReview(t.qid);
      let top: readonly string[] | undefined;
      if (from === 'original') top = review.original?.top10;
      else {
        const mine = review.expansions
          .filter((e) => e.score !== null && `${e.expansion.role}/${e.expansion.model}/${e.expansion.method}` === from)
          .sort((a, b) => a.expansion.sampleIndex - b.expansion.sampleIndex || (a.expansion.id < b.expansion.id ? -1 : 1));
        top = mine[0]?.score?.top10;
      }
      if (top !== undefined) ranked.set(t.qid, top.slice(0, k));
    }
    if (ranked.size === 0) throw new QxError('usage', from === 'original' ? 'nothing is scored yet' : `no scored expansion of "${from}"`, { hint: from === 'original' ? 'Run qx score first.' : 'Give a method as role/model/method, as qx judge --fill lists them.' });
    candidates = `${from} top ${k}`;
  }
  const store = openJudgments(ws, judgeSel, options.logger);
  const missing = [...ranked].flatMap(([qid, docs]) => docs.filter((d) => !store.has(qid, d)).map((docid) => ({ qid, docid })));
  let judged = 0;
  let cached = 0;
  let failed = 0;
  let fresh = store;
  if (missing.length > 0) {
    const j = await judgePool(ws, judgeSel, missing, options);
    judged = j.r.judged;
    cached = j.r.cached;
    failed = j.r.failures.length;
    fresh = j.store;
  }
  const lists: KdCandidateList[] = [];
  for (const t of ws.topics) {
    const docs = ranked.get(t.qid);
    if (docs === undefined) continue;
    const list: KdCandidateList = { qid: t.qid, query: t.text, docs: [] };
    for (const docid of docs) {
      const j = fresh.get(t.qid, docid);
      const doc = ws.getDocument(docid);
      if (j === undefined || doc === undefined || doc.text.trim() === '') continue;
      list.docs.push({ docid, text: doc.title === undefined || doc.title === '' ? doc.text : `${doc.title}\n${doc.text}`, score: j.score });
    }
    lists.push(list);
  }
  const ref = judgeTemplateRef(judgeSel.template);
  const sampler = spec.sampler ?? topVersusRest({ minMargin: spec.minMargin ?? 0 });
  const w = writeKdExport(
    spec.format,
    spec.out,
    lists,
    {
      dataset: ws.manifest.name,
      candidates,
      judge: { ...(judgeSel.modelPath === undefined ? { provider: 'openai-compatible', endpoint: judgeSel.baseUrl.replace(/\/+$/, '') } : { provider: 'onnx', endpoint: judgeSel.modelPath }), model: judgeSel.model, template: ref, mode: judgeSel.template.mode },
      ...(spec.format === 'kd-margin-mse' ? { sampler: spec.sampler === undefined ? `top-1 vs rest, margin > ${spec.minMargin ?? 0}` : (spec.samplerName ?? 'custom') } : {}),
      toolVersion: spec.toolVersion ?? 'dev',
      evalQueriesAllowed: evalSplit,
    },
    sampler,
  );
  return { ...w, judged, cached, failed };
}

/**
 * Requires judge agreement of the auto pairs: every auto pair whose judge-filled margin does not
 * agree with its judged-only one (flipped, or tied once the holes are filled) is set to "rejected"
 * with a note naming the judge, so exports (auto, accepted, edited by default) leave it out and
 * rebuilds keep the decision. Pairs a person decided on are left alone. Returns the pairs rejected.
 */
export function rejectDisagreeingPairs(ws: Workspace, fill: FillReport, judge: { model: string; template: JudgeTemplate }): string[] {
  const out: string[] = [];
  for (const p of fill.pairs) {
    if (p.agree || p.state !== 'auto') continue;
    ws.setPairState(p.pairId, 'rejected');
    ws.setPairNote(p.pairId, `judge ${judge.model} (${judge.template.id}): judge-filled nDCG@10 margin ${p.filledMargin.toFixed(4)} vs judged-only ${p.judgedMargin.toFixed(4)}`);
    out.push(p.pairId);
  }
  return out;
}
