import { QxError } from '../errors.js';

/**
 * How the final retrieval string is built from the query and the generated text. Kept apart
 * from the prompt template so imported runs can be split back and re-formulated.
 *
 * - `query2doc`: the query 5 times, then the text, all joined by one space (query2doc, Q2E, CoT as
 *   run by QueryGym).
 * - `mugi`: the query repeated r = ⌊⌊len(text) / len(query)⌋ / 5⌋ times (lengths in characters,
 *   beta 5, as MuGI and QueryGym do), then the text, joined by spaces.
 * - `csqe`: the query twice, then the text, joined by spaces and lower-cased (QueryGym's CSQE). When
 *   the text is a CSQE answer ("Document N:" headers over quoted key sentences), only the quoted
 *   sentences are used, as CSQE does (Lei et al. 2024); see {@link csqeKeySentences}.
 * - `qa-expand`: the query 3 times, then the text (QueryGym's QA-Expand: (Q × 3) + refined answers).
 * - `lamer`: the query before each passage, `q p1 q p2 … q pN`, the passages being the lines of the
 *   text (QueryGym's LameR interleaves the query with its 5 generated passages; its files hold no
 *   line breaks, so an imported LameR text has one line per passage). See {@link lamerPassages}.
 * - `concat`: the query, one space, the text (HyDE, QueryGym's GenQR; LameR with one passage).
 * - `keywords`: the generated keywords only, list markers and separators reduced to single spaces.
 * - `rewrite`: the rewrite alone, replacing the query (conversational query rewriting); see
 *   {@link rewriteText} for how it is taken out of the model's answer.
 */
export type FormulationName = 'query2doc' | 'mugi' | 'csqe' | 'qa-expand' | 'lamer' | 'concat' | 'keywords' | 'rewrite';

/** Every formulation, in the order shown to users. */
export const formulationNames: readonly FormulationName[] = ['query2doc', 'mugi', 'csqe', 'qa-expand', 'lamer', 'concat', 'keywords', 'rewrite'];

/** Query repetitions of the `query2doc` formulation. */
export const QUERY2DOC_REPEATS = 5;
/** Query repetitions of the `qa-expand` formulation (QA-Expand's K = 3). */
export const QA_EXPAND_REPEATS = 3;
/** MuGI's beta: the query is repeated so that its length is about 1/beta of the passages'. */
export const MUGI_BETA = 5;

/** True when `name` is a known formulation. */
export function isFormulationName(name: string): name is FormulationName {
  return (formulationNames as readonly string[]).includes(name);
}

/** Throws QxError('config') for an unknown formulation name, listing the known ones. */
export function checkFormulation(name: string): FormulationName {
  if (!isFormulationName(name)) throw new QxError('config', `Unknown query formulation "${name}".`, { hint: `Use one of: ${formulationNames.join(', ')}.` });
  return name;
}

/** Length in Unicode code points, as Python's len() counts it. */
function cpLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** MuGI's adaptive repetition count for a query and its generated passages (>= 0). */
export function mugiRepeats(query: string, generated: string): number {
  const q = cpLength(query);
  if (q === 0) return 0;
  return Math.floor(Math.floor(cpLength(generated) / q) / MUGI_BETA);
}

/** The query `times` times, then the text, joined by single spaces (no trailing space for an empty text, as QueryGym strips its strings). */
function repeatJoin(query: string, times: number, generated: string): string {
  return [...Array<string>(times).fill(query), ...(generated === '' ? [] : [generated])].join(' ');
}

/** Reduces a generated keyword list ("1. a\n- b, c") to "a b c". */
export function keywordString(generated: string): string {
  return generated
    .split(/\r?\n|,|;/)
    .map((l) => l.replace(/^\s*(?:[-*•]|\d+[.)])\s*/, '').trim())
    .filter((l) => l !== '')
    .join(' ')
    .replace(/\s+/g, ' ');
}

