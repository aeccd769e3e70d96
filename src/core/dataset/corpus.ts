import { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import { parse as parseCsvSync } from 'csv-parse/sync';
import { datasetError, throwIfAborted } from '../errors.js';
import type { ProgressCallback } from '../progress.js';
import { type DataStream, openDataStream, stripGz } from './dataStream.js';
import { assertReadableFile, baseName, extensionOf, lineBatchesOf, parseJsonObjectLine } from './textFile.js';
import type { CorpusDoc } from './types.js';

/**
 * Corpus formats:
 * - `jsonl`: one JSON object per line with an id (`id`, `_id`, `pid` or `docid`, the first
 *   present), the text (`contents`, `text` or `passage`) and an optional `title` (Pyserini/BEIR
 *   `corpus.jsonl`, MIRACL; MS MARCO v2 passage files, whose `docid` is the passage's *document*,
 *   so `pid` comes first).
 * - `tsv`: `id<TAB>text[<TAB>title]` (MS MARCO `collection.tsv`).
 * - `csv`: a header row naming `id` (or `_id`/`docid`), `text` (or `contents`) and optionally
 *   `title` columns; RFC 4180 quoting.
 * - `rankllm-json`: rank_llm's `retrieve_results_*.json`, an array of
 *   `{query, hits: [{content, qid, docid, rank, score}]}`; each docid is yielded once.
 * - `cranfield`: SMART `cran.all.1400` (`.I` id, `.T` title, `.W` text; `.A`/`.B` skipped).
 */
export type CorpusFormat = 'jsonl' | 'tsv' | 'csv' | 'rankllm-json' | 'cranfield';

/** Every corpus format, for validation and help texts. */
export const CORPUS_FORMATS: readonly CorpusFormat[] = ['jsonl', 'tsv', 'csv', 'rankllm-json', 'cranfield'];

export interface ReadCorpusOptions {
  /** Checked between documents; aborting throws CancellationError. */
  signal?: AbortSignal;
  /** Called every `progressEvery` documents and once at the end, with the count so far (unit "documents", no total). */
  onProgress?: ProgressCallback;
  /** Documents between progress reports; default 10,000. */
  progressEvery?: number;
  /** Called as the file is read: bytes read from disk (compressed bytes for `.gz`) and the file size. */
  onBytes?: (done: number, total: number) => void;
  /**
   * Give each document the byte span of its record in the file (`CorpusDoc.span`), for a
   * document store that points into the corpus. Only for uncompressed jsonl, tsv and csv files.
   */
  spans?: boolean;
  /**
   * csv only: called once with the header's column names, as the header is parsed (before the
   * first document); a pointer document store keeps them to parse its records read back alone.
   */
  onCsvColumns?: (columns: string[]) => void;
}

/** Formats whose records can be read back alone from their byte span (see `parseCorpusRecord`). */
export const POINTABLE_FORMATS: readonly CorpusFormat[] = ['jsonl', 'tsv', 'csv'];

/**
 * Streams the documents of a corpus file in file order, without loading it whole (except
 * `rankllm-json`, a single JSON array). Without `format` it is detected from the extension:
 * `.jsonl` → jsonl, `.tsv` → tsv, `.csv` → csv, `.json` → rankllm-json, `cran.all*` → cranfield.
 * Gzipped files (`collection.tsv.gz`, `*.jsonl.gz`, detected by their magic bytes) and tar
 * archives (`collection.tar.gz`: its first file) are read while streaming, the format told by
 * the inner name. A missing file fails before the first document; a malformed record throws a
 * `dataset` QxError naming file and line (of the file inside the archive) when it is reached, so
 * a consumer never mistakes a broken file for a complete one.
 */
export async function* readCorpus(path: string, format?: CorpusFormat, options: ReadCorpusOptions = {}): AsyncGenerator<CorpusDoc> {
  await assertReadableFile(path, 'corpus');
  const { signal, onProgress } = options;
  const data = await openDataStream(path, { signal, onBytes: options.onBytes });
  const fmt = format ?? detectCorpusFormat(data.packing === 'plain' ? path : data.innerName, path);
  const where = data.packing === 'tar' || data.packing === 'tar.gz' ? `${path} (${data.innerName})` : path;
  const spans = options.spans === true;
  if (spans && (data.packing !== 'plain' || !POINTABLE_FORMATS.includes(fmt))) {
    throw datasetError(path, undefined, `cannot point into a ${data.packing === 'plain' ? fmt : data.packing} corpus.`, 'Copy the documents into the index instead.');
  }
  const every = Math.max(1, options.progressEvery ?? 10_000);
  let n = 0;
  if (fmt === 'jsonl' || fmt === 'tsv') {
    // The hot path, flat: one generator from the line batches to the caller, as every extra
    // generator hop costs a promise per document.
    const parseLine = fmt === 'jsonl' ? parseJsonlDoc : parseTsvDoc;
    for await (const batch of lineBatchesOf(data.chunks, signal, spans)) {
      const { lines, first, starts, byteLengths } = batch;
      for (let i = 0; i < lines.length; i++) {
        const raw = lines[i]!;
        if (raw.trim() === '') continue;
        const doc = parseLine(where, first + i, raw);
        if (spans) doc.span = { start: starts![i]!, bytes: byteLengths![i]! };
        yield doc;
        if (++n % every === 0) onProgress?.({ done: n, unit: 'documents' });
      }
    }
    onProgress?.({ done: n, unit: 'documents', message: 'done' });
    return;
  }
  let docs: AsyncGenerator<CorpusDoc>;
  switch (fmt) {
    case 'csv':
      docs = readCsv(where, data, signal, spans, options.onCsvColumns);
      break;
    case 'rankllm-json':
      docs = readRankLlm(where, data, signal, new Set());
      break;
    case 'cranfield':
      docs = readCranfield(where, data, signal);
      break;
    default:
      throw datasetError(path, undefined, `unknown corpus format "${String(fmt)}".`, `Use one of: ${CORPUS_FORMATS.join(', ')}.`);
  }
  for await (const d of docs) {
    yield d;
    if (++n % every === 0) onProgress?.({ done: n, unit: 'documents' });
  }
  onProgress?.({ done: n, unit: 'documents', message: 'done' });
}

/**
 * Streams the union of several corpus files (e.g. the BM25 and BM25+RM3 rank_llm pools of one
 * year), each docid once: the first file that holds a docid wins. Keeps a set of seen ids.
 */
export async function* readCorpusPool(paths: readonly string[], format?: CorpusFormat, options: ReadCorpusOptions = {}): AsyncGenerator<CorpusDoc> {
  for (const p of paths) await assertReadableFile(p, 'corpus');
  const seen = new Set<string>();
  for (const p of paths) {
    for await (const doc of readCorpus(p, format, { signal: options.signal })) {
      if (seen.has(doc.id)) continue;
      seen.add(doc.id);
      yield doc;
      if (options.onProgress && seen.size % Math.max(1, options.progressEvery ?? 10_000) === 0) options.onProgress({ done: seen.size, unit: 'documents' });
    }
  }
  options.onProgress?.({ done: seen.size, unit: 'documents', message: 'done' });
}

/**
 * Guesses a corpus format from the file name (a `.gz` suffix is looked through: `corpus.jsonl.gz`
 * is jsonl). `file` is the path named in the error, when `name` is a member of an archive.
 */
export function detectCorpusFormat(name: string, file: string = name): CorpusFormat {
  const path = stripGz(name);
  if (baseName(path).toLowerCase().startsWith('cran.all')) return 'cranfield';
  switch (extensionOf(path)) {
    case '.jsonl':
      return 'jsonl';
    case '.tsv':
      return 'tsv';
    case '.csv':
      return 'csv';
    case '.json':
      return 'rankllm-json';
    default:
      throw datasetError(
        file,
        undefined,
        `cannot tell the corpus format from the file name${name === file ? '' : ` (${baseName(name)} in the archive)`}.`,
        `Give the format explicitly (${CORPUS_FORMATS.join(', ')}).`,
      );
  }
}

async function* lines(data: DataStream, signal: AbortSignal | undefined): AsyncGenerator<[string, number]> {
  for await (const batch of lineBatchesOf(data.chunks, signal)) {
    for (let i = 0; i < batch.lines.length; i++) yield [batch.lines[i]!, batch.first + i];
  }
}

function pickString(o: Record<string, unknown>, keys: readonly string[]): string | undefined {
  for (const k of keys) {
    const v = o[k];
    if (typeof v === 'string') return v;
    if (typeof v === 'number') return String(v);
  }
  return undefined;
}

/** One JSONL corpus line as a document; `line` (1-based) is named in errors when known. */
export function parseJsonlDoc(path: string, line: number | undefined, raw: string): CorpusDoc {
  const o = parseJsonObjectLine(path, line, raw, '{"id": "d1", "contents": "..."}');
  const id = pickString(o, ['id', '_id', 'pid', 'docid']);
  if (id === undefined || id === '') throw datasetError(path, line, 'missing document id ("id", "_id", "pid" or "docid").', 'Give each document an id.');
  const text = pickString(o, ['contents', 'text', 'passage']);
  if (text === undefined) throw datasetError(path, line, `document "${id}" has no "contents", "text" or "passage" field.`, 'Give each document its text.');
  const title = pickString(o, ['title']);
  return title ? { id, title, text } : { id, text };
}

/** One TSV corpus line (`id<TAB>text[<TAB>title]`) as a document. */
export function parseTsvDoc(path: string, line: number | undefined, raw: string): CorpusDoc {
  const cols = raw.split('\t');
  if (cols.length < 2 || cols.length > 3) {
    throw datasetError(path, line, `expected 2 or 3 TAB-separated columns (id text [title]), found ${cols.length}.`, 'Write each document as "id<TAB>text" (TABs inside the text must be replaced).');
  }
  const id = cols[0]!.trim();
  if (id === '') throw datasetError(path, line, 'empty document id.', 'Start the line with the document id.');
  const title = cols[2]?.trim();
  return title ? { id, title, text: cols[1]! } : { id, text: cols[1]! };
}

/** Which CSV columns hold a document's id, text and title. */
interface CsvHeader {
  id: string;
  text: string;
  title?: string;
}

function csvHeader(path: string, cols: readonly string[]): CsvHeader {
  const id = cols.find((c) => ['id', '_id', 'docid'].includes(c));
  const text = cols.find((c) => ['text', 'contents'].includes(c));
  if (id === undefined || text === undefined) {
    throw datasetError(path, 1, `the header (${cols.join(', ')}) has no id and text columns.`, 'Name the columns id, text and optionally title.');
  }
  return cols.includes('title') ? { id, text, title: 'title' } : { id, text };
}

function csvDoc(path: string, line: number | undefined, header: CsvHeader, record: Record<string, string>): CorpusDoc {
  const id = (record[header.id] ?? '').trim();
  if (id === '') throw datasetError(path, line, 'empty document id.', 'Fill in the id column.');
  const text = record[header.text] ?? '';
  const title = header.title === undefined ? undefined : record[header.title];
  return title ? { id, title, text } : { id, text };
}

async function* readCsv(
  path: string,
  data: DataStream,
  signal: AbortSignal | undefined,
  spans: boolean,
  onColumns: ((columns: string[]) => void) | undefined,
): AsyncGenerator<CorpusDoc> {
  /** Where the record after the previous one starts: csv-parse counts bytes read to each record's end. */
  let from = 0;
  const csv = parse({
    // The header, read once: csv-parse has just counted its bytes (BOM and line ending included).
    columns: (header: string[]) => {
      from = csv.info.bytes;
      onColumns?.(header);
      return header;
    },
    bom: true,
    skip_empty_lines: true,
    info: true,
    relax_column_count: false,
  });
  const parser = Readable.from(data.chunks).pipe(csv);
  let header: CsvHeader | undefined;
  try {
    for await (const rec of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number; bytes: number } }>) {
      throwIfAborted(signal);
      const { record, info } = rec;
      if (header === undefined) {
        header = csvHeader(path, Object.keys(record));
      }
      const doc = csvDoc(path, info.lines, header, record);
      if (spans) {
        doc.span = { start: from, bytes: info.bytes - from };
        from = info.bytes;
      }
      yield doc;
    }
  } catch (e) {
    throw csvError(path, e);
  }
}

