import { Client } from '@opensearch-project/opensearch';
import { QxError, errorMessage, isCancellationError, throwIfAborted } from '../errors.js';
import { type RetryPolicy, type RetryableFailure, backoffDelay, defaultRetryPolicy, parseRetryAfter, sleep, withRetries } from '../expansion/retry.js';
import { type Logger, nullLogger } from '../logger.js';
import type { ProgressCallback } from '../progress.js';
import type { CorpusDoc, RunHit } from '../dataset/types.js';
import type { Retriever, RetrieverInfo, SearchOptions } from './retriever.js';

/** The analyzers an OpenSearch index can be built with, as the embedded engine names them. */
export type OpenSearchAnalyzer = 'english' | 'cjk';

/** Where and how to reach an OpenSearch (or Elasticsearch-compatible) cluster. */
export interface OpenSearchConfig {
  /** Base URL, e.g. "http://localhost:9200". */
  node: string;
  /** Index name (lowercase, no spaces). */
  index: string;
  /** BM25 k1 the index is built with, default 0.9 (Anserini's). */
  k1?: number;
  /** BM25 b the index is built with, default 0.4 (Anserini's). */
  b?: number;
  /** Analyzer the index is built with, default "english" (Anserini's English chain). */
  analyzer?: OpenSearchAnalyzer;
  /** Basic auth, when the cluster needs it. */
  auth?: { username: string; password: string };
  /** Per-request timeout in ms, default 60,000. */
  requestTimeoutMs?: number;
  /** Retries of a request answered 429/5xx or failing to connect/time out; default {@link defaultRetryPolicy}. */
  retry?: RetryPolicy;
  /** Where retries are logged (warnings); default none. */
  logger?: Logger;
}

export interface OpenSearchBuildOptions {
  signal?: AbortSignal;
  /** Called after each bulk request with documents loaded so far (a resumed load counts the skipped ones). */
  onProgress?: ProgressCallback;
  /** Documents per bulk request, default 1,000. */
  batchSize?: number;
  /** Bulk requests in flight at once, >= 1, default 2. */
  concurrency?: number;
  /** Primary shards of a new index, >= 1, default 1 (searches then use global statistics: see {@link msearchBody}). */
  shards?: number;
  /**
   * What the corpus is (path, size, modification time): recorded in the index's mapping `_meta`
   * with the number of documents loaded, so an interrupted load resumes only from the same corpus.
   */
  source?: Record<string, string | number>;
  /** Write the resume checkpoint at least every this many ms, default 30,000. */
  checkpointMs?: number;
}

/** What {@link OpenSearchRetriever.load} did. */
export interface OpenSearchLoadReport {
  /** Documents of the corpus now in the index (including those of an earlier, resumed run). */
  numDocs: number;
  /** Documents skipped because an earlier run had loaded them (0 unless resumed). */
  resumedFrom: number;
  /** True when the index was already completely loaded from this corpus and nothing was sent. */
  alreadyComplete: boolean;
}

/** The BM25 parameters and analyzer a workspace scores with, to compare with an index's. */
export interface ExpectedRetrieval {
  k1: number;
  b: number;
  analyzer: string;
  /** Lucene's lossy 1-byte length norms (OpenSearch has no other). */
  luceneNorms: boolean;
}

const FIELD = 'contents';
const ANALYZER = 'qx_english';
const SIMILARITY = 'qx_bm25';

/**
 * Index settings and mappings equivalent to the embedded engine's: one shard (global statistics as
 * in one Lucene index), BM25 with the given k1/b, and for `english` Anserini's English chain
 * (standard tokenizer, English possessive, lowercase, Lucene's 33 English stop words, Porter); for
 * `cjk` OpenSearch's built-in `cjk` analyzer (Lucene's CJKAnalyzer). `title`/`text` are kept in
 * `_source` only, for the review UI. Defaults: k1 0.9, b 0.4, english.
 */
