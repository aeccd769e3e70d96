import type { RunHit } from '../dataset/types.js';

/**
 * Compares two strings the way C `strcmp` compares their UTF-8 bytes (Unicode code point order).
 * JavaScript's `<` compares UTF-16 code units, which differs only when a character above U+FFFF
 * meets one in U+E000..U+FFFF.
 * @returns negative, 0 or positive
 */
export function strcmp(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x !== y) {
      if (x >= 0xd800 && y >= 0xd800) {
        x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
        y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
      }
      return x - y;
    }
  }
  return a.length - b.length;
}

/**
 * trec_eval's ranking order (`comp_sim_docno` in form_res_rels.c): score descending, ties broken
 * by docid in DESCENDING strcmp order. The rank column of a run file plays no part.
 */
export function compareTrecEval(a: RunHit, b: RunHit): number {
  if (a.score > b.score) return -1;
  if (a.score < b.score) return 1;
  return strcmp(b.docid, a.docid);
}

/**
 * Returns a new array of the hits in trec_eval's order (see {@link compareTrecEval}); the input is
 * not modified. The result does not depend on the input order.
 */
export function sortLikeTrecEval<T extends RunHit>(hits: readonly T[]): T[] {
  return hits.slice().sort(compareTrecEval);
}

/** True when `hits` is already in trec_eval's order, so callers can skip a sort. O(n). */
export function isTrecEvalSorted(hits: readonly RunHit[]): boolean {
  for (let i = 1; i < hits.length; i++) if (compareTrecEval(hits[i - 1]!, hits[i]!) > 0) return false;
  return true;
}
