import { availableParallelism } from 'node:os';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { Bm25Index } from '../bm25/bm25Index.js';
import { CurationStore, originalScoreId, retrievalSettingsKey, type ScoreSummary as StoreScoreSummary } from '../curation/store.js';
import { buildPairs as buildPairRecords, pairBuildReport, pairId, pairTask, type PairBuildReport, type ScoredCandidate } from '../curation/pairs.js';
import { conditioningOf, outputKindOf } from '../curation/kinds.js';
import { pairLengthStats } from '../curation/lengths.js';
import { defaultPairRules, type ExpansionScore, type PairRecord, type PairRules, type PairState } from '../curation/types.js';
import { corpusForIndex } from '../bm25/docStore.js';
import { DEFAULT_RETRIEVER_CONCURRENCY, MANIFEST_FILE, loadDataset, loadManifest, type DatasetManifest } from '../dataset/manifest.js';
import type { CorpusDoc, Qrels, Topic } from '../dataset/types.js';
import { SAMPLE_TOPICS_FILE, sampleTopics, topicsJsonl, type TopicsSample } from '../dataset/sample.js';
import { QxError, errorMessage, throwIfAborted } from '../errors.js';
import { baselineMethods, checkRm3Options, rm3Expansion, rm3Parameters, sameParameters, type BaselineMethod, type Rm3BaselineOptions } from '../expansion/baseline.js';
import { ExpansionCache } from '../expansion/cache.js';
import { formulate, type FormulationName, checkFormulation } from '../expansion/formulation.js';
import { buildBatchInput, importExpansionFile } from '../expansion/importers.js';
import type { Expander } from '../expansion/expander.js';
import { OnnxExpander } from '../expansion/onnxExpander.js';
import { OpenAiExpander, effectiveExtraBody } from '../expansion/openAiExpander.js';
import { expansionId as makeExpansionId } from '../expansion/records.js';
import { runExpansions } from '../expansion/runner.js';
import { defaultRetryPolicy } from '../expansion/retry.js';
import { loadTemplates, renderTemplate, shippedTemplateDir, templateRef, type FewShotExample, type PromptTemplate } from '../expansion/templates.js';
import type { ExpansionRecord } from '../expansion/types.js';
import { writeFileAtomic } from '../files/atomicWrite.js';
import { exportDataset, type ExportInput } from '../export/exportData.js';
import { expansionCost, methodQueryCosts, type QueryCostSection } from '../feedback/queryCost.js';
import { ReviewJudgments, type QueryJudgeView } from '../judge/reviewJudge.js';
import { defaultScoreThreads, hasPositiveJudgment, judgmentStatus, scoreFinal, scoreOriginal, scoreQueries, scoreRanking, type FeedbackSettings, type QueryToScore } from '../feedback/score.js';
import { scoreQueriesRemote } from '../feedback/scoreRemote.js';
import { openManifestRetriever } from '../retrieval/manifestRetriever.js';
import type { OpenSearchRetriever } from '../retrieval/openSearchRetriever.js';
import type { Logger } from '../logger.js';
import type { TaskOptions } from '../progress.js';
import { estimateOutputTokens, loadWorkspacePrices, type CostInput } from '../report/cost.js';
import { renderReportHtml } from '../report/html.js';
import { renderReportMarkdown } from '../report/markdown.js';
import { buildJudgeFilledSection, type JudgeFilledSection } from '../report/judgeFilled.js';
import { buildReport, type QxReport } from '../report/report.js';
import { loadJudgeTemplate } from '../judge/template.js';
import { type FillReport, type JudgeSummary, judgeWorkspace, openJudgments, workspaceCalibration, workspaceFill } from '../judge/workflow.js';
import type { CalibrationReport } from '../judge/calibration.js';
import { linkedEvalOverlap, parseRoundMethod, writeRoundReport } from './rounds.js';
import { defaultTemplateId, effectiveAnalyzer, primaryLanguage, type AnalyzerName } from './settings.js';
import type {
  ExpandRequest,
  ExportRequest,
  JudgeRequest,
  ExportResult,
  ImportRequest,
  QueryReview,
  QuerySummary,
  QxSettings,
  ScoredExpansion,
  UndoResult,
  WorkspaceApi,
} from './api.js';

/** What differs between the hosts that open a workspace (the extension, the CLI, tests). */
export interface WorkspaceDeps {
  settings: QxSettings;
  logger: Logger;
  /** The API key of an endpoint, from SecretStorage (extension) or the environment (CLI). */
  getApiKey: (baseUrl: string) => Promise<string | undefined>;
  /** Where generations are cached; default `<root>/.qx/cache`. */
  cacheDir?: string;
  /** QX Studio version recorded in exports and new stores; default "dev". */
  toolVersion?: string;
  /** Environment variables (the manifest's `retriever.authEnv` names one); default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** What an import did; `unknownQids` and `problems` explain every skipped row. */
export interface ImportSummary {
  imported: number;
  /** Rows not imported: unknown query ids, rows of the wrong shape, and records already stored. */
  skipped: number;
  /** Records already in the store (re-imports), counted in `skipped`. */
  duplicates: number;
  /** Distinct query ids of the file that are not in the dataset (all of them, sorted as met). */
  unknownQids: string[];
  /** Up to 5 messages of the rows skipped for another reason (`file:line: problem`). */
  problems: string[];
  /** Rows imported as asked but that look like another formulation (see `importRows`); also logged. */
  warnings: string[];
}

/** What a pair rebuild did. */
export interface PairsSummary {
  pairs: number;
  created: number;
  updated: number;
  deleted: number;
  rules: PairRules;
  /** What the rules left out and why (expansions not fitting the task, queries without a pair). */
  report: PairBuildReport;
}

/** What `expandBaseline` asks for: a model-free method, its settings, all or some queries. */
export interface BaselineRequest extends Rm3BaselineOptions {
  method: BaselineMethod;
  /** Only these queries; default all. */
  qids?: string[];
}

/** What `expandBaseline` did: records added, queries that already had one with these parameters. */
export interface BaselineSummary {
  added: number;
  present: number;
  parameters: Record<string, string | number | boolean>;
}

/** Scoring counts: `scored` expansions (originals not counted) and queries with no positive judgment. */
export interface ScoreSummary {
  scored: number;
  originals: number;
  /** Query ids with no judgment of grade > 0: scored, but left out of every mean (`unjudged` included). */
  noRelevant: string[];
  /** The ones of `noRelevant` with no judgment at all (absent from the qrels: trec_eval ignores them even with -c). */
  unjudged: string[];
}

/** Options of {@link createWorkspace}. */
export interface CreateWorkspaceOptions {
  /**
   * Keep only a seeded sample of the topics (see dataset `sampleTopics`): `queries` drawn among
   * those with a relevant judgment, written to `sample.topics.jsonl` in the workspace, which the
   * manifest's `topics` then names; the manifest's `sample` field records the source file, size and seed.
   */
  sampleQueries?: { queries: number; seed: number };
}

const INDEX_DIR = join('.qx', 'index');
const REPORT_DIR = join('.qx', 'reports');

/**
 * Makes `root` a workspace: writes `qx.dataset.json` from `manifest` (the JSON object of a dataset
 * manifest; relative paths are relative to `root`), validates it with the dataset loader, and
 * creates the `.qx/` folder. Refuses a folder that already holds a manifest. On a validation
 * error nothing is left behind. Returns the manifest's path.
 */
export async function createWorkspace(root: string, manifest: Record<string, unknown>, options: CreateWorkspaceOptions = {}): Promise<string> {
  const dir = resolve(root);
  const file = join(dir, MANIFEST_FILE);
  if (existsSync(file)) {
    throw new QxError('config', `${dir} is already a QX workspace`, { file, hint: 'Open it instead, or remove qx.dataset.json to start over.' });
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, JSON.stringify(manifest, null, 2) + '\n');
  const sampleFile = join(dir, SAMPLE_TOPICS_FILE);
  try {
    const m = await loadManifest(file);
    const dataset = await loadDataset(m);
    if (options.sampleQueries !== undefined) {
      const { queries, seed } = options.sampleQueries;
      const drawn = sampleTopics(dataset.topics, dataset.qrels, queries, seed);
      writeFileAtomic(sampleFile, topicsJsonl(drawn.topics));
      const topics = manifest.topics as Record<string, unknown>;
      const sample: TopicsSample = { from: String(topics.path), ...(typeof topics.format === 'string' ? { format: topics.format } : {}), queries, seed, eligible: drawn.eligible, total: dataset.topics.length };
      writeFileAtomic(file, JSON.stringify({ ...manifest, topics: { path: SAMPLE_TOPICS_FILE, format: 'beir-jsonl' }, sample }, null, 2) + '\n');
      await loadManifest(file);
    }
  } catch (e) {
    const { rmSync } = await import('node:fs');
    rmSync(file, { force: true });
    if (options.sampleQueries !== undefined) rmSync(sampleFile, { force: true });
    throw e;
  }
  mkdirSync(join(dir, '.qx'), { recursive: true });
  return file;
}

/**
 * Opens the workspace in `root` (a folder with `qx.dataset.json`): loads the dataset's topics and
 * qrels, opens the curation store in `.qx/` (taking its lock) and, when one exists, the BM25 index
 * in `.qx/index/`. Throws QxError('config') "no QX workspace in <folder>" for a folder without a
 * manifest, and the dataset loader's and store's errors (newer store schema, locked store) as they
 * are. Close it with `close()`.
 */
export async function openWorkspace(root: string, deps: WorkspaceDeps): Promise<Workspace> {
  const dir = resolve(root);
  const file = join(dir, MANIFEST_FILE);
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    isDir = false;
  }
  if (!isDir || !existsSync(file)) {
    throw new QxError('config', `no QX workspace in ${dir}: run \`qx init\` / QX: Create Workspace`, {
      hint: `A workspace is a folder holding ${MANIFEST_FILE}; pass --workspace DIR to use another folder.`,
    });
  }
  const manifest = await loadManifest(file);
  const dataset = await loadDataset(manifest);
  const store = CurationStore.open(dir, { logger: deps.logger, toolVersion: deps.toolVersion ?? 'dev' });
  const ws = new Workspace(dir, manifest, dataset.topics, dataset.qrels, dataset.trainTopics ?? [], store, deps);
  try {
    await ws.openIndexIfPresent();
  } catch (e) {
    store.close();
    throw e;
  }
  return ws;
}

