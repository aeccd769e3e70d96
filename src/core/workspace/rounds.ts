import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { readTopics } from '../dataset/topics.js';
import { loadManifest } from '../dataset/manifest.js';
import type { Topic } from '../dataset/types.js';
import { QxError } from '../errors.js';
import { writeFileAtomic } from '../files/atomicWrite.js';
import type { TaskOptions } from '../progress.js';
import { buildRoundReport, parseRoundMethod, roundMethod, renderRoundsHtml, renderRoundsMarkdown, renderRoundsSvg, type RoundReport } from '../report/rounds.js';
import type { QxReport } from '../report/report.js';
import type { ExpandRequest, QxSettings } from './api.js';

/**
 * Student rounds: round 0 is the base student (the settings' student when the first round is
 * registered); each trained checkpoint registered after it (an OpenAI-compatible endpoint + model
 * name, or a local ONNX folder) is the next round. A round's generations are student expansions
 * with method `<template>@r<N>` and `round: N`, so every report, pair and export can tell them apart.
 */
export interface StudentRound {
  round: number;
  kind: 'openai' | 'onnx';
  model: string;
  /** OpenAI-compatible endpoint (kind "openai"). */
  baseUrl?: string;
  /** Local ONNX folder, relative to the workspace or absolute (kind "onnx"). */
  modelPath?: string;
  /** Free text, e.g. the recipe and export that trained it. */
  note?: string;
  registeredAt: string;
}

export { parseRoundMethod, roundMethod };

/** `.qx/rounds.json`, relative to the workspace root. */
export const ROUNDS_FILE = join('.qx', 'rounds.json');

interface RoundsFile {
  version: 1;
  rounds: StudentRound[];
  /** The evaluation workspace of this (training) workspace, relative to its root: its queries are refused here. */
  evalWorkspace?: string;
}

function check(file: string, ok: boolean, problem: string): void {
  if (!ok) throw new QxError('config', `${problem}`, { file, hint: `Fix or delete ${file}; qx round add registers rounds again.` });
}

/** The registered rounds of the workspace in `root`, by round number; [] when none is registered. */
export function loadRounds(root: string): StudentRound[] {
  return loadRoundsFile(root).rounds;
}

function loadRoundsFile(root: string): RoundsFile {
  const file = join(root, ROUNDS_FILE);
  if (!existsSync(file)) return { version: 1, rounds: [] };
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new QxError('config', `not JSON (${e instanceof Error ? e.message : String(e)})`, { file, hint: `Fix or delete ${file}.` });
  }
  const f = parsed as Partial<RoundsFile>;
  check(file, f !== null && typeof f === 'object' && f.version === 1 && Array.isArray(f.rounds), 'expected {"version": 1, "rounds": [...]}');
  const rounds = f.rounds as StudentRound[];
  rounds.forEach((r, i) => {
    check(file, r !== null && typeof r === 'object' && r.round === i, `round ${i} is missing or out of order`);
    check(file, (r.kind === 'openai' && typeof r.baseUrl === 'string') || (r.kind === 'onnx' && typeof r.modelPath === 'string'), `round ${i} needs kind "openai" with baseUrl, or "onnx" with modelPath`);
    check(file, typeof r.model === 'string' && r.model !== '', `round ${i} has no model name`);
  });
  check(file, f.evalWorkspace === undefined || typeof f.evalWorkspace === 'string', 'evalWorkspace must be a folder path');
  return { version: 1, rounds, ...(f.evalWorkspace === undefined ? {} : { evalWorkspace: f.evalWorkspace }) };
}

function saveRoundsFile(root: string, f: RoundsFile): void {
  const file = join(root, ROUNDS_FILE);
  mkdirSync(dirname(file), { recursive: true });
  writeFileAtomic(file, JSON.stringify(f, null, 2) + '\n');
}

/** Normalized query text for overlap checks: case, spacing and punctuation do not matter. */
function normalizeQuery(text: string): string {
  return text.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, ' ').trim();
}

/**
 * Links a training workspace to its evaluation workspace (a folder with `qx.dataset.json` whose
 * split is test/eval or unset), stored in `.qx/rounds.json`. From then on every export, recipe and
 * on-policy sample of the training workspace refuses the queries the evaluation workspace also has
 * (same qid or same normalized text). Returns the evaluation workspace's query count.
 */
export async function linkEvalWorkspace(root: string, evalDir: string): Promise<{ evalWorkspace: string; evalQueries: number }> {
  const dir = resolve(evalDir);
  const m = await loadManifest(dir);
  if (m.split === 'train' || m.split === 'dev') {
    throw new QxError('usage', `${dir} holds training queries (split ${m.split}), not evaluation queries`, { hint: 'Link the workspace of your evaluation queries (split test or eval).' });
  }
  const topics = await readTopics(m.topics.path, m.topics.format);
  const f = loadRoundsFile(root);
  const rel = relative(resolve(root), dir);
  saveRoundsFile(root, { ...f, evalWorkspace: rel === '' ? '.' : rel.split('\\').join('/') });
  return { evalWorkspace: dir, evalQueries: topics.length };
}