export function openSearchIndexBody(k1 = 0.9, b = 0.4, analyzer: OpenSearchAnalyzer = 'english', shards = 1): Record<string, unknown> {
  return {
    settings: {
      number_of_shards: shards,
      number_of_replicas: 0,
      // The stored passages (for the review) are read rarely: smaller beats faster here.
      codec: 'best_compression',
      similarity: { [SIMILARITY]: { type: 'BM25', k1, b } },
      analysis: {
        filter: {
          qx_possessive: { type: 'stemmer', language: 'possessive_english' },
          qx_stop: { type: 'stop', stopwords: '_english_' },
          qx_porter: { type: 'porter_stem' },
        },
        analyzer: {
          [ANALYZER]: { type: 'custom', tokenizer: 'standard', filter: ['qx_possessive', 'lowercase', 'qx_stop', 'qx_porter'] },
        },
      },
    },
    mappings: {
      _source: { excludes: [FIELD] },
      properties: {
        // BM25 needs term frequencies only: no positions (about half the postings' size).
        [FIELD]: { type: 'text', analyzer: analyzer === 'english' ? ANALYZER : 'cjk', similarity: SIMILARITY, index_options: 'freqs' },
        title: { type: 'text', index: false },
        text: { type: 'text', index: false },
      },
    },
  };
}

/** The NDJSON lines of one bulk request for `docs` (action line, then source line, per doc). */
export function bulkBody(index: string, docs: readonly CorpusDoc[]): Record<string, unknown>[] {
  const body: Record<string, unknown>[] = [];
  for (const d of docs) {
    body.push({ index: { _index: index, _id: d.id } });
    const contents = d.title ? `${d.title} ${d.text}` : d.text;
    body.push(d.title === undefined ? { [FIELD]: contents, text: d.text } : { [FIELD]: contents, title: d.title, text: d.text });
  }
  return body;
}

/** The search request body: a match query on the analyzed field (a repeated term counts again). */
export function searchBody(query: string, k: number): Record<string, unknown> {
  return { size: k, track_total_hits: false, _source: false, query: { match: { [FIELD]: { query } } } };
}

/**
 * The `_msearch` NDJSON lines for `queries` against `index`: a header line, then a body line, per
 * query. With several shards the header asks for `dfs_query_then_fetch`, so BM25 uses the
 * statistics of the whole index (as one Lucene index would), not each shard's own.
 */
export function msearchBody(index: string, queries: readonly string[], k: number, shards = 1): Record<string, unknown>[] {
  const header = shards > 1 ? { index, search_type: 'dfs_query_then_fetch' } : { index };
  return queries.flatMap((q) => [header, searchBody(q, k)]);
}

// ---- the index's settings, as GET /<index>/_settings and /<index>/_mapping return them ----

interface SettingsDoc {
  similarity?: Record<string, Record<string, unknown>>;
  analysis?: { analyzer?: Record<string, Record<string, unknown>>; filter?: Record<string, Record<string, unknown>> };
}

/** The BM25 parameters and analyzer chain an index scores `contents` with, as read from its settings. */
export interface IndexRetrieval {
  k1: number;
  b: number;
  /** Where k1/b come from, e.g. `similarity "qx_bm25"` or `the default similarity (BM25 k1 1.2, b 0.75)`. */
  similarity: string;
  /** The analyzer as the embedded engine names it (english, cjk) or a description of another chain. */
  analyzer: string;
  /** The analyzer's name in the index. */
  analyzerName: string;
  /** Primary shards (`index.number_of_shards`), default 1. */
  shards: number;
}

const ENGLISH_CHAIN = 'standard|possessive_english|lowercase|stop:_english_|porter';

function filterDesc(name: string, defs: Record<string, Record<string, unknown>>): string {
  const d = defs[name];
  if (d === undefined) return name === 'porter_stem' ? 'porter' : name;
  const type = String(d['type'] ?? '');
  if (type === 'stemmer') {
    const lang = String(d['language'] ?? d['name'] ?? '');
    return lang === 'porter' || lang === 'english' ? 'porter' : lang;
  }
  if (type === 'stop') {
    const sw = d['stopwords'];
    return `stop:${Array.isArray(sw) ? sw.join(',') : String(sw ?? '_english_')}`;
  }
  if (type === 'porter_stem') return 'porter';
  return type;
}

