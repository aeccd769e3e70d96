import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { QxError, throwIfAborted } from '../errors.js';
import type { Conditioning, ExpansionRecord, OutputKind, TemplateRef } from '../expansion/types.js';
import { conditioningOf, outputKindOf, taskMismatch, type StudentTask } from '../curation/kinds.js';
import { describeLengthStats, lengthRatio, pairLengthStats, type PairLengthStats } from '../curation/lengths.js';
import { pairTask, promptGroup } from '../curation/pairs.js';
import type { ExpansionScore, PairRecord, PairRules, PairState } from '../curation/types.js';
import { nullLogger } from '../logger.js';
import type { TaskOptions } from '../progress.js';
import type { ExportFormat, ExportRequest, ExportResult } from '../workspace/api.js';
import { writeFileAtomic } from '../files/atomicWrite.js';
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
  /** The rules the auto pairs were built with, for the manifest (and the default task). */
  rules?: PairRules;
  /**
   * Renders the student's zero-shot prompt from the query alone (no few-shot exemplars): the
   * prompt of every DPO record and the user turn of every SFT record.
   */
  renderStudentPrompt: (query: string, qid: string) => StudentPrompt;
  /** Template behind `renderStudentPrompt`, for the manifest. */
  studentTemplate?: TemplateRef;
  /**
   * With `task.includeRetrievalConditioned`: the prompt of a retrieval-conditioned expansion's
   * record, its method's template with the retrieved passages; undefined when it cannot be
   * rebuilt (the record is then left out). Without it, such expansions are never exported.
   */
  renderContextPrompt?: (e: ExpansionRecord) => StudentPrompt | undefined;
  /** How `renderContextPrompt` finds the passages, for the manifest. */
  contextSource?: string;
  /**
   * The student task: only expansions whose output kind fits it (and, unless it includes them,
   * that were not written with retrieved passages in their prompt) are exported. Default: the
   * task of `rules` (see curation `pairTask`), or query2doc-zs → passage.
   */
  task?: StudentTask;
  /** Retriever description (engine, analyzer, BM25 parameters), for the manifest. */
  retrieval?: Record<string, unknown>;
  /** QX Studio version, for the manifest. */
  toolVersion: string;
  /** SFT only: require the teacher's best expansion to beat the original query (delta > 0), default true. */
  sftRequirePositiveDelta?: boolean;
  /** SFT only: the smallest nDCG@10 delta over the original query a target needs, default 0 (with `sftRequirePositiveDelta`: strictly above it). */
  sftMinDelta?: number;
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
  outputKind: OutputKind;
  conditioning: Conditioning;
  sampleIndex: number;
  /** Student round that wrote it (0 = base student), null when not generated as a round. */
  round: number | null;
  ndcg10: number;
  delta: number;
  /** Characters of the generated text. */
  length: number;
}

interface Provenance {
  qid: string;
  pairId?: string;
  state?: PairState;
  origin?: string;
  margin?: number;
  originalNdcg10: number;
  /** The prompt of the record: "task" (the student task's zero-shot prompt) or "retrieval:<template>" (that method's prompt with retrieved passages). */
  prompt: string;
  chosen: SideInfo;
  rejected?: SideInfo;
}

interface Built {
  records: unknown[];
  provenance: Provenance[];
  /** Why pairs (or SFT candidates) were left out, with counts. */
  leftOut: Map<string, number>;
  /** Preference only: the length figures of the pairs that fit the task, before the export's length cap. */
  lengthsBefore?: PairLengthStats;
  /** Preference only, without an export cap: the length figures of the fitting pairs a cap of {@link previewLengthCap} would keep. */
  capPreview?: PairLengthStats;
}

/** The length cap whose effect an uncapped export previews in its note (the settings' suggested value). */
export const previewLengthCap = 1.5;

function sideInfo(e: ExpansionRecord, s: ExpansionScore): SideInfo {
  return {
    expansionId: e.id,
    role: e.role,
    method: e.method,
    model: e.model,
    template: e.template ?? null,
    outputKind: outputKindOf(e),
    conditioning: conditioningOf(e),
    sampleIndex: e.sampleIndex,
    round: e.round ?? null,
    ndcg10: s.ndcg10,
    delta: s.delta,
    length: [...e.generated].length,
  };
}

