import { datasetError } from '../errors.js';
import { readDataFile, splitLines } from './textFile.js';
import type { HistoryTurn, RewriteKind, Topic } from './types.js';

/**
 * Conversational topic formats. Every one is read into {@link Conversation}s whose turns have the
 * id `<conversation>_<turn>` (the qid used by the qrels of each dataset):
 * - `cast-json`: TREC CAsT topic JSON, a list of `{number, title?, description?, turn: [...]}`.
 *   The 2019 layout gives each turn `{number, raw_utterance}`; the 2020 layout adds
 *   `manual_rewritten_utterance`, `automatic_rewritten_utterance` (kept as the turn's `manual` and
 *   `automatic` rewrites) and a canonical result id (`manual_canonical_result_id` or
 *   `automatic_canonical_result_id`, kept as `canonicalResult`). Both are detected per turn.
 * - `topiocqa-json`: TopiOCQA (Adlakha et al., TACL 2022), one object per turn with
 *   `Conversation_no`, `Turn_no`, `Question`, `Answer`, `Topic`, `Context` (the earlier questions
 *   and answers, alternating; history is rebuilt from the earlier turns instead) and more fields
 *   that are ignored; a JSON list or JSON Lines.
 * - `qrecc-json`: QReCC (Anantha et al., NAACL 2021), one object per turn with `Conversation_no`,
 *   `Turn_no`, `Question`, `Rewrite` (a person's rewrite, kept as `manual`), `Answer`, `Context`
 *   (alternating earlier questions and answers); a JSON list or JSON Lines.
 */
export type ConversationFormat = 'cast-json' | 'topiocqa-json' | 'qrecc-json';

/** Every conversational format, for validation and help texts. */
export const CONVERSATION_FORMATS: readonly ConversationFormat[] = ['cast-json', 'topiocqa-json', 'qrecc-json'];

/** Every rewrite kind a dataset may ship; `manual` is a person's, `automatic` a model's (a baseline). */
export const REWRITE_KINDS: readonly RewriteKind[] = ['manual', 'automatic'];

/** One turn of a conversation. */
export interface ConversationTurn {
  /** `<conversation>_<turn>`, e.g. "31_4". */
  qid: string;
  /** Turn number as the file gives it (1-based in every known dataset). */
  turn: number;
  /** What the user said, as written (may say "it", "that", …). */
  utterance: string;
  /** The system's answer shown after this turn, when the dataset has one (TopiOCQA, QReCC). */
  response?: string;
  /** The dataset's rewrites of the turn into a self-contained query. */
  rewrites: Partial<Record<RewriteKind, string>>;
  /** CAsT 2020: the passage id the organisers showed as the answer of this turn. */
  canonicalResult?: string;
  /** 1-based line of the file where the turn starts, for messages. */
  line: number;
}

/** A conversation (a CAsT "topic"): its turns in order. */
export interface Conversation {
  id: string;
  /** CAsT title or TopiOCQA topic of the first turn, when there is one. */
  title?: string;
  turns: ConversationTurn[];
}

/** Guesses the conversational format of a JSON file's text, or undefined when it is none of them. */
export function detectConversationFormat(text: string): ConversationFormat | undefined {
  const head = text.slice(0, 4000);
  if (/"raw_utterance"\s*:/.test(head) && /"turn"\s*:/.test(head)) return 'cast-json';
  if (/"Conversation_no"\s*:/.test(head)) return /"Rewrite"\s*:/.test(head) ? 'qrecc-json' : 'topiocqa-json';
  return undefined;
}

/**
 * Reads every conversation of a file, in file order (turns sorted by turn number). Without
 * `format` it is detected from the field names. A missing field, a duplicate turn id or invalid
 * JSON is a `dataset` QxError naming the file, the line and the fix; nothing is returned then.
 */