/**
 * Reads the BM25 parameters and analyzer of the `contents` field from the bodies of
 * `GET /<index>/_settings` and `GET /<index>/_mapping` (first index of the answer, so an alias
 * works). A field without `similarity` uses the index's `default` similarity, else BM25 with
 * Lucene's k1 1.2, b 0.75. Throws a `config` QxError when the index has no `contents` text field
 * or scores it with something other than BM25.
 */
export function indexRetrieval(index: string, settingsBody: unknown, mappingBody: unknown): IndexRetrieval {
  const first = (o: unknown): Record<string, unknown> => {
    const v = o !== null && typeof o === 'object' ? Object.values(o as Record<string, unknown>)[0] : undefined;
    return (v !== null && typeof v === 'object' ? v : {}) as Record<string, unknown>;
  };
  const settings = ((first(settingsBody)['settings'] as { index?: SettingsDoc } | undefined)?.index ?? {}) as SettingsDoc;
  const props = ((first(mappingBody)['mappings'] as { properties?: Record<string, Record<string, unknown>> } | undefined)?.properties ?? {}) as Record<string, Record<string, unknown>>;
  const field = props[FIELD];
  const fix = `Load it with qx index --opensearch URL --index ${index} --corpus FILE, which creates the "${FIELD}" field qx searches.`;
  if (field === undefined || field['type'] !== 'text') throw new QxError('config', `OpenSearch index "${index}" has no text field "${FIELD}"`, { hint: fix });

  const simName = typeof field['similarity'] === 'string' ? field['similarity'] : 'default';
  const sim = settings.similarity?.[simName];
  let k1 = 1.2;
  let b = 0.75;
  let similarity = `the default similarity (BM25 k1 1.2, b 0.75)`;
  if (sim !== undefined) {
    if (String(sim['type'] ?? '').toLowerCase() !== 'bm25') {
      throw new QxError('config', `OpenSearch index "${index}" scores "${FIELD}" with similarity "${simName}" of type ${String(sim['type'])}, not BM25`, { hint: fix });
    }
    if (sim['k1'] !== undefined) k1 = Number(sim['k1']);
    if (sim['b'] !== undefined) b = Number(sim['b']);
    similarity = `similarity "${simName}"`;
  } else if (simName !== 'default' && simName !== 'BM25') {
    throw new QxError('config', `OpenSearch index "${index}" scores "${FIELD}" with similarity "${simName}", not BM25`, { hint: fix });
  }

  const analyzerName = typeof field['analyzer'] === 'string' ? field['analyzer'] : 'standard';
  const def = settings.analysis?.analyzer?.[analyzerName];
  let analyzer = analyzerName;
  if (def === undefined) {
    // Built-in analyzers: OpenSearch's `english` is Anserini's chain plus an empty keyword marker.
    if (analyzerName === 'english' || analyzerName === 'cjk') analyzer = analyzerName;
  } else if (def['type'] === 'custom') {
    const filters = (Array.isArray(def['filter']) ? def['filter'] : []) as string[];
    const chain = [String(def['tokenizer'] ?? ''), ...filters.map((f) => filterDesc(f, settings.analysis?.filter ?? {}))].join('|');
    analyzer = chain === ENGLISH_CHAIN ? 'english' : `custom (${chain.replaceAll('|', ' + ')})`;
  } else if (def['type'] === 'english' || def['type'] === 'cjk') {
    analyzer = String(def['type']);
  }
  const shards = Number((settings as { number_of_shards?: unknown }).number_of_shards ?? 1);
  return { k1, b, similarity, analyzer, analyzerName, shards: Number.isInteger(shards) && shards >= 1 ? shards : 1 };
}

