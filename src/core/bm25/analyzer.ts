import { stemmer } from 'stemmer';
import { QxError } from '../errors.js';

/** Which analysis chain turns text into index terms. */
export type AnalyzerName = 'english' | 'cjk' | 'whitespace';

/**
 * Text → terms. The same analyzer must be used for indexing and searching; its `info` is stored
 * in every index and run so numbers can be reproduced.
 */
export interface Analyzer {
  readonly name: AnalyzerName;
  /** Name and parameters, recorded in `RetrieverInfo.analyzer`. */
  readonly info: Record<string, string | number | boolean>;
  /** Terms in text order; repeats kept (a repeated query term counts again). */
  analyze(text: string): string[];
}

/**
 * Token classes of Lucene's StandardTokenizer that the CJK analyzer needs to tell apart: words
 * (letters/digits), Han ideographs, Hiragana, Katakana, Hangul, South-East Asian runs, emoji.
 */
export type TokenType = 'word' | 'ideo' | 'hira' | 'kata' | 'hangul' | 'sa' | 'emoji';

/** One StandardTokenizer token: its text as found (case kept) and its class. */
export interface Token {
  text: string;
  type: TokenType;
}

/**
 * Lucene's `EnglishAnalyzer.ENGLISH_STOP_WORDS_SET` (33 words), which Anserini's default
 * English analyzer uses.
 */
export const LUCENE_ENGLISH_STOP_WORDS: ReadonlySet<string> = new Set([
  'a', 'an', 'and', 'are', 'as', 'at', 'be', 'but', 'by', 'for', 'if', 'in', 'into', 'is', 'it', 'no', 'not', 'of',
  'on', 'or', 'such', 'that', 'the', 'their', 'then', 'there', 'these', 'they', 'this', 'to', 'was', 'will', 'with',
]);

const segmenter = new Intl.Segmenter('en', { granularity: 'word' });

// ICU keeps a run of underscores as a word; UAX#29 (and Lucene) emit no token for ExtendNumLet alone.
const onlyConnectors = /^[\p{Pc}\u202F]+$/u;
const emoji = /\p{Extended_Pictographic}|\p{Emoji_Presentation}|\p{Regional_Indicator}/u;
const splitHanHira = /[\p{Script=Han}\p{Script=Hiragana}]|[^\p{Script=Han}\p{Script=Hiragana}]+/gu;
const han = /^\p{Script=Han}/u;
const hira = /^\p{Script=Hiragana}/u;
const kata = /^[\p{Script=Katakana}\u30FC\uFF70]+$/u;
const hangul = /^\p{Script=Hangul}+$/u;
// Line_Break=SA scripts: ICU splits them with a dictionary, Lucene keeps a run whole.
const southEastAsian = /^[\p{Script=Thai}\p{Script=Lao}\p{Script=Myanmar}\p{Script=Khmer}\p{Script=Tai_Tham}\p{Script=Tai_Viet}\p{Script=New_Tai_Lue}]+$/u;

function typeOf(text: string): TokenType {
  if (han.test(text)) return 'ideo';
  if (hira.test(text)) return 'hira';
  if (kata.test(text)) return 'kata';
  if (hangul.test(text)) return 'hangul';
  if (southEastAsian.test(text)) return 'sa';
  return 'word';
}

// Word_Break classes of ASCII characters (UAX#29): the fast path below handles them directly.
const AL = 1; // ALetter
const NU = 2; // Numeric
const EX = 3; // ExtendNumLet "_"
const ML = 4; // MidLetter ":"
const MNL = 5; // MidNumLet "." and Single_Quote "'"
const MN = 6; // MidNum "," ";"
const asciiClass = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  asciiClass[c] = /[A-Za-z]/.test(ch) ? AL : /[0-9]/.test(ch) ? NU : ch === '_' ? EX : ch === ':' ? ML : ch === '.' || ch === "'" ? MNL : ch === ',' || ch === ';' ? MN : 0;
}

/** UAX#29 word tokens of pure-ASCII text, as Lucene emits them (same output as the ICU path). */
function asciiTokens(text: string, emit: (token: string, type: TokenType) => void): void {
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c0 = asciiClass[text.charCodeAt(i)]!;
    if (c0 !== AL && c0 !== NU && c0 !== EX) {
      i++;
      continue;
    }
    let j = i;
    let wordy = c0 !== EX;
    for (;;) {
      const c = asciiClass[text.charCodeAt(j)]!;
      if (j + 1 >= n) break;
      const nx = asciiClass[text.charCodeAt(j + 1)]!;
      if (nx === AL || nx === NU || nx === EX) {
        if (nx !== EX) wordy = true;
        j++;
        continue;
      }
      if (j + 2 < n) {
        const nn = asciiClass[text.charCodeAt(j + 2)]!;
        if (c === AL && nn === AL && (nx === ML || nx === MNL)) {
          j += 2;
          continue;
        }
        if (c === NU && nn === NU && (nx === MN || nx === MNL)) {
          j += 2;
          continue;
        }
      }
      break;
    }
    if (wordy) emit(text.slice(i, j + 1), 'word');
    i = j + 1;
  }
}

