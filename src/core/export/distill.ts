import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { HistoryTurn, Qrels, Topic } from '../dataset/types.js';
import { QxError, throwIfAborted } from '../errors.js';
import { type NegativeStrategy, NEGATIVE_STRATEGIES, type RankedCandidate, deriveSeed, sampleNegatives } from '../sampling/negatives.js';
import { writeFileAtomic } from '../files/atomicWrite.js';

/**
 * Distillation exports for a retriever or reranker student:
 * - `kd-listwise`: one line per query, `{qid, query, history, docs: [{docid, text, teacher_score, label}]}`:
 *   the query's positives found in the teacher ranking plus the sampled negatives, ordered by
 *   teacher score; softmax(teacher_score / T) over `docs` is the target distribution of a KL loss
 *   (e.g. RankGPT/RankNet-style listwise KD; scores are the teacher's, not probabilities).
 * - `contrastive-triples`: one line per (positive, negative), `{qid, query, history, positive:
 *   {docid, text, teacher_score}, negative: {docid, text, teacher_score}}` for InfoNCE/triplet
 *   losses; `teacher_score` is null for a document outside the teacher ranking.
 * `label` is the qrels grade (null = unjudged); `history` the turns before a conversational
 * query (empty otherwise).
 */
export type DistillFormat = 'kd-listwise' | 'contrastive-triples';

/** Every distillation format, for validation and help texts. */
export const DISTILL_FORMATS: readonly DistillFormat[] = ['kd-listwise', 'contrastive-triples'];

/** The teacher of one query: its ranking (best first) and what made it, for provenance. */
export interface TeacherRanking {
  candidates: RankedCandidate[];
  /** E.g. `{kind: "bm25-rewrite", method: "manual-rewrite", model: "human", final: "…"}`. */
  provenance: Record<string, string | number>;
}

export interface DistillInput {
  datasetName: string;
  topics: readonly Topic[];
  qrels: Qrels;
  /** The teacher ranking of a query, or undefined when it has none (the query is skipped). */
  teacherRanking: (topic: Topic) => TeacherRanking | undefined;
  /** Passage text; a document without text is left out (counted). */
  docText: (docid: string) => string | undefined;
  /** Every docid, for the `random` strategy's pool (in-batch-style easy negatives). */
  docIds?: () => readonly string[];
  /** What the teacher scores are, for the card, e.g. "BM25 under the best teacher rewrite". */
  teacherDescription: string;
  /** Query ids that are evaluation queries (refused unless `allowEvalQueries`). */
  evalQids: readonly string[];
  evalSplitName: string;
  retrieval?: Record<string, string | number | boolean>;
  toolVersion: string;
  now?: () => Date;
}

export interface DistillRequest {
  format: DistillFormat;
  /** Output JSONL file (absolute); `<out>.manifest.json` and `<out>.card.md` go beside it. */
  out: string;
  strategy: NegativeStrategy;
  /** Negatives per query, default 8. */
  negatives?: number;
  /** Positives per query (highest grade first, then teacher rank), default 1. */
  positives?: number;
  /** Run seed; each query draws with `deriveSeed(seed, qid)`. Default 13. */
  seed?: number;
  /** Ranks `random-top-k` and `score-bands` draw from, default 100. */
  sampleTopK?: number;
  /** Bands of `score-bands`, default 4. */
  bands?: number;
  allowEvalQueries?: boolean;
}

export interface DistillResult {
  out: string;
  manifest: string;
  card: string;
  records: number;
  queries: number;
  skipped: { noPositive: number; noTeacher: number; noNegative: number; positivesOutsideRanking: number; docsWithoutText: number };
}

interface DocOut {
  docid: string;
  text: string;
  teacher_score: number | null;
  label: number | null;
}

/**
 * Writes a distillation export (see {@link DistillFormat}) with its manifest (format, counts,
 * sampler strategy, negatives, positives, seed, top-k, bands, teacher, retrieval settings) and a
 * short Markdown card. The same input and request always write the same JSONL. Throws
 * QxError('export'), writing nothing, when no query yields a record or when evaluation queries
 * would be exported without `allowEvalQueries`.
 */