/**
 * Throws a `config` QxError naming the index's value, the workspace's and the fix when the index
 * scores with other BM25 parameters or another analyzer than the workspace (checked in that order:
 * k1, b, analyzer, length norms).
 */
export function checkIndexRetrieval(node: string, index: string, got: IndexRetrieval, want: ExpectedRetrieval): void {
  const where = `OpenSearch index "${index}" at ${node}`;
  const rebuild = `qx index --opensearch ${node} --index ${index} --corpus FILE --rebuild --k1 ${want.k1} --b ${want.b} --analyzer ${want.analyzer}`;
  for (const [name, have, wanted] of [
    ['k1', got.k1, want.k1],
    ['b', got.b, want.b],
  ] as const) {
    if (Math.abs(have - wanted) > 1e-9) {
      throw new QxError('config', `${where} scores with BM25 ${name} ${have} (${got.similarity}), the workspace with ${name} ${wanted} (qx.bm25.${name} / --${name}): scores would not be comparable`, {
        hint: `Set qx.bm25.${name} (or --${name}) to ${have} to score with the index as it is, or rebuild it with ${wanted}: ${rebuild}. (Or close the index, PUT /${index}/_settings the similarity's ${name}, and reopen it.)`,
      });
    }
  }
  if (got.analyzer !== want.analyzer) {
    throw new QxError('config', `${where} analyzes "${FIELD}" with ${got.analyzer} (analyzer "${got.analyzerName}"), the workspace with ${want.analyzer} (qx.bm25.analyzer)`, {
      hint: `Set qx.bm25.analyzer to match the index, or rebuild the index: ${rebuild}.`,
    });
  }
  if (!want.luceneNorms) {
    throw new QxError('config', `${where} scores with Lucene's 1-byte length norms, the workspace with exact lengths (qx.bm25.luceneNorms false / --exact-lengths)`, {
      hint: 'Set qx.bm25.luceneNorms to true (drop --exact-lengths): OpenSearch has no exact-length BM25.',
    });
  }
}

// ---- requests ----

interface Abortable<T> extends Promise<T> {
  abort?: () => void;
}

interface ClientErrorShape {
  name?: string;
  meta?: { statusCode?: number | null; headers?: Record<string, string | string[] | undefined> | null; body?: unknown };
}

/** A 429/5xx answer or a connection failure/timeout may pass; anything else is final. */
export function openSearchFailure(e: unknown): RetryableFailure | undefined {
  if (isCancellationError(e)) return undefined;
  const err = e as ClientErrorShape & { message?: string; status?: number; retryAfterMs?: number };
  if (err instanceof RetryableResponse) return { retryable: true, retryAfterMs: err.retryAfterMs, message: err.message };
  if (err?.name === 'ConnectionError' || err?.name === 'TimeoutError' || err?.name === 'NoLivingConnectionsError') return { retryable: true, message: `${err.name}: ${err.message ?? ''}` };
  const status = err?.meta?.statusCode ?? undefined;
  if (status === 429 || (status !== undefined && status !== null && status >= 500)) {
    const h = err.meta?.headers?.['retry-after'];
    return { retryable: true, retryAfterMs: parseRetryAfter(Array.isArray(h) ? h[0] : h), message: `HTTP ${status}` };
  }
  return undefined;
}

/** A 200 answer whose items say 429/5xx (msearch responses, bulk items): retried like an HTTP 429. */
class RetryableResponse extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/**
 * A Retriever backed by OpenSearch/Elasticsearch, for corpora too large for one machine's memory.
 * Same analyzer chain and BM25 parameters as the embedded engine (check them against an existing
 * index with {@link OpenSearchRetriever.checkSettings}); scores match Lucene's, ranks may differ
 * only where OpenSearch's Lucene version differs. Every request is retried on 429, 5xx and
 * connection errors with exponential backoff (`config.retry`), and cancelled with the signal.
 */
export class OpenSearchRetriever implements Retriever {
  private readonly client: Client;
  private numDocs = 0;
  /** Primary shards, as read by {@link indexRetrieval} (1 until then). */
  private shards = 1;
  private readonly retry: RetryPolicy;
  private readonly logger: Logger;

