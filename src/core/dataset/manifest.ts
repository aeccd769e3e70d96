import { dirname, resolve } from 'node:path';
import { stat } from 'node:fs/promises';
import { QxError } from '../errors.js';
import { REWRITE_KINDS, applyRewrites, readRewrites } from './conversations.js';
import { CORPUS_FORMATS, type CorpusFormat } from './corpus.js';
import { QRELS_FORMATS, readQrels, type QrelsFormat } from './qrels.js';
import { TOPICS_FORMATS, readTopics, type TopicsFormat } from './topics.js';
import { readDataFile } from './textFile.js';
import type { TopicsSample } from './sample.js';
import type { Qrels, RewriteKind, Topic } from './types.js';

/** The manifest file name a dataset folder holds. */
export const MANIFEST_FILE = 'qx.dataset.json';

/** Which part of an experiment a query set is for. Evaluation queries are `test` or `eval`. */
export type DatasetSplit = 'train' | 'dev' | 'test' | 'eval';

/** A data file of the manifest; `path` is absolute once loaded. */
export interface DataFileRef<F extends string> {
  path: string;
  /** Omitted: detected from the file (see readTopics / readQrels). */
  format?: F;
}

/**
 * A dataset described by `qx.dataset.json`, as returned by {@link loadManifest}: validated, with
 * every path resolved against the manifest's folder. In the JSON file, `corpus` may give `path`
 * (one file) or `paths` (several, e.g. the BM25 and RM3 pools; their union is the corpus).
 *
 * ```json
 * { "version": 1, "name": "dl19", "language": "en", "split": "test",
 *   "topics": { "path": "topics.dl19-passage.txt", "format": "tsv" },
 *   "qrels": { "path": "qrels.dl19-passage.txt" },
 *   "corpus": { "paths": ["bm25/retrieve_results_dl19.json"], "format": "rankllm-json" },
 *   "relevanceLevel": 2 }
 * ```
 */
export interface DatasetManifest {
  /** Optional JSON-schema URL, ignored. */
  $schema?: string;
  /** Manifest format version; only 1 exists. */
  version: 1;
  /** Short name used in provenance and exports, e.g. "dl19". Non-empty. */
  name: string;
  /** Language of queries and corpus as a BCP-47 primary tag: "en", "zh", ... Picks the analyzer. */
  language: string;
  /** The queries to expand and score. */
  topics: DataFileRef<TopicsFormat>;
  /** Relevance judgments for `topics`. */
  qrels: DataFileRef<QrelsFormat>;
  /** The documents; `paths` always lists every file (`path` is kept when the manifest used it). */
  corpus: { path?: string; paths: string[]; format?: CorpusFormat };
  /**
   * What `topics` are for. `test`/`eval` marks evaluation queries: exports refuse them as training
   * data unless explicitly overridden. Default: none (treated as unknown, i.e. not training-safe).
   */
  split?: DatasetSplit;
  /** Queries that may be used as few-shot exemplars or training data (never evaluation queries). */
  trainTopics?: DataFileRef<TopicsFormat>;
  /**
   * Rewrite files of the topics, `qid<TAB>rewrite` per line (CAsT 2019's resolved TSV), each
   * with who wrote it: `manual` (a person, the human teacher) or `automatic` (a model, a
   * baseline). Rewrites inside the topics file (CAsT 2020, QReCC) need no entry here.
   */
  rewrites?: Array<{ path: string; kind: RewriteKind }>;
  /**
   * Minimum grade counted relevant for recall, AP and precision (trec_eval `-l`). Integer >= 1.
   * Default 2, the TREC Deep Learning convention; nDCG always uses every positive grade.
   */
  relevanceLevel: number;
  description?: string;
  /** Where the data comes from: a citation/URL string or a structured record. */
  source?: string | Record<string, unknown>;
  /** Set by `qx init --sample-queries`: `topics` is a seeded sample of `sample.from` (kept as written). */
  sample?: TopicsSample;
  /**
   * An external index that scoring retrieves from instead of the workspace's own BM25 index
   * (`.qx/index`, built from `corpus`): for collections too big for one machine (MS MARCO v2).
   */
  retriever?: ExternalRetrieverRef;
  /** Absolute path of the manifest file itself. */
  file: string;
  /** Absolute path of the folder holding the manifest (base of relative paths). */
  dir: string;
}