/**
 * Builds (or with `rebuild`, rebuilds) the BM25 index of a workspace's corpus into
 * `<root>/.qx/index/` with the given settings' analyzer and BM25 parameters, then closes the
 * workspace. For `qx index` run inside a workspace without `--corpus`.
 */
export async function buildWorkspaceIndex(root: string, deps: WorkspaceDeps, options: TaskOptions & { rebuild?: boolean }): Promise<void> {
  const ws = await openWorkspace(root, deps);
  try {
    await ws.buildIndex({ ...options, rebuild: options.rebuild ?? true });
  } finally {
    await ws.close();
  }
}

/** What the query browser and the review panel read, built once and then updated per query. */
interface QueryCache {
  /** One per topic, in topic order; replaced (copy on write) when a query changes. */
  summaries: QuerySummary[];
  pairsByQid: Map<string, PairRecord[]>;
}

/**
 * A workspace: a dataset manifest, its curation store and its BM25 index. Implements the
 * adapters' contract ({@link WorkspaceApi}) plus `report()` and `settingsKey` for the CLI.
 *
 * Scores are stored under a key of the retrieval settings (engine, analyzer, k1, b, norms, topK,
 * relevance level): changing any of them makes every expansion "unscored" again, and old scores
 * are kept for when the settings come back.
 *
 * Queries with no judgment of grade > 0 are scored (everything is 0) but flagged `noRelevant`,
 * reported, and left out of every mean. Of these, trec_eval ignores those absent from the qrels
 * (no judgment at all) as well, but averages in as 0 those judged with no grade > 0.
 */
export class Workspace implements WorkspaceApi {
  readonly name: string;
  private index: Bm25Index | undefined;
  /** Indexes whose search threads live scoring has started. */
  private readonly liveThreads = new WeakSet<Bm25Index>();
  private readonly topicById: Map<string, Topic>;
  private cache: QueryCache | null = null;
  /** Position of each topic by qid, built on the first per-query cache update. */
  private topicPosition: Map<string, number> | undefined;
  private readonly previewOriginals = new Map<string, ExpansionScore>();
  private reviewJudgments: ReviewJudgments | undefined;
  /** The manifest's external retriever, checked against the settings it was opened with (`key`). */
  private external: { key: string; ready: Promise<OpenSearchRetriever> } | undefined;

  /** @internal use {@link openWorkspace} */
  constructor(
    readonly root: string,
    readonly manifest: DatasetManifest,
    readonly topics: readonly Topic[],
    readonly qrels: Qrels,
    readonly trainTopics: readonly Topic[],
    private readonly store: CurationStore,
    private readonly deps: WorkspaceDeps,
  ) {
    this.name = manifest.name;
    this.topicById = new Map(topics.map((t) => [t.qid, t]));
  }

  get settings(): QxSettings {
    return this.deps.settings;
  }

  /**
   * Applies new settings (the extension calls this on a configuration change). New BM25 k1/b/norms
   * reopen the index with them (norms are stored, so no rebuild); a new analyzer drops the index
   * until it is rebuilt. Scores under the old retrieval settings stay stored but no longer show.
   */
  async updateSettings(settings: QxSettings): Promise<void> {
    const before = this.deps.settings.bm25;
    this.deps.settings = settings;
    this.cache = null;
    this.previewOriginals.clear();
    const after = settings.bm25;
    if (this.index === undefined) return;
    const language = this.manifest.language;
    if (effectiveAnalyzer(after.analyzer, language) !== effectiveAnalyzer(before.analyzer, language) || after.k1 !== before.k1 || after.b !== before.b || after.luceneNorms !== before.luceneNorms) {
      await this.index.close();
      this.index = undefined;
      await this.openIndexIfPresent();
    }
  }

  /** The analyzer scores use: the setting, with "auto" resolved from the manifest's language. */
  get analyzer(): AnalyzerName {
    return effectiveAnalyzer(this.deps.settings.bm25.analyzer, this.manifest.language);
  }

  /**
   * The template `expand` uses when the request names none: for conversational topics the LLM4CS
   * rewrite prompt (`cqr-llm4cs`, which holds the history), else the dataset language's zero-shot query2doc.
   */
  get defaultTemplate(): string {
    return this.topics.some((t) => t.conversation !== undefined) ? 'cqr-llm4cs' : defaultTemplateId(this.manifest.language);
  }

  /** What the scores depend on (the effective analyzer, never "auto"); recorded in exports. */
  get retrievalSettings(): Record<string, string | number | boolean> {
    const b = this.deps.settings.bm25;
    const ext = this.manifest.retriever;
    // An external index holds another collection than the local one: its scores are kept apart.
    if (ext !== undefined) return { engine: 'opensearch', index: ext.index, analyzer: this.analyzer, k1: b.k1, b: b.b, lengths: 'lucene', topK: b.topK, relevanceLevel: this.manifest.relevanceLevel, ndcgCutoff: 10 };
    return { engine: 'qx-bm25', analyzer: this.analyzer, k1: b.k1, b: b.b, lengths: b.luceneNorms ? 'lucene' : 'exact', topK: b.topK, relevanceLevel: this.manifest.relevanceLevel, ndcgCutoff: 10 };
  }

  /** Key of the current retrieval settings in the store. */
  get settingsKey(): string {
    return retrievalSettingsKey(this.retrievalSettings);
  }

  private get feedback(): FeedbackSettings {
    return { topK: this.deps.settings.bm25.topK, relevanceLevel: this.manifest.relevanceLevel };
  }

  private get indexDir(): string {
    return join(this.root, INDEX_DIR);
  }

  /** @internal opens `.qx/index` when it exists and matches the analyzer. */
  async openIndexIfPresent(): Promise<void> {
    if (!existsSync(this.indexDir)) return;
    try {
      const idx = await this.openIndex();
      if (idx.data.analyzer !== this.analyzer) {
        this.deps.logger.info(`The index in ${this.indexDir} uses the ${idx.data.analyzer} analyzer; settings ask for ${this.analyzer}: it will be rebuilt when needed.`);
        await idx.close();
        return;
      }
      this.index = idx;
    } catch (e) {
      if (!QxError.is(e, 'index')) throw e;
      this.deps.logger.warn(`${errorMessage(e)} It will be rebuilt when needed.`);
    }
  }

  private openIndex(): Promise<Bm25Index> {
    const b = this.deps.settings.bm25;
    return Bm25Index.open(this.indexDir, { k1: b.k1, b: b.b, lengths: b.luceneNorms ? 'lucene' : 'exact' });
  }

  private async ensureIndex(options: TaskOptions): Promise<Bm25Index> {
    if (this.index !== undefined) return this.index;
    await this.buildIndex(options);
    return this.index as unknown as Bm25Index;
  }

  /** Drops the query cache: for changes that may touch any query (imports, scoring, pair rebuilds, settings). */
  private invalidate(): void {
    this.cache = null;
  }

