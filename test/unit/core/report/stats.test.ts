import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { logGamma, pairedBootstrapRatio, pairedPermutationTest, pairedTTest, quantileSorted, regularizedIncompleteBeta, studentTTwoSidedP } from '../../../../src/core/report/stats.js';

// Student's (1908) sleep data, extra hours of sleep under two drugs for the same 10 patients
// (R's `sleep` dataset). R: t.test(extra ~ group, data = sleep, paired = TRUE)
// gives t = -4.0621, df = 9, p-value = 0.002833 (group 1 − group 2).
const drug1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0];
const drug2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4];

test('paired t-test reproduces the textbook sleep-data result', () => {
  const r = pairedTTest(drug1, drug2);
  assert.ok(r !== null);
  assert.equal(r.df, 9);
  assert.ok(Math.abs(r.meanDiff - 1.58) < 1e-12);
  assert.ok(Math.abs(r.t - 4.0621) < 5e-5, `t = ${r.t}`);
  assert.ok(Math.abs(r.p - 0.002833) < 5e-7, `p = ${r.p}`);
});

/** Independent check: integrate the t density numerically (Simpson) instead of the incomplete beta. */
function tTailByIntegration(t: number, df: number): number {
  const c = Math.exp(logGamma((df + 1) / 2) - logGamma(df / 2)) / Math.sqrt(df * Math.PI);
  const f = (x: number): number => c * Math.pow(1 + (x * x) / df, -(df + 1) / 2);
  const n = 20000;
  const h = Math.abs(t) / n;
  let s = f(0) + f(Math.abs(t));
  for (let i = 1; i < n; i++) s += (i % 2 === 1 ? 4 : 2) * f(i * h);
  return 1 - 2 * ((s * h) / 3);
}

test('the t distribution matches table critical values and numerical integration', () => {
  assert.ok(Math.abs(studentTTwoSidedP(2.262157, 9) - 0.05) < 1e-6);
  assert.ok(Math.abs(studentTTwoSidedP(2.042272, 30) - 0.05) < 1e-6);
  assert.ok(Math.abs(studentTTwoSidedP(63.65674, 1) - 0.01) < 1e-6);
  assert.ok(Math.abs(studentTTwoSidedP(1.959964, 1e7) - 0.05) < 1e-5, 'large df tends to the normal');
  fc.assert(
    fc.property(fc.double({ min: 0, max: 8, noNaN: true }), fc.integer({ min: 1, max: 60 }), (t, df) => {
      assert.ok(Math.abs(studentTTwoSidedP(t, df) - tTailByIntegration(t, df)) < 1e-6);
    }),
    { numRuns: 60 },
  );
  assert.ok(Math.abs(regularizedIncompleteBeta(0.3, 2, 3) - 0.3483) < 1e-12, 'I_0.3(2,3) = 0.3483 in closed form');
});

test('undefined t-tests return null rather than a made-up p-value', () => {
  assert.equal(pairedTTest([0.1], [0.2]), null);
  assert.equal(pairedTTest([0.1, 0.2, 0.3], [0.2, 0.3, 0.4]), null, 'constant difference: zero variance');
});

test('the exact permutation test agrees with an independent enumeration; the sampled one is seeded', () => {
  const d = drug1.map((x, i) => (drug2[i] as number) - x);
  const obs = Math.abs(d.reduce((a, b) => a + b, 0));
  let hits = 0;
  const walk = (i: number, sum: number): void => {
    if (i === d.length) {
      if (Math.abs(sum) >= obs - 1e-9) hits++;
      return;
    }
    walk(i + 1, sum + (d[i] as number));
    walk(i + 1, sum - (d[i] as number));
  };
  walk(0, 0);
  const exact = pairedPermutationTest(drug1, drug2);
  assert.ok(exact?.exact);
  assert.equal(exact.p, hits / 1024);
  assert.ok(exact.p < 0.01 && exact.p > 0.001, 'close to the t-test on this data');

  const sampled = pairedPermutationTest(drug1, drug2, { exactUpTo: 0, iterations: 20000, seed: 7 });
  assert.ok(sampled !== null && !sampled.exact);
  assert.ok(Math.abs(sampled.p - exact.p) < 0.003);
  assert.equal(pairedPermutationTest(drug1, drug2, { exactUpTo: 0, iterations: 20000, seed: 7 })?.p, sampled.p);
  const same = pairedPermutationTest([0.5, 0.4, 0.3], [0.5, 0.4, 0.3]);
  assert.equal(same?.p, 1, 'no difference at all: p = 1');
});

