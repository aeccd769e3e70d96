import { datasetError } from '../errors.js';
import { CONVERSATION_FORMATS, type ConversationFormat, conversationTopics, detectConversationFormat, parseConversations } from './conversations.js';
import { stripGz } from './dataStream.js';
import { baseName, extensionOf, parseJsonObjectLine, readDataFile, splitLines } from './textFile.js';
import type { Topic } from './types.js';

/**
 * Topic (query) file formats:
 * - `tsv`: `qid<TAB>text`, one query per line (Anserini/Pyserini topics, MIRACL).
 * - `beir-jsonl`: BEIR `queries.jsonl`, one `{"_id": ..., "text": ...}` object per line.
 * - `trec`: classic TREC topics, `<top> <num> Number: 301 <title> ... </top>`; the title is the query.
 * - `cranfield`: SMART `cran.qry` (`.I` / `.W`). The qid is the query's SEQUENTIAL position
 *   1..n, not its `.I` number, because the Cranfield qrels number queries that way.
 * - `cast-json`, `topiocqa-json`, `qrecc-json`: conversations (see conversations.ts); every turn
 *   is a topic `<conversation>_<turn>` whose text is the raw utterance, with its history and the
 *   dataset's rewrites.
 */
export type TopicsFormat = 'tsv' | 'beir-jsonl' | 'trec' | 'cranfield' | ConversationFormat;

/** Every topics format, for validation and help texts. */
export const TOPICS_FORMATS: readonly TopicsFormat[] = ['tsv', 'beir-jsonl', 'trec', 'cranfield', ...CONVERSATION_FORMATS];

/**
 * Reads every topic of a file, in file order. Without `format`, it is detected: `.jsonl`/`.json`
 * → a conversational format when its fields say so (`raw_utterance`, `Conversation_no`), else
 * beir-jsonl; content starting with `<top>` → trec, `.I ` → cranfield, otherwise tsv.
 * An empty query, a duplicate qid or a malformed line is a `dataset` QxError naming file and line;
 * nothing is returned in that case.
 */
export async function readTopics(path: string, format?: TopicsFormat): Promise<Topic[]> {
  const text = await readDataFile(path, 'topics');
  const fmt = format ?? detectTopicsFormat(path, text);
  let topics: Array<Topic & { line: number }>;
  if ((CONVERSATION_FORMATS as readonly string[]).includes(fmt)) {
    // parseConversations already refuses duplicate turns and an empty file.
    return conversationTopics(parseConversations(path, text, fmt as ConversationFormat));
  }
  switch (fmt) {
    case 'tsv':
      topics = parseTsv(path, text);
      break;
    case 'beir-jsonl':
      topics = parseBeirJsonl(path, text);
      break;
    case 'trec':
      topics = parseTrecTopics(path, text);
      break;
    case 'cranfield':
      topics = parseCranfieldQueries(path, text);
      break;
    default:
      throw datasetError(path, undefined, `unknown topics format "${String(fmt)}".`, `Use one of: ${TOPICS_FORMATS.join(', ')}.`);
  }
  if (topics.length === 0) throw datasetError(path, undefined, 'the topics file holds no queries.', 'Check that this is the right file.');
  const seen = new Map<string, number>();
  for (const t of topics) {
    const first = seen.get(t.qid);
    if (first !== undefined) {
      throw datasetError(path, t.line, `duplicate qid "${t.qid}" (first on line ${first}).`, 'Each query must appear once.');
    }
    seen.set(t.qid, t.line);
  }
  return topics.map(({ qid, text: q }) => ({ qid, text: q }));
}

/** Guesses a topics format from the file name and its first non-blank characters. */
export function detectTopicsFormat(path: string, text: string): TopicsFormat {
  const ext = extensionOf(stripGz(path));
  if (ext === '.jsonl' || ext === '.json') return detectConversationFormat(text) ?? 'beir-jsonl';
  const head = text.trimStart();
  if (head.startsWith('<top>')) return 'trec';
  if (/^\.I\s/.test(head) || baseName(path).toLowerCase().startsWith('cran.qry')) return 'cranfield';
  return 'tsv';
}