  /** The local index when it is what scores retrieve from: not with a manifest `retriever` (its corpus may be a pool). */
  private get scoringIndex(): Bm25Index | undefined {
    return this.manifest.retriever === undefined ? this.index : undefined;
  }

  /**
   * What scores retrieve from: the local index (built if needed), or undefined when the manifest
   * names a `retriever` (then `externalRetriever`, the OpenSearch index).
   */
  private async loadScoringIndex(options: TaskOptions): Promise<Bm25Index | undefined> {
    return this.manifest.retriever === undefined ? this.ensureIndex(options) : undefined;
  }

  /**
   * The index the manifest's `retriever` names, its BM25 parameters and analyzer checked against
   * the current settings (once per settings; a failed check is retried next time).
   */
  private externalRetriever(signal: AbortSignal): Promise<OpenSearchRetriever> {
    const ref = this.manifest.retriever!;
    const s = this.deps.settings;
    const expected = { k1: s.bm25.k1, b: s.bm25.b, analyzer: this.analyzer, luceneNorms: s.bm25.luceneNorms };
    const key = JSON.stringify([expected, s.requestTimeoutMs, s.maxRetries]);
    if (this.external?.key === key) return this.external.ready;
    const previous = this.external?.ready;
    const ready = (async () => {
      await previous?.then((r) => r.close()).catch(() => undefined);
      const { retriever } = await openManifestRetriever(ref, {
        expected,
        env: this.deps.env ?? process.env,
        logger: this.deps.logger,
        requestTimeoutMs: s.requestTimeoutMs,
        retry: { ...defaultRetryPolicy, maxRetries: s.maxRetries },
        signal,
      });
      return retriever;
    })();
    const entry = { key, ready };
    this.external = entry;
    ready.catch(() => {
      if (this.external === entry) this.external = undefined;
    });
    return ready;
  }

  /**
   * After an edit of one query (a pair accepted, swapped, noted, created; an expansion edited; the
   * undo of one of these): rebuilds that query's summary and pairs in the cache and keeps every
   * other query's. `null` (an edit of many queries) drops the whole cache.
   */
  private invalidateQuery(qid: string | null): void {
    const c = this.cache;
    if (c === null) return;
    if (qid === null) return this.invalidate();
    if (this.topicPosition === undefined) this.topicPosition = new Map(this.topics.map((t, i) => [t.qid, i]));
    const at = this.topicPosition.get(qid);
    if (at === undefined) return;
    const pairs = this.store.pairsForQuery(qid);
    if (pairs.length > 0) c.pairsByQid.set(qid, pairs);
    else c.pairsByQid.delete(qid);
    const summaries = c.summaries.slice();
    summaries[at] = this.summarize(this.topics[at]!, this.store.scoreSummariesFor(this.settingsKey), pairs);
    this.cache = { summaries, pairsByQid: c.pairsByQid };
  }

  // ---- for core modules beside the workspace (conversational rewrites, distillation exports) ----

  /** Every stored expansion, in the order first stored. */
  expansionRecords(): ExpansionRecord[] {
    return this.store.listExpansions();
  }

  /** The scores under the current retrieval settings, by expansion id (originals under `original:<qid>`). */
  currentScores(): ReadonlyMap<string, ExpansionScore> {
    return this.store.scoresFor(this.settingsKey);
  }

  /** Stores expansion records made by a core helper; returns how many were new. */
  addExpansionRecords(records: readonly ExpansionRecord[]): number {
    const n = this.store.addExpansions(records);
    this.invalidate();
    return n;
  }

  /** Retrieval cost beside the gain per method over the report's included queries; null without an index. */
  queryCosts(): QueryCostSection | null {
    const index = this.scoringIndex;
    if (index === undefined) return null;
    const scores = this.store.scoresFor(this.settingsKey);
    const included = new Set(this.topics.filter((t) => hasPositiveJudgment(this.qrels.get(t.qid)) && scores.has(originalScoreId(t.qid))).map((t) => t.qid));
    return methodQueryCosts(index, this.topics, this.store.listExpansions(), scores, included);
  }

  /** Version of the tool recorded in exports ("dev" when unknown). */
  get toolVersion(): string {
    return this.deps.toolVersion ?? 'dev';
  }

  /** The BM25 index under the current settings, built first when there is none. */
  bm25Index(options: TaskOptions): Promise<Bm25Index> {
    return this.ensureIndex(options);
  }

  // ---- reading ----

  listQueries(): QuerySummary[] {
    return this.queryCache().summaries;
  }

  private queryCache(): QueryCache {
    if (this.cache !== null) return this.cache;
    const scores = this.store.scoreSummariesFor(this.settingsKey);
    const pairsByQid = new Map<string, PairRecord[]>();
    for (const p of this.store.listPairs()) {
      let list = pairsByQid.get(p.qid);
      if (list === undefined) pairsByQid.set(p.qid, (list = []));
      list.push(p);
    }
    const summaries = this.topics.map((t) => this.summarize(t, scores, pairsByQid.get(t.qid) ?? []));
    this.cache = { summaries, pairsByQid };
    return this.cache;
  }

  /** The query browser's row of one topic. */
  private summarize(t: Topic, scores: ReadonlyMap<string, StoreScoreSummary>, queryPairs: readonly PairRecord[]): QuerySummary {
    const judgments = this.qrels.get(t.qid);
    let relevant = 0;
    if (judgments) for (const g of judgments.values()) if (g > 0) relevant++;
    const orig = scores.get(originalScoreId(t.qid));
    let bestDelta: number | null = null;
    let bestMethod: string | null = null;
    let judgedSum = 0;
    let judgedN = 0;
    const exps = this.store.expansionHeadsForQuery(t.qid);
    for (const e of exps) {
      const s = scores.get(e.id);
      if (s === undefined) continue;
      judgedSum += s.judged10;
      judgedN++;
      if (e.role === 'baseline') continue;
      if (bestDelta === null || s.delta > bestDelta) {
        bestDelta = s.delta;
        bestMethod = e.method;
      }
    }
    const pairs: Record<PairState, number> = { auto: 0, accepted: 0, rejected: 0, edited: 0 };
    for (const p of queryPairs) pairs[p.state]++;
    return {
      qid: t.qid,
      text: t.text,
      judged: judgments?.size ?? 0,
      relevant,
      baseNdcg10: orig?.ndcg10 ?? null,
      bestDelta,
      bestMethod,
      judged10: judgedN === 0 ? null : judgedSum / judgedN,
      expansions: exps.length,
      pairs,
      noRelevant: relevant === 0,
      ...(t.conversation === undefined ? {} : { conversation: { id: t.conversation.id, turn: t.conversation.turn } }),
    };
  }

  private topic(qid: string): Topic {
    const t = this.topicById.get(qid);
    if (t === undefined) throw new QxError('usage', `query ${qid} is not in dataset ${this.name}`, { hint: 'Pick a query id from the topics file.' });
    return t;
  }

  getQueryReview(qid: string): QueryReview {
    const t = this.topic(qid);
    const key = this.settingsKey;
    const judgments = this.qrels.get(qid);
    const byGrade: Record<string, number> = {};
    if (judgments) for (const g of judgments.values()) byGrade[String(g)] = (byGrade[String(g)] ?? 0) + 1;
    const o = this.store.getScore(key, originalScoreId(qid));
    return {
      qid,
      text: t.text,
      qrels: { judged: judgments?.size ?? 0, byGrade },
      original: o === undefined ? null : { ndcg10: o.ndcg10, recall: o.recall, judged10: o.judged10, top10: o.top10 },
      expansions: this.store.expansionsForQuery(qid).map((expansion) => ({ expansion, score: this.store.getScore(key, expansion.id) ?? null })),
      pairs: (this.queryCache().pairsByQid.get(qid) ?? []).map((p) => ({ ...p })),
    };
  }

  /** The LLM judge's view of one query (the newest `.qx/judgments/` file); null when the workspace has no judgments. */
  getQueryJudge(qid: string, review?: QueryReview): QueryJudgeView | null {
    return this.judgments().forQuery(review ?? this.getQueryReview(qid));
  }

  /** The newest `.qx/judgments/` file's judgments, re-read when it changes (Review panel and report). */
  private judgments(): ReviewJudgments {
    return (this.reviewJudgments ??= new ReviewJudgments(this.root, this.qrels, this.manifest.relevanceLevel ?? 1, this.deps.logger));
  }

  getDocument(docid: string): CorpusDoc | undefined {
    return this.index?.docSync(docid);
  }

  // ---- pipeline ----