  constructor(private readonly config: OpenSearchConfig) {
    this.client = new Client({
      node: config.node,
      ...(config.auth ? { auth: config.auth } : {}),
      requestTimeout: config.requestTimeoutMs ?? 60_000,
      // Retries are ours (429 included, with backoff and cancellation), not the transport's.
      maxRetries: 0,
    });
    this.retry = config.retry ?? defaultRetryPolicy;
    this.logger = config.logger ?? nullLogger;
  }

  get node(): string {
    return this.config.node;
  }

  get index(): string {
    return this.config.index;
  }

  /** One request, retried; failures after the last retry become QxErrors (auth, rateLimit, timeout, network). */
  private async request<T>(what: string, send: () => Abortable<T>, signal: AbortSignal | undefined): Promise<T> {
    const sig = signal ?? new AbortController().signal;
    try {
      return await withRetries(
        async () => {
          throwIfAborted(sig);
          const p = send();
          // A block body: abort() returns the request (a thenable), and an EventTarget listener
          // returning a thenable has its rejection rethrown as an uncaught exception.
          const onAbort = (): void => {
            p.abort?.();
          };
          sig.addEventListener('abort', onAbort, { once: true });
          try {
            return await p;
          } finally {
            sig.removeEventListener('abort', onAbort);
          }
        },
        { policy: this.retry, key: `OpenSearch ${what}`, signal: sig, logger: this.logger, asFailure: openSearchFailure },
      );
    } catch (e) {
      throwIfAborted(sig);
      if (isCancellationError(e) || QxError.is(e)) throw e;
      const { node } = this.config;
      const status = (e as ClientErrorShape).meta?.statusCode ?? undefined;
      if (status === 401 || status === 403) throw new QxError('auth', `OpenSearch refused ${what} (HTTP ${status})`, { cause: e, hint: 'Check the user name and password (the environment variable the manifest\'s retriever.authEnv names).' });
      if (status === 404) throw new QxError('config', `OpenSearch ${what}: no index "${this.config.index}" at ${node}`, { cause: e, hint: `Load it first: qx index --opensearch ${node} --index ${this.config.index} --corpus FILE.` });
      const retries = `after ${this.retry.maxRetries} retries`;
      if (status === 429 || e instanceof RetryableResponse) throw new QxError('rateLimit', `OpenSearch ${what} at ${node} was still rejected ${retries}: ${errorMessage(e)}`, { cause: e, hint: 'Lower the concurrency (retriever.concurrency / --concurrency) or give the cluster more resources.' });
      if ((e as ClientErrorShape).name === 'TimeoutError') throw new QxError('timeout', `OpenSearch ${what} at ${node} timed out ${retries}`, { cause: e, hint: 'Raise qx.requestTimeoutMs or lower the concurrency.' });
      throw new QxError('network', `OpenSearch ${what} failed at ${node}: ${errorMessage(e)}`, { cause: e, hint: 'Check that the cluster is up and the URL is right.' });
    }
  }

  /** The BM25 parameters and analyzer the index scores `contents` with (GET _settings and _mapping). */
  async indexRetrieval(signal?: AbortSignal): Promise<IndexRetrieval> {
    const { index } = this.config;
    const settings = await this.request('get index settings', () => this.client.indices.getSettings({ index }), signal);
    const mapping = await this.request('get index mapping', () => this.client.indices.getMapping({ index }), signal);
    const got = indexRetrieval(index, settings.body, mapping.body);
    this.shards = got.shards;
    return got;
  }

  /**
   * Refuses (a `config` QxError naming both values and the fix) an index whose BM25 k1/b or
   * analyzer differ from `want`; see {@link checkIndexRetrieval}.
   */
  async checkSettings(want: ExpectedRetrieval, signal?: AbortSignal): Promise<IndexRetrieval> {
    const got = await this.indexRetrieval(signal);
    checkIndexRetrieval(this.config.node, this.config.index, got, want);
    return got;
  }