/**
 * The queries of `topics` that the linked evaluation workspace also has (same qid, or same query
 * text up to case, spacing and punctuation), sorted; [] when no evaluation workspace is linked.
 */
export async function linkedEvalOverlap(root: string, topics: readonly Topic[]): Promise<{ qids: string[]; evalWorkspace: string | null }> {
  const f = loadRoundsFile(root);
  if (f.evalWorkspace === undefined) return { qids: [], evalWorkspace: null };
  const dir = isAbsolute(f.evalWorkspace) ? f.evalWorkspace : resolve(root, f.evalWorkspace);
  const m = await loadManifest(dir);
  const evalTopics = await readTopics(m.topics.path, m.topics.format);
  const ids = new Set(evalTopics.map((t) => t.qid));
  const texts = new Set(evalTopics.map((t) => normalizeQuery(t.text)));
  return { qids: topics.filter((t) => ids.has(t.qid) || texts.has(normalizeQuery(t.text))).map((t) => t.qid).sort(), evalWorkspace: dir };
}

/** What `registerRound` takes: an endpoint + model name, or a local ONNX folder. */
export type RoundSpec = { kind: 'openai'; baseUrl: string; model: string; note?: string } | { kind: 'onnx'; modelPath: string; model?: string; note?: string };

/**
 * Registers a trained checkpoint as the next round. With no round registered yet, round 0 (the
 * base student of `student`) is registered first, so the first checkpoint is round 1. Returns
 * every round. Written atomically.
 */