export async function exportDistillation(input: DistillInput, request: DistillRequest, signal?: AbortSignal): Promise<DistillResult> {
  if (!DISTILL_FORMATS.includes(request.format)) throw new QxError('usage', `unknown distillation format "${String(request.format)}"`, { hint: `Use one of: ${DISTILL_FORMATS.join(', ')}.` });
  if (!NEGATIVE_STRATEGIES.includes(request.strategy)) throw new QxError('usage', `unknown negative sampling strategy "${String(request.strategy)}"`, { hint: `Use one of: ${NEGATIVE_STRATEGIES.join(', ')}.` });
  const negatives = request.negatives ?? 8;
  const positivesWanted = request.positives ?? 1;
  if (!Number.isInteger(positivesWanted) || positivesWanted < 1) throw new QxError('usage', `positives per query must be an integer >= 1, got ${positivesWanted}`);
  const seed = request.seed ?? 13;
  const sampleTopK = request.sampleTopK ?? 100;
  const bands = request.bands ?? 4;
  const skipped = { noPositive: 0, noTeacher: 0, noNegative: 0, positivesOutsideRanking: 0, docsWithoutText: 0 };
  const records: unknown[] = [];
  const qids: string[] = [];
  const teachers: Array<Record<string, string | number>> = [];
  let pool: readonly string[] | undefined;
  for (const topic of input.topics) {
    throwIfAborted(signal);
    const judgments = input.qrels.get(topic.qid);
    const grades = [...(judgments ?? new Map<string, number>())].filter(([, g]) => g > 0);
    if (grades.length === 0) {
      skipped.noPositive++;
      continue;
    }
    const teacher = input.teacherRanking(topic);
    if (teacher === undefined) {
      skipped.noTeacher++;
      continue;
    }
    const rankOf = new Map(teacher.candidates.map((c, i) => [c.docid, { rank: i + 1, score: c.score }]));
    const positiveSet = new Set(grades.map(([d]) => d));
    const withText = (docid: string): string | undefined => {
      const t = input.docText(docid);
      if (t === undefined || t === '') skipped.docsWithoutText++;
      return t === undefined || t === '' ? undefined : t;
    };
    // Positives: highest grade first, then the teacher's rank (unranked last), then docid.
    const ordered = grades.sort(([da, ga], [db, gb]) => gb - ga || (rankOf.get(da)?.rank ?? Infinity) - (rankOf.get(db)?.rank ?? Infinity) || (da < db ? -1 : da > db ? 1 : 0));
    const positives: DocOut[] = [];
    for (const [docid, grade] of ordered) {
      if (positives.length >= positivesWanted) break;
      const r = rankOf.get(docid);
      if (request.format === 'kd-listwise' && r === undefined) {
        skipped.positivesOutsideRanking++;
        continue;
      }
      const text = withText(docid);
      if (text === undefined) continue;
      positives.push({ docid, text, teacher_score: r?.score ?? null, label: grade });
    }
    if (positives.length === 0) {
      skipped.noPositive++;
      continue;
    }
    if (request.strategy === 'random' && input.docIds !== undefined) pool ??= input.docIds();
    const sampled = sampleNegatives({
      candidates: teacher.candidates,
      positives: positiveSet,
      strategy: request.strategy,
      count: negatives,
      seed: deriveSeed(seed, topic.qid),
      topK: sampleTopK,
      bands,
      ...(pool === undefined ? {} : { pool }),
    });
    const negs: DocOut[] = [];
    for (const n of sampled) {
      const text = withText(n.docid);
      if (text === undefined) continue;
      const g = judgments?.get(n.docid);
      negs.push({ docid: n.docid, text, teacher_score: n.score ?? null, label: g === undefined ? null : g });
    }
    if (negs.length === 0) {
      skipped.noNegative++;
      continue;
    }
    const history = (topic.conversation?.history ?? []).map((h: HistoryTurn) => ({ utterance: h.utterance, ...(h.response === undefined ? {} : { response: h.response }) }));
    const base = { qid: topic.qid, query: topic.text, history };
    if (request.format === 'kd-listwise') {
      const docs = [...positives, ...negs].sort((a, b) => (b.teacher_score ?? -Infinity) - (a.teacher_score ?? -Infinity) || (a.docid < b.docid ? 1 : a.docid > b.docid ? -1 : 0));
      records.push({ ...base, docs });
    } else {
      const side = (d: DocOut) => ({ docid: d.docid, text: d.text, teacher_score: d.teacher_score });
      for (const p of positives) for (const n of negs) records.push({ ...base, positive: side(p), negative: side(n) });
    }
    qids.push(topic.qid);
    teachers.push({ qid: topic.qid, ...teacher.provenance });
  }
  if (records.length === 0) {
    throw new QxError('export', `nothing to export: no query has a positive judgment, a teacher ranking and a negative (skipped: ${JSON.stringify(skipped)}); no file was written`, {
      hint: 'Expand with the teacher (or import the dataset rewrites) and score first.',
    });
  }
  const evalSet = new Set(input.evalQids);
  const leaked = qids.filter((q) => evalSet.has(q));
  if (leaked.length > 0 && request.allowEvalQueries !== true) {
    throw new QxError('export', `${leaked.length} queries of this training export belong to the ${input.evalSplitName} split (${leaked.slice(0, 5).join(', ')}${leaked.length > 5 ? ', …' : ''}); no file was written`, {
      hint: 'Export a training split, or pass --allow-eval-queries to override (the manifest records it).',
    });
  }
  const jsonl = records.map((r) => JSON.stringify(r)).join('\n') + '\n';
  const manifest = {
    kind: 'qx-studio-distillation-export',
    manifestVersion: 1,
    format: request.format,
    dataset: input.datasetName,
    file: basename(request.out),
    sha256: createHash('sha256').update(jsonl, 'utf8').digest('hex'),
    createdAt: (input.now ?? (() => new Date()))().toISOString(),
    toolVersion: input.toolVersion,
    teacher: input.teacherDescription,
    sampler: { strategy: request.strategy, negativesPerQuery: negatives, positivesPerQuery: positivesWanted, seed, seedPerQuery: 'deriveSeed(seed, qid): first 4 bytes of sha256(`${seed}\\0${qid}`)', sampleTopK, bands },
    counts: { records: records.length, queries: qids.length, skipped },
    retrieval: input.retrieval ?? null,
    leakage: { evalSplit: input.evalSplitName, evalQueriesInExport: leaked, overridden: leaked.length > 0 },
    qids,
    teachers,
  };
  const card = [
    `# ${basename(request.out)}`,
    '',
    `${request.format === 'kd-listwise' ? 'Listwise distillation lists' : 'Contrastive triples'} of dataset \`${input.datasetName}\`: ${records.length} records over ${qids.length} queries.`,
    '',
    `- Teacher scores: ${input.teacherDescription}.`,
    `- Negatives: strategy \`${request.strategy}\`, ${negatives} per query (top-k ${sampleTopK}${request.strategy === 'score-bands' ? `, ${bands} bands` : ''}), seed ${seed} (per query: deriveSeed(seed, qid)); never a judged-relevant document.`,
    `- Positives: up to ${positivesWanted} per query, highest grade first.`,
    `- Skipped: ${Object.entries(skipped).map(([k, v]) => `${k} ${v}`).join(', ')}.`,
    leaked.length > 0 ? `- WARNING: ${leaked.length} evaluation queries exported (override set).` : `- No evaluation query (split ${input.evalSplitName}).`,
    '',
  ].join('\n');
  throwIfAborted(signal);
  mkdirSync(dirname(request.out), { recursive: true });
  const manifestPath = `${request.out}.manifest.json`;
  const cardPath = `${request.out}.card.md`;
  writeFileAtomic(request.out, jsonl);
  writeFileAtomic(manifestPath, JSON.stringify(manifest, null, 2) + '\n');
  writeFileAtomic(cardPath, card);
  return { out: request.out, manifest: manifestPath, card: cardPath, records: records.length, queries: qids.length, skipped };
}