test('the permutation test on 4 queries counts the 16 sign flips by hand', () => {
  // Differences 0.1, 0.2, 0.3, 0.4: only all-plus and all-minus reach |sum| = 1.0, so p = 2/16.
  assert.equal(pairedPermutationTest([0, 0, 0, 0], [0.1, 0.2, 0.3, 0.4])?.p, 2 / 16);
  // Differences 0.1, 0.2, 0.3, −0.4 sum to 0.2; flipping a set S gives 1.0 − 2·sum(S) in the units above:
  // only S = {0.1, 0.4} and S = {0.2, 0.3} give 0, the other 14 give |sum| ≥ 0.2, so p = 14/16.
  const r = pairedPermutationTest([0.5, 0.5, 0.5, 0.5], [0.6, 0.7, 0.8, 0.1]);
  assert.deepEqual([r?.p, r?.exact, r?.iterations], [14 / 16, true, 16]);
});

test('type-7 quantiles: the median of 1..4 is 2.5, the 2.5th percentile 1.075', () => {
  assert.equal(quantileSorted([1, 2, 3, 4], 0.5), 2.5);
  assert.ok(Math.abs(quantileSorted([1, 2, 3, 4], 0.025) - 1.075) < 1e-12);
  assert.equal(quantileSorted([7], 0.975), 7);
});

// Per-query nDCG@10 of a teacher (a) and a student (b): point ratio 0.48 / 0.6 = 0.8.
const teacherQ = [0.8, 0.7, 0.5, 0.6, 0.4];
const studentQ = [0.7, 0.5, 0.3, 0.5, 0.4];

test('the bootstrap interval of the ratio holds the point estimate, is seeded, and narrows with more queries', () => {
  const ci = pairedBootstrapRatio(teacherQ, studentQ);
  assert.ok(ci !== null);
  assert.deepEqual([ci.resamples, ci.seed, ci.level, ci.undefinedResamples], [10_000, 42, 0.95, 0]);
  assert.ok(ci.low < 0.8 && 0.8 < ci.high, `0.8 in [${ci.low}, ${ci.high}]`);
  // Each query's ratio lies in [0.6, 1] (0.3/0.5 … 0.4/0.4), so any resampled ratio of means does too.
  assert.ok(ci.low >= 0.6 - 1e-12 && ci.high <= 1 + 1e-12);
  assert.deepEqual(pairedBootstrapRatio(teacherQ, studentQ), ci, 'same seed, same interval');
  assert.notDeepEqual(pairedBootstrapRatio(teacherQ, studentQ, { seed: 7 }), ci, 'another seed draws other resamples');
  const times = (xs: number[], k: number): number[] => Array.from({ length: k }, () => xs).flat();
  const wide = ci.high - ci.low;
  const narrow = pairedBootstrapRatio(times(teacherQ, 16), times(studentQ, 16));
  assert.ok(narrow !== null && narrow.low < 0.8 && 0.8 < narrow.high);
  // 16 times the queries: the standard error shrinks by about √16 = 4.
  assert.ok(narrow.high - narrow.low < wide / 3, `${narrow.high - narrow.low} vs ${wide}`);
});

test('the bootstrap of a constant ratio is that ratio; an all-zero teacher has none', () => {
  const ci = pairedBootstrapRatio([0.2, 0.5, 1], [0.1, 0.25, 0.5], { resamples: 500 });
  assert.ok(ci !== null && Math.abs(ci.low - 0.5) < 1e-12 && Math.abs(ci.high - 0.5) < 1e-12);
  assert.equal(pairedBootstrapRatio([0, 0], [0.1, 0.2]), null);
  assert.equal(pairedBootstrapRatio([], []), null);
  // One zero query of two: resamples drawing it twice (about a quarter) have no ratio and are counted.
  const some = pairedBootstrapRatio([0, 0.5], [0.2, 0.4], { resamples: 4000 });
  assert.ok(some !== null && some.undefinedResamples > 800 && some.undefinedResamples < 1200, String(some?.undefinedResamples));
});