export function registerRound(root: string, student: QxSettings['student'], spec: RoundSpec, now: Date = new Date()): StudentRound[] {
  const rounds = [...loadRounds(root)];
  const at = now.toISOString();
  if (rounds.length === 0) {
    rounds.push(
      student.kind === 'onnx' && student.modelPath !== undefined
        ? { round: 0, kind: 'onnx', model: student.model, modelPath: student.modelPath, note: 'base student', registeredAt: at }
        : { round: 0, kind: 'openai', model: student.model, baseUrl: student.baseUrl, note: 'base student', registeredAt: at },
    );
  }
  const n = rounds.length;
  if (spec.kind === 'openai') {
    if (!/^https?:\/\//.test(spec.baseUrl)) throw new QxError('usage', `--base-url must be an http(s) URL, got "${spec.baseUrl}"`);
    rounds.push({ round: n, kind: 'openai', model: spec.model, baseUrl: spec.baseUrl, ...(spec.note === undefined ? {} : { note: spec.note }), registeredAt: at });
  } else {
    rounds.push({ round: n, kind: 'onnx', model: spec.model ?? spec.modelPath, modelPath: spec.modelPath, ...(spec.note === undefined ? {} : { note: spec.note }), registeredAt: at });
  }
  saveRoundsFile(root, { ...loadRoundsFile(root), rounds });
  return rounds;
}

/** The round `n` (default: the last one); throws a usage error naming the rounds there are. */
export function pickRound(rounds: readonly StudentRound[], n?: number): StudentRound {
  if (rounds.length === 0) throw new QxError('usage', 'no student round is registered', { hint: 'Register a checkpoint with qx round add --base-url URL --model NAME (round 0, the base student, is added with it).' });
  const r = n === undefined ? rounds[rounds.length - 1] : rounds[n];
  if (r === undefined) throw new QxError('usage', `there is no round ${n}; rounds: 0..${rounds.length - 1}`);
  return r;
}

/** The student endpoint settings that point `expand` at a round's checkpoint. */
export function roundStudent(r: StudentRound, sampling: { samples?: number; temperature?: number } = {}): Partial<QxSettings['student']> {
  return {
    kind: r.kind,
    model: r.model,
    ...(r.baseUrl === undefined ? {} : { baseUrl: r.baseUrl }),
    ...(r.modelPath === undefined ? {} : { modelPath: r.modelPath }),
    ...(sampling.samples === undefined ? {} : { samples: sampling.samples }),
    ...(sampling.temperature === undefined ? {} : { temperature: sampling.temperature }),
  };
}

/** What a workspace offers rounds: its split, expansion and scoring. */
export interface RoundWorkspace {
  readonly root: string;
  readonly name: string;
  readonly defaultTemplate: string;
  readonly manifest: { split?: string | undefined };
  readonly topics: readonly Topic[];
  expand(request: ExpandRequest, options: TaskOptions): Promise<{ generated: number; cached: number; failed: number }>;
  score(options: TaskOptions): Promise<{ scored: number }>;
  report(): QxReport;
}

/** True when the workspace's queries are training queries (manifest split train or dev). */
export function isTrainingWorkspace(ws: RoundWorkspace): boolean {
  return ws.manifest.split === 'train' || ws.manifest.split === 'dev';
}

export interface RoundRunResult {
  round: number;
  method: string;
  purpose: 'eval' | 'sample';
  generated: number;
  cached: number;
  failed: number;
  scored: number;
}

/**
 * Generates with round `round` on the workspace's queries and scores the result.
 * - `purpose: "eval"` needs evaluation queries (split test/eval, or none): one greedy-or-settings
 *   sample per query, for the round report.
 * - `purpose: "sample"` (on-policy candidates) needs training queries (split train/dev) and is
 *   refused on evaluation queries, so they never enter a round's training data: `samples` outputs
 *   per query at `temperature`, stored as student candidates of that round for the next pairs.
 */
export async function runRound(
  ws: RoundWorkspace,
  request: { round?: number; purpose: 'eval' | 'sample'; template?: string; samples?: number; temperature?: number },
  options: TaskOptions,
): Promise<RoundRunResult> {
  const r = pickRound(loadRounds(ws.root), request.round);
  const training = isTrainingWorkspace(ws);
  if (request.purpose === 'sample' && !training) {
    throw new QxError('usage', `workspace ${ws.name} holds evaluation queries (split ${ws.manifest.split ?? 'unspecified'}): on-policy samples are training candidates and are never drawn on evaluation queries`, {
      hint: 'Run qx round sample in the workspace of your training queries (manifest split train or dev).',
    });
  }
  if (request.purpose === 'eval' && training) {
    throw new QxError('usage', `workspace ${ws.name} holds training queries (split ${ws.manifest.split ?? ''}): rounds are evaluated on evaluation queries`, {
      hint: 'Run qx round eval in the workspace of your evaluation queries, or qx round sample here for on-policy candidates.',
    });
  }
  const overlap = request.purpose === 'sample' ? await linkedEvalOverlap(ws.root, ws.topics) : { qids: [], evalWorkspace: null };
  if (overlap.qids.length > 0) {
    throw new QxError('usage', `${overlap.qids.length} queries of workspace ${ws.name} are also evaluation queries of ${overlap.evalWorkspace} (${overlap.qids.slice(0, 5).join(', ')}${overlap.qids.length > 5 ? ', …' : ''}): on-policy samples are never drawn on them`, {
      hint: 'Take those queries out of the training topics.',
    });
  }
  const template = request.template ?? ws.defaultTemplate;
  const method = roundMethod(template, r.round);
  const sampling = request.purpose === 'sample' ? { samples: request.samples ?? 4, temperature: request.temperature ?? 1 } : { ...(request.samples === undefined ? {} : { samples: request.samples }), ...(request.temperature === undefined ? {} : { temperature: request.temperature }) };
  const g = await ws.expand({ role: 'student', template, method, round: r.round, student: roundStudent(r, sampling) }, options);
  const s = await ws.score(options);
  return { round: r.round, method, purpose: request.purpose, ...g, scored: s.scored };
}

/**
 * Writes the rounds report of the workspace into `.qx/reports/`: `rounds.md` (table), `rounds.svg`
 * (plot), `rounds.html` (both, self-contained) and `rounds.json` (the figures). See
 * `buildRoundReport`; `teacher` picks the teacher method key (default the best teacher); `report`
 * is the workspace report to use (default a fresh one).
 */
export function writeRoundReport(ws: RoundWorkspace, options: { teacher?: string; report?: QxReport } = {}): { report: RoundReport; files: { markdown: string; svg: string; html: string; json: string } } {
  let report: RoundReport;
  try {
    report = buildRoundReport(options.report ?? ws.report(), options.teacher === undefined ? {} : { teacher: options.teacher });
  } catch (e) {
    throw new QxError('usage', e instanceof Error ? e.message : String(e), { hint: 'Pass a teacher key as the report lists it (role/method/model).' });
  }
  if (!report.rows.some((r) => r.kind === 'round')) {
    throw new QxError('usage', `no student round has scored expansions in workspace ${ws.name}`, { hint: 'Run qx round eval first (it generates with a round on the evaluation queries and scores).' });
  }
  const dir = join(ws.root, '.qx', 'reports');
  mkdirSync(dir, { recursive: true });
  const files = { markdown: join(dir, 'rounds.md'), svg: join(dir, 'rounds.svg'), html: join(dir, 'rounds.html'), json: join(dir, 'rounds.json') };
  writeFileAtomic(files.markdown, renderRoundsMarkdown(report));
  writeFileAtomic(files.svg, renderRoundsSvg(report));
  writeFileAtomic(files.html, renderRoundsHtml(report));
  writeFileAtomic(files.json, JSON.stringify(report, null, 2) + '\n');
  return { report, files };
}
