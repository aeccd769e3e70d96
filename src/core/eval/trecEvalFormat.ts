import type { EvalResult } from './evaluate.js';

/**
 * Formats a number like C `printf("%6.4f")`: 4 decimals, round-half-to-even on the exact binary
 * value. JavaScript's toFixed rounds exact ties up instead (0.03125 → "0.0313" where trec_eval
 * prints "0.0312"); at 4 decimals the only exact ties are odd multiples of 1/32.
 */
export function formatFixed4(x: number): string {
  const abs = Math.abs(x);
  const times32 = abs * 32;
  let body: string;
  if (Number.isInteger(times32) && times32 % 2 === 1) {
    const lower = Math.floor(abs * 10000);
    const n = lower % 2 === 0 ? lower : lower + 1;
    body = `${Math.floor(n / 10000)}.${String(n % 10000).padStart(4, '0')}`;
  } else {
    body = abs.toFixed(4);
  }
  const s = (x < 0 || Object.is(x, -0) ? '-' : '') + body;
  return s.padStart(6, ' ');
}

/** One trec_eval output line: `%-22s\t%s\t%6.4f` (or `%ld` for integer measures). */
export function formatTrecEvalLine(measure: string, qid: string, value: number, integer: boolean): string {
  const v = integer ? String(Math.trunc(value)) : formatFixed4(value);
  return `${measure.padEnd(22, ' ')}\t${qid}\t${v}\n`;
}

/**
 * Renders an evaluation as trec_eval prints it: with `perQuery` (trec_eval `-q`), every query's
 * lines first (queries in strcmp order, measures in trec_eval's order), then the `all` lines.
 */
export function formatTrecEval(result: EvalResult, options: { perQuery?: boolean } = {}): string {
  const integer = new Set(result.integerMeasures);
  const summaryOnly = new Set(result.summaryOnly);
  const out: string[] = [];
  if (options.perQuery) {
    for (const q of result.perQuery) {
      for (const m of result.measures) {
        if (summaryOnly.has(m)) continue;
        out.push(formatTrecEvalLine(m, q.qid, q.values[m] ?? 0, integer.has(m)));
      }
    }
  }
  for (const m of result.measures) out.push(formatTrecEvalLine(m, 'all', result.mean[m] ?? 0, integer.has(m)));
  return out.join('');
}