  /**
   * Builds the BM25 index of the manifest's corpus into `.qx/index/` (atomically: a previous index
   * stays usable until the new one is complete), or reopens the existing one unless `rebuild`.
   * An index built with another analyzer is rebuilt. Progress is in documents.
   */
  async buildIndex(options: TaskOptions & { rebuild?: boolean }): Promise<void> {
    const logger = options.logger ?? this.deps.logger;
    if (options.rebuild !== true) {
      if (this.index !== undefined) return;
      await this.openIndexIfPresent();
      if (this.index !== undefined) return;
    }
    const b = this.deps.settings.bm25;
    const paths = this.manifest.corpus.paths;
    const { docs, plan, onProgress, resumeInput } = await corpusForIndex(paths, this.manifest.corpus.format, { signal: options.signal, onProgress: options.onProgress });
    // An interrupted build of the same corpus (killed, cancelled) is resumed; `rebuild` (the
    // Rebuild Index command) starts over, also from an interrupted build that keeps failing.
    const { index, report } = await Bm25Index.build(docs, {
      dir: this.indexDir,
      store: plan,
      resumeInput,
      ...(options.rebuild === true ? { restart: true } : {}),
      signal: options.signal,
      ...(onProgress === undefined ? {} : { onProgress }),
      logger,
      analyzer: this.analyzer,
      k1: b.k1,
      b: b.b,
      lengths: b.luceneNorms ? 'lucene' : 'exact',
    });
    await index.close();
    if (this.index !== undefined) await this.index.close();
    this.index = await this.openIndex();
    this.previewOriginals.clear();
    logger.info(`Indexed ${report.numDocs} documents in ${report.seconds.toFixed(1)} s (${report.duplicates} duplicate ids skipped, ${report.emptyDocs} without indexable text).`);
  }

  /**
   * Imports a QueryGym TSV, JSONL or OpenAI Batch output file (format from the extension when not
   * given; `.jsonl` files holding `custom_id` lines are batch output). Records already stored are
   * skipped, so importing a file twice imports nothing the second time. Rows for query ids not in
   * the dataset are skipped and listed; a file where no row fits is an error.
   */
  async importExpansions(request: ImportRequest, options: TaskOptions): Promise<ImportSummary> {
    throwIfAborted(options.signal);
    const file = resolve(this.root, request.file);
    const format = request.format ?? (await detectImportFormat(file));
    const formulation: FormulationName = checkFormulation(request.formulation ?? 'query2doc');
    const queries = new Map(this.topics.map((t) => [t.qid, t.text]));
    const source = relative(this.root, file).startsWith('..') ? file : relative(this.root, file);
    const templates = format === 'openai-batch-output' ? await this.templates() : undefined;
    const result = await importExpansionFile(file, format, {
      model: request.model,
      method: request.method,
      role: request.role,
      formulation,
      queries,
      source,
      ...(templates === undefined ? {} : { templates }),
    });
    throwIfAborted(options.signal);
    const unknownQids: string[] = [];
    const problems: string[] = [];
    for (const p of result.problems) {
      if (p.qid !== undefined && !queries.has(p.qid)) {
        if (!unknownQids.includes(p.qid)) unknownQids.push(p.qid);
      } else if (problems.length < 5) problems.push(p.message);
    }
    if (result.records.length === 0) {
      const first = result.problems[0]?.message ?? 'the file holds no expansion';
      throw new QxError('dataset', `nothing to import from ${file}: ${first}${unknownQids.length > 0 ? ` (${unknownQids.length} query ids are not in dataset ${this.name}, e.g. ${unknownQids.slice(0, 5).join(', ')})` : ''}`, {
        hint: 'Check that the file belongs to this dataset and that --formulation matches how its text was built.',
      });
    }
    const runSampling = format === 'querygym-tsv' ? await queryGymRunSampling(file) : undefined;
    const records = result.records.map((e) => ({
      ...e,
      outputKind: request.kind ?? outputKindOf(e),
      conditioning: request.conditioning ?? conditioningOf(e),
      ...(e.sampling === undefined && runSampling !== undefined ? { sampling: runSampling } : {}),
    }));
    const imported = this.store.addExpansions(records);
    this.invalidate();
    options.onProgress?.({ done: result.records.length, total: result.records.length, unit: 'expansions' });
    const duplicates = result.records.length - imported;
    if (unknownQids.length > 0) {
      (options.logger ?? this.deps.logger).warn(
        `Skipped ${result.problems.filter((p) => p.qid !== undefined && !queries.has(p.qid)).length} rows of ${unknownQids.length} query ids not in dataset ${this.name}: ${unknownQids.slice(0, 5).join(', ')}${unknownQids.length > 5 ? ', …' : ''}.`,
      );
    }
    for (const w of result.warnings) (options.logger ?? this.deps.logger).warn(w);
    return { imported, skipped: result.problems.length + duplicates, duplicates, unknownQids, problems, warnings: result.warnings };
  }

  /**
   * Scores every expansion (and original query) not yet scored under the current retrieval
   * settings: retrieve the top `bm25.topK` with the final string (an RM3 baseline: its stored
   * weighted terms, the run `qx search --rm3` gives), then nDCG@10, its delta against
   * the original, Recall@topK at the manifest's relevance level, Judged@10 and the documents that
   * entered/left the top 10. Builds the index first if there is none. Scores are stored every 25
   * queries, so an interrupted run keeps what it stored and a rerun does only the rest. RM3
   * baselines made with another analyzer or other BM25 settings are left unscored (logged).
   * `threads`: worker threads over the on-disk index (default: the available cores, at most 8;
   * 1 = this thread); the scores are the same whatever the count.
   */
  async score(options: TaskOptions & { threads?: number; concurrency?: number }): Promise<ScoreSummary> {
    const index = await this.loadScoringIndex(options);
    const key = this.settingsKey;
    const have = this.store.scoreSummariesFor(key);
    const work: QueryToScore[] = [];
    const noRelevant: string[] = [];
    const unjudged: string[] = [];
    for (const t of this.topics) {
      const status = judgmentStatus(this.qrels.get(t.qid));
      if (status !== 'positive') noRelevant.push(t.qid);
      if (status === 'unjudged') unjudged.push(t.qid);
      const heads = this.store.expansionHeadsForQuery(t.qid).filter((e) => !have.has(e.id));
      if (heads.length === 0 && have.has(originalScoreId(t.qid))) continue;
      const original = this.store.getScore(key, originalScoreId(t.qid));
      const expansions = heads.map((e) => this.store.getExpansion(e.id)!);
      work.push({ qid: t.qid, text: t.text, ...(original === undefined ? {} : { original }), expansions });
    }
    if (index === undefined) return this.scoreExternal(work, { noRelevant, unjudged }, options);
    const search = (q: string, k: number) => index.searchSync(q, k);
    const stale = this.dropStaleBaselines(work, index);
    if (stale > 0) {
      (options.logger ?? this.deps.logger).info(`${stale} RM3 baseline expansions were made with other BM25 settings and are not scored; rerun qx expand --role baseline --method rm3 for these.`);
    }
    try {
      const r = await scoreQueries(search, this.qrels, work, this.feedback, {
        ...options,
        searchWeighted: (w, k) => index.searchWeighted(w, k),
        threads: { threads: options.threads ?? defaultScoreThreads(), indexDir: this.indexDir, params: index.params, numDocs: index.numDocs },
        onScores: (scores) => {
          this.store.putScores(key, scores);
        },
      });
      return { ...r, noRelevant, unjudged };
    } finally {
      this.invalidate();
    }
  }

  /**
   * `score` over the manifest's external index: `concurrency` queries at once (default the
   * manifest's `retriever.concurrency`), one `_msearch` each. RM3 baselines (weighted terms of the
   * local index) are left unscored (logged).
   */
  private async scoreExternal(work: QueryToScore[], judged: Pick<ScoreSummary, 'noRelevant' | 'unjudged'>, options: TaskOptions & { concurrency?: number }): Promise<ScoreSummary> {
    // Nothing to score needs no cluster (a rerun after a complete run works offline).
    if (work.length === 0) return { scored: 0, originals: 0, ...judged };
    const external = await this.externalRetriever(options.signal);
    let weighted = 0;
    for (const q of work) {
      const keep = q.expansions.filter((e) => e.weightedQuery === undefined);
      weighted += q.expansions.length - keep.length;
      q.expansions = keep;
    }
    if (weighted > 0) (options.logger ?? this.deps.logger).info(`${weighted} RM3 baseline expansions are weighted queries of the local index and are not scored with the OpenSearch index ${external.index}.`);
    const key = this.settingsKey;
    try {
      const r = await scoreQueriesRemote((qs, k, signal) => external.searchMany(qs, k, signal), this.qrels, work, this.feedback, {
        signal: options.signal,
        ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
        concurrency: options.concurrency ?? this.manifest.retriever?.concurrency ?? DEFAULT_RETRIEVER_CONCURRENCY,
        onScores: (scores) => {
          this.store.putScores(key, scores);
        },
      });
      return { ...r, ...judged };
    } finally {
      this.invalidate();
    }
  }

