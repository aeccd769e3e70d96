import { throwIfAborted, type QxErrorCode } from '../errors.js';
import { type CachedGeneration, type ExpansionCache, cacheKey } from '../expansion/cache.js';
import { nullLogger } from '../logger.js';
import type { TaskOptions } from '../progress.js';
import { type JudgeTemplate, judgeTemplateRef, renderJudgePrompt, scoreLabels } from './template.js';
import type { JudgeRequest, JudgmentRecord, RelevanceJudge } from './types.js';

/** One (query, document) to judge. */
export interface JudgeItem {
  qid: string;
  query: string;
  docid: string;
  /** The document's text as the judge reads it. */
  text: string;
}

export interface RunJudgmentsOptions extends TaskOptions {
  judge: RelevanceJudge;
  template: JudgeTemplate;
  items: readonly JudgeItem[];
  /** Every answer is written here before it counts; a rerun makes no request for it. */
  cache: ExpansionCache;
  /**
   * Receives finished judgments in batches (cached ones first, then every 50 or at the end, also on
   * cancel or failure), awaited before they count as done.
   */
  onRecords?: (records: JudgmentRecord[]) => void | Promise<void>;
}

export interface JudgeFailure {
  qid: string;
  docid: string;
  code: QxErrorCode;
  message: string;
}

export interface RunJudgmentsResult {
  records: JudgmentRecord[];
  /** Calls made by this run. */
  judged: number;
  /** Answers found in the cache. */
  cached: number;
  failures: JudgeFailure[];
}

/** `onRecords` batches: at most this many judgments, or this many ms since the last batch. */
const BATCH = 50;
const BATCH_MS = 250;

/** The cache key of one judging prompt: judge identity, template hash, query and the rendered messages. */
export function judgmentKey(judge: RelevanceJudge, template: JudgeTemplate, item: JudgeItem): { key: string; messages: ReturnType<typeof renderJudgePrompt> } {
  const messages = renderJudgePrompt(template, { query: item.query, document: item.text });
  return { key: cacheKey({ identity: judge.identity, templateHash: template.sha256, query: item.query, messages, sampleIndex: 0 }), messages };
}

/**
 * Judges every item with one template, through the expansion cache: cached answers are reused,
 * missing ones requested (concurrency, retries and cancellation of the judge), each answer cached
 * before it counts. An answer whose top logprobs hold no label token is a failure, not a score.
 * Records and failures come back in the items' order. Progress is in documents. Throws CancellationError on abort once finished records are handed over.
 */
export async function runJudgments(options: RunJudgmentsOptions): Promise<RunJudgmentsResult> {
  const { judge, template, cache, signal } = options;
  const logger = options.logger ?? nullLogger;
  const ref = judgeTemplateRef(template);
  const endpoint = judge.endpoint;
  const records: JudgmentRecord[] = [];
  const failures: JudgeFailure[] = [];
  const total = options.items.length;
  let done = 0;
  let pending: JudgmentRecord[] = [];
  let lastFlush = Date.now();
  const flush = async (): Promise<void> => {
    const batch = pending;
    pending = [];
    lastFlush = Date.now();
    if (batch.length > 0) await options.onRecords?.(batch);
    done += batch.length;
    options.onProgress?.({ done: done + failures.length, total, unit: 'documents' });
  };
  const order = new Map<JudgeItem, number>(options.items.map((it, i) => [it, i]));
  const finish = (item: JudgeItem, g: CachedGeneration): void => {
    const s = scoreLabels(template, g.topLogprobs ?? []);
    if (s === undefined) {
      const seen = (g.topLogprobs ?? []).slice(0, 5).map((x) => JSON.stringify(x.token)).join(', ');
      failures.push({ qid: item.qid, docid: item.docid, code: 'badResponse', message: `no label token (${template.labels.map((l) => l.token).join('/')}) among the top logprobs (${seen})` });
      return;
    }
    const r: JudgmentRecord = {
      qid: item.qid,
      docid: item.docid,
      score: s.score,
      probs: s.probs,
      mass: s.mass,
      token: g.text,
      mode: template.mode,
      method: `judge:${template.id}`,
      provider: judge.provider,
      endpoint,
      model: judge.model,
      template: ref,
      ...(g.usage === undefined ? {} : { usage: g.usage }),
      ...(g.latencyMs === undefined ? {} : { latencyMs: g.latencyMs }),
      createdAt: g.createdAt,
    };
    records.push(r);
    pending.push(r);
  };

  const requests: JudgeRequest[] = [];
  const owner = new Map<string, { item: JudgeItem; key: string }>();
  let cached = 0;
  for (let i = 0; i < options.items.length; i++) {
    throwIfAborted(signal);
    const item = options.items[i] as JudgeItem;
    const { key, messages } = judgmentKey(judge, template, item);
    const hit = await cache.get(key);
    if (hit !== undefined && hit.topLogprobs !== undefined) {
      cached++;
      finish(item, hit);
      continue;
    }
    const reqKey = `${item.qid}/${item.docid}#${i}`;
    owner.set(reqKey, { item, key });
    requests.push({ key: reqKey, messages, pair: { query: item.query, document: item.text } });
  }
  await flush();
  let judged = 0;
  if (requests.length > 0) {
    logger.info(`judge ${judge.model} (${template.id}): ${requests.length} documents to judge, ${cached} from the cache`);
    try {
      await judge.judge(requests, {
        signal,
        logger,
        labels: template.labels.map((l) => l.token),
        onResult: async (o) => {
          const own = owner.get(o.key);
          if (own === undefined) return;
          if (o.ok) {
            const g: CachedGeneration = { key: own.key, text: o.token, topLogprobs: o.topLogprobs, ...(o.usage === undefined ? {} : { usage: o.usage }), latencyMs: o.latencyMs, createdAt: new Date().toISOString() };
            await cache.put(g);
            judged++;
            finish(own.item, g);
          } else {
            failures.push({ qid: own.item.qid, docid: own.item.docid, code: o.code, message: o.message });
            logger.warn(`${own.item.qid}/${own.item.docid}: ${o.code}: ${o.message}`);
          }
          if (pending.length >= BATCH || Date.now() - lastFlush >= BATCH_MS || options.onRecords === undefined) await flush();
        },
      });
    } finally {
      await flush();
    }
  }
  const byPair = new Map(options.items.map((it) => [`${it.qid}\t${it.docid}`, it]));
  const at = (r: { qid: string; docid: string }): number => order.get(byPair.get(`${r.qid}\t${r.docid}`) as JudgeItem) ?? 0;
  records.sort((a, b) => at(a) - at(b));
  failures.sort((a, b) => at(a) - at(b));
  return { records, judged, cached, failures };
}