function bump(m: Map<string, number>, key: string, n = 1): void {
  m.set(key, (m.get(key) ?? 0) + n);
}

/** "teacher query2doc-fs": how an expansion is named in counts and messages. */
export function sideLabel(e: { role: string; method: string }): string {
  return `${e.role} ${e.method}`;
}

function promptMessages(p: StudentPrompt): { role: 'system' | 'user'; content: string }[] {
  return p.system !== undefined && p.system !== '' ? [{ role: 'system', content: p.system }, { role: 'user', content: p.user }] : [{ role: 'user', content: p.user }];
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function buildPreference(
  format: ExportFormat,
  input: ExportInput,
  states: readonly PairState[],
  expansions: ReadonlyMap<string, ExpansionRecord>,
  task: StudentTask,
  maxLengthRatio: number,
): Built {
  const leftOut = new Map<string, number>();
  for (const p of input.pairs) if (!states.includes(p.state)) bump(leftOut, `pairs in state "${p.state}" (not an exported state)`);
  const pairs = input.pairs.filter((p) => states.includes(p.state)).sort((a, b) => cmp(a.qid, b.qid) || cmp(a.id, b.id));
  const records: unknown[] = [];
  const provenance: Provenance[] = [];
  const fitting: PairRecord[] = [];
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
      bump(leftOut, 'pairs with a model-free baseline (RM3) side: baselines are never exported');
      continue;
    }
    const misfit = ([['chosen', chosen], ['rejected', rejected]] as const).flatMap(([side, e]) => {
      const why = taskMismatch(e, task);
      return why === null ? [] : [`pairs whose ${side} side is ${sideLabel(e)}: ${why}`];
    });
    if (misfit.length > 0) {
      bump(leftOut, misfit[0] as string);
      continue;
    }
    const group = promptGroup(chosen);
    if (promptGroup(rejected) !== group) {
      bump(leftOut, `pairs of ${sideLabel(chosen)} and ${sideLabel(rejected)}: one was written with retrieved passages in its prompt and the other was not, so no one prompt fits both`);
      continue;
    }
    const prompt = group === 'task' ? input.renderStudentPrompt(chosen.query, p.qid) : input.renderContextPrompt?.(chosen);
    if (prompt === undefined) {
      bump(leftOut, `pairs of ${sideLabel(chosen)}: its prompt with the retrieved passages cannot be rebuilt here`);
      continue;
    }
    fitting.push(p);
    if (maxLengthRatio > 0 && lengthRatio(chosen.generated, rejected.generated) > maxLengthRatio + 1e-12) {
      bump(leftOut, `pairs whose chosen/rejected length ratio is beyond the cap ${maxLengthRatio} (longer / shorter)`);
      continue;
    }
    const cs = input.scores.get(chosen.id);
    const rs = input.scores.get(rejected.id);
    if (cs === undefined || rs === undefined) {
      throw new QxError('export', `pair ${p.id} (query ${p.qid}) has an expansion not scored with the current retrieval settings; nothing was written`, {
        hint: 'Score the workspace (qx score) and export again.',
      });
    }
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
      prompt: group,
      chosen: sideInfo(chosen, cs),
      rejected: sideInfo(rejected, rs),
    });
  }
  const withinPreview = fitting.filter((p) => {
    const c = expansions.get(p.chosenId);
    const r = expansions.get(p.rejectedId);
    return c !== undefined && r !== undefined && lengthRatio(c.generated, r.generated) <= previewLengthCap + 1e-12;
  });
  return {
    records,
    provenance,
    leftOut,
    lengthsBefore: pairLengthStats(fitting, expansions),
    ...(maxLengthRatio > 0 ? {} : { capPreview: pairLengthStats(withinPreview, expansions) }),
  };
}