  /**
   * Takes out of `work` the baselines whose weighted query was made with another analyzer or other
   * BM25 settings than the index's (their weights belong to that first pass); returns how many.
   */
  private dropStaleBaselines(work: QueryToScore[], index: Bm25Index): number {
    const now = rm3Parameters(index);
    const first = ['analyzer', 'k1', 'b', 'lengths'];
    let n = 0;
    for (const q of work) {
      const keep = q.expansions.filter((e) => e.weightedQuery === undefined || first.every((k) => e.weightedQuery?.parameters[k] === now[k]));
      n += q.expansions.length - keep.length;
      q.expansions = keep;
    }
    return n;
  }

  /**
   * Adds one model-free baseline expansion per query (all or `qids`): RM3 (`method: "rm3"`) over
   * the workspace's index, with Anserini's defaults fb_docs 10, fb_terms 10, original query weight
   * 0.5 unless given. Records have role "baseline", model "BM25+RM3" (naming the settings when
   * they are not the defaults), provider "rm3", the parameters and exact weights (`weightedQuery`)
   * that scoring searches, and a readable `final` (`term^0.1234 …`). A query that already has an
   * RM3 baseline with the same parameters (incl. the index's BM25 settings) is skipped, so a rerun
   * adds nothing. Baselines made under other BM25 settings are not scored (see `score`). Builds the
   * index if needed.
   */
  async expandBaseline(request: BaselineRequest, options: TaskOptions): Promise<BaselineSummary> {
    if (!baselineMethods.includes(request.method)) throw new QxError('usage', `unknown baseline method "${String(request.method)}"`, { hint: `Known baselines: ${baselineMethods.join(', ')}.` });
    const queries = request.qids === undefined ? [...this.topics] : request.qids.map((q) => this.topic(q));
    const settings = checkRm3Options(request);
    const index = await this.ensureIndex(options);
    const parameters = rm3Parameters(index, settings);
    const createdAt = new Date().toISOString();
    const records: ExpansionRecord[] = [];
    let present = 0;
    for (let i = 0; i < queries.length; i++) {
      throwIfAborted(options.signal);
      const t = queries[i]!;
      const rm3 = this.store.expansionHeadsForQuery(t.qid).filter((h) => h.provider === 'rm3').map((h) => this.store.getExpansion(h.id)!);
      if (rm3.some((e) => e.weightedQuery !== undefined && sameParameters(e.weightedQuery.parameters, parameters))) present++;
      else records.push(rm3Expansion(index, t.qid, t.text, parameters, createdAt));
      options.onProgress?.({ done: i + 1, total: queries.length, unit: 'queries' });
    }
    const added = this.store.addExpansions(records);
    this.invalidate();
    return { added, present: present + records.length - added, parameters };
  }

  /**
   * Rebuilds the auto pairs from the current scores with `rules` over the workspace's pair
   * settings, keeping every human decision (see curation `buildPairs`); one undoable step.
   * The same scores and rules always yield the same pairs.
   */
  async buildPairs(rules: Partial<PairRules>, options: TaskOptions): Promise<PairsSummary> {
    throwIfAborted(options.signal);
    const merged: PairRules = this.taskRules({ ...this.deps.settings.pairs, ...rules });
    const scores = this.store.scoresFor(this.settingsKey);
    // "prefer-cheaper" compares the retrieval cost of tied candidates (postings the index walks).
    const costIndex = merged.tiePolicy === 'prefer-cheaper' ? await this.ensureIndex(options) : undefined;
    // Pairs compare texts: load them all in one pass over the journal rather than a read per record.
    this.store.listExpansions();
    const groups: ScoredCandidate[][] = [];
    for (const t of this.topics) {
      const group: ScoredCandidate[] = [];
      for (const e of this.store.expansionsForQuery(t.qid)) {
        const score = scores.get(e.id);
        if (score !== undefined) group.push({ expansion: e, score, ...(costIndex === undefined ? {} : { cost: expansionCost(costIndex, e) }) });
      }
      if (group.length > 0) groups.push(group);
    }
    const next = buildPairRecords(groups, merged, this.store.listPairs());
    const r = this.store.applyPairs(next);
    // The rules of the last build, so an export names (and defaults to) the task and rules the pairs were built with.
    writeFileAtomic(join(this.root, '.qx', PAIR_RULES_FILE), JSON.stringify(merged, null, 2) + '\n');
    this.invalidate();
    return { pairs: next.length, ...r, rules: merged, report: pairBuildReport(groups, merged) };
  }

  /**
   * For exports that include retrieval-conditioned expansions: renders such an expansion's prompt
   * as `qx expand` would send it, its method's template (by template id, else method name) with
   * the top passages of the workspace's BM25 index for the query.
   */
  private async contextPrompts(templates: Map<string, PromptTemplate>, options: TaskOptions): Promise<Pick<ExportInput, 'renderContextPrompt' | 'contextSource'>> {
    const index = await this.ensureIndex(options);
    return {
      contextSource: `top passages of the workspace's BM25 index (${this.analyzer}, k1 ${this.deps.settings.bm25.k1}, b ${this.deps.settings.bm25.b}) for the query, as qx expand gives them; an imported run may have read other passages`,
      renderContextPrompt: (e) => {
        const t = templates.get(e.template?.id ?? e.method);
        if (t === undefined || !t.needs.passages) return undefined;
        const passages = index
          .searchSync(e.query, t.numPassages)
          .slice(0, t.numPassages)
          .flatMap((h) => {
            const text = index.docSync(h.docid)?.text;
            return text === undefined || text === '' ? [] : [text];
          });
        const messages = renderTemplate(t, { qid: e.qid, query: e.query, passages });
        const system = messages.filter((m) => m.role === 'system').map((m) => m.content).join('\n\n');
        // A template's exemplar turns (CSQE) are folded into the one user turn the formats take.
        const user = messages.filter((m) => m.role !== 'system').map((m) => m.content).join('\n\n');
        return system === '' ? { user } : { system, user };
      },
    };
  }

  /** The rules of the last `buildPairs` (`.qx/pair-rules.json`), or nothing when there is none or it is unreadable. */
  private lastPairRules(): Partial<PairRules> {
    try {
      const v: unknown = JSON.parse(readFileSync(join(this.root, '.qx', PAIR_RULES_FILE), 'utf8'));
      if (v === null || typeof v !== 'object' || Array.isArray(v)) return {};
      const known = Object.keys(defaultPairRules);
      return Object.fromEntries(Object.entries(v).filter(([k, x]) => known.includes(k) && typeof x === typeof defaultPairRules[k as keyof PairRules])) as Partial<PairRules>;
    } catch {
      return {};
    }
  }

  /** `rules` with the student task resolved: "" → the dataset language's zero-shot template. */
  private taskRules(rules: PairRules): PairRules {
    return { ...defaultPairRules, ...rules, task: rules.task === undefined || rules.task === '' ? this.defaultTemplate : rules.task };
  }

  private async templates(): Promise<Map<string, PromptTemplate>> {
    const workspaceDir = join(this.root, '.qx', 'templates');
    return loadTemplates({ shippedDir: locateShippedTemplates(), ...(existsSync(workspaceDir) ? { workspaceDir } : {}) });
  }

  /** Query ids exports must not use as training data: all topics unless the manifest says train/dev. */
  private evalQids(): string[] {
    const split = this.manifest.split;
    return split === 'train' || split === 'dev' ? [] : this.topics.map((t) => t.qid);
  }

  /** The student's zero-shot prompt template exports render every prompt with ({@link defaultTemplate}), for training recipes. */
  async studentPrompt(): Promise<{ id: string; version: number; hash: string; messages: { role: string; content: string }[] }> {
    const t = (await this.templates()).get(this.defaultTemplate);
    if (t === undefined) throw new QxError('template', `the student prompt template ${this.defaultTemplate} is missing`, { hint: 'Reinstall QX Studio, or put it in .qx/templates/.' });
    return { ...templateRef(t), messages: t.messages.map((m) => ({ role: m.role, content: m.content })) };
  }

