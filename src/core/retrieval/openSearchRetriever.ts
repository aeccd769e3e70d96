import { Client } from '@opensearch-project/opensearch';
import { QxError, errorMessage, throwIfAborted } from '../errors.js';
import type { ProgressCallback } from '../progress.js';
import type { CorpusDoc, RunHit } from '../dataset/types.js';
import type { Retriever, RetrieverInfo, SearchOptions } from './retriever.js';

/** Where and how to reach an OpenSearch (or Elasticsearch-compatible) cluster. */
export interface OpenSearchConfig {
  /** Base URL, e.g. "http://localhost:9200". */
  node: string;
  /** Index name (lowercase, no spaces). */
  index: string;
  /** BM25 k1, default 0.9 (Anserini's). */
  k1?: number;
  /** BM25 b, default 0.4 (Anserini's). */
  b?: number;
  /** Basic auth, when the cluster needs it. */
  auth?: { username: string; password: string };
  /** Per-request timeout in ms, default 60,000. */
  requestTimeoutMs?: number;
}

export interface OpenSearchBuildOptions {
  signal?: AbortSignal;
  /** Called after each bulk request with documents sent so far. */
  onProgress?: ProgressCallback;
  /** Documents per bulk request, default 1,000. */
  batchSize?: number;
}

const FIELD = 'contents';
const ANALYZER = 'qx_english';

/**
 * Index settings and mappings equivalent to the embedded engine's defaults: one shard (global
 * statistics as in one Lucene index), BM25 with the given k1/b, and Anserini's English chain
 * (standard tokenizer, English possessive, lowercase, Lucene's 33 English stop words, Porter).
 * `title`/`text` are kept in `_source` only, for the review UI.
 */
export function openSearchIndexBody(k1 = 0.9, b = 0.4): Record<string, unknown> {
  return {
    settings: {
      number_of_shards: 1,
      number_of_replicas: 0,
      similarity: { qx_bm25: { type: 'BM25', k1, b } },
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
        [FIELD]: { type: 'text', analyzer: ANALYZER, similarity: 'qx_bm25' },
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

/** The search request body: a match query on the English-analyzed field (a repeated term counts again). */
export function searchBody(query: string, k: number): Record<string, unknown> {
  return { size: k, track_total_hits: false, _source: false, query: { match: { [FIELD]: { query } } } };
}

interface Abortable<T> extends Promise<T> {
  abort?: () => void;
}

async function call<T>(what: string, node: string, p: Abortable<T>, signal?: AbortSignal): Promise<T> {
  const onAbort = (): void => p.abort?.();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await p;
  } catch (e) {
    throwIfAborted(signal);
    const status = (e as { meta?: { statusCode?: number } }).meta?.statusCode;
    if (status === 401 || status === 403) throw new QxError('auth', `OpenSearch refused ${what} (HTTP ${status})`, { cause: e, hint: 'Check the user name and password.' });
    throw new QxError('network', `OpenSearch ${what} failed at ${node}: ${errorMessage(e)}`, { cause: e, hint: 'Check that the cluster is up and the URL is right.' });
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * A Retriever backed by OpenSearch/Elasticsearch, for corpora too large for one machine's memory.
 * Same analyzer chain and BM25 parameters as the embedded engine; scores match Lucene's, ranks may
 * differ only where OpenSearch's Lucene version differs.
 */
export class OpenSearchRetriever implements Retriever {
  private readonly client: Client;
  private numDocs = 0;

  constructor(private readonly config: OpenSearchConfig) {
    this.client = new Client({
      node: config.node,
      ...(config.auth ? { auth: config.auth } : {}),
      requestTimeout: config.requestTimeoutMs ?? 60_000,
    });
  }

  /**
   * (Re)creates the index (an existing index of that name is deleted) and bulk-indexes `docs`,
   * reporting progress after each batch; refreshes at the end. Throws a `network` QxError naming
   * the first failed document when the cluster rejects part of a batch, and a `dataset` error for
   * an empty corpus.
   */
  async build(docs: AsyncIterable<CorpusDoc> | Iterable<CorpusDoc>, options: OpenSearchBuildOptions = {}): Promise<{ numDocs: number }> {
    const { index, node } = this.config;
    const signal = options.signal;
    await call('delete index', node, this.client.indices.delete({ index }, { ignore: [404] }), signal);
    await call('create index', node, this.client.indices.create({ index, body: openSearchIndexBody(this.config.k1, this.config.b) as never }), signal);
    const batchSize = options.batchSize ?? 1000;
    let batch: CorpusDoc[] = [];
    let sent = 0;
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      throwIfAborted(signal);
      const res = await call('bulk indexing', node, this.client.bulk({ body: bulkBody(index, batch) as never }), signal);
      const body = res.body as { errors?: boolean; items?: Record<string, { _id?: string; error?: { reason?: string } }>[] };
      if (body.errors) {
        const failed = (body.items ?? []).map((it) => Object.values(it)[0]).find((r) => r?.error !== undefined);
        throw new QxError('network', `OpenSearch rejected document ${failed?._id ?? '?'}: ${failed?.error?.reason ?? 'unknown reason'}`, {
          hint: 'Fix the document or the index settings and rebuild.',
        });
      }
      sent += batch.length;
      batch = [];
      options.onProgress?.({ done: sent, unit: 'documents' });
    };
    for await (const d of docs) {
      batch.push(d);
      if (batch.length >= batchSize) await flush();
    }
    await flush();
    if (sent === 0) throw new QxError('dataset', 'the corpus has no documents', { hint: 'Check the corpus path and format.' });
    await call('refresh', node, this.client.indices.refresh({ index }), signal);
    this.numDocs = sent;
    return { numDocs: sent };
  }

  info(): RetrieverInfo {
    return {
      engine: 'opensearch',
      analyzer: { name: 'english', tokenizer: 'standard', possessive: true, lowercase: true, stopwords: '_english_', stemmer: 'porter_stem' },
      params: { k1: this.config.k1 ?? 0.9, b: this.config.b ?? 0.4, node: this.config.node, index: this.config.index },
      numDocs: this.numDocs,
    };
  }

  /** Top-k hits (default 1000), score descending, ties by docid descending. */
  async search(query: string, options: SearchOptions = {}): Promise<RunHit[]> {
    throwIfAborted(options.signal);
    if (query.trim() === '') return [];
    const res = await call(
      'search',
      this.config.node,
      this.client.search({ index: this.config.index, body: searchBody(query, options.k ?? 1000) as never }),
      options.signal,
    );
    const hits = ((res.body as { hits?: { hits?: { _id: string; _score: number | null }[] } }).hits?.hits ?? []).map((h) => ({ docid: h._id, score: h._score ?? 0 }));
    hits.sort((a, b) => b.score - a.score || (a.docid < b.docid ? 1 : a.docid > b.docid ? -1 : 0));
    return hits.map((h, i) => ({ ...h, rank: i + 1 }));
  }

  /** A document's stored title/text, or undefined when the id is unknown. */
  async doc(docid: string, signal?: AbortSignal): Promise<CorpusDoc | undefined> {
    const res = await call('get document', this.config.node, this.client.get({ index: this.config.index, id: docid }, { ignore: [404] }), signal);
    const body = res.body as { found?: boolean; _source?: { title?: string; text?: string } };
    if (!body.found || body._source === undefined) return undefined;
    return body._source.title === undefined ? { id: docid, text: body._source.text ?? '' } : { id: docid, title: body._source.title, text: body._source.text ?? '' };
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