/**
 * An OpenSearch/Elasticsearch index named by the manifest's `retriever` field. Never holds a
 * secret: a cluster that needs a password names the environment variable holding it.
 */
export interface ExternalRetrieverRef {
  /** Only "opensearch" (OpenSearch, or Elasticsearch 7.x speaking the same REST API). */
  engine: 'opensearch';
  /** Base URL of the cluster, http(s), without user or password, e.g. "http://localhost:9200". */
  url: string;
  /** Index name: lowercase, no spaces, commas, `*`, `?`, `"`, `<`, `>`, `|`, `/` or `\`. */
  index: string;
  /** Name of the environment variable holding `user:password` for basic auth; omitted: no auth. */
  authEnv?: string;
  /** Queries searched at once (one `_msearch` each), integer 1–64, default 4. */
  concurrency?: number;
}

/** Default of {@link ExternalRetrieverRef.concurrency}. */
export const DEFAULT_RETRIEVER_CONCURRENCY = 4;

/** The queries and judgments of a dataset (the corpus is streamed separately with readCorpus). */
export interface LoadedDataset {
  topics: Topic[];
  qrels: Qrels;
  /** Present when the manifest names `trainTopics`. */
  trainTopics?: Topic[];
}

const SPLITS: readonly DatasetSplit[] = ['train', 'dev', 'test', 'eval'];
/** Every top-level field a manifest may have (README "Dataset manifest" documents each). */
export const MANIFEST_FIELDS: readonly string[] = ['$schema', 'version', 'name', 'language', 'topics', 'qrels', 'corpus', 'split', 'trainTopics', 'rewrites', 'relevanceLevel', 'description', 'source', 'sample', 'retriever'];
const KNOWN_KEYS = new Set(MANIFEST_FIELDS);

/**
 * Reads and validates a dataset manifest. `file` may be the manifest itself or the folder that
 * holds `qx.dataset.json`. Every problem is a `config` QxError that names the manifest file and
 * the field; a data file that does not exist is reported with its resolved path and how to fix it.
 */