  /**
   * Writes a training export (see export `exportDataset`): DPO pairs in the requested states, or
   * SFT records of the best teacher expansion per query. The prompt is the student task's zero-shot
   * prompt: `request.task`, else the task of the last pair build (`.qx/pair-rules.json`), else
   * the settings' (`qx.pairs.task`; "" = {@link defaultTemplate}); only expansions of its output
   * kind are exported (see export `exportDataset`). Refuses evaluation
   * queries unless `allowEvalQueries`, and writes nothing when there would be zero records. `out`
   * is resolved against the workspace root.
   */
  async exportData(request: ExportRequest, options: TaskOptions): Promise<ExportResult> {
    const templates = await this.templates();
    const rules = this.taskRules({
      ...this.deps.settings.pairs,
      ...this.lastPairRules(),
      ...(request.task === undefined ? {} : { task: request.task }),
      ...(request.includeRetrievalConditioned === undefined ? {} : { includeRetrievalConditioned: request.includeRetrievalConditioned }),
    });
    const task = pairTask(rules);
    const t = templates.get(task.template);
    if (t === undefined) throw new QxError('template', `the student task template ${task.template} is missing`, { hint: 'Reinstall QX Studio, put it in .qx/templates/, or set the student task (qx.pairs.task, --task) to a template that exists.' });
    if (t.needs.examples || t.needs.passages) {
      throw new QxError('config', `the student task template ${task.template} needs ${t.needs.examples ? 'few-shot examples' : 'retrieved passages'}: the student is prompted zero-shot with the query alone`, {
        hint: `Pick a zero-shot template as the student task, e.g. ${this.defaultTemplate}; few-shot teacher outputs still become its targets.`,
      });
    }
    const expansions = new Map(this.store.listExpansions().map((e) => [e.id, e]));
    const out = resolve(this.root, request.out);
    mkdirSync(dirname(out), { recursive: true });
    const linked = await linkedEvalOverlap(this.root, this.topics);
    const input: ExportInput = {
      datasetName: this.name,
      evalQids: [...this.evalQids(), ...linked.qids],
      evalSplitName: linked.qids.length > 0 && this.evalQids().length === 0 ? `evaluation workspace ${linked.evalWorkspace ?? ''}` : (this.manifest.split ?? 'unspecified (not marked train)'),
      expansions,
      scores: this.store.scoresFor(this.settingsKey),
      pairs: this.store.listPairs(),
      rules,
      task,
      renderStudentPrompt: (query, qid) => {
        const conversation = this.topicById.get(qid)?.conversation;
        const messages = renderTemplate(t, { qid, query, ...(conversation === undefined ? {} : { conversation }) });
        const system = messages.find((m) => m.role === 'system')?.content;
        const user = [...messages].reverse().find((m) => m.role === 'user')?.content ?? query;
        return system === undefined ? { user } : { system, user };
      },
      studentTemplate: templateRef(t),
      ...(task.includeRetrievalConditioned ? await this.contextPrompts(templates, options) : {}),
      retrieval: this.retrievalSettings,
      toolVersion: this.deps.toolVersion ?? 'dev',
      ...(request.sftMinDelta === undefined ? {} : { sftMinDelta: request.sftMinDelta }),
    };
    return exportDataset(input, { ...request, out }, { ...options, logger: options.logger ?? this.deps.logger });
  }

  /**
   * Generates expansions with the teacher or student endpoint of the settings, one template, all
   * (or the given) queries. Completed generations are cached on disk and never requested again;
   * records are stored as queries finish (in batches; a query reported done is stored), so an
   * interrupted run keeps what it reported and a rerun takes the rest of what finished from the cache.
   */
  async expand(request: ExpandRequest, options: TaskOptions): Promise<{ generated: number; cached: number; failed: number }> {
    const student = { ...this.deps.settings.student, ...(request.student ?? {}) };
    const ep = request.role === 'teacher' ? this.deps.settings.teacher : student;
    const template = await this.expansionTemplate(request.template, options);
    const queries = request.qids === undefined ? [...this.topics] : request.qids.map((q) => this.topic(q));
    const index = template.needs.passages || template.needs.examples ? await this.ensureIndex(options) : this.index;
    const sampling = { temperature: ep.temperature, topP: ep.topP, maxTokens: ep.maxTokens, ...(ep.seed === undefined ? {} : { seed: ep.seed }) };
    let expander: Expander;
    if (request.role === 'student' && student.kind === 'onnx') {
      if (student.modelPath === undefined || student.modelPath.trim() === '') {
        throw new QxError('config', 'the student kind is "onnx" but no model folder is set', { hint: 'Set the student model path (qx.student.modelPath) to a folder with config.json, tokenizer.json and onnx/.' });
      }
      expander = new OnnxExpander({ role: 'student', modelPath: resolve(this.root, student.modelPath), sampling });
    } else {
      const local = /^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(\/|$)/.test(ep.baseUrl);
      expander = new OpenAiExpander({
        role: request.role,
        baseUrl: ep.baseUrl,
        model: ep.model,
        getApiKey: () => this.deps.getApiKey(ep.baseUrl),
        requireApiKey: !local,
        sampling,
        ...(ep.extraBody === undefined ? {} : { extraBody: ep.extraBody }),
        concurrency: this.deps.settings.concurrency,
        timeoutMs: this.deps.settings.requestTimeoutMs,
        retry: { maxRetries: this.deps.settings.maxRetries },
      });
    }
    // A round's checkpoint may be served under the same URL and name as the last one: the round is part of the cache key.
    const round = request.round;
    if (round !== undefined) expander = { role: expander.role, provider: expander.provider, model: expander.model, identity: { ...expander.identity, round }, expand: expander.expand.bind(expander) };
    const examples = template.needs.examples ? this.fewShotPool() : undefined;
    const result = await runExpansions({
      expander,
      template,
      queries,
      samples: ep.samples,
      cache: new ExpansionCache(this.deps.cacheDir ?? join(this.root, '.qx', 'cache')),
      method: request.method ?? template.id,
      signal: options.signal,
      ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
      logger: options.logger ?? this.deps.logger,
      ...(examples === undefined ? {} : { examples }),
      ...(index === undefined ? {} : { retriever: index, getDocText: (d: string) => index.docSync(d)?.text }),
      onRecords: (records) => {
        const recorded = { ...sampling, samples: ep.samples, ...(ep.extraBody === undefined ? {} : { extraBody: ep.extraBody }) };
        this.store.addExpansions(records.map((r) => ({ ...r, sampling: recorded, ...(round === undefined ? {} : { round }) })));
        this.invalidate();
      },
    });
    return { generated: result.generated, cached: result.cached, failed: result.failed };
  }

  /**
   * Writes an OpenAI Batch API / `vllm run-batch` input file instead of calling the endpoint: the
   * prompts `expand` would send for the teacher or student endpoint's model and sampling, one line
   * per query × sample (custom_id `qx:<qid>:<template>:<sample>`). Needs no key. `out` is resolved
   * against the workspace root; import the results with `importExpansions` (openai-batch-output).
   */
  async writeBatchInput(request: ExpandRequest & { out: string }, options: TaskOptions): Promise<{ file: string; lines: number; queries: number; samples: number; model: string }> {
    const ep = request.role === 'teacher' ? this.deps.settings.teacher : this.deps.settings.student;
    const template = await this.expansionTemplate(request.template, options);
    const queries = request.qids === undefined ? [...this.topics] : request.qids.map((q) => this.topic(q));
    const index = template.needs.passages || template.needs.examples ? await this.ensureIndex(options) : this.index;
    const examples = template.needs.examples ? this.fewShotPool() : undefined;
    const samples = Math.max(1, Math.floor(ep.samples));
    const { jsonl, lines } = await buildBatchInput({
      templates: [template],
      queries,
      samples,
      model: ep.model,
      sampling: { temperature: ep.temperature, topP: ep.topP, maxTokens: ep.maxTokens, ...(ep.seed === undefined ? {} : { seed: ep.seed }) },
      extraBody: effectiveExtraBody(request.role, ep.model, ep.extraBody),
      signal: options.signal,
      ...(examples === undefined ? {} : { examples }),
      ...(index === undefined ? {} : { retriever: index, getDocText: (d: string) => index.docSync(d)?.text }),
    });
    const file = resolve(this.root, request.out);
    mkdirSync(dirname(file), { recursive: true });
    writeFileAtomic(file, jsonl);
    return { file, lines, queries: queries.length, samples, model: ep.model };
  }

  /**
   * The template of an expansion request (default: {@link defaultTemplate}); warns when it is
   * written in another language than the dataset's.
   */
  private async expansionTemplate(id: string | undefined, options: TaskOptions): Promise<PromptTemplate> {
    const templates = await this.templates();
    const wanted = id ?? this.defaultTemplate;
    const template = templates.get(wanted);
    if (template === undefined) throw new QxError('usage', `unknown template "${wanted}"`, { hint: `Known templates: ${[...templates.keys()].sort().join(', ')}.` });
    const language = this.manifest.language;
    if (primaryLanguage(template.language) !== primaryLanguage(language)) {
      (options.logger ?? this.deps.logger).warn(
        `Template ${template.id} is written in "${template.language}" but dataset ${this.name} is "${language}": the model gets a ${template.language} prompt for ${language} queries (the default for "${language}" is ${this.defaultTemplate}).`,
      );
    }
    return template;
  }