/**
 * CSQE's key sentences (Lei et al. 2024): the double-quoted spans of an answer to the CSQE prompt
 * ("Document 1:\n\"sentence\"\n…"), joined by single spaces. Undefined when the text is not laid
 * out that way (no "Document N" header line, or nothing quoted), e.g. the already extracted
 * sentences of an imported run, which are then used as they are.
 */
export function csqeKeySentences(generated: string): string | undefined {
  if (!/^[\s*#>-]*document\s*\[?\d+\]?\s*\**\s*:/im.test(generated)) return undefined;
  const quoted = [...generated.matchAll(/"([^"]*)"|\u201c([^\u201d]*)\u201d/g)].map((m) => (m[1] ?? m[2] ?? '').trim()).filter((q) => q !== '');
  return quoted.length === 0 ? undefined : quoted.join(' ');
}

/**
 * The passages of a LameR string `q p1 q p2 … q pN` (QueryGym: each passage stripped, the parts
 * joined by single spaces, line breaks replaced by spaces). A passage may itself quote the query
 * ("the primary causes of military suicide include…"), so a copy of the query is taken as a
 * separator only when it stands between single spaces and what follows starts a passage: not a
 * lower-case letter and not white space (model answers start with a capital, a digit or markup;
 * a quoted query inside a sentence goes on in lower case). On all 172 DL19 QueryGym LameR strings
 * this finds exactly 5 passages. Undefined when `final` does not start with the query and a
 * space, or holds a line break.
 */
export function lamerPassages(query: string, final: string): string[] | undefined {
  if (query === '' || /[\r\n]/.test(final) || !final.startsWith(`${query} `)) return undefined;
  const sep = ` ${query} `;
  const passages: string[] = [];
  let start = query.length + 1;
  for (let i = final.indexOf(sep, start); i >= 0; i = final.indexOf(sep, i + 1)) {
    if (i < start) continue;
    const next = final.charAt(i + sep.length);
    if (next === '' || /\s|\p{Ll}/u.test(next)) continue;
    passages.push(final.slice(start, i));
    start = i + sep.length;
  }
  passages.push(final.slice(start));
  return passages;
}

/**
 * The rewrite inside a model's answer: after the last "rewritten as:" when there is one (LLM4CS's
 * chain-of-thought answers end "So the question should be rewritten as: …"), a leading
 * `Rewrite:` / `Standalone question:` label dropped, the first non-empty line only (LLM4CS stops
 * at a newline; anything after is a response), surrounding quotes removed, white space collapsed.
 */
export function rewriteText(generated: string): string {
  let t = generated;
  const cot = t.toLowerCase().lastIndexOf('rewritten as:');
  if (cot >= 0) t = t.slice(cot + 'rewritten as:'.length);
  const line = t.split(/\r?\n/).map((l) => l.trim()).find((l) => l !== '') ?? '';
  return line
    .replace(/^(?:rewrite|rewritten question|standalone question)\s*:\s*/i, '')
    .replace(/^["\u201c']+|["\u201d']+$/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Builds the exact string the retriever receives. */
export function formulate(formulation: FormulationName, query: string, generated: string): string {
  switch (formulation) {
    case 'query2doc':
      return repeatJoin(query, QUERY2DOC_REPEATS, generated);
    case 'mugi':
      return repeatJoin(query, mugiRepeats(query, generated), generated);
    case 'csqe':
      return repeatJoin(query, 2, csqeKeySentences(generated) ?? generated).toLowerCase();
    case 'qa-expand':
      return repeatJoin(query, QA_EXPAND_REPEATS, generated);
    case 'lamer':
      return generated
        .split(/\r?\n/)
        .map((p) => `${query} ${p}`)
        .join(' ');
    case 'concat':
      return repeatJoin(query, 1, generated);
    case 'keywords':
      return keywordString(generated);
    case 'rewrite':
      return rewriteText(generated);
  }
}

/**
 * The inverse of `formulate`: the generated text inside a final string made elsewhere, or
 * undefined when `final` does not have the formulation's shape for this query (so an import can
 * say which line is wrong). For `csqe` the text comes back lower-cased (and as the key sentences
 * only, when they were extracted from a CSQE answer); for `lamer` it is the passages, one per
 * line; for `keywords` the final string is the text.
 */
export function splitFinal(formulation: FormulationName, query: string, final: string): string | undefined {
  const strip = (prefix: string): string | undefined => {
    if (final === prefix.trimEnd()) return '';
    return final.startsWith(prefix) ? final.slice(prefix.length) : undefined;
  };
  switch (formulation) {
    case 'query2doc':
      return strip(`${Array<string>(QUERY2DOC_REPEATS).fill(query).join(' ')} `);
    case 'mugi': {
      let rest = final;
      let reps = 0;
      while (rest.startsWith(`${query} `)) {
        rest = rest.slice(query.length + 1);
        reps++;
        if (mugiRepeats(query, rest) === reps) return rest;
      }
      return mugiRepeats(query, final) === 0 ? final : undefined;
    }
    case 'csqe': {
      const q = query.toLowerCase();
      return strip(`${q} ${q} `);
    }
    case 'qa-expand':
      return strip(`${Array<string>(QA_EXPAND_REPEATS).fill(query).join(' ')} `);
    case 'lamer':
      return lamerPassages(query, final)?.join('\n');
    case 'concat':
      return strip(`${query} `);
    case 'keywords':
    case 'rewrite':
      return final;
  }
}

/** Copies of the query `formulation` puts into the final string around this generated text. */
export function queryCopies(formulation: FormulationName, query: string, generated: string): number {
  switch (formulation) {
    case 'query2doc':
      return QUERY2DOC_REPEATS;
    case 'mugi':
      return mugiRepeats(query, generated);
    case 'csqe':
      return 2;
    case 'qa-expand':
      return QA_EXPAND_REPEATS;
    case 'lamer':
      return generated.split(/\r?\n/).length;
    case 'concat':
      return 1;
    case 'keywords':
    case 'rewrite':
      return 0;
  }
}

/** True when `text` (or, for `lamer`, one of its passages) begins with another copy of the query as the formulation writes it. */
function startsWithQuery(formulation: FormulationName, query: string, text: string): boolean {
  const q = formulation === 'csqe' ? query.toLowerCase() : query;
  const parts = formulation === 'lamer' ? text.split(/\r?\n/) : [text];
  return parts.some((p) => p === q || p.startsWith(`${q} `));
}

/** How well a final string fits a formulation, see {@link checkFormulationFit}. */
export interface FormulationFit {
  /** The inverse gives a text that formulates back to exactly `final` and does not begin with the query. */
  clean: boolean;
  /**
   * Another formulation that also fits cleanly and takes more copies of the query out (the one
   * taking the most; ties to the earlier name), e.g. `lamer` for a LameR string read as `concat`.
   */
  better?: FormulationName;
}

/**
 * Whether `final` looks like it was built with `formulation`: a query2doc string read as `concat`
 * leaves four copies of the query in the text, a LameR string read as `concat` leaves the query
 * between its passages; both fit `concat` only on the surface, and `better` names the formulation
 * that takes those copies out (`lamer` with a single passage is `concat`: neither is better).
 */
export function checkFormulationFit(formulation: FormulationName, query: string, final: string): FormulationFit {
  const copies = (f: FormulationName): number | undefined => {
    const g = splitFinal(f, query, final);
    if (g === undefined || formulate(f, query, g) !== final || startsWithQuery(f, query, g)) return undefined;
    return queryCopies(f, query, g);
  };
  const own = copies(formulation);
  let better: FormulationName | undefined;
  let most = own ?? -1;
  for (const f of formulationNames) {
    const n = f === formulation ? undefined : copies(f);
    if (n !== undefined && n > most && !(f === 'lamer' && n < 2)) {
      better = f;
      most = n;
    }
  }
  return better === undefined ? { clean: own !== undefined } : { clean: own !== undefined, better };
}