export async function loadManifest(file: string): Promise<DatasetManifest> {
  let path = resolve(file);
  try {
    if ((await stat(path)).isDirectory()) path = resolve(path, MANIFEST_FILE);
  } catch {
    // A missing path is reported by readDataFile below with the usual message.
  }
  let raw: string;
  try {
    raw = await readDataFile(path, 'dataset manifest');
  } catch (e) {
    if (QxError.is(e)) throw new QxError('config', e.message, { file: path, cause: e, hint: `Create ${MANIFEST_FILE} or open the folder that holds it.` });
    throw e;
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (e) {
    throw new QxError('config', `the dataset manifest is not valid JSON (${(e as Error).message}).`, { file: path, hint: 'Fix the JSON syntax.' });
  }
  const dir = dirname(path);
  const fail = (field: string, problem: string, hint: string): never => {
    throw new QxError('config', `field "${field}": ${problem}`, { file: path, hint });
  };
  if (json === null || typeof json !== 'object' || Array.isArray(json)) fail('(root)', 'expected a JSON object.', 'See the DatasetManifest example in the docs.');
  const m = json as Record<string, unknown>;
  for (const k of Object.keys(m)) {
    if (!KNOWN_KEYS.has(k)) fail(k, 'unknown field.', `Remove it or fix its spelling (known fields: ${[...KNOWN_KEYS].join(', ')}).`);
  }
  if (m.version !== 1) fail('version', `must be 1, got ${JSON.stringify(m.version)}.`, 'Set "version": 1.');
  if (typeof m.name !== 'string' || m.name.trim() === '') fail('name', 'must be a non-empty string.', 'Give the dataset a short name such as "dl19".');
  if (typeof m.language !== 'string' || !/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/.test(m.language)) {
    fail('language', `must be a language tag such as "en" or "zh", got ${JSON.stringify(m.language)}.`, 'Set "language" to the queries\' language.');
  }
  if (m.split !== undefined && !SPLITS.includes(m.split as DatasetSplit)) {
    fail('split', `must be one of ${SPLITS.join(', ')}, got ${JSON.stringify(m.split)}.`, 'Use "test" or "eval" for evaluation queries, "train" for training queries.');
  }
  let relevanceLevel = 2;
  if (m.relevanceLevel !== undefined) {
    if (typeof m.relevanceLevel !== 'number' || !Number.isInteger(m.relevanceLevel) || m.relevanceLevel < 1) {
      fail('relevanceLevel', `must be an integer >= 1, got ${JSON.stringify(m.relevanceLevel)}.`, 'TREC DL uses 2; binary qrels use 1.');
    }
    relevanceLevel = m.relevanceLevel as number;
  }
  for (const k of ['description', '$schema'] as const) {
    if (m[k] !== undefined && typeof m[k] !== 'string') fail(k, 'must be a string.', `Write ${k} as a string or remove it.`);
  }
  if (m.source !== undefined && typeof m.source !== 'string' && (m.source === null || typeof m.source !== 'object' || Array.isArray(m.source))) {
    fail('source', 'must be a string or an object.', 'Give a citation/URL string or an object such as {"repo": ..., "commit": ...}.');
  }

  if (m.sample !== undefined) checkSample(m.sample, fail);
  const retriever = m.retriever === undefined ? undefined : checkRetriever(m.retriever, fail);

  const fileRef = <F extends string>(field: string, formats: readonly F[]): DataFileRef<F> => {
    const v = m[field];
    if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(field, 'must be an object {"path": ..., "format"?: ...}.', `Add "${field}": {"path": "..."}.`);
    const o = v as Record<string, unknown>;
    if (typeof o.path !== 'string' || o.path === '') fail(`${field}.path`, 'must be a non-empty string.', 'Give the file path relative to the manifest.');
    const ref: DataFileRef<F> = { path: resolve(dir, o.path as string) };
    if (o.format !== undefined) {
      if (!formats.includes(o.format as F)) fail(`${field}.format`, `unknown format ${JSON.stringify(o.format)}.`, `Use one of: ${formats.join(', ')}, or omit it to detect.`);
      ref.format = o.format as F;
    }
    return ref;
  };
  const topics = fileRef('topics', TOPICS_FORMATS);
  const qrels = fileRef('qrels', QRELS_FORMATS);
  const trainTopics = m.trainTopics === undefined ? undefined : fileRef('trainTopics', TOPICS_FORMATS);
  let rewrites: Array<{ path: string; kind: RewriteKind }> | undefined;
  if (m.rewrites !== undefined) {
    if (!Array.isArray(m.rewrites) || m.rewrites.length === 0) fail('rewrites', 'must be a non-empty list of {"path", "kind"}.', 'Write "rewrites": [{"path": "resolved.tsv", "kind": "manual"}] or remove it.');
    rewrites = (m.rewrites as unknown[]).map((r, i) => {
      const o = (r !== null && typeof r === 'object' && !Array.isArray(r) ? r : {}) as Record<string, unknown>;
      if (typeof o.path !== 'string' || o.path === '') fail(`rewrites[${i}].path`, 'must be a non-empty string.', 'Give the rewrite file relative to the manifest.');
      if (!REWRITE_KINDS.includes(o.kind as RewriteKind)) fail(`rewrites[${i}].kind`, `must be one of ${REWRITE_KINDS.join(', ')}, got ${JSON.stringify(o.kind)}.`, '"manual" for rewrites people wrote, "automatic" for a model\'s.');
      const extra = Object.keys(o).filter((k) => k !== 'path' && k !== 'kind');
      if (extra.length > 0) fail(`rewrites[${i}].${extra[0]}`, 'unknown field.', 'A rewrite entry has only "path" and "kind".');
      return { path: resolve(dir, o.path as string), kind: o.kind as RewriteKind };
    });
    const kinds = rewrites.map((r) => r.kind);
    const dup = kinds.find((k, i) => kinds.indexOf(k) !== i);
    if (dup !== undefined) fail('rewrites', `two files of kind "${dup}".`, 'Give at most one rewrite file per kind.');
  }

  const c = m.corpus;
  if (c === null || typeof c !== 'object' || Array.isArray(c)) fail('corpus', 'must be an object {"path" | "paths", "format"?}.', 'Add "corpus": {"path": "..."}.');
  const co = c as Record<string, unknown>;
  let corpusPaths: string[];
  if (typeof co.path === 'string' && co.path !== '' && co.paths === undefined) corpusPaths = [co.path];
  else if (co.path === undefined && Array.isArray(co.paths) && co.paths.length > 0 && co.paths.every((p) => typeof p === 'string' && p !== '')) corpusPaths = co.paths as string[];
  else fail('corpus', 'needs either "path" (a string) or "paths" (a non-empty list of strings), not both.', 'Give the corpus file(s) relative to the manifest.');
  const corpus: DatasetManifest['corpus'] = { paths: corpusPaths!.map((p) => resolve(dir, p)) };
  if (typeof co.path === 'string') corpus.path = corpus.paths[0]!;
  if (co.format !== undefined) {
    if (!CORPUS_FORMATS.includes(co.format as CorpusFormat)) fail('corpus.format', `unknown format ${JSON.stringify(co.format)}.`, `Use one of: ${CORPUS_FORMATS.join(', ')}, or omit it to detect from the extension.`);
    corpus.format = co.format as CorpusFormat;
  }

  const mustExist: Array<[string, string]> = [['topics.path', topics.path], ['qrels.path', qrels.path]];
  corpus.paths.forEach((p, i) => mustExist.push([corpus.path !== undefined ? 'corpus.path' : `corpus.paths[${i}]`, p]));
  if (trainTopics) mustExist.push(['trainTopics.path', trainTopics.path]);
  rewrites?.forEach((r, i) => mustExist.push([`rewrites[${i}].path`, r.path]));
  for (const [field, p] of mustExist) {
    let ok = false;
    try {
      ok = (await stat(p)).isFile();
    } catch {
      ok = false;
    }
    if (!ok) fail(field, `file not found: ${p}`, `Fix the path in ${MANIFEST_FILE} (relative paths are resolved from ${dir}) or put the file there.`);
  }

  const out: DatasetManifest = {
    version: 1,
    name: (m.name as string).trim(),
    language: m.language as string,
    topics,
    qrels,
    corpus,
    relevanceLevel,
    file: path,
    dir,
  };
  if (typeof m.$schema === 'string') out.$schema = m.$schema;
  if (m.split !== undefined) out.split = m.split as DatasetSplit;
  if (trainTopics) out.trainTopics = trainTopics;
  if (rewrites) out.rewrites = rewrites;
  if (typeof m.description === 'string') out.description = m.description;
  if (m.source !== undefined) out.source = m.source as string | Record<string, unknown>;
  if (m.sample !== undefined) out.sample = m.sample as TopicsSample;
  if (retriever !== undefined) out.retriever = retriever;
  return out;
}

function checkSample(v: unknown, fail: (field: string, problem: string, hint: string) => never): void {
  const hint = 'It is written by qx init --sample-queries: {"from", "queries", "seed", "eligible", "total"}; restore it or remove the field.';
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail('sample', 'must be an object.', hint);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!['from', 'format', 'queries', 'seed', 'eligible', 'total'].includes(k)) fail(`sample.${k}`, 'unknown field.', hint);
  if (typeof o.from !== 'string' || o.from === '') fail('sample.from', 'must be a non-empty string.', hint);
  if (o.format !== undefined && typeof o.format !== 'string') fail('sample.format', 'must be a string.', hint);
  for (const k of ['queries', 'seed', 'eligible', 'total']) {
    if (typeof o[k] !== 'number' || !Number.isInteger(o[k]) || (o[k] as number) < 0) fail(`sample.${k}`, `must be a non-negative integer, got ${JSON.stringify(o[k])}.`, hint);
  }
}