  /** Few-shot exemplars: each training topic with its highest-graded judged passage. */
  private fewShotPool(): FewShotExample[] {
    const pool: FewShotExample[] = [];
    for (const t of this.trainTopics) {
      const j = this.qrels.get(t.qid);
      if (!j) continue;
      let best: [string, number] | undefined;
      for (const [d, g] of j) if (g > 0 && (best === undefined || g > best[1])) best = [d, g];
      const text = best === undefined ? undefined : this.index?.docSync(best[0])?.text;
      if (text !== undefined) pool.push({ qid: t.qid, query: t.text, passage: text });
    }
    return pool;
  }

  /**
   * What the report's cost section needs: the workspace's `.qx/prices.json` (else the shipped
   * EXAMPLE table) and the output tokens of expansions without usage, counted locally (cached).
   */
  async costInput(options: TaskOptions): Promise<CostInput> {
    const prices = await loadWorkspacePrices(this.root);
    const cacheFile = join(this.deps.cacheDir ?? join(this.root, '.qx', 'cache'), 'token-counts.json');
    return { ...prices, estimatedOutput: await estimateOutputTokens(this.store.listExpansions(), { cacheFile, signal: options.signal }) };
  }

  /** The per-method comparison over the current scores (see report `buildReport`); with `cost`, its cost section. */
  report(cost?: CostInput): QxReport {
    const key = this.settingsKey;
    const scores = this.store.scoresFor(key);
    const originals = new Map<string, ExpansionScore>();
    for (const t of this.topics) {
      const s = scores.get(originalScoreId(t.qid));
      if (s !== undefined) originals.set(t.qid, s);
    }
    const expansions = this.store.listExpansions();
    const report = buildReport({
      datasetName: this.name,
      queries: this.listQueries().map((q) => ({ qid: q.qid, text: q.text, relevant: q.relevant, judged: q.judged })),
      expansions,
      scores,
      originals,
      ...(cost === undefined ? {} : { cost }),
      ...(this.scoringIndex === undefined ? {} : { corpusSize: this.scoringIndex.data.docIds.length, recallCeilings: this.recallCeilings(this.scoringIndex) }),
    });
    // Retrieval cost beside the gain, when there is an index to count postings on.
    const excluded = new Set(report.queries.excluded.map((q) => q.qid));
    const included = new Set(this.topics.filter((t) => !excluded.has(t.qid)).map((t) => t.qid));
    const pairs = this.store.listPairs();
    const kept = pairs.filter((p) => p.state !== 'rejected');
    return {
      ...report,
      queryCost: this.scoringIndex === undefined ? null : methodQueryCosts(this.scoringIndex, this.topics, expansions, scores, included),
      pairLengths: pairLengthStats(kept, new Map(expansions.map((e) => [e.id, e]))),
      judgeFilled: this.judgeFilled(report, expansions, scores, originals, pairs),
    };
  }

  /** The report's judge-filled column from the judgments the Review panel shows (the newest `.qx/judgments/` file); null without judgments. */
  private judgeFilled(report: QxReport, expansions: readonly ExpansionRecord[], scores: ReadonlyMap<string, ExpansionScore>, originals: ReadonlyMap<string, ExpansionScore>, pairs: readonly PairRecord[]): JudgeFilledSection | null {
    const j = this.judgments().judgments();
    if (j === null) return null;
    return buildJudgeFilledSection({ includedQids: report.perQuery.map((q) => q.qid), expansions, scores, originals, qrels: this.qrels, pairs, judgeScores: j.scoresFor, judge: j.info });
  }

  /** Judges the unjudged documents of the expansions' top 10s (judge workflow `judgeWorkspace`), with this workspace's API keys and cache. */
  async judge(request: JudgeRequest, options: TaskOptions): Promise<JudgeSummary> {
    const template = await loadJudgeTemplate(request.template);
    return judgeWorkspace(
      this,
      { baseUrl: request.baseUrl, model: request.model, template, ...(request.topLogprobs === undefined ? {} : { topLogprobs: request.topLogprobs }) },
      { includeJudged: request.includeJudged ?? false },
      { ...options, logger: options.logger ?? this.deps.logger, getApiKey: this.deps.getApiKey, cacheDir: this.deps.cacheDir },
    );
  }

  /** Calibration and judge-filled feedback of one judge's stored judgments, as `qx judge --calibrate --fill` computes them; null without judgments. */
  async judgeFeedback(request: JudgeRequest): Promise<{ file: string; judgments: number; calibration: CalibrationReport; fill: FillReport } | null> {
    const template = await loadJudgeTemplate(request.template);
    const store = openJudgments(this, { model: request.model, template }, this.deps.logger);
    if (store.size === 0) return null;
    const calibration = workspaceCalibration(this, store);
    return { file: store.file, judgments: store.size, calibration, fill: workspaceFill(this, store, template.mode, calibration.threshold ?? 0.5) };
  }

  /** Per qid, the best Recall@topK any run can reach: min(topK, relevant documents in the corpus) / relevant documents judged. */
  private recallCeilings(index: Bm25Index): Map<string, number> {
    const level = this.manifest.relevanceLevel;
    const relevant = new Map<string, string[]>();
    const wanted = new Set<string>();
    for (const t of this.topics) {
      const docs = [...(this.qrels.get(t.qid) ?? new Map<string, number>())].filter(([, g]) => g >= 0 && g >= level).map(([d]) => d);
      relevant.set(t.qid, docs);
      for (const d of docs) wanted.add(d);
    }
    // One pass over the docids with a small set, rather than a docid map of a large corpus.
    const present = new Set<string>();
    for (const id of index.data.docIds) if (wanted.has(id)) present.add(id);
    const k = this.deps.settings.bm25.topK;
    return new Map([...relevant].map(([qid, docs]) => [qid, docs.length === 0 ? 0 : Math.min(k, docs.filter((d) => present.has(d)).length) / docs.length]));
  }

  /**
   * Writes `report` (default: the report with its cost section) as Markdown and HTML into
   * `.qx/reports/`; with scored student rounds also the rounds report (rounds.md/.svg/.html/.json).
   */
  async writeReport(options: TaskOptions, report?: QxReport): Promise<{ markdown: string; html: string }> {
    throwIfAborted(options.signal);
    const r = report ?? this.report(await this.costInput(options));
    const dir = join(this.root, REPORT_DIR);
    mkdirSync(dir, { recursive: true });
    const markdown = join(dir, 'report.md');
    const html = join(dir, 'report.html');
    writeFileAtomic(markdown, renderReportMarkdown(r));
    writeFileAtomic(html, renderReportHtml(r));
    if (r.methods.some((m) => m.role === 'student' && parseRoundMethod(m.method) !== null)) writeRoundReport(this, { report: r });
    return { markdown, html };
  }

  // ---- live editing ----

  /**
   * The original query's score of `qid` for live scoring: the stored one, else the one computed
   * before (kept until the settings change), else `compute(query text)`, kept. Without `compute`,
   * undefined when neither is known.
   */
  private originalFor(qid: string): ExpansionScore | undefined;
  private originalFor(qid: string, compute: (text: string) => ExpansionScore): ExpansionScore;
  private originalFor(qid: string, compute?: (text: string) => ExpansionScore): ExpansionScore | undefined {
    const stored = this.store.getScore(this.settingsKey, originalScoreId(qid));
    if (stored !== undefined) return stored;
    let s = this.previewOriginals.get(qid);
    if (s === undefined && compute !== undefined) {
      s = compute(this.topic(qid).text);
      this.previewOriginals.set(qid, s);
    }
    return s;
  }

  async previewScore(qid: string, finalText: string): Promise<ExpansionScore> {
    return (await this.liveScore(qid, finalText, 'preview')).score;
  }

  /**
   * The score of `finalText` (as expansion `id`) and of the original, from what scoring retrieves
   * from (`loadScoringIndex`): the local index, else the manifest's external index.
   */
  private async liveScore(qid: string, finalText: string, id: string): Promise<{ original: ExpansionScore; score: ExpansionScore }> {
    const index = await this.loadScoringIndex({ signal: new AbortController().signal });
    if (index === undefined) return this.liveExternal(qid, finalText, id);
    if (!this.liveThreads.has(index)) {
      // Live re-scoring waits on each search: two threads per long search on a full-collection
      // index (none start below 1M postings). Started on the first edit or preview, not on open.
      this.liveThreads.add(index);
      await index.startSearchThreads(Math.min(2, availableParallelism()));
    }
    const search = (q: string, k: number) => index.searchSync(q, k);
    const original = this.originalFor(qid, (text) => scoreOriginal(search, qid, text, this.qrels.get(qid), this.feedback));
    return { original, score: scoreFinal(search, id, qid, finalText, this.qrels.get(qid), this.feedback, original) };
  }