  /** (Re)creates the index and loads `docs`: {@link load} with `rebuild`. */
  async build(docs: AsyncIterable<CorpusDoc> | Iterable<CorpusDoc>, options: OpenSearchBuildOptions = {}): Promise<{ numDocs: number }> {
    const r = await this.load(docs, { ...options, rebuild: true });
    return { numDocs: r.numDocs };
  }

  /**
   * Bulk-loads `docs` into the index with the settings of {@link openSearchIndexBody}, at most
   * `concurrency` bulk requests in flight, refresh off during the load. With `rebuild`, an existing
   * index of that name is deleted first. Without it, an index loaded by qx from the same
   * `source` resumes where the last run's checkpoint (the mapping's `_meta.qx`) stopped, or does
   * nothing when complete; any other existing index is refused. Documents are indexed by id, so
   * the overlap a resume re-sends is overwritten, not duplicated. Bulk items rejected with 429 are
   * re-sent with backoff; any other rejected item is a `dataset` QxError naming the document and
   * the reason. An empty corpus is a `dataset` error.
   */
  async load(docs: AsyncIterable<CorpusDoc> | Iterable<CorpusDoc>, options: OpenSearchBuildOptions & { rebuild?: boolean } = {}): Promise<OpenSearchLoadReport> {
    const { index, node } = this.config;
    const signal = options.signal;
    const source = options.source ?? {};
    let skip = 0;
    const exists = options.rebuild ? false : (await this.request('check index', () => this.client.indices.exists({ index }), signal)).body === true;
    if (options.rebuild) await this.request('delete index', () => this.client.indices.delete({ index }, { ignore: [404] }), signal);
    if (exists) {
      const mapping = await this.request('get index mapping', () => this.client.indices.getMapping({ index }), signal);
      const meta = (Object.values(mapping.body as Record<string, { mappings?: { _meta?: { qx?: { source?: Record<string, unknown>; loaded?: number; complete?: boolean } } } }>)[0]?.mappings?._meta?.qx);
      const same = meta?.source !== undefined && JSON.stringify(meta.source) === JSON.stringify(source);
      if (!same) {
        throw new QxError('config', `OpenSearch index "${index}" at ${node} already exists and was not loaded by qx from this corpus (${JSON.stringify(source)}${meta?.source ? `; it holds ${JSON.stringify(meta.source)}` : ''})`, {
          hint: 'Pass --rebuild to delete and reload it, or choose another --index name.',
        });
      }
      await this.checkSettings({ k1: this.config.k1 ?? 0.9, b: this.config.b ?? 0.4, analyzer: this.config.analyzer ?? 'english', luceneNorms: true }, signal);
      if (meta?.complete === true) {
        this.numDocs = meta.loaded ?? 0;
        options.onProgress?.({ done: this.numDocs, total: this.numDocs, unit: 'documents' });
        return { numDocs: this.numDocs, resumedFrom: this.numDocs, alreadyComplete: true };
      }
      skip = meta?.loaded ?? 0;
      this.logger.info(`OpenSearch index "${index}": resuming the load after ${skip} documents.`);
    } else {
      const body = openSearchIndexBody(this.config.k1, this.config.b, this.config.analyzer, options.shards) as { settings: Record<string, unknown>; mappings: Record<string, unknown> };
      body.settings['refresh_interval'] = '-1';
      body.mappings['_meta'] = { qx: { source, loaded: 0, complete: false } };
      await this.request('create index', () => this.client.indices.create({ index, body: body as never }), signal);
    }

    const checkpoint = (loaded: number, complete: boolean, sig = signal): Promise<unknown> =>
      this.request('write the load checkpoint', () => this.client.indices.putMapping({ index, body: { _meta: { qx: { source, loaded, complete } } } as never }), sig);
    const batchSize = Math.max(1, options.batchSize ?? 1000);
    const concurrency = Math.max(1, options.concurrency ?? 2);
    const checkpointMs = options.checkpointMs ?? 30_000;
    // Batches finish out of order: the checkpoint is the end of the finished prefix.
    let position = 0;
    let nextBatch = 0;
    let prefixBatch = 0;
    let prefixDocs = skip;
    let sent = skip;
    let lastCheckpoint = Date.now();
    const finished = new Map<number, number>();
    const inFlight = new Set<Promise<void>>();
    let failure: { error: unknown } | undefined;
    const send = (batch: CorpusDoc[]): void => {
      const id = nextBatch++;
      const p = this.bulk(batch, signal).then(
        async () => {
          finished.set(id, batch.length);
          sent += batch.length;
          while (finished.has(prefixBatch)) {
            prefixDocs += finished.get(prefixBatch)!;
            finished.delete(prefixBatch++);
          }
          options.onProgress?.({ done: sent, unit: 'documents' });
          if (Date.now() - lastCheckpoint >= checkpointMs) {
            lastCheckpoint = Date.now();
            await checkpoint(prefixDocs, false);
          }
        },
        (error: unknown) => {
          failure ??= { error };
        },
      );
      const tracked = p.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
    };
    let batch: CorpusDoc[] = [];
    try {
      try {
        for await (const d of docs) {
          if (position++ < skip) continue;
          batch.push(d);
          if (batch.length < batchSize) continue;
          throwIfAborted(signal);
          if (failure !== undefined) break;
          send(batch);
          batch = [];
          while (inFlight.size >= concurrency) await Promise.race(inFlight);
        }
        if (failure === undefined && batch.length > 0) {
          throwIfAborted(signal);
          send(batch);
        }
      } finally {
        await Promise.allSettled([...inFlight]);
      }
      if (failure !== undefined) throw failure.error;
    } catch (e) {
      // Keep what was loaded (also on cancel, so not with the aborted signal): a rerun resumes from the finished prefix.
      if (prefixDocs > skip) await checkpoint(prefixDocs, false, new AbortController().signal).catch(() => undefined);
      throw e;
    }
    if (position === 0) throw new QxError('dataset', 'the corpus has no documents', { hint: 'Check the corpus path and format.' });
    await checkpoint(position, true);
    await this.request('restore the refresh interval', () => this.client.indices.putSettings({ index, body: { index: { refresh_interval: null } } as never }), signal);
    await this.request('refresh', () => this.client.indices.refresh({ index }), signal);
    this.numDocs = position;
    return { numDocs: position, resumedFrom: skip, alreadyComplete: false };
  }

