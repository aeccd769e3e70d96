import { mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { QxError } from '../errors.js';
import type { TemplateRef } from '../expansion/types.js';
import { writeFileAtomic } from '../files/atomicWrite.js';
import { deriveSeed, sampleNegatives, type NegativeStrategy } from '../sampling/negatives.js';

/*
 * Knowledge-distillation exports of the judge's scores for training retrievers:
 * - kd-listwise: one line per query, `{qid, query, docs: [{docid, text, score}]}`, the candidates in
 *   the rank order of their source ranking, for a listwise KL-divergence loss over the teacher's
 *   score distribution.
 * - kd-margin-mse: one line per (query, positive, negative) with `label` = teacher(q, positive) −
 *   teacher(q, negative), the columns sentence-transformers' MarginMSELoss reads: the text columns
 *   in order (query, passage one, passage two) and a label column named "label". That trainer takes
 *   every column that is not the label as an input, so the rows carry nothing else; provenance is
 *   in the manifest.
 */

export type KdFormat = 'kd-listwise' | 'kd-margin-mse';
export const KD_FORMATS: readonly KdFormat[] = ['kd-listwise', 'kd-margin-mse'];

/** One query's candidates with teacher scores, in the source ranking's order. */
export interface KdCandidateList {
  qid: string;
  query: string;
  docs: { docid: string; text: string; score: number }[];
}

/** A (positive, negative) pair of one query's candidates: indices into `docs`. */
export interface KdPair {
  positive: number;
  negative: number;
}

/**
 * Picks MarginMSE pairs from one candidate list: {@link topVersusRest} (the default) or
 * {@link sampledPairs} over the shared negative sampler (src/core/sampling/negatives.ts).
 */
export type KdPairSampler = (list: KdCandidateList) => KdPair[];

/**
 * The default, deterministic pairs: the candidates sorted by teacher score (descending, then
 * docid), the top `positives` (default 1) each paired with every lower-scored candidate whose score
 * is at least `minMargin` (default 0, i.e. > 0 strictly) below, in that order.
 */
export function topVersusRest(options: { positives?: number; minMargin?: number } = {}): KdPairSampler {
  const positives = Math.max(1, Math.floor(options.positives ?? 1));
  const minMargin = options.minMargin ?? 0;
  return (list) => {
    const order = list.docs.map((d, i) => ({ d, i })).sort((a, b) => b.d.score - a.d.score || (a.d.docid < b.d.docid ? -1 : a.d.docid > b.d.docid ? 1 : 0));
    const out: KdPair[] = [];
    for (let p = 0; p < Math.min(positives, order.length); p++) {
      const pos = order[p]!;
      for (let n = p + 1; n < order.length; n++) {
        const neg = order[n]!;
        const margin = pos.d.score - neg.d.score;
        if (margin > 0 && margin >= minMargin) out.push({ positive: pos.i, negative: neg.i });
      }
    }
    return out;
  };
}

/**
 * Pairs drawn with the shared negative sampler: the positive is the candidate the teacher scores
 * highest (ties: lower docid), the negatives `count` of the others chosen by `strategy` over the
 * teacher's ranking (`top-k-hard`, `random-top-k`, `score-bands`, `random`), with a per-query seed
 * (`deriveSeed(seed, qid)`), so the same export is drawn again from the same seed. Negatives the
 * teacher scores as high as the positive are skipped (a MarginMSE label must be > 0).
 */
export function sampledPairs(options: { strategy: NegativeStrategy; count: number; seed: number; topK?: number; bands?: number }): KdPairSampler {
  return (list) => {
    const order = list.docs.map((d, i) => ({ d, i })).sort((a, b) => b.d.score - a.d.score || (a.d.docid < b.d.docid ? -1 : a.d.docid > b.d.docid ? 1 : 0));
    const pos = order[0];
    if (pos === undefined) return [];
    const index = new Map(order.map((o) => [o.d.docid, o.i]));
    const negatives = sampleNegatives({
      candidates: order.filter((o) => o.d.score < pos.d.score).map((o) => ({ docid: o.d.docid, score: o.d.score })),
      positives: new Set([pos.d.docid]),
      strategy: options.strategy,
      count: options.count,
      seed: deriveSeed(options.seed, list.qid),
      ...(options.topK === undefined ? {} : { topK: options.topK }),
      ...(options.bands === undefined ? {} : { bands: options.bands }),
    });
    return negatives.map((n) => ({ positive: pos.i, negative: index.get(n.docid)! }));
  };
}

const text = { type: 'string', minLength: 1 } as const;

/** JSON Schemas of one record of each KD format. */
export const kdSchemas: Record<KdFormat, object> = {
  'kd-listwise': {
    type: 'object',
    required: ['qid', 'query', 'docs'],
    additionalProperties: false,
    properties: {
      qid: text,
      query: text,
      docs: {
        type: 'array',
        minItems: 2,
        items: {
          type: 'object',
          required: ['docid', 'text', 'score'],
          additionalProperties: false,
          properties: { docid: text, text, score: { type: 'number' } },
        },
      },
    },
  },
  'kd-margin-mse': {
    type: 'object',
    required: ['query', 'positive', 'negative', 'label'],
    additionalProperties: false,
    properties: { query: text, positive: text, negative: text, label: { type: 'number', exclusiveMinimum: 0 } },
  },
};

const ajv = new Ajv2020({ allErrors: false, strict: true });
const validators = new Map<KdFormat, ReturnType<typeof ajv.compile>>();

/** Validates KD records against their schema; throws QxError('export') naming the first bad record. */
export function validateKdRecords(format: KdFormat, records: readonly unknown[]): void {
  let v = validators.get(format);
  if (v === undefined) validators.set(format, (v = ajv.compile(kdSchemas[format])));
  for (let i = 0; i < records.length; i++) {
    if (!v(records[i])) {
      const e = v.errors?.[0];
      throw new QxError('export', `record ${i + 1} does not match the ${format} schema: ${e === undefined ? '' : `${e.instancePath || '(record)'} ${e.message ?? ''}`}; nothing was written`, { hint: 'This is a bug in QX Studio or damaged data; report it with the record.' });
    }
  }
}

/** Listwise records: queries with at least two candidates, key order fixed (qid, query, docs). */
export function listwiseRecords(lists: readonly KdCandidateList[]): { qid: string; query: string; docs: { docid: string; text: string; score: number }[] }[] {
  return lists.filter((l) => l.docs.length >= 2).map((l) => ({ qid: l.qid, query: l.query, docs: l.docs.map((d) => ({ docid: d.docid, text: d.text, score: d.score })) }));
}

/** MarginMSE rows from each list's pairs (see `KdPairSampler`), in query then pair order. */
export function marginMseRecords(lists: readonly KdCandidateList[], sampler: KdPairSampler = topVersusRest()): { query: string; positive: string; negative: string; label: number }[] {
  const out: { query: string; positive: string; negative: string; label: number }[] = [];
  for (const l of lists) {
    for (const p of sampler(l)) {
      const pos = l.docs[p.positive];
      const neg = l.docs[p.negative];
      if (pos === undefined || neg === undefined) throw new QxError('internal', `the pair sampler returned an index outside query ${l.qid}'s ${l.docs.length} candidates`);
      out.push({ query: l.query, positive: pos.text, negative: neg.text, label: pos.score - neg.score });
    }
  }
  return out;
}

/** What the manifest beside a KD export records. */
export interface KdProvenance {
  dataset: string;
  /** Where the candidates came from, e.g. "original top 10", "teacher/…/query2doc-zs top 10", "run run.txt top 20". */
  candidates: string;
  judge: { provider: string; endpoint: string; model: string; template: TemplateRef; mode: 'binary' | 'graded' };
  /** Pair sampler of kd-margin-mse, e.g. "top-1 vs rest, margin > 0". */
  sampler?: string;
  toolVersion: string;
  /** Evaluation queries were exported on purpose (--allow-eval-queries). */
  evalQueriesAllowed: boolean;
}

/**
 * Validates and writes a KD export (JSONL, atomically) with `<name>.manifest.json` beside it.
 * Writes nothing when there would be no record.
 */
export function writeKdExport(format: KdFormat, out: string, lists: readonly KdCandidateList[], provenance: KdProvenance, sampler?: KdPairSampler): { out: string; manifest: string; records: number; queries: number } {
  const records: object[] = format === 'kd-listwise' ? listwiseRecords(lists) : marginMseRecords(lists, sampler);
  if (records.length === 0) {
    throw new QxError('export', `the ${format} export would be empty (no query has two candidates${format === 'kd-margin-mse' ? ' with different teacher scores' : ''})`, { hint: 'Judge the candidates first (qx judge), or take more candidates.' });
  }
  validateKdRecords(format, records);
  mkdirSync(dirname(out), { recursive: true });
  writeFileAtomic(out, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const manifest = join(dirname(out), `${basename(out).replace(/\.jsonl?$/, '')}.manifest.json`);
  const queries = new Set(lists.filter((l) => l.docs.length >= 2).map((l) => l.qid)).size;
  writeFileAtomic(manifest, JSON.stringify({ format, file: basename(out), records: records.length, queries, ...provenance, createdAt: new Date().toISOString() }, null, 2) + '\n');
  return { out, manifest, records: records.length, queries };
}