/** Best teacher expansion per query among those fitting the task: highest nDCG@10, then shorter text, then id. */
function buildSft(input: ExportInput, expansions: ReadonlyMap<string, ExpansionRecord>, task: StudentTask): Built {
  const requirePositive = input.sftRequirePositiveDelta ?? true;
  const minDelta = input.sftMinDelta ?? 0;
  const leftOut = new Map<string, number>();
  const best = new Map<string, { e: ExpansionRecord; s: ExpansionScore }>();
  const seen = new Set<string>();
  for (const e of expansions.values()) {
    if (e.role !== 'teacher' || e.generated.trim() === '') continue;
    const s = input.scores.get(e.id);
    if (s === undefined) continue;
    seen.add(e.qid);
    const why = taskMismatch(e, task);
    if (why !== null) {
      bump(leftOut, `teacher expansions of ${e.method}: ${why}`);
      continue;
    }
    if (requirePositive ? !(s.delta > minDelta + 1e-9) : s.delta < minDelta - 1e-9) continue;
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
    const group = promptGroup(e);
    const prompt = group === 'task' ? input.renderStudentPrompt(e.query, qid) : input.renderContextPrompt?.(e);
    if (prompt === undefined) {
      bump(leftOut, `SFT targets of ${sideLabel(e)}: its prompt with the retrieved passages cannot be rebuilt here`);
      continue;
    }
    records.push({
      messages: [...promptMessages(prompt), { role: 'assistant', content: e.generated }],
      dataset: input.datasetName,
      qid,
      expansion_id: e.id,
      model: e.model,
      ndcg10: s.ndcg10,
      original_ndcg10: s.ndcg10 - s.delta,
    });
    provenance.push({ qid, originalNdcg10: s.ndcg10 - s.delta, prompt: group, chosen: sideInfo(e, s) });
  }
  const without = [...seen].filter((q) => !best.has(q)).length;
  if (without > 0) bump(leftOut, `queries without a fitting teacher expansion whose nDCG@10 delta over the original is ${requirePositive ? 'above' : 'at least'} ${minDelta}`, without);
  return { records, provenance, leftOut };
}

/** One generator of exported records, as the manifest lists it. */
export interface ExportedModel {
  role: string;
  method: string;
  model: string;
  template: TemplateRef | null;
  outputKind: OutputKind;
  conditioning: Conditioning;
  /** The distinct sampling parameters recorded on its records; empty when none records any. */
  sampling: Record<string, unknown>[];
  /** Imported files (workspace-relative) or, for generated records, the provider ("openai-compatible", "onnx", "edit"). */
  sources: string[];
  /** Sides of exported records it wrote. */
  sides: number;
}

function exportedModels(sides: readonly SideInfo[], expansions: ReadonlyMap<string, ExpansionRecord>): ExportedModel[] {
  const out = new Map<string, ExportedModel & { samplingKeys: Set<string> }>();
  for (const side of sides) {
    const e = expansions.get(side.expansionId);
    if (e === undefined) continue;
    const key = [side.role, side.method, side.model, side.template?.hash ?? '', side.outputKind, side.conditioning].join('\u0000');
    let m = out.get(key);
    if (m === undefined) {
      m = { role: side.role, method: side.method, model: side.model, template: side.template, outputKind: side.outputKind, conditioning: side.conditioning, sampling: [], sources: [], sides: 0, samplingKeys: new Set() };
      out.set(key, m);
    }
    m.sides++;
    if (e.sampling !== undefined) {
      const k = JSON.stringify(e.sampling);
      if (!m.samplingKeys.has(k)) {
        m.samplingKeys.add(k);
        m.sampling.push(e.sampling);
      }
    }
    const source = e.source !== undefined ? e.source.replace(/:\d+$/, '') : e.provider;
    if (!m.sources.includes(source)) m.sources.push(source);
  }
  return [...out.keys()].sort(cmp).map((k) => {
    const { samplingKeys: _keys, ...m } = out.get(k) as ExportedModel & { samplingKeys: Set<string> };
    return { ...m, sources: [...m.sources].sort(cmp), sampling: [...m.sampling].sort((a, b) => cmp(JSON.stringify(a), JSON.stringify(b))) };
  });
}

