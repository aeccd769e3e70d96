import type { ExpansionRecord } from '../expansion/types.js';
import type { PairRecord } from './types.js';

/** Length of a text in characters (Unicode code points): the unit of the length rules. */
export function textLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** Longer / shorter length of two texts (≥ 1; an empty side counts as length 1). */
export function lengthRatio(a: string, b: string): number {
  const la = Math.max(1, textLength(a));
  const lb = Math.max(1, textLength(b));
  return la >= lb ? la / lb : lb / la;
}

/** How the lengths of chosen and rejected texts compare over a set of pairs. */
export interface PairLengthStats {
  /** Pairs whose two sides were found. */
  pairs: number;
  /** Pairs whose chosen text is longer than the rejected one. */
  chosenLonger: number;
  /** Median of chosen length / rejected length (characters); null without pairs. 1 = no bias. */
  medianRatio: number | null;
  /** Geometric mean of chosen / rejected length; null without pairs. */
  geoMeanRatio: number | null;
  /** Median length of the chosen and of the rejected texts, characters. */
  medianChosenChars: number | null;
  medianRejectedChars: number | null;
}

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/**
 * Chosen/rejected length figures of `pairs` (the generated texts, in characters; an empty text
 * counts as 1): how often the chosen side is longer and the median and geometric-mean ratio of
 * chosen to rejected length. A ratio well above 1 means DPO on these pairs mostly learns "write
 * longer". Pairs with a side missing from `expansions` are not counted. Pure.
 */
export function pairLengthStats(
  pairs: readonly Pick<PairRecord, 'chosenId' | 'rejectedId'>[],
  expansions: ReadonlyMap<string, Pick<ExpansionRecord, 'generated'>>,
): PairLengthStats {
  const ratios: number[] = [];
  const chosen: number[] = [];
  const rejected: number[] = [];
  let chosenLonger = 0;
  for (const p of pairs) {
    const c = expansions.get(p.chosenId);
    const r = expansions.get(p.rejectedId);
    if (c === undefined || r === undefined) continue;
    const lc = Math.max(1, textLength(c.generated));
    const lr = Math.max(1, textLength(r.generated));
    if (lc > lr) chosenLonger++;
    ratios.push(lc / lr);
    chosen.push(lc);
    rejected.push(lr);
  }
  return {
    pairs: ratios.length,
    chosenLonger,
    medianRatio: median(ratios),
    geoMeanRatio: ratios.length === 0 ? null : Math.exp(ratios.reduce((a, x) => a + Math.log(x), 0) / ratios.length),
    medianChosenChars: median(chosen),
    medianRejectedChars: median(rejected),
  };
}

/** One line for people: "chosen longer in 39/50 pairs, median chosen/rejected length 2.80×". */
export function describeLengthStats(s: PairLengthStats): string {
  if (s.pairs === 0 || s.medianRatio === null) return 'no pairs';
  return `chosen longer in ${s.chosenLonger}/${s.pairs} pairs, median chosen/rejected length ${s.medianRatio.toFixed(2)}× (median ${s.medianChosenChars} vs ${s.medianRejectedChars} characters)`;
}
