import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { QxError, throwIfAborted } from '../errors.js';
import type { ExpansionRecord, TemplateRef } from '../expansion/types.js';
import type { ExpansionScore, PairRecord, PairRules, PairState } from '../curation/types.js';
import { nullLogger } from '../logger.js';
import type { TaskOptions } from '../progress.js';
import type { ExportFormat, ExportRequest, ExportResult } from '../workspace/api.js';
import { writeFileAtomic } from './atomicWrite.js';
import { validateDatasetInfoEntry, validateRecords } from './schemas.js';

/** The student's zero-shot prompt for one query: what the trained model will be given. */
export interface StudentPrompt {
  system?: string;
  user: string;
}

/** Everything an export reads. Plain data: the workspace gathers it from the store and dataset. */
export interface ExportInput {
  /** Dataset name, written into the manifest, every record's `dataset` column and dataset_info.json. */
  datasetName: string;
  /** Query ids of the dataset's evaluation/test split: refused in training exports unless overridden. */
  evalQids: Iterable<string>;
  /** Name of that split for messages and the manifest, default "eval". */
  evalSplitName?: string;
  /** Expansions by id (or a list). */
  expansions: ReadonlyMap<string, ExpansionRecord> | readonly ExpansionRecord[];
  /** Scores by expansion id under the current retrieval settings. */
  scores: ReadonlyMap<string, ExpansionScore>;
  /** Current pairs (ignored by "sft-messages"). */
  pairs: readonly PairRecord[];
  /** The rules the auto pairs were built with, for the manifest. */
  rules?: PairRules;
  /**
   * Renders the student's zero-shot prompt from the query alone (no few-shot exemplars): the
   * prompt of every DPO record and the user turn of every SFT record.
   */
  renderStudentPrompt: (query: string, qid: string) => StudentPrompt;
  /** Template behind `renderStudentPrompt`, for the manifest. */
  studentTemplate?: TemplateRef;
  /** Retriever description (engine, analyzer, BM25 parameters), for the manifest. */
  retrieval?: Record<string, unknown>;
  /** Sampling parameters of the generations (temperature, top_p, ...), for the manifest. */
  sampling?: Record<string, unknown>;
  /** QX Studio version, for the manifest. */
  toolVersion: string;
  /** SFT only: require the teacher's best expansion to beat the original query (delta > 0), default true. */
  sftRequirePositiveDelta?: boolean;
  /** Clock, for tests. */
  now?: () => Date;
}

/** Pair states exported when the request names none. */
export const defaultExportStates: readonly PairState[] = ['auto', 'accepted', 'edited'];

interface SideInfo {
  expansionId: string;
  role: string;
  method: string;
  model: string;
  template: TemplateRef | null;
  sampleIndex: number;
  /** Student round that wrote it (0 = base student), null when not generated as a round. */
  round: number | null;
  ndcg10: number;
  delta: number;
}

interface Provenance {
  qid: string;
  pairId?: string;
  state?: PairState;
  origin?: string;
  margin?: number;
  originalNdcg10: number;
  chosen: SideInfo;
  rejected?: SideInfo;
}

interface Built {
  records: unknown[];
  provenance: Provenance[];
  /** Pairs left out because a side is a model-free baseline (RM3): not text a student can learn to write. */
  baselinePairs?: number;
}

function sideInfo(e: ExpansionRecord, s: ExpansionScore): SideInfo {
  return {
    expansionId: e.id,
    role: e.role,
    method: e.method,
    model: e.model,
    template: e.template ?? null,
    sampleIndex: e.sampleIndex,
    round: e.round ?? null,
    ndcg10: s.ndcg10,
    delta: s.delta,
  };
}