function parseTsv(path: string, text: string): Array<Topic & { line: number }> {
  const out: Array<Topic & { line: number }> = [];
  splitLines(text).forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    const tab = raw.indexOf('\t');
    if (tab < 0) {
      throw datasetError(path, line, 'expected "qid<TAB>query text" but found no TAB.', 'Separate the qid from the query with a TAB (or pass the right topics format).');
    }
    const qid = raw.slice(0, tab).trim();
    const q = raw.slice(tab + 1).trim();
    if (qid === '') throw datasetError(path, line, 'empty qid.', 'Start the line with the query id.');
    if (q === '') throw datasetError(path, line, `empty query text for qid "${qid}".`, 'Give every query some text or remove the line.');
    out.push({ qid, text: q, line });
  });
  return out;
}

function parseBeirJsonl(path: string, text: string): Array<Topic & { line: number }> {
  const out: Array<Topic & { line: number }> = [];
  splitLines(text).forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    const o = parseJsonObjectLine(path, line, raw, '{"_id": "1", "text": "..."}');
    const id = o._id ?? o.id ?? o.qid;
    if (typeof id !== 'string' && typeof id !== 'number') {
      throw datasetError(path, line, 'missing "_id" (string or number).', 'Give each query an "_id".');
    }
    const q = o.text ?? o.query;
    if (typeof q !== 'string' || q.trim() === '') {
      throw datasetError(path, line, `missing or empty "text" for query "${String(id)}".`, 'Give each query a non-empty "text".');
    }
    out.push({ qid: String(id), text: q.trim(), line });
  });
  return out;
}

function parseTrecTopics(path: string, text: string): Array<Topic & { line: number }> {
  const out: Array<Topic & { line: number }> = [];
  const lines = splitLines(text);
  let inTop = false;
  let startLine = 0;
  let qid: string | undefined;
  let title: string[] | undefined;
  let inTitle = false;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const line = i + 1;
    let rest = raw.trim();
    if (rest.startsWith('<top>')) {
      if (inTop) throw datasetError(path, line, '<top> opened before the previous </top>.', 'Close each topic with </top>.');
      inTop = true;
      startLine = line;
      qid = undefined;
      title = undefined;
      inTitle = false;
      rest = rest.slice(5).trim();
      if (rest === '') continue;
    }
    if (!inTop) continue;
    if (rest.startsWith('</top>')) {
      if (qid === undefined) throw datasetError(path, startLine, 'topic without <num>.', 'Give each topic a <num> Number: ... line.');
      const q = (title ?? []).join(' ').replace(/\s+/g, ' ').trim();
      if (q === '') throw datasetError(path, startLine, `topic ${qid} has no <title>.`, 'Give each topic a <title>.');
      out.push({ qid, text: q, line: startLine });
      inTop = false;
      continue;
    }
    const tag = /^<(\w+)>/.exec(rest);
    if (tag) {
      inTitle = false;
      const body = rest.slice(tag[0].length).trim();
      if (tag[1] === 'num') {
        const m = /^(?:Number:)?\s*(\S+)/i.exec(body);
        if (!m) throw datasetError(path, line, 'empty <num>.', 'Write the topic number after <num> Number:.');
        qid = m[1]!;
      } else if (tag[1] === 'title') {
        inTitle = true;
        title = [body.replace(/^Topic:\s*/i, '')];
      }
      continue;
    }
    if (inTitle && title) title.push(rest);
  }
  if (inTop) throw datasetError(path, startLine, 'topic not closed with </top>.', 'Close each topic with </top>.');
  return out;
}

function parseCranfieldQueries(path: string, text: string): Array<Topic & { line: number }> {
  const out: Array<Topic & { line: number }> = [];
  let current: { line: number; words: string[]; inW: boolean } | undefined;
  const flush = () => {
    if (!current) return;
    const q = current.words.join(' ').replace(/\s+/g, ' ').trim();
    const qid = String(out.length + 1);
    if (q === '') throw datasetError(path, current.line, `query ${qid} (the ${qid}. .I record) has no .W text.`, 'Give each .I record a .W section.');
    out.push({ qid, text: q, line: current.line });
  };
  splitLines(text).forEach((raw, i) => {
    const line = i + 1;
    if (/^\.I(\s|$)/.test(raw)) {
      flush();
      current = { line, words: [], inW: false };
    } else if (/^\.[A-Z](\s|$)/.test(raw)) {
      if (!current) throw datasetError(path, line, `"${raw.trim()}" before the first .I line.`, 'A SMART file starts with ".I <id>".');
      current.inW = raw.startsWith('.W');
    } else if (current?.inW) {
      current.words.push(raw);
    } else if (raw.trim() !== '' && !current) {
      throw datasetError(path, line, 'text before the first .I line.', 'A SMART file starts with ".I <id>" (or pass the right topics format).');
    }
  });
  flush();
  return out;
}
