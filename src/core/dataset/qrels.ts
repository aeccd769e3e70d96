import { datasetError } from '../errors.js';
import { baseName, readDataFile, splitLines } from './textFile.js';
import type { Judgment, Qrels } from './types.js';

/**
 * Relevance judgment formats:
 * - `trec`: `qid iter docid grade`, space- or TAB-separated; `iter` is ignored (trec_eval).
 * - `beir-tsv`: BEIR `qrels/*.tsv`, `query-id<TAB>corpus-id<TAB>score` after a header line.
 * - `cranfield`: `cranqrel`, `qid docid code` where code 1 = complete answer … 4 = minimum
 *   interest, 5 = no interest, −1 = not relevant. Codes are turned into gains with
 *   `gain = 5 − code` for codes 1..5 (1→4, 2→3, 3→2, 4→1, 5→0) and −1 → 0, so a higher grade is
 *   more relevant as nDCG expects.
 */
export type QrelsFormat = 'trec' | 'beir-tsv' | 'cranfield';

/** Every qrels format, for validation and help texts. */
export const QRELS_FORMATS: readonly QrelsFormat[] = ['trec', 'beir-tsv', 'cranfield'];

/**
 * Reads every judgment of a qrels file, in file order. Grades are numbers as written (they may be
 * 0 or negative; trec_eval treats a negative grade as "in the pool but unjudged"). Without
 * `format` it is detected: a `query-id` header → beir-tsv, a file named `cranqrel*` → cranfield,
 * otherwise trec.
 *
 * A line with the wrong number of columns, a non-numeric grade, or a second judgment of the same
 * (qid, docid) pair is a `dataset` QxError naming file and line, and nothing is returned:
 * duplicates are an error, not last-wins, because trec_eval also refuses them.
 */
export async function readJudgments(path: string, format?: QrelsFormat): Promise<Judgment[]> {
  const text = await readDataFile(path, 'qrels');
  const fmt = format ?? detectQrelsFormat(path, text);
  if (!QRELS_FORMATS.includes(fmt)) {
    throw datasetError(path, undefined, `unknown qrels format "${String(fmt)}".`, `Use one of: ${QRELS_FORMATS.join(', ')}.`);
  }
  const out: Judgment[] = [];
  const seen = new Map<string, number>();
  const lines = splitLines(text);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const line = i + 1;
    if (raw.trim() === '') continue;
    let j: Judgment | undefined;
    if (fmt === 'trec') j = parseTrecLine(path, line, raw);
    else if (fmt === 'beir-tsv') j = parseBeirLine(path, line, raw, out.length === 0 && seen.size === 0);
    else j = parseCranfieldLine(path, line, raw);
    if (j === undefined) continue;
    const key = `${j.qid}\u0000${j.docid}`;
    const first = seen.get(key);
    if (first !== undefined) {
      throw datasetError(path, line, `duplicate judgment for qid "${j.qid}", docid "${j.docid}" (first on line ${first}).`, 'Keep one judgment per query and document (trec_eval refuses duplicates too).');
    }
    seen.set(key, line);
    out.push(j);
  }
  if (out.length === 0) throw datasetError(path, undefined, 'the qrels file holds no judgments.', 'Check that this is the right file.');
  return out;
}

/** Reads a qrels file into qid → docid → grade (see {@link readJudgments} for formats and errors). */
export async function readQrels(path: string, format?: QrelsFormat): Promise<Qrels> {
  return qrelsFromJudgments(await readJudgments(path, format));
}

/** Groups judgments by query; a later judgment of the same pair replaces an earlier one. */
export function qrelsFromJudgments(judgments: Iterable<Judgment>): Qrels {
  const qrels: Qrels = new Map();
  for (const j of judgments) {
    let m = qrels.get(j.qid);
    if (m === undefined) qrels.set(j.qid, (m = new Map()));
    m.set(j.docid, j.grade);
  }
  return qrels;
}

/** Guesses a qrels format from the file name and its first line. */
export function detectQrelsFormat(path: string, text: string): QrelsFormat {
  const first = text.split(/\r?\n/, 1)[0] ?? '';
  if (/^query[-_]?id\s/i.test(first)) return 'beir-tsv';
  if (baseName(path).toLowerCase().startsWith('cranqrel')) return 'cranfield';
  return 'trec';
}

function parseGrade(path: string, line: number, value: string, what: string): number {
  const n = Number(value);
  if (value === '' || !Number.isFinite(n)) {
    throw datasetError(path, line, `${what} "${value}" is not a number.`, 'Grades must be numbers such as 0, 1, 2, 3.');
  }
  return n;
}

function parseTrecLine(path: string, line: number, raw: string): Judgment {
  const cols = raw.trim().split(/\s+/);
  if (cols.length !== 4) {
    throw datasetError(path, line, `expected 4 columns (qid iter docid grade), found ${cols.length}.`,
      cols.length === 3 ? 'Add the iteration column (usually 0 or Q0), or pass the cranfield/beir-tsv format if that is what the file is.' : 'Write one judgment per line as "qid 0 docid grade".');
  }
  const [qid, , docid, grade] = cols as [string, string, string, string];
  return { qid, docid, grade: parseGrade(path, line, grade, 'grade') };
}

function parseBeirLine(path: string, line: number, raw: string, isFirst: boolean): Judgment | undefined {
  const cols = raw.split('\t').map((c) => c.trim());
  if (isFirst && /^query[-_]?id$/i.test(cols[0] ?? '')) return undefined;
  if (cols.length !== 3) {
    throw datasetError(path, line, `expected 3 TAB-separated columns (query-id corpus-id score), found ${cols.length}.`, 'Write one judgment per line as "qid<TAB>docid<TAB>score".');
  }
  const [qid, docid, grade] = cols as [string, string, string];
  if (qid === '' || docid === '') throw datasetError(path, line, 'empty query-id or corpus-id.', 'Fill in both ids.');
  return { qid, docid, grade: parseGrade(path, line, grade, 'score') };
}

function parseCranfieldLine(path: string, line: number, raw: string): Judgment {
  const cols = raw.trim().split(/\s+/);
  if (cols.length !== 3) {
    throw datasetError(path, line, `expected 3 columns (qid docid code), found ${cols.length}.`, 'Cranfield qrels lines are "qid docid code".');
  }
  const [qid, docid, codeText] = cols as [string, string, string];
  const code = parseGrade(path, line, codeText, 'relevance code');
  if (code === -1) return { qid, docid, grade: 0 };
  if (!Number.isInteger(code) || code < 1 || code > 5) {
    throw datasetError(path, line, `relevance code ${codeText} is not one of 1, 2, 3, 4, 5, -1.`, 'Cranfield codes run from 1 (complete answer) to 5 (no interest), -1 for not relevant.');
  }
  return { qid, docid, grade: 5 - code };
}