export async function readConversations(path: string, format?: ConversationFormat): Promise<Conversation[]> {
  const text = await readDataFile(path, 'conversations');
  const fmt = format ?? detectConversationFormat(text);
  if (fmt === undefined) {
    throw datasetError(path, 1, 'not a known conversational layout (no "raw_utterance" nor "Conversation_no" field).', `Pass the format: one of ${CONVERSATION_FORMATS.join(', ')}.`);
  }
  return parseConversations(path, text, fmt);
}

/** Parses the text of a conversational file (see {@link readConversations}). */
export function parseConversations(path: string, text: string, format: ConversationFormat): Conversation[] {
  let convs: Conversation[];
  switch (format) {
    case 'cast-json':
      convs = parseCast(path, text);
      break;
    case 'topiocqa-json':
    case 'qrecc-json':
      convs = parseTurnRows(path, text, format);
      break;
    default:
      throw datasetError(path, undefined, `unknown conversational format "${String(format)}".`, `Use one of: ${CONVERSATION_FORMATS.join(', ')}.`);
  }
  if (convs.length === 0) throw datasetError(path, undefined, 'the file holds no conversation.', 'Check that this is the right file.');
  const seen = new Map<string, number>();
  for (const c of convs) {
    c.turns.sort((a, b) => a.turn - b.turn);
    for (const t of c.turns) {
      const first = seen.get(t.qid);
      if (first !== undefined) throw datasetError(path, t.line, `duplicate turn "${t.qid}" (first on line ${first}).`, 'Each turn of a conversation must appear once.');
      seen.set(t.qid, t.line);
    }
  }
  return convs;
}

/**
 * The turns as topics: qid `<conversation>_<turn>`, text the raw utterance, the conversation id,
 * turn number and the history before the turn (earlier utterances, with their responses when the
 * dataset has them), and the dataset's rewrites. History never holds rewrites: a rewrite is an
 * answer, not an input.
 */
export function conversationTopics(conversations: readonly Conversation[]): Topic[] {
  const out: Topic[] = [];
  for (const c of conversations) {
    const history: HistoryTurn[] = [];
    for (const t of c.turns) {
      out.push({
        qid: t.qid,
        text: t.utterance,
        conversation: { id: c.id, turn: t.turn, history: history.map((h) => ({ ...h })) },
        ...(Object.keys(t.rewrites).length > 0 ? { rewrites: { ...t.rewrites } } : {}),
      });
      history.push({ qid: t.qid, utterance: t.utterance, ...(t.response === undefined ? {} : { response: t.response }) });
    }
  }
  return out;
}

/**
 * Reads a rewrite file, `qid<TAB>rewrite` per line (the layout of CAsT 2019's
 * `evaluation_topics_annotated_resolved_v1.0.tsv`, whose rewrites people wrote). Returns qid →
 * rewrite with the 1-based line of each; an empty rewrite, a missing TAB or a repeated qid is a
 * `dataset` QxError naming the file and line.
 */
export async function readRewrites(path: string): Promise<Map<string, { text: string; line: number }>> {
  const text = await readDataFile(path, 'rewrites');
  const out = new Map<string, { text: string; line: number }>();
  splitLines(text).forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    const tab = raw.indexOf('\t');
    if (tab < 0) throw datasetError(path, line, 'expected "qid<TAB>rewrite" but found no TAB.', 'Separate the turn id (e.g. 31_2) from its rewrite with a TAB.');
    const qid = raw.slice(0, tab).trim();
    const rw = raw.slice(tab + 1).trim();
    if (qid === '') throw datasetError(path, line, 'empty turn id.', 'Start the line with the turn id, e.g. 31_2.');
    if (rw === '') throw datasetError(path, line, `empty rewrite for "${qid}".`, 'Give every turn a rewrite or remove the line.');
    const first = out.get(qid);
    if (first !== undefined) throw datasetError(path, line, `duplicate turn "${qid}" (first on line ${first.line}).`, 'Give each turn one rewrite per file.');
    out.set(qid, { text: rw, line });
  });
  if (out.size === 0) throw datasetError(path, undefined, 'the rewrites file holds no rewrite.', 'Check that this is the right file.');
  return out;
}