/**
 * Parses one record read back from its byte span (see `ReadCorpusOptions.spans`) with the same
 * rules as the streaming readers. `csvColumns` are the file's header columns (csv only).
 * Throws a `dataset` QxError naming `path` when the bytes are not a valid record.
 */
export function parseCorpusRecord(format: CorpusFormat, path: string, raw: string, csvColumns?: readonly string[]): CorpusDoc {
  const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
  switch (format) {
    case 'jsonl':
      return parseJsonlDoc(path, undefined, text);
    case 'tsv':
      return parseTsvDoc(path, undefined, text);
    case 'csv': {
      const cols = [...(csvColumns ?? [])];
      let rows: Record<string, string>[];
      try {
        rows = parseCsvSync(raw, { columns: cols, skip_empty_lines: true, relax_column_count: false }) as Record<string, string>[];
      } catch (e) {
        throw csvError(path, e);
      }
      if (rows.length !== 1) throw datasetError(path, undefined, `expected one CSV record, found ${rows.length}.`, 'The file changed since it was read.');
      return csvDoc(path, undefined, csvHeader(path, cols), rows[0]!);
    }
    default:
      throw datasetError(path, undefined, `records of a ${format} corpus cannot be read alone.`, 'Copy the documents into the index instead.');
  }
}