  /** One bulk request; items rejected with 429 are re-sent (only them) with backoff. */
  private async bulk(docs: readonly CorpusDoc[], signal: AbortSignal | undefined): Promise<void> {
    const { index } = this.config;
    let pending = docs;
    for (let attempt = 0; ; attempt++) {
      const res = await this.request('bulk indexing', () => this.client.bulk({ body: bulkBody(index, pending) as never }), signal);
      const body = res.body as { errors?: boolean; items?: Record<string, { _id?: string; status?: number; error?: { type?: string; reason?: string } }>[] };
      if (!body.errors) return;
      const items = (body.items ?? []).map((it) => Object.values(it)[0]);
      const busy = new Set<number>();
      items.forEach((r, i) => {
        if (r?.error === undefined) return;
        if (r.status === 429) {
          busy.add(i);
          return;
        }
        throw new QxError('dataset', `OpenSearch rejected document ${r._id ?? pending[i]?.id ?? '?'} (HTTP ${r.status ?? '?'} ${r.error.type ?? ''}): ${r.error.reason ?? 'unknown reason'}`, {
          hint: 'Fix the document in the corpus (or the index settings) and rerun: documents already loaded are kept and a rerun resumes.',
        });
      });
      if (busy.size === 0) return;
      if (attempt >= this.retry.maxRetries) throw new RetryableResponse(`${busy.size} documents rejected with 429 (e.g. ${pending[[...busy][0]!]?.id})`);
      const delay = backoffDelay(this.retry, attempt);
      this.logger.warn(`OpenSearch bulk indexing: ${busy.size} documents rejected with 429; retry ${attempt + 1}/${this.retry.maxRetries} in ${Math.round(delay)} ms`);
      await sleep(delay, signal ?? new AbortController().signal);
      pending = pending.filter((_, i) => busy.has(i));
    }
  }

