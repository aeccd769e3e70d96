/**
 * What the curation store keeps in memory of every expansion when it opens: the fields that
 * identify and group it. The texts (`query`, `generated`, `final`: nearly all of a record's
 * bytes) stay in the journal and are read when a record is asked for, so a store of 400,000
 * expansions opens without parsing ~800 MB of JSON.
 */
export interface ExpansionHead {
  id: string;
  qid: string;
  role: string;
  method: string;
  model: string;
  provider: string;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const HEAD_KEYS = new Set(['id', 'qid', 'role', 'method', 'model', 'provider', 'retract']);

const isSpace = (c: number | undefined): boolean => c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;

function skipSpace(buf: Buffer, i: number, end: number): number {
  while (i < end && isSpace(buf[i])) i++;
  return i;
}

/** Index just past the closing quote of the JSON string opening at `i`, or -1. */
function stringEnd(buf: Buffer, i: number, end: number): number {
  let from = i + 1;
  for (;;) {
    const q = buf.indexOf(QUOTE, from);
    if (q < 0 || q >= end) return -1;
    let k = q - 1;
    while (buf[k] === BACKSLASH) k--;
    if ((q - 1 - k) % 2 === 0) return q + 1;
    from = q + 1;
  }
}

/** Index just past the JSON value starting at `i` (strings, objects and arrays skipped whole), or -1. */
function valueEnd(buf: Buffer, i: number, end: number): number {
  const c = buf[i];
  if (c === QUOTE) return stringEnd(buf, i, end);
  if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
    let depth = 0;
    let j = i;
    while (j < end) {
      const d = buf[j];
      if (d === QUOTE) {
        j = stringEnd(buf, j, end);
        if (j < 0) return -1;
        continue;
      }
      if (d === OPEN_OBJECT || d === OPEN_ARRAY) depth++;
      else if (d === CLOSE_OBJECT || d === CLOSE_ARRAY) {
        depth--;
        if (depth === 0) return j + 1;
      }
      j++;
    }
    return -1;
  }
  let j = i;
  while (j < end && buf[j] !== COMMA && buf[j] !== CLOSE_OBJECT && !isSpace(buf[j])) j++;
  return j > i ? j : -1;
}

/**
 * Reads the head fields of one `expansions.jsonl` line (bytes `start`..`end` of `buf`) without
 * decoding its long strings: an expansion's {@link ExpansionHead}, a retraction's `{retract}`, or
 * null when the line is not an object of that shape (the caller then parses it whole, so damage
 * is reported by `JSON.parse`). `intern` shares the few distinct role/method/model strings.
 */
export function scanExpansionHead(buf: Buffer, start: number, end: number, intern: (s: string) => string): ExpansionHead | { retract: string } | null {
  let i = skipSpace(buf, start, end);
  if (buf[i] !== OPEN_OBJECT) return null;
  i++;
  const found: Record<string, string> = {};
  for (;;) {
    i = skipSpace(buf, i, end);
    if (buf[i] === CLOSE_OBJECT) break;
    if (buf[i] !== QUOTE) return null;
    const keyEnd = stringEnd(buf, i, end);
    if (keyEnd < 0) return null;
    const key = buf.toString('latin1', i + 1, keyEnd - 1);
    i = skipSpace(buf, keyEnd, end);
    if (buf[i] !== COLON) return null;
    i = skipSpace(buf, i + 1, end);
    const vEnd = valueEnd(buf, i, end);
    if (vEnd < 0) return null;
    if (HEAD_KEYS.has(key)) {
      if (buf[i] !== QUOTE) return null;
      const raw = buf.toString('utf8', i, vEnd);
      const v = raw.includes('\\') ? (JSON.parse(raw) as string) : raw.slice(1, -1);
      found[key] = key === 'id' || key === 'qid' || key === 'retract' ? v : intern(v);
    }
    i = skipSpace(buf, vEnd, end);
    if (buf[i] === COMMA) {
      i++;
      continue;
    }
    if (buf[i] === CLOSE_OBJECT) break;
    return null;
  }
  if (skipSpace(buf, i + 1, end) !== end) return null;
  if (found.retract !== undefined) return { retract: found.retract };
  const { id, qid, role, method, model, provider } = found;
  if (id === undefined || qid === undefined || role === undefined || method === undefined || model === undefined || provider === undefined) return null;
  return { id, qid, role, method, model, provider };
}

/** What the store keeps in memory of a stored score: what the query browser shows. */
export interface ScoreHead {
  key: string;
  expansionId: string;
  ndcg10: number;
  delta: number;
  judged10: number;
}

/**
 * Walks the JSON object opening at `i`, calling `field(key, valueStart, valueEnd)` for each
 * member; returns the index just past its `}`, or -1 when it is not an object or `field` says stop.
 */
function scanObject(buf: Buffer, i: number, end: number, field: (key: string, vs: number, ve: number) => boolean): number {
  i = skipSpace(buf, i, end);
  if (buf[i] !== OPEN_OBJECT) return -1;
  i++;
  for (;;) {
    i = skipSpace(buf, i, end);
    if (buf[i] === CLOSE_OBJECT) return i + 1;
    if (buf[i] !== QUOTE) return -1;
    const keyEnd = stringEnd(buf, i, end);
    if (keyEnd < 0) return -1;
    const key = buf.toString('latin1', i + 1, keyEnd - 1);
    i = skipSpace(buf, keyEnd, end);
    if (buf[i] !== COLON) return -1;
    i = skipSpace(buf, i + 1, end);
    const vEnd = valueEnd(buf, i, end);
    if (vEnd < 0 || !field(key, i, vEnd)) return -1;
    i = skipSpace(buf, vEnd, end);
    if (buf[i] === COMMA) i++;
    else if (buf[i] !== CLOSE_OBJECT) return -1;
  }
}

/**
 * Reads the {@link ScoreHead} of one `scores.jsonl` line (`{"key", "score": {...}}`) without
 * building its document lists, or null when the line has another shape (the caller then parses it
 * whole).
 */
export function scanScoreHead(buf: Buffer, start: number, end: number, intern: (s: string) => string): ScoreHead | null {
  let key: string | undefined;
  let expansionId: string | undefined;
  let ndcg10 = NaN;
  let delta = NaN;
  let judged10 = NaN;
  const str = (vs: number, ve: number): string | undefined => {
    if (buf[vs] !== QUOTE) return undefined;
    const raw = buf.toString('utf8', vs, ve);
    return raw.includes('\\') ? (JSON.parse(raw) as string) : raw.slice(1, -1);
  };
  const num = (vs: number, ve: number): number => (buf[vs] === QUOTE ? NaN : Number(buf.toString('latin1', vs, ve)));
  const after = scanObject(buf, start, end, (k, vs, ve) => {
    if (k === 'key') {
      const v = str(vs, ve);
      if (v === undefined) return false;
      key = intern(v);
    } else if (k === 'score') {
      return scanObject(buf, vs, ve, (sk, svs, sve) => {
        if (sk === 'expansionId') expansionId = str(svs, sve);
        else if (sk === 'ndcg10') ndcg10 = num(svs, sve);
        else if (sk === 'delta') delta = num(svs, sve);
        else if (sk === 'judged10') judged10 = num(svs, sve);
        return true;
      }) === ve;
    }
    return true;
  });
  if (after < 0 || skipSpace(buf, after, end) !== end) return null;
  if (key === undefined || expansionId === undefined || !Number.isFinite(ndcg10) || !Number.isFinite(delta) || !Number.isFinite(judged10)) return null;
  return { key, expansionId, ndcg10, delta, judged10 };
}