function checkRetriever(v: unknown, fail: (field: string, problem: string, hint: string) => never): ExternalRetrieverRef {
  const example = '{"engine": "opensearch", "url": "http://localhost:9200", "index": "msmarco-v2-passage", "authEnv"?: "QX_OPENSEARCH_AUTH", "concurrency"?: 4}';
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail('retriever', 'must be an object.', `Write ${example}.`);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!['engine', 'url', 'index', 'authEnv', 'concurrency'].includes(k)) fail(`retriever.${k}`, 'unknown field.', `A retriever has only engine, url, index, authEnv and concurrency: ${example}.`);
  if (o.engine !== 'opensearch') fail('retriever.engine', `must be "opensearch", got ${JSON.stringify(o.engine)}.`, 'OpenSearch (or Elasticsearch 7.x) is the only external engine.');
  let url: URL | undefined;
  try {
    url = typeof o.url === 'string' ? new URL(o.url) : undefined;
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) fail('retriever.url', `must be an http(s) URL, got ${JSON.stringify(o.url)}.`, 'e.g. "http://localhost:9200".');
  if (url!.username !== '' || url!.password !== '') fail('retriever.url', 'holds a user name or password; the manifest is shared and committed, so it never holds a secret.', 'Remove them from the URL, put "user:password" in an environment variable and name it in "authEnv".');
  if (typeof o.index !== 'string' || !/^[a-z0-9][^\sA-Z,*?"<>|/\\#:]*$/.test(o.index)) fail('retriever.index', `must be an OpenSearch index name (lowercase, no spaces or ,*?"<>|/\\#:), got ${JSON.stringify(o.index)}.`, 'Use the --index name given to qx index --opensearch.');
  if (o.authEnv !== undefined && (typeof o.authEnv !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(o.authEnv))) fail('retriever.authEnv', `must be an environment variable name, got ${JSON.stringify(o.authEnv)}.`, 'e.g. "QX_OPENSEARCH_AUTH", holding user:password.');
  if (o.concurrency !== undefined && (typeof o.concurrency !== 'number' || !Number.isInteger(o.concurrency) || o.concurrency < 1 || o.concurrency > 64)) fail('retriever.concurrency', `must be an integer from 1 to 64, got ${JSON.stringify(o.concurrency)}.`, `Omit it for ${DEFAULT_RETRIEVER_CONCURRENCY}.`);
  const out: ExternalRetrieverRef = { engine: 'opensearch', url: (o.url as string).replace(/\/+$/, ''), index: o.index as string };
  if (o.authEnv !== undefined) out.authEnv = o.authEnv as string;
  if (o.concurrency !== undefined) out.concurrency = o.concurrency as number;
  return out;
}

/**
 * Reads a loaded manifest's topics (with the rewrites of `rewrites` applied), qrels (and train
 * topics); the corpus stays on disk.
 */
export async function loadDataset(manifest: DatasetManifest): Promise<LoadedDataset> {
  const [read, qrels, trainTopics] = await Promise.all([
    readTopics(manifest.topics.path, manifest.topics.format),
    readQrels(manifest.qrels.path, manifest.qrels.format),
    manifest.trainTopics ? readTopics(manifest.trainTopics.path, manifest.trainTopics.format) : Promise.resolve(undefined),
  ]);
  let topics = read;
  for (const r of manifest.rewrites ?? []) topics = applyRewrites(topics, await readRewrites(r.path), r.kind, r.path);
  return trainTopics ? { topics, qrels, trainTopics } : { topics, qrels };
}