/**
 * Token texts of the ICU path alone (no ASCII fast path): the reference the fast path is tested
 * against.
 */
export function icuStandardTokens(text: string): string[] {
  const out: Token[] = [];
  icuTokens(text, out);
  return out.map((t) => t.text);
}

/** ICU-based tokens of one whitespace-free run (any script). */
function icuTokens(run: string, out: Token[]): void {
  let prevEnd = -1;
  for (const s of segmenter.segment(run)) {
    const seg = s.segment;
    if (s.isWordLike) {
      if (onlyConnectors.test(seg)) continue;
      if (/[\p{Script=Han}\p{Script=Hiragana}]/u.test(seg)) {
        for (const m of seg.matchAll(splitHanHira)) out.push({ text: m[0], type: typeOf(m[0]) });
      } else {
        const type = typeOf(seg);
        const last = out[out.length - 1];
        if (type === 'sa' && last !== undefined && last.type === 'sa' && prevEnd === s.index) last.text += seg;
        else out.push({ text: seg, type });
      }
      prevEnd = s.index + seg.length;
    } else if (emoji.test(seg)) {
      out.push({ text: seg, type: 'emoji' });
      prevEnd = s.index + seg.length;
    }
  }
}

const nonAscii = /[^\x00-\x7F]/;

/**
 * Calls `emit` for each UAX#29 word token as Lucene's StandardTokenizer emits them. Text is cut
 * at ASCII whitespace (always a word boundary); pure-ASCII runs take a direct UAX#29 scanner,
 * others ICU's word segmentation (`Intl.Segmenter`) adjusted where Lucene differs — each Han
 * ideograph and Hiragana character is its own token, Thai/Lao/Khmer/Myanmar runs stay whole, emoji
 * sequences are tokens, runs of underscores are not.
 */
function forEachToken(text: string, emit: (token: string, type: TokenType) => void): void {
  if (!nonAscii.test(text)) {
    asciiTokens(text, emit);
    return;
  }
  // U+00B8 (cedilla) is ALetter in today's ICU but "Other" in the Unicode version Lucene 8 uses: it
  // splits words there (mojibake like "à¸" is common in MS MARCO).
  const clean = text.includes('\u00B8') ? text.replace(/\u00B8/g, ' ') : text;
  const buf: Token[] = [];
  for (const run of clean.split(/[ \t\n\r\f\v]+/)) {
    if (run === '') continue;
    if (nonAscii.test(run)) {
      buf.length = 0;
      icuTokens(run, buf);
      for (const t of buf) emit(t.text, t.type);
    } else asciiTokens(run, emit);
  }
}

/** The word tokens of `text` with their StandardTokenizer class (see forEachToken). */
export function standardTokens(text: string): Token[] {
  const out: Token[] = [];
  forEachToken(text, (t, type) => out.push({ text: t, type }));
  return out;
}

/** Java's `Character.toLowerCase(int)`: simple, per-code-point mapping (no final sigma, İ → i). */
export function javaLowerCase(s: string): string {
  if (/^[\x00-\x7F]*$/.test(s)) return s.toLowerCase();
  let out = '';
  for (const ch of s) {
    if (ch === '\u0130') out += 'i';
    else {
      const l = ch.toLowerCase();
      out += [...l].length === 1 ? l : ch;
    }
  }
  return out;
}

/** Lucene's EnglishPossessiveFilter: drops a trailing 's / ’s / ＇s (case-insensitive s). */
function stripPossessive(t: string): string {
  const n = t.length;
  if (n >= 2) {
    const last = t.charCodeAt(n - 1);
    const prev = t.charCodeAt(n - 2);
    if ((last === 0x73 || last === 0x53) && (prev === 0x27 || prev === 0x2019 || prev === 0xff07)) return t.slice(0, n - 2);
  }
  return t;
}

const stemCache = new Map<string, string>();
// Token as found in the text → its term ('' for a stop word): one lookup instead of lowercasing,
// a stop-word check and stemming per token.
const rawTermCache = new Map<string, string>();
const STEM_CACHE_MAX = 200_000;