  /** `liveScore` over the manifest's external index: the original's search (when not known yet) in the same request. */
  private async liveExternal(qid: string, finalText: string, id: string): Promise<{ original: ExpansionScore; score: ExpansionScore }> {
    const external = await this.externalRetriever(new AbortController().signal);
    const known = this.originalFor(qid);
    const judgments = this.qrels.get(qid);
    const lists = await external.searchMany(known === undefined ? [this.topic(qid).text, finalText] : [finalText], this.feedback.topK);
    const original = known ?? this.originalFor(qid, () => scoreRanking(originalScoreId(qid), qid, lists[0]!, judgments, this.feedback, null));
    const score = scoreRanking(id, qid, lists[lists.length - 1]!, judgments, this.feedback, { ndcg10: original.ndcg10, top10: original.top10 });
    return { original, score };
  }

  async editExpansion(expansionId: string, generated: string): Promise<ScoredExpansion> {
    const e = this.store.getExpansion(expansionId);
    if (e === undefined) throw new QxError('store', `there is no expansion ${expansionId}`, { hint: 'Refresh the view.' });
    if (e.weightedQuery !== undefined) throw new QxError('usage', `expansion ${expansionId} is a ${e.model} baseline (weighted terms, not text) and cannot be edited`);
    const final = formulate(checkFormulation(e.formulation), e.query, generated);
    const base = { qid: e.qid, method: e.method, model: e.model, sampleIndex: e.sampleIndex, final, ...(e.template === undefined ? {} : { template: e.template }) };
    const { usage: _usage, latencyMs: _latency, ...rest } = e;
    const edited: ExpansionRecord = { ...rest, ...base, id: makeExpansionId(base), provider: 'edit', generated, editedFrom: e.id, createdAt: new Date().toISOString() };
    const key = this.settingsKey;
    const { original, score } = await this.liveScore(e.qid, final, edited.id);
    this.store.group('edit expansion', e.qid, () => {
      this.store.addExpansions([edited], { description: 'edit expansion' });
      if (this.store.getScore(key, originalScoreId(e.qid)) === undefined) this.store.putScores(key, [original]);
      this.store.putScores(key, [score]);
      for (const p of this.store.pairsForQuery(e.qid)) {
        if (p.chosenId !== e.id && p.rejectedId !== e.id) continue;
        const chosenId = p.chosenId === e.id ? edited.id : p.chosenId;
        const rejectedId = p.rejectedId === e.id ? edited.id : p.rejectedId;
        const c = chosenId === edited.id ? score : this.store.getScore(key, chosenId);
        const r = rejectedId === edited.id ? score : this.store.getScore(key, rejectedId);
        this.store.updatePair(p.id, { chosenId, rejectedId, state: 'edited', ...(c && r ? { margin: c.ndcg10 - r.ndcg10 } : {}) });
      }
    });
    this.invalidateQuery(e.qid);
    return { expansion: edited, score };
  }

  setPairState(pairId: string, state: PairState): PairRecord {
    const p = this.store.setPairState(pairId, state);
    this.invalidateQuery(p.qid);
    return p;
  }

  setPairNote(pairId: string, note: string): PairRecord {
    const p = this.store.setPairNote(pairId, note);
    this.invalidateQuery(p.qid);
    return p;
  }

  swapPair(pairId: string): PairRecord {
    const p = this.store.swapPair(pairId);
    this.invalidateQuery(p.qid);
    return p;
  }

  createPair(qid: string, chosenId: string, rejectedId: string): PairRecord {
    this.topic(qid);
    for (const id of [chosenId, rejectedId]) {
      const e = this.store.getExpansion(id);
      if (e === undefined || e.qid !== qid) throw new QxError('usage', `expansion ${id} is not an expansion of query ${qid}`, { hint: 'Pick two expansions of the same query.' });
    }
    if (chosenId === rejectedId) throw new QxError('usage', 'a pair needs two different expansions');
    const key = this.settingsKey;
    const c = this.store.getScore(key, chosenId);
    const r = this.store.getScore(key, rejectedId);
    const now = new Date().toISOString();
    const p = this.store.createPair({
      id: pairId(qid, chosenId, rejectedId),
      qid,
      chosenId,
      rejectedId,
      margin: c && r ? c.ndcg10 - r.ndcg10 : 0,
      state: 'accepted',
      origin: 'manual',
      createdAt: now,
      updatedAt: now,
    });
    this.invalidateQuery(qid);
    return p;
  }

  undo(): UndoResult {
    const r = this.store.undo();
    if (r.description !== null) this.invalidateQuery(r.qid);
    return r;
  }

  async close(): Promise<void> {
    this.store.close();
    if (this.index !== undefined) await this.index.close();
    this.index = undefined;
    const external = this.external?.ready;
    this.external = undefined;
    await external?.then((r) => r.close()).catch(() => undefined);
  }
}

/**
 * The shipped prompt templates: beside the core module in the sources, `dist/templates` in a
 * bundle; a bundle run from a source checkout falls back to the sources' folder.
 */
/** Beside the store in `.qx/`: the pair rules of the last rebuild. */
const PAIR_RULES_FILE = 'pair-rules.json';

function locateShippedTemplates(): string {
  const candidates = [shippedTemplateDir(), resolve(__dirname, '..', 'src', 'core', 'expansion', 'templates')];
  return candidates.find((d) => existsSync(d)) ?? candidates[0]!;
}

/**
 * The LLM sampling of a QueryGym run (`config.llm_config` of the `<hash>.json` beside
 * `<hash>.queries.tsv`, QueryGym's run record), or undefined when there is no such file.
 */
async function queryGymRunSampling(file: string): Promise<Record<string, unknown> | undefined> {
  if (!file.endsWith('.queries.tsv')) return undefined;
  try {
    const run = JSON.parse(await readFile(file.slice(0, -'.queries.tsv'.length) + '.json', 'utf8')) as { config?: { llm_config?: unknown } };
    const c = run.config?.llm_config;
    return c !== null && typeof c === 'object' && !Array.isArray(c) ? (c as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

async function detectImportFormat(file: string): Promise<NonNullable<ImportRequest['format']>> {
  const lower = file.toLowerCase();
  if (lower.endsWith('.tsv') || lower.endsWith('.txt')) return 'querygym-tsv';
  if (lower.endsWith('.jsonl') || lower.endsWith('.json')) {
    let head = '';
    try {
      head = (await readFile(file, 'utf8')).slice(0, 4096);
    } catch {
      return 'jsonl';
    }
    return /"custom_id"\s*:/.test(head) && /"response"\s*:/.test(head) ? 'openai-batch-output' : 'jsonl';
  }
  throw new QxError('usage', `cannot tell the format of ${file} from its extension`, { hint: 'Pass --format querygym-tsv, jsonl or openai-batch-output.' });
}

/** Resolves a manifest's relative paths against `fromDir` and rewrites them relative to `toDir`. */
export function rebaseManifestPaths(manifest: Record<string, unknown>, fromDir: string, toDir: string): Record<string, unknown> {
  const rebase = (p: unknown): unknown => (typeof p === 'string' ? relativeOrAbsolute(toDir, isAbsolute(p) ? p : resolve(fromDir, p)) : p);
  const out: Record<string, unknown> = { ...manifest };
  for (const k of ['topics', 'qrels', 'trainTopics']) {
    const v = out[k];
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) out[k] = { ...(v as Record<string, unknown>), path: rebase((v as Record<string, unknown>).path) };
  }
  if (Array.isArray(out.rewrites)) out.rewrites = out.rewrites.map((r: unknown) => (r !== null && typeof r === 'object' ? { ...(r as Record<string, unknown>), path: rebase((r as Record<string, unknown>).path) } : r));
  const sample = out.sample;
  if (sample !== null && typeof sample === 'object' && !Array.isArray(sample)) out.sample = { ...(sample as Record<string, unknown>), from: rebase((sample as Record<string, unknown>).from) };
  const c = out.corpus;
  if (c !== null && typeof c === 'object' && !Array.isArray(c)) {
    const co = { ...(c as Record<string, unknown>) };
    if (co.path !== undefined) co.path = rebase(co.path);
    if (Array.isArray(co.paths)) co.paths = co.paths.map(rebase);
    out.corpus = co;
  }
  return out;
}

function relativeOrAbsolute(from: string, to: string): string {
  const r = relative(from, to);
  return r.startsWith('..') && r.split(/[\\/]/).filter((s) => s === '..').length > 2 ? to : r.split('\\').join('/');
}