/** The manifest written beside every export as `<out>.manifest.json`. */
export interface ExportManifest {
  kind: 'qx-studio-export';
  /** 2: `models` carry kind, conditioning, sampling and sources; no settings-based `sampling`. */
  manifestVersion: 2;
  format: ExportFormat;
  dataset: string;
  file: string;
  /** sha256 of the JSONL file, hex. */
  sha256: string;
  createdAt: string;
  toolVersion: string;
  /** What the text fields hold. */
  textSource: string;
  counts: {
    records: number;
    queries: number;
    byState: Partial<Record<PairState, number>>;
    /** Preference: records by "chosen role method > rejected role method"; SFT: by "teacher method". */
    bySource: Record<string, number>;
  };
  /** Why pairs or SFT candidates were left out, with counts. */
  leftOut: { reason: string; count: number }[];
  /** Preference: chosen/rejected lengths of the exported pairs, and of the fitting pairs before the export's length cap. */
  lengths: {
    exported: PairLengthStats;
    beforeCap: PairLengthStats;
    maxLengthRatio: number;
    pairRuleMaxLengthRatio: number;
    /** Without an export cap: what a cap of `maxLengthRatio` would keep. */
    preview?: { maxLengthRatio: number; kept: PairLengthStats };
  } | null;
  margins: { min: number; mean: number; max: number } | null;
  states: PairState[] | null;
  rules: PairRules | null;
  rulesHashes: string[];
  qids: string[];
  /**
   * Exactly the generators of the exported records: role, method, model, template, what the text
   * is, what its prompt held, the sampling recorded with the records (null when the records carry
   * none, e.g. an import without run metadata), where they came from, and how many records.
   */
  models: ExportedModel[];
  studentPrompt: {
    template: TemplateRef | null;
    fewShot: false;
    kind: OutputKind;
    includeRetrievalConditioned: boolean;
    /** Records whose prompt is a retrieval-conditioned method's own prompt with passages, by template ("retrieval:lamer"), and where the passages came from. */
    contextPrompts: { prompt: string; records: number }[];
    contextSource: string | null;
  };
  retrieval: Record<string, unknown> | null;
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
    `- Student task: ${m.studentPrompt.template === null ? 'n/a' : `${esc(m.studentPrompt.template.id)} v${m.studentPrompt.template.version} (${m.studentPrompt.template.hash})`}, zero-shot, output kind ${m.studentPrompt.kind}` +
      (m.studentPrompt.includeRetrievalConditioned ? ', retrieval-conditioned expansions included' : ', retrieval-conditioned expansions left out'),
    ...m.studentPrompt.contextPrompts.map(
      (c) => `- ${c.records} records are prompted with ${esc(c.prompt.replace(/^retrieval:/, ''))}'s own prompt and retrieved passages${m.studentPrompt.contextSource === null ? '' : ` (${esc(m.studentPrompt.contextSource)})`}`,
    ),
    `- Records by source: ${Object.entries(m.counts.bySource).map(([k, v]) => `${esc(k)} ${v}`).join('; ')}`,
    ...(m.lengths === null ? [] : [`- Lengths: ${describeLengthStats(m.lengths.exported)}` + (m.lengths.maxLengthRatio > 0 ? ` (before the length cap ${m.lengths.maxLengthRatio}: ${describeLengthStats(m.lengths.beforeCap)})` : '') +
            (m.lengths.pairRuleMaxLengthRatio > 0 ? `; pairs built with the length cap ${m.lengths.pairRuleMaxLengthRatio}` : '')]),
    ...(m.leftOut.length === 0 ? [] : [`- Left out: ${m.leftOut.map((x) => `${x.count} ${esc(x.reason)}`).join('; ')}`]),
    '- Models (exactly those of the exported records):',
    ...m.models.map(
      (x) =>
        `  - ${x.role} ${esc(x.model)}, ${esc(x.method)}${x.template === null ? '' : ` (template ${esc(x.template.id)} ${x.template.hash})`}, ${x.outputKind}` +
        `${x.conditioning === 'retrieval' ? ', retrieval-conditioned' : ''}; ${x.sides} sides; sampling ${x.sampling.length === 0 ? 'not recorded' : esc(x.sampling.map((v) => JSON.stringify(v)).join(' / '))}; from ${esc(x.sources.join(', '))}`,
    ),
    `- Retrieval: ${m.retrieval === null ? 'n/a' : esc(JSON.stringify(m.retrieval))}`,
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
  const task = input.task ?? pairTask(input.rules ?? { task: '', includeRetrievalConditioned: false });
  const maxLengthRatio = request.maxLengthRatio ?? 0;
  if (!(maxLengthRatio === 0 || maxLengthRatio >= 1)) throw new QxError('usage', `the length cap must be 0 (none) or at least 1, got ${maxLengthRatio}`);
  const built = request.format === 'sft-messages' ? buildSft(input, expansions, task) : buildPreference(request.format, input, states, expansions, task, maxLengthRatio);
  throwIfAborted(options.signal);
  const leftOut = [...built.leftOut.entries()].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count || cmp(a.reason, b.reason));
  for (const l of leftOut) logger.debug(`Left out ${l.count} ${l.reason}.`);

  if (built.records.length === 0) {
    const why =
      request.format === 'sft-messages'
        ? `no query has a scored teacher expansion of the task's kind (${task.kind}) that beats the original query`
        : `no pair is in the exported states (${states.join(', ')}) and fits the student task (${task.template}, ${task.kind})`;
    throw new QxError('export', `nothing to export: ${why}${leftOut.length === 0 ? '' : ` (left out: ${leftOut.map((l) => `${l.count} ${l.reason}`).join('; ')})`}; no file was written`, {
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
  const bySource: Record<string, number> = {};
  for (const p of built.provenance) {
    const k = p.rejected === undefined ? sideLabel(p.chosen) : `${sideLabel(p.chosen)} > ${sideLabel(p.rejected)}`;
    bySource[k] = (bySource[k] ?? 0) + 1;
  }
  const sortedBySource = Object.fromEntries(Object.entries(bySource).sort((a, b) => b[1] - a[1] || cmp(a[0], b[0])));
  const exportedPairs = built.provenance.flatMap((p) => (p.rejected === undefined ? [] : [{ chosenId: p.chosen.expansionId, rejectedId: p.rejected.expansionId }]));
  const lengths =
    request.format === 'sft-messages' || built.lengthsBefore === undefined
      ? null
      : {
          exported: pairLengthStats(exportedPairs, expansions),
          beforeCap: built.lengthsBefore,
          maxLengthRatio,
          pairRuleMaxLengthRatio: input.rules?.maxLengthRatio ?? 0,
          ...(built.capPreview === undefined ? {} : { preview: { maxLengthRatio: previewLengthCap, kept: built.capPreview } }),
        };
  const qids = [...new Set(built.provenance.map((p) => p.qid))].sort(cmp);
  const contextCounts = new Map<string, number>();
  for (const p of built.provenance) if (p.prompt !== 'task') bump(contextCounts, p.prompt);
  const contextPrompts = [...contextCounts.entries()].sort((a, b) => cmp(a[0], b[0])).map(([prompt, records]) => ({ prompt, records }));
  const manifestPath = `${request.out}.manifest.json`;
  const manifest: ExportManifest = {
    kind: 'qx-studio-export',
    manifestVersion: 2,
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
    counts: { records: built.records.length, queries: qids.length, byState, bySource: sortedBySource },
    leftOut,
    lengths,
    margins: margins.length === 0 ? null : { min: Math.min(...margins), mean: margins.reduce((a, b) => a + b, 0) / margins.length, max: Math.max(...margins) },
    states: request.format === 'sft-messages' ? null : states,
    rules: input.rules ?? null,
    rulesHashes: [
      ...new Set(built.provenance.flatMap((p) => (p.pairId === undefined ? [] : [pairById.get(p.pairId)?.rulesHash ?? ''])).filter((h) => h !== '')),
    ].sort(cmp),
    qids,
    models: exportedModels(sides, expansions),
    studentPrompt: {
      template: input.studentTemplate ?? null,
      fewShot: false,
      kind: task.kind,
      includeRetrievalConditioned: task.includeRetrievalConditioned,
      contextPrompts,
      contextSource: contextPrompts.length === 0 ? null : (input.contextSource ?? null),
    },
    retrieval: input.retrieval ?? null,
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
    // LLaMA-Factory's sharegpt converter reads a declared "system" column from every record, so it
    // is declared only when the records carry one.
    const hasSystem = built.records.some((r) => typeof (r as { system?: unknown }).system === 'string');
    const entry = {
      file_name: basename(request.out),
      formatting: 'sharegpt',
      ranking: true,
      columns: { messages: 'conversations', chosen: 'chosen', rejected: 'rejected', ...(hasSystem ? { system: 'system' } : {}) },
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
  return { out: request.out, manifest: manifestPath, records: built.records.length, bySource: sortedBySource, leftOut, lengths, task: { template: task.template, kind: task.kind } };
}