/** Turns a csv-parse error into a `dataset` QxError with the line; passes our own errors through. */
export function csvError(path: string, e: unknown): unknown {
  const err = e as { code?: unknown; lines?: unknown; message?: unknown };
  if (typeof err?.code !== 'string' || !err.code.startsWith('CSV_')) return e;
  const line = typeof err.lines === 'number' ? err.lines : undefined;
  if (err.code === 'CSV_QUOTE_NOT_CLOSED') {
    return datasetError(path, line, 'a quoted value is never closed (unterminated ").', 'Close the quote, or double any " inside a quoted value ("").');
  }
  if (err.code === 'CSV_RECORD_INCONSISTENT_FIELDS_LENGTH' || err.code === 'CSV_RECORD_DONT_MATCH_COLUMNS_LENGTH') {
    return datasetError(path, line, 'wrong number of columns.', 'Every row needs the same columns as the header.');
  }
  return datasetError(path, line, `malformed CSV/TSV (${String(err.message)}).`, 'Quote values that contain the delimiter, quotes or line breaks.');
}

interface RankLlmHit {
  content?: unknown;
  docid?: unknown;
}

async function* readRankLlm(path: string, source: DataStream, signal: AbortSignal | undefined, seen: Set<string>): AsyncGenerator<CorpusDoc> {
  const parts: Buffer[] = [];
  for await (const c of source.chunks) parts.push(c);
  const whole = Buffer.concat(parts).toString('utf8');
  const text = whole.charCodeAt(0) === 0xfeff ? whole.slice(1) : whole;
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw datasetError(path, undefined, `not valid JSON (${(e as Error).message}).`, 'rank_llm files are one JSON array of {query, hits}.');
  }
  if (!Array.isArray(data)) throw datasetError(path, undefined, 'expected a JSON array of {query, hits}.', 'Pass a rank_llm retrieve_results_*.json file.');
  for (let q = 0; q < data.length; q++) {
    throwIfAborted(signal);
    const entry = data[q] as { hits?: unknown } | null;
    if (entry === null || typeof entry !== 'object' || !Array.isArray(entry.hits)) {
      throw datasetError(path, undefined, `entry ${q} has no "hits" array.`, 'Each entry must be {query, hits: [...]}.');
    }
    for (let h = 0; h < entry.hits.length; h++) {
      const hit = entry.hits[h] as RankLlmHit | null;
      const id = typeof hit?.docid === 'string' || typeof hit?.docid === 'number' ? String(hit.docid) : undefined;
      if (id === undefined || typeof hit?.content !== 'string') {
        throw datasetError(path, undefined, `entry ${q}, hit ${h} lacks a "docid" or a "content" string.`, 'Each hit must carry docid and content.');
      }
      if (seen.has(id)) continue;
      seen.add(id);
      yield { id, text: hit.content };
    }
  }
}