function promptMessages(p: StudentPrompt): { role: 'system' | 'user'; content: string }[] {
  return p.system !== undefined && p.system !== '' ? [{ role: 'system', content: p.system }, { role: 'user', content: p.user }] : [{ role: 'user', content: p.user }];
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function buildPreference(format: ExportFormat, input: ExportInput, states: readonly PairState[], expansions: ReadonlyMap<string, ExpansionRecord>): Built {
  const pairs = input.pairs.filter((p) => states.includes(p.state)).sort((a, b) => cmp(a.qid, b.qid) || cmp(a.id, b.id));
  const records: unknown[] = [];
  const provenance: Provenance[] = [];
  let baselinePairs = 0;
  for (const p of pairs) {
    const chosen = expansions.get(p.chosenId);
    const rejected = expansions.get(p.rejectedId);
    const missing = chosen === undefined ? p.chosenId : rejected === undefined ? p.rejectedId : null;
    if (missing !== null || chosen === undefined || rejected === undefined) {
      throw new QxError('export', `pair ${p.id} (query ${p.qid}) refers to expansion ${missing ?? '?'}, which is not in the store; nothing was written`, {
        hint: 'Rebuild the pairs (qx pairs) or delete that pair, then export again.',
      });
    }
    if (chosen.role === 'baseline' || rejected.role === 'baseline') {
      baselinePairs++;
      continue;
    }
    const cs = input.scores.get(chosen.id);
    const rs = input.scores.get(rejected.id);
    if (cs === undefined || rs === undefined) {
      throw new QxError('export', `pair ${p.id} (query ${p.qid}) has an expansion not scored with the current retrieval settings; nothing was written`, {
        hint: 'Score the workspace (qx score) and export again.',
      });
    }
    const prompt = input.renderStudentPrompt(chosen.query, p.qid);
    const originalNdcg10 = cs.ndcg10 - cs.delta;
    const prov = {
      dataset: input.datasetName,
      qid: p.qid,
      pair_id: p.id,
      margin: cs.ndcg10 - rs.ndcg10,
      chosen_ndcg10: cs.ndcg10,
      rejected_ndcg10: rs.ndcg10,
      original_ndcg10: originalNdcg10,
      chosen_model: chosen.model,
      rejected_model: rejected.model,
    };
    const c = chosen.generated;
    const r = rejected.generated;
    switch (format) {
      case 'trl-standard':
        records.push({ prompt: prompt.system ? `${prompt.system}\n\n${prompt.user}` : prompt.user, chosen: c, rejected: r, ...prov });
        break;
      case 'trl-conversational':
        records.push({ prompt: promptMessages(prompt), chosen: [{ role: 'assistant', content: c }], rejected: [{ role: 'assistant', content: r }], ...prov });
        break;
      case 'openai-preference':
        records.push({
          input: { messages: promptMessages(prompt) },
          preferred_output: [{ role: 'assistant', content: c }],
          non_preferred_output: [{ role: 'assistant', content: r }],
        });
        break;
      case 'llama-factory':
        records.push({
          conversations: [{ from: 'human', value: prompt.user }],
          ...(prompt.system ? { system: prompt.system } : {}),
          chosen: { from: 'gpt', value: c },
          rejected: { from: 'gpt', value: r },
          ...prov,
        });
        break;
      case 'sft-messages':
        throw new QxError('internal', 'sft-messages is not a preference format');
    }
    provenance.push({
      qid: p.qid,
      pairId: p.id,
      state: p.state,
      origin: p.origin,
      margin: prov.margin,
      originalNdcg10,
      chosen: sideInfo(chosen, cs),
      rejected: sideInfo(rejected, rs),
    });
  }
  return { records, provenance, baselinePairs };
}

/** Best teacher expansion per query: highest nDCG@10, then shorter text, then id. */
function buildSft(input: ExportInput, expansions: ReadonlyMap<string, ExpansionRecord>): Built {
  const requirePositive = input.sftRequirePositiveDelta ?? true;
  const best = new Map<string, { e: ExpansionRecord; s: ExpansionScore }>();
  for (const e of expansions.values()) {
    if (e.role !== 'teacher' || e.generated.trim() === '') continue;
    const s = input.scores.get(e.id);
    if (s === undefined) continue;
    if (requirePositive && !(s.delta > 1e-9)) continue;
    const cur = best.get(e.qid);
    const better =
      cur === undefined ||
      s.ndcg10 > cur.s.ndcg10 + 1e-9 ||
      (Math.abs(s.ndcg10 - cur.s.ndcg10) <= 1e-9 && (e.generated.length < cur.e.generated.length || (e.generated.length === cur.e.generated.length && e.id < cur.e.id)));
    if (better) best.set(e.qid, { e, s });
  }
  const records: unknown[] = [];
  const provenance: Provenance[] = [];
  for (const qid of [...best.keys()].sort(cmp)) {
    const { e, s } = best.get(qid) as { e: ExpansionRecord; s: ExpansionScore };
    const prompt = input.renderStudentPrompt(e.query, qid);
    records.push({
      messages: [...promptMessages(prompt), { role: 'assistant', content: e.generated }],
      dataset: input.datasetName,
      qid,
      expansion_id: e.id,
      model: e.model,
      ndcg10: s.ndcg10,
      original_ndcg10: s.ndcg10 - s.delta,
    });
    provenance.push({ qid, originalNdcg10: s.ndcg10 - s.delta, chosen: sideInfo(e, s) });
  }
  return { records, provenance };
}

function uniqueSorted<T>(values: T[], key: (v: T) => string): T[] {
  const m = new Map<string, T>();
  for (const v of values) m.set(key(v), v);
  return [...m.keys()].sort(cmp).map((k) => m.get(k) as T);
}

/** The manifest written beside every export as `<out>.manifest.json`. */
export interface ExportManifest {
  kind: 'qx-studio-export';
  manifestVersion: 1;
  format: ExportFormat;
  dataset: string;
  file: string;
  /** sha256 of the JSONL file, hex. */
  sha256: string;
  createdAt: string;
  toolVersion: string;
  /** What the text fields hold. */
  textSource: string;
  counts: { records: number; queries: number; byState: Partial<Record<PairState, number>> };
  margins: { min: number; mean: number; max: number } | null;
  states: PairState[] | null;
  rules: PairRules | null;
  rulesHashes: string[];
  qids: string[];
  models: { role: string; method: string; model: string; template: TemplateRef | null }[];
  studentPrompt: { template: TemplateRef | null; fewShot: false };
  retrieval: Record<string, unknown> | null;
  sampling: Record<string, unknown> | null;
  leakage: { evalSplit: string; evalQueriesInExport: string[]; overridden: boolean };
  provenance: Provenance[];
}

/** A short human-readable dataset card (Markdown) summarizing a manifest; written as `<out>.card.md`. */
export function renderDatasetCard(m: ExportManifest): string {
  const esc = (x: string): string => x.replace(/[|<>]/g, (c) => `\\${c}`);
  const lines = [
    `# ${esc(m.file)}`,
    '',
    `QX Studio ${esc(m.toolVersion)} export of dataset **${esc(m.dataset)}** in format \`${m.format}\`, created ${m.createdAt}.`,
    '',
    `- Records: ${m.counts.records} over ${m.counts.queries} queries` +
      (Object.keys(m.counts.byState).length > 0 ? ` (by state: ${Object.entries(m.counts.byState).map(([k, v]) => `${k} ${v}`).join(', ')})` : ''),
    `- Text: ${m.textSource}`,
    m.margins === null ? '- Margins: n/a' : `- nDCG@10 margins: min ${m.margins.min.toFixed(4)}, mean ${m.margins.mean.toFixed(4)}, max ${m.margins.max.toFixed(4)}`,
    `- Student prompt template: ${m.studentPrompt.template === null ? 'n/a' : `${esc(m.studentPrompt.template.id)} v${m.studentPrompt.template.version} (${m.studentPrompt.template.hash})`}, zero-shot`,
    `- Models: ${m.models.map((x) => `${x.role} ${esc(x.model)} (${esc(x.method)}${x.template === null ? '' : `, template ${x.template.hash}`})`).join('; ')}`,
    `- Retrieval: ${m.retrieval === null ? 'n/a' : esc(JSON.stringify(m.retrieval))}`,
    `- Sampling: ${m.sampling === null ? 'n/a' : esc(JSON.stringify(m.sampling))}`,
    `- Pair rules: ${m.rules === null ? 'n/a' : esc(JSON.stringify(m.rules))}`,
    m.leakage.overridden
      ? `- **Leakage override:** ${m.leakage.evalQueriesInExport.length} queries of the ${esc(m.leakage.evalSplit)} split are included on purpose.`
      : `- No query of the ${esc(m.leakage.evalSplit)} split is included.`,
    `- sha256 of the data file: ${m.sha256}`,
    '',
    'Per-record provenance (models, templates, nDCG@10 before and after) is in the `.manifest.json` beside this file.',
    '',
  ];
  return lines.join('\n');
}

/**
 * Writes a training export and its manifest (and a Markdown card, `<out>.card.md`). Records are in a stable order (qid, then pair id;
 * SFT by qid), validated against the format's JSON Schema before anything is written, and each
 * file is written atomically; two exports of the same data are byte-identical (the manifest
 * differs only in `createdAt`). In "trl-standard" the prompt string is the system text, a blank
 * line, then the user text (other formats keep the system message separate). Chosen/rejected and SFT targets are the expansions' generated
 * text (what the student must learn to write), not the final retrieval string; pairs with a
 * model-free baseline (RM3) side are left out (with a warning), and SFT takes teacher text only.
 *
 * Throws QxError('export'), writing nothing, when there are zero records, when a record would
 * carry an evaluation query and `allowEvalQueries` is not set (with it, the manifest records the
 * override), or when a pair points at a missing or unscored expansion.
 * "llama-factory" also adds/replaces the entry named after the file in `dataset_info.json` beside it.
 */
export async function exportDataset(input: ExportInput, request: ExportRequest, options: Partial<TaskOptions> = {}): Promise<ExportResult> {
  const logger = options.logger ?? nullLogger;
  throwIfAborted(options.signal);
  const expansions: ReadonlyMap<string, ExpansionRecord> = Array.isArray(input.expansions)
    ? new Map((input.expansions as readonly ExpansionRecord[]).map((e) => [e.id, e]))
    : (input.expansions as ReadonlyMap<string, ExpansionRecord>);
  const states = request.states ?? [...defaultExportStates];
  const built = request.format === 'sft-messages' ? buildSft(input, expansions) : buildPreference(request.format, input, states, expansions);
  throwIfAborted(options.signal);
  if ((built.baselinePairs ?? 0) > 0) logger.warn(`Left out ${built.baselinePairs} pairs with a model-free baseline (RM3) side: baselines are never exported.`);

  if (built.records.length === 0) {
    const why =
      request.format === 'sft-messages'
        ? 'no query has a scored teacher expansion that beats the original query'
        : `no pair is in the exported states (${states.join(', ')})`;
    throw new QxError('export', `nothing to export: ${why}; no file was written`, {
      hint: request.format === 'sft-messages' ? 'Expand with the teacher and score first.' : 'Build pairs (qx pairs), lower the margin, or include more states.',
    });
  }

  const evalSplit = input.evalSplitName ?? 'eval';
  const evalSet = new Set(input.evalQids);
  const leaked = [...new Set(built.provenance.map((p) => p.qid).filter((q) => evalSet.has(q)))].sort(cmp);
  if (leaked.length > 0 && request.allowEvalQueries !== true) {
    const shown = leaked.slice(0, 5).join(', ') + (leaked.length > 5 ? ', …' : '');
    throw new QxError('export', `${leaked.length} queries of this training export belong to the ${evalSplit} split (${shown}); training on them would leak the evaluation set; no file was written`, {
      hint: 'Build pairs on the training queries only, or set allowEvalQueries (--allow-eval-queries) to override; the manifest then records it.',
    });
  }
  if (leaked.length > 0) logger.warn(`Exporting ${leaked.length} ${evalSplit} queries into a training set (allowEvalQueries is set).`);

  validateRecords(request.format, built.records, (i) => {
    const p = built.provenance[i];
    return p === undefined ? '' : p.pairId !== undefined ? `pair ${p.pairId}, query ${p.qid}` : `query ${p.qid}`;
  });

  const jsonl = built.records.map((r) => JSON.stringify(r)).join('\n') + '\n';
  const margins = built.provenance.flatMap((p) => (p.margin === undefined ? [] : [p.margin]));
  const byState: Partial<Record<PairState, number>> = {};
  for (const p of built.provenance) if (p.state !== undefined) byState[p.state] = (byState[p.state] ?? 0) + 1;
  const pairById = new Map(input.pairs.map((p) => [p.id, p]));
  const sides = built.provenance.flatMap((p) => (p.rejected === undefined ? [p.chosen] : [p.chosen, p.rejected]));
  const qids = [...new Set(built.provenance.map((p) => p.qid))].sort(cmp);
  const manifestPath = `${request.out}.manifest.json`;
  const manifest: ExportManifest = {
    kind: 'qx-studio-export',
    manifestVersion: 1,
    format: request.format,
    dataset: input.datasetName,
    file: basename(request.out),
    sha256: createHash('sha256').update(jsonl, 'utf8').digest('hex'),
    createdAt: (input.now ?? (() => new Date()))().toISOString(),
    toolVersion: input.toolVersion,
    textSource:
      request.format === 'sft-messages'
        ? "assistant turn = the best teacher expansion's generated text (not the final retrieval string); user turn = the student's zero-shot prompt"
        : "chosen/rejected = the expansions' generated text (not the final retrieval string); prompt = the student's zero-shot prompt",
    counts: { records: built.records.length, queries: qids.length, byState },
    margins: margins.length === 0 ? null : { min: Math.min(...margins), mean: margins.reduce((a, b) => a + b, 0) / margins.length, max: Math.max(...margins) },
    states: request.format === 'sft-messages' ? null : states,
    rules: input.rules ?? null,
    rulesHashes: [
      ...new Set(built.provenance.flatMap((p) => (p.pairId === undefined ? [] : [pairById.get(p.pairId)?.rulesHash ?? ''])).filter((h) => h !== '')),
    ].sort(cmp),
    qids,
    models: uniqueSorted(
      sides.map((s) => ({ role: s.role, method: s.method, model: s.model, template: s.template })),
      (m) => `${m.role}\u0000${m.method}\u0000${m.model}\u0000${m.template?.hash ?? ''}`,
    ),
    studentPrompt: { template: input.studentTemplate ?? null, fewShot: false },
    retrieval: input.retrieval ?? null,
    sampling: input.sampling ?? null,
    leakage: { evalSplit, evalQueriesInExport: leaked, overridden: leaked.length > 0 },
    provenance: built.provenance,
  };

  let datasetInfo: { file: string; text: string } | null = null;
  if (request.format === 'llama-factory') {
    const file = join(dirname(request.out), 'dataset_info.json');
    let info: Record<string, unknown> = {};
    if (existsSync(file)) {
      try {
        const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
        if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a JSON object');
        info = parsed as Record<string, unknown>;
      } catch (e) {
        throw new QxError('export', `cannot add the dataset entry: ${file} is not a JSON object (${e instanceof Error ? e.message : String(e)}); nothing was written`, {
          file,
          hint: 'Fix or move that file, then export again.',
        });
      }
    }
    const entry = {
      file_name: basename(request.out),
      formatting: 'sharegpt',
      ranking: true,
      columns: { messages: 'conversations', chosen: 'chosen', rejected: 'rejected', system: 'system' },
    };
    validateDatasetInfoEntry(entry);
    info[basename(request.out).replace(/\.jsonl?$/i, '')] = entry;
    datasetInfo = { file, text: JSON.stringify(info, null, 2) + '\n' };
  }

  throwIfAborted(options.signal);
  mkdirSync(dirname(request.out), { recursive: true });
  writeFileAtomic(request.out, jsonl);
  writeFileAtomic(manifestPath, JSON.stringify(manifest, null, 2) + '\n');
  writeFileAtomic(`${request.out}.card.md`, renderDatasetCard(manifest));
  if (datasetInfo !== null) writeFileAtomic(datasetInfo.file, datasetInfo.text);
  options.onProgress?.({ done: built.records.length, total: built.records.length, unit: 'records' });
  return { out: request.out, manifest: manifestPath, records: built.records.length };
}
