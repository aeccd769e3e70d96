import { parse } from 'csv-parse/sync';
import { datasetError } from '../errors.js';
import { csvError } from './corpus.js';
import { extensionOf, parseJsonObjectLine, readDataFile, splitLines } from './textFile.js';
import type { ExpansionRow } from './types.js';

/** Expansion file formats: QueryGym-style TSV, or JSONL rows `{qid, text, ...extra}`. */
export type ExpansionFileFormat = 'tsv' | 'jsonl';

/**
 * Reads expansions made elsewhere: each row is a query id and its FINAL retrieval string.
 *
 * - `tsv`: `qid<TAB>expanded text`, read as RFC 4180 with TAB as the delimiter (Python
 *   `csv.writer(delimiter='\t')`, as QueryGym writes): a value may be double-quoted, span several
 *   lines, and contain `""` for a quote. Exactly two fields per row.
 * - `jsonl`: one object per line with `qid` (string or number) and `text` (`expansion` or
 *   `query` are accepted instead); all other fields go to `extra`.
 *
 * Without `format`, `.jsonl`/`.json` means jsonl and anything else tsv. Several rows may share a
 * qid (several samples per query). `line` is the 1-based line where a row starts. An
 * unterminated quote, a wrong field count, an empty qid or text, or a line that is not JSON is a
 * `dataset` QxError naming file and line; nothing is returned then.
 */
export async function readExpansionFile(path: string, format?: ExpansionFileFormat): Promise<ExpansionRow[]> {
  const text = await readDataFile(path, 'expansions');
  const ext = extensionOf(path);
  const fmt = format ?? (ext === '.jsonl' || ext === '.json' ? 'jsonl' : 'tsv');
  if (fmt === 'jsonl') return parseJsonl(path, text);
  if (fmt === 'tsv') return parseTsv(path, text);
  throw datasetError(path, undefined, `unknown expansion file format "${String(fmt)}".`, 'Use tsv or jsonl.');
}

function parseTsv(path: string, text: string): ExpansionRow[] {
  const rows: ExpansionRow[] = [];
  let lastEnd = 0;
  try {
    parse(text, {
      delimiter: '\t',
      relax_quotes: true,
      relax_column_count: true,
      skip_empty_lines: true,
      raw: true,
      // With `raw`, csv-parse hands on_record {record, raw} although its typings say string[].
      on_record: (r: unknown, ctx: { lines: number }) => {
        const rec = r as { record: string[]; raw: string };
        const inner = rec.raw.replace(/\r?\n$/, '');
        const skipped = /^(?:[ \t]*\r?\n)*/.exec(inner)![0];
        const start = ctx.lines - countNewlines(inner) + countNewlines(skipped);
        const fields = rec.record;
        if (fields.length !== 2) {
          throw datasetError(path, start, `expected 2 TAB-separated fields (qid, expanded text), found ${fields.length}.`, 'Quote a value that contains a TAB or a line break.');
        }
        const qid = fields[0]!.trim();
        const value = fields[1]!;
        if (qid === '') throw datasetError(path, start, 'empty qid.', 'Start each row with the query id.');
        if (value.trim() === '') throw datasetError(path, start, `empty expansion for qid "${qid}".`, 'Give each row its expanded text, or remove it.');
        rows.push({ qid, text: value, line: start });
        lastEnd = ctx.lines;
        return null;
      },
    });
  } catch (e) {
    const err = e as { code?: unknown };
    if (err.code === 'CSV_QUOTE_NOT_CLOSED') {
      const start = firstNonEmptyLineAfter(text, lastEnd);
      throw datasetError(path, start, `a quoted value starting on line ${start} is never closed (unterminated ").`, 'Close the quote, or double any " inside a quoted value ("").');
    }
    throw csvError(path, e);
  }
  if (rows.length === 0) throw datasetError(path, undefined, 'the expansion file holds no rows.', 'Check that this is the right file.');
  return rows;
}

function countNewlines(s: string): number {
  let n = 0;
  for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) n++;
  return n;
}

function firstNonEmptyLineAfter(text: string, line: number): number {
  const lines = splitLines(text);
  for (let i = line; i < lines.length; i++) if (lines[i]!.trim() !== '') return i + 1;
  return line + 1;
}

function parseJsonl(path: string, text: string): ExpansionRow[] {
  const rows: ExpansionRow[] = [];
  splitLines(text).forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    const { qid, text: t, expansion, query, ...extra } = parseJsonObjectLine(path, line, raw, '{"qid": "1", "text": "..."}');
    if ((typeof qid !== 'string' && typeof qid !== 'number') || String(qid).trim() === '') {
      throw datasetError(path, line, 'missing "qid" (string or number).', 'Give each row the query id it expands.');
    }
    const value = t ?? expansion ?? query;
    if (typeof value !== 'string' || value.trim() === '') {
      throw datasetError(path, line, `missing or empty "text" for qid "${String(qid)}".`, 'Give each row its final retrieval string in "text".');
    }
    const row: ExpansionRow = { qid: String(qid).trim(), text: value, line };
    const rest: Record<string, unknown> = { ...extra };
    if (t !== undefined && expansion !== undefined) rest.expansion = expansion;
    if ((t !== undefined || expansion !== undefined) && query !== undefined) rest.query = query;
    if (Object.keys(rest).length > 0) row.extra = rest;
    rows.push(row);
  });
  if (rows.length === 0) throw datasetError(path, undefined, 'the expansion file holds no rows.', 'Check that this is the right file.');
  return rows;
}