  info(): RetrieverInfo {
    const analyzer = this.config.analyzer ?? 'english';
    return {
      engine: 'opensearch',
      analyzer: analyzer === 'english' ? { name: 'english', tokenizer: 'standard', possessive: true, lowercase: true, stopwords: '_english_', stemmer: 'porter_stem' } : { name: 'cjk', builtin: true },
      params: { k1: this.config.k1 ?? 0.9, b: this.config.b ?? 0.4, node: this.config.node, index: this.config.index },
      numDocs: this.numDocs,
    };
  }

  /** Top-k hits (default 1000), score descending, ties by docid descending. */
  async search(query: string, options: SearchOptions = {}): Promise<RunHit[]> {
    return (await this.searchMany([query], options.k ?? 1000, options.signal))[0]!;
  }

  /**
   * Top-k hits of each query with one `_msearch` request (queries that analyze to nothing, i.e.
   * blank ones, are not sent and get []). Each list is in trec_eval order (score descending, ties
   * by docid descending), ranks from 1. An item answered 429/5xx retries the whole request;
   * another item error is a `badResponse` QxError naming the query.
   */
  async searchMany(queries: readonly string[], k: number, signal?: AbortSignal): Promise<RunHit[][]> {
    throwIfAborted(signal);
    const out: RunHit[][] = queries.map(() => []);
    const asked = queries.map((q, i) => [q, i] as const).filter(([q]) => q.trim() !== '');
    if (asked.length === 0) return out;
    const { index } = this.config;
    const responses = await this.request(
      'search',
      () => {
        const p = this.client.msearch({ index, body: msearchBody(index, asked.map(([q]) => q), k, this.shards) as never }) as Abortable<{ body: unknown }>;
        const checked = p.then((res) => {
          const items = (res.body as { responses?: { status?: number; error?: unknown }[] }).responses ?? [];
          const busy = items.find((r) => r.status === 429 || (r.status !== undefined && r.status >= 500));
          if (busy !== undefined) throw new RetryableResponse(`a search was answered ${busy.status}: ${JSON.stringify(busy.error).slice(0, 200)}`);
          return items;
        }) as Abortable<{ status?: number; error?: unknown; hits?: { hits?: { _id: string; _score: number | null }[] } }[]>;
        checked.abort = p.abort;
        return checked;
      },
      signal,
    );
    if (responses.length !== asked.length) throw new QxError('badResponse', `OpenSearch answered ${responses.length} searches to ${asked.length} queries`);
    responses.forEach((r, j) => {
      const [q, i] = asked[j]!;
      if (r.error !== undefined) throw new QxError('badResponse', `OpenSearch could not search "${q.slice(0, 80)}": ${JSON.stringify(r.error).slice(0, 300)}`);
      const hits = (r.hits?.hits ?? []).map((h) => ({ docid: h._id, score: h._score ?? 0 }));
      hits.sort((a, b) => b.score - a.score || (a.docid < b.docid ? 1 : a.docid > b.docid ? -1 : 0));
      out[i] = hits.map((h, n) => ({ ...h, rank: n + 1 }));
    });
    return out;
  }

  /** A document's stored title/text, or undefined when the id is unknown. */
  async doc(docid: string, signal?: AbortSignal): Promise<CorpusDoc | undefined> {
    const res = await this.request('get document', () => this.client.get({ index: this.config.index, id: docid }, { ignore: [404] }), signal);
    const body = res.body as { found?: boolean; _source?: { title?: string; text?: string } };
    if (!body.found || body._source === undefined) return undefined;
    return body._source.title === undefined ? { id: docid, text: body._source.text ?? '' } : { id: docid, title: body._source.title, text: body._source.text ?? '' };
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
