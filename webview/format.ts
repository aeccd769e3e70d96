/** Signed delta with three decimals and a real minus sign: "+0.125", "−0.031", "0.000". */
export function formatDelta(d: number | null | undefined): string {
  if (d === null || d === undefined || !Number.isFinite(d)) return '–';
  const r = Math.round(d * 1000) / 1000;
  if (r === 0) return '0.000';
  return `${r > 0 ? '+' : '−'}${Math.abs(r).toFixed(3)}`;
}

export function formatScore(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(3);
}

export function formatPercent(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '–' : `${Math.round(v * 100)}%`;
}

/** CSS class for a delta: positive, negative or neutral (theme colours live in review.css). */
export function deltaClass(d: number | null | undefined): 'pos' | 'neg' | 'zero' {
  if (d === null || d === undefined || Math.round(d * 1000) === 0) return 'zero';
  return d > 0 ? 'pos' : 'neg';
}

/** Length of a text in characters (code points), as pair rules and exports count it. */
export function charLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** "682 chars". */
export function formatLength(s: string): string {
  return `${charLength(s)} chars`;
}

/** Chosen / rejected length as "2.80×" (an empty side counts as 1). */
export function formatLengthRatio(chosen: string, rejected: string): string {
  return `${(Math.max(1, charLength(chosen)) / Math.max(1, charLength(rejected))).toFixed(2)}×`;
}