async function* readCranfield(path: string, data: DataStream, signal: AbortSignal | undefined): AsyncGenerator<CorpusDoc> {
  let cur: { id: string; line: number; title: string[]; text: string[]; field: string } | undefined;
  const finish = (d: NonNullable<typeof cur>): CorpusDoc => {
    const title = d.title.join(' ').replace(/\s+/g, ' ').trim();
    const text = d.text.join(' ').replace(/\s+/g, ' ').trim();
    return title ? { id: d.id, title, text } : { id: d.id, text };
  };
  for await (const [raw, line] of lines(data, signal)) {
    const m = /^\.I\s+(\S+)/.exec(raw);
    if (m) {
      if (cur) yield finish(cur);
      cur = { id: m[1]!, line, title: [], text: [], field: '' };
      continue;
    }
    if (/^\.[A-Z]\s*$/.test(raw)) {
      if (!cur) throw datasetError(path, line, `"${raw.trim()}" before the first .I line.`, 'A SMART file starts with ".I <id>".');
      cur.field = raw.trim();
      continue;
    }
    if (!cur) {
      if (raw.trim() !== '') throw datasetError(path, line, 'text before the first .I line.', 'A SMART file starts with ".I <id>" (or pass the right corpus format).');
      continue;
    }
    if (cur.field === '.T') cur.title.push(raw);
    else if (cur.field === '.W') cur.text.push(raw);
  }
  if (cur) yield finish(cur);
}