/** Porter stemming as Lucene's PorterStemFilter applies it (cached: corpora repeat words a lot). */
function porter(t: string): string {
  const hit = stemCache.get(t);
  if (hit !== undefined) return hit;
  const s = stemmer(t);
  if (stemCache.size >= STEM_CACHE_MAX) stemCache.clear();
  stemCache.set(t, s);
  return s;
}

class EnglishAnalyzer implements Analyzer {
  readonly name = 'english' as const;
  readonly info = {
    name: 'english',
    tokenizer: 'standard',
    possessive: true,
    lowercase: true,
    stopwords: 'lucene-english-33',
    stemmer: 'porter',
  };

  analyze(text: string): string[] {
    const out: string[] = [];
    forEachToken(text, (raw) => {
      let term = rawTermCache.get(raw);
      if (term === undefined) {
        const t = javaLowerCase(stripPossessive(raw));
        term = t.length === 0 || LUCENE_ENGLISH_STOP_WORDS.has(t) ? '' : porter(t);
        if (rawTermCache.size >= STEM_CACHE_MAX) rawTermCache.clear();
        rawTermCache.set(raw, term);
      }
      if (term !== '') out.push(term);
    });
    return out;
  }
}

/** Lucene's CJKWidthFilter: fullwidth ASCII → ASCII, halfwidth Katakana → fullwidth. */
function cjkWidth(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c >= 0xff01 && c <= 0xff5e) out += String.fromCharCode(c - 0xfee0);
    else if (c >= 0xff65 && c <= 0xff9f) out += ch.normalize('NFKC');
    else out += ch;
  }
  return out;
}

const CJK_TYPES: ReadonlySet<TokenType> = new Set(['ideo', 'hira', 'kata', 'hangul']);
/** CJKAnalyzer's default stop set: the English 33 plus "s", "t" and "www". */
const CJK_STOP_WORDS: ReadonlySet<string> = new Set([...LUCENE_ENGLISH_STOP_WORDS, 's', 't', 'www']);

class CjkAnalyzer implements Analyzer {
  readonly name = 'cjk' as const;
  readonly info = { name: 'cjk', tokenizer: 'standard', width: true, lowercase: true, bigrams: true, stopwords: 'lucene-cjk-36' };

  analyze(text: string): string[] {
    const out: string[] = [];
    // Adjacent CJK tokens form one run; each run becomes overlapping bigrams (a lone char stays a unigram).
    let run: string[] = [];
    let runEnd = -1;
    const flush = (): void => {
      if (run.length === 1) out.push(run[0]!);
      for (let i = 0; i + 1 < run.length; i++) out.push(run[i]! + run[i + 1]!);
      run = [];
    };
    const width = cjkWidth(text);
    let cursor = 0;
    for (const tok of standardTokens(width)) {
      const start = width.indexOf(tok.text, cursor);
      cursor = start + tok.text.length;
      if (CJK_TYPES.has(tok.type)) {
        if (run.length > 0 && start !== runEnd) flush();
        run.push(...tok.text);
        runEnd = cursor;
        continue;
      }
      flush();
      const t = javaLowerCase(tok.text);
      if (!CJK_STOP_WORDS.has(t)) out.push(t);
    }
    flush();
    return out;
  }
}

class WhitespaceAnalyzer implements Analyzer {
  readonly name = 'whitespace' as const;
  readonly info = { name: 'whitespace' };
  analyze(text: string): string[] {
    return text.split(/\s+/).filter((t) => t.length > 0);
  }
}

/**
 * The analyzer of a given name:
 * - `english` (default): Anserini's default English chain — Lucene StandardTokenizer (UAX#29),
 *   EnglishPossessiveFilter, lowercase, Lucene's 33 English stop words, Porter stemmer.
 * - `cjk`: Lucene's CJKAnalyzer — width folding, lowercase, overlapping bigrams of
 *   Han/Hiragana/Katakana/Hangul runs, other tokens as StandardTokenizer words, its stop set
 *   (the English 33 plus s, t, www).
 * - `whitespace`: split on whitespace only, case kept (for tests).
 */
export function createAnalyzer(name: string = 'english'): Analyzer {
  switch (name) {
    case 'english':
      return new EnglishAnalyzer();
    case 'cjk':
      return new CjkAnalyzer();
    case 'whitespace':
      return new WhitespaceAnalyzer();
    default:
      throw new QxError('config', `unknown analyzer "${name}"`, { hint: 'Use one of: english, cjk, whitespace.' });
  }
}