/**
 * Adds the rewrites of a file to `topics` as `kind` (a copy of each touched topic is returned in
 * place). A rewrite of a turn the topics do not have is a `dataset` QxError naming the line, so a
 * rewrite file of another year is never silently half-applied.
 */
export function applyRewrites(topics: readonly Topic[], rewrites: Map<string, { text: string; line: number }>, kind: RewriteKind, file: string): Topic[] {
  const ids = new Set(topics.map((t) => t.qid));
  for (const [qid, r] of rewrites) {
    if (!ids.has(qid)) throw datasetError(file, r.line, `rewrite of "${qid}", a turn the topics do not have.`, 'Check that the rewrites and the topics are of the same dataset and year.');
  }
  return topics.map((t) => {
    const r = rewrites.get(t.qid);
    return r === undefined ? t : { ...t, rewrites: { ...t.rewrites, [kind]: r.text } };
  });
}

// --- parsers ---------------------------------------------------------------------------------

/** Maps a character offset of `text` to its 1-based line, for messages about JSON values. */
function lineIndex(text: string): (offset: number) => number {
  const starts: number[] = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) starts.push(i + 1);
  return (offset) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((starts[mid] as number) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
}

function parseJson(path: string, text: string, example: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const m = /position (\d+)/.exec((e as Error).message);
    const line = m === null ? undefined : lineIndex(text)(Number(m[1]));
    throw datasetError(path, line, `not valid JSON (${(e as Error).message}).`, `The file must be ${example}.`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const idOf = (v: unknown): string | undefined => (typeof v === 'number' && Number.isFinite(v) ? String(v) : typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);
const nonEmpty = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);

function parseCast(path: string, text: string): Conversation[] {
  const json = parseJson(path, text, 'a JSON list of CAsT topics [{"number": 31, "turn": [{"number": 1, "raw_utterance": "..."}]}]');
  if (!Array.isArray(json)) throw datasetError(path, 1, 'expected a JSON list of topics.', 'A CAsT topics file is a list [{"number": ..., "turn": [...]}, ...].');
  // JSON.parse keeps no positions: find each turn's line by scanning for its "raw_utterance" keys in order.
  const at = lineIndex(text);
  const utterLines: number[] = [];
  for (const m of text.matchAll(/"raw_utterance"\s*:/g)) utterLines.push(at(m.index));
  const topicLines: number[] = [];
  for (const m of text.matchAll(/"turn"\s*:/g)) topicLines.push(at(m.index));
  let k = 0;
  return json.map((topic, ti): Conversation => {
    const tline = topicLines[ti] ?? 1;
    if (!isObject(topic)) throw datasetError(path, tline, `topic ${ti + 1} is not an object.`, 'Each topic is {"number": ..., "turn": [...]}.');
    const id = idOf(topic.number);
    if (id === undefined) throw datasetError(path, tline, `topic ${ti + 1} has no "number".`, 'Give each topic its number.');
    if (!Array.isArray(topic.turn) || topic.turn.length === 0) throw datasetError(path, tline, `topic ${id} has no "turn" list.`, 'Give each topic a non-empty "turn" list.');
    const turns = topic.turn.map((t, i): ConversationTurn => {
      const line = utterLines[k++] ?? tline;
      if (!isObject(t)) throw datasetError(path, line, `turn ${i + 1} of topic ${id} is not an object.`, 'Each turn is {"number": ..., "raw_utterance": "..."}.');
      const n = t.number;
      if (typeof n !== 'number' || !Number.isInteger(n)) throw datasetError(path, line, `turn ${i + 1} of topic ${id} has no integer "number".`, 'Give each turn its number.');
      const utterance = nonEmpty(t.raw_utterance);
      if (utterance === undefined) throw datasetError(path, line, `turn ${id}_${n} has no "raw_utterance".`, 'Give each turn the words the user said.');
      const rewrites: Partial<Record<RewriteKind, string>> = {};
      const manual = nonEmpty(t.manual_rewritten_utterance);
      const automatic = nonEmpty(t.automatic_rewritten_utterance);
      if (manual !== undefined) rewrites.manual = manual;
      if (automatic !== undefined) rewrites.automatic = automatic;
      const canonical = nonEmpty(t.manual_canonical_result_id) ?? nonEmpty(t.automatic_canonical_result_id);
      return { qid: `${id}_${n}`, turn: n, utterance, rewrites, ...(canonical === undefined ? {} : { canonicalResult: canonical }), line };
    });
    const title = nonEmpty(topic.title);
    return { id, ...(title === undefined ? {} : { title }), turns };
  });
}

/** TopiOCQA / QReCC: a JSON list (or JSON Lines) of turn objects, grouped by Conversation_no. */
function parseTurnRows(path: string, text: string, format: 'topiocqa-json' | 'qrecc-json'): Conversation[] {
  const example = format === 'qrecc-json'
    ? '{"Conversation_no": 1, "Turn_no": 1, "Question": "...", "Rewrite": "...", "Answer": "...", "Context": []}'
    : '{"Conversation_no": 1, "Turn_no": 1, "Question": "...", "Answer": "...", "Topic": "...", "Context": []}';
  const rows: Array<{ o: unknown; line: number }> = [];
  const head = text.trimStart();
  if (head.startsWith('[')) {
    const json = parseJson(path, text, `a JSON list of turns [${example}, ...] or JSON Lines`);
    const at = lineIndex(text);
    const lines = [...text.matchAll(/"Conversation_no"\s*:/g)].map((m) => at(m.index));
    (json as unknown[]).forEach((o, i) => rows.push({ o, line: lines[i] ?? 1 }));
  } else {
    splitLines(text).forEach((raw, i) => {
      if (raw.trim() === '') return;
      let o: unknown;
      try {
        o = JSON.parse(raw);
      } catch (e) {
        throw datasetError(path, i + 1, `not valid JSON (${(e as Error).message}).`, `Each line must be one turn like ${example}.`);
      }
      rows.push({ o, line: i + 1 });
    });
  }
  const byId = new Map<string, Conversation>();
  for (const { o, line } of rows) {
    if (!isObject(o)) throw datasetError(path, line, 'expected a turn object.', `Each turn is like ${example}.`);
    const conv = idOf(o.Conversation_no);
    if (conv === undefined) throw datasetError(path, line, 'missing "Conversation_no".', `Each turn is like ${example}.`);
    const n = o.Turn_no;
    if (typeof n !== 'number' || !Number.isInteger(n)) throw datasetError(path, line, `turn of conversation ${conv} has no integer "Turn_no".`, `Each turn is like ${example}.`);
    const utterance = nonEmpty(o.Question);
    if (utterance === undefined) throw datasetError(path, line, `turn ${conv}_${n} has no "Question".`, 'Give each turn the question the user asked.');
    const rewrites: Partial<Record<RewriteKind, string>> = {};
    if (format === 'qrecc-json') {
      const rw = nonEmpty(o.Rewrite);
      if (rw === undefined) throw datasetError(path, line, `turn ${conv}_${n} has no "Rewrite".`, 'QReCC turns carry the person\'s rewrite in "Rewrite"; read the file as topiocqa-json if it has none.');
      rewrites.manual = rw;
    }
    const response = nonEmpty(o.Answer);
    let c = byId.get(conv);
    if (c === undefined) {
      const title = format === 'topiocqa-json' ? nonEmpty(o.Topic) : undefined;
      c = { id: conv, ...(title === undefined ? {} : { title }), turns: [] };
      byId.set(conv, c);
    }
    c.turns.push({ qid: `${conv}_${n}`, turn: n, utterance, ...(response === undefined ? {} : { response }), rewrites, line });
  }
  return [...byId.values()];
}
