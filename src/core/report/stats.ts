import { mulberry32 } from '../random.js';

/*
 * Significance tests for paired per-query scores. The Student t distribution function is
 * computed through the regularized incomplete beta function (continued fraction, modified
 * Lentz), with ln Γ from the Lanczos approximation (g = 7, 9 terms).
 */

const lanczos = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
  -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0, relative error about 1e-15. */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let a = lanczos[0] as number;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += (lanczos[i] as number) / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

function betaContinuedFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 1000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return h;
}

/** Regularized incomplete beta I_x(a, b) for x in [0, 1], a, b > 0. */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const lnFront = logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x);
  // The continued fraction converges fast only below the mean; use the symmetry above it.
  if (x < (a + 1) / (a + b + 2)) return (Math.exp(lnFront) * betaContinuedFraction(x, a, b)) / a;
  return 1 - (Math.exp(lnFront) * betaContinuedFraction(1 - x, b, a)) / b;
}

/** Two-sided tail probability P(|T| ≥ |t|) of Student's t with `df` degrees of freedom. */
export function studentTTwoSidedP(t: number, df: number): number {
  if (!Number.isFinite(t)) return 0;
  return regularizedIncompleteBeta(df / (df + t * t), df / 2, 0.5);
}

/** Result of a paired t-test. */
export interface PairedTTest {
  /** Mean of the differences (b − a). */
  meanDiff: number;
  t: number;
  df: number;
  /** Two-sided p-value. */
  p: number;
}

/**
 * Paired two-sided t-test of `b` against `a` (same length, paired by index). Returns null when
 * it is undefined: fewer than 2 pairs, or all differences equal (standard deviation ≤ 1e-12).
 */
export function pairedTTest(a: readonly number[], b: readonly number[]): PairedTTest | null {
  if (a.length !== b.length) throw new RangeError('pairedTTest: the two samples must have the same length');
  const n = a.length;
  if (n < 2) return null;
  const d = a.map((x, i) => (b[i] as number) - x);
  const mean = d.reduce((s, x) => s + x, 0) / n;
  const variance = d.reduce((s, x) => s + (x - mean) * (x - mean), 0) / (n - 1);
  // Differences equal up to floating-point noise (e.g. 0.2−0.1 vs 0.3−0.2) have no usable variance.
  if (!(Math.sqrt(variance) > 1e-12 * Math.max(1, Math.abs(mean)))) return null;
  const t = mean / Math.sqrt(variance / n);
  return { meanDiff: mean, t, df: n - 1, p: studentTTwoSidedP(t, n - 1) };
}

/** Result of a paired randomization (sign-flip permutation) test. */
export interface PermutationTest {
  /** Two-sided p-value. */
  p: number;
  /** True when all 2^n sign assignments were enumerated (n ≤ `exactUpTo`). */
  exact: boolean;
  /** Sign assignments evaluated. */
  iterations: number;
}

/**
 * Paired two-sided randomization test of `b` against `a`: under the null each difference is as
 * likely positive as negative, so the statistic |mean difference| is compared with its value
 * under random sign flips. Exact enumeration for n ≤ `exactUpTo` (default 16); otherwise
 * `iterations` random flips (default 10,000) from `seed` (default 42), p = (hits + 1) / (iterations + 1).
 */
export function pairedPermutationTest(
  a: readonly number[],
  b: readonly number[],
  options: { iterations?: number; seed?: number; exactUpTo?: number } = {},
): PermutationTest | null {
  if (a.length !== b.length) throw new RangeError('pairedPermutationTest: the two samples must have the same length');
  const n = a.length;
  if (n === 0) return null;
  const d = a.map((x, i) => (b[i] as number) - x);
  const observed = Math.abs(d.reduce((s, x) => s + x, 0));
  const tol = 1e-12 * Math.max(1, observed);
  const exactUpTo = options.exactUpTo ?? 16;
  if (n <= exactUpTo) {
    let hits = 0;
    const total = 2 ** n;
    for (let mask = 0; mask < total; mask++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += mask & (1 << i) ? -(d[i] as number) : (d[i] as number);
      if (Math.abs(s) >= observed - tol) hits++;
    }
    return { p: hits / total, exact: true, iterations: total };
  }
  const iterations = options.iterations ?? 10_000;
  const rand = mulberry32(options.seed ?? 42);
  let hits = 0;
  for (let k = 0; k < iterations; k++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += rand() < 0.5 ? -(d[i] as number) : (d[i] as number);
    if (Math.abs(s) >= observed - tol) hits++;
  }
  return { p: (hits + 1) / (iterations + 1), exact: false, iterations };
}

/** Percentile bootstrap confidence interval of a ratio of means. */
export interface BootstrapInterval {
  /** Lower and upper bound of the interval, in the unit of the ratio (mean(b) / mean(a)). */
  low: number;
  high: number;
  /** Coverage, e.g. 0.95. */
  level: number;
  /** Resamples drawn. */
  resamples: number;
  /** Resamples left out because mean(a) was not positive in them (the ratio is undefined there). */
  undefinedResamples: number;
  seed: number;
}

/** Quantile `q` in [0, 1] of ascending `sorted` by linear interpolation (R's type 7, NumPy's default). */
export function quantileSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return (sorted[lo] as number) + (h - lo) * ((sorted[hi] as number) - (sorted[lo] as number));
}

/**
 * Paired percentile bootstrap of mean(b) / mean(a), pairs by index (e.g. per-query nDCG@10 of a
 * student `b` and a teacher `a`): each of `resamples` (default 10,000) draws n indices with
 * replacement, from a mulberry32 stream seeded with `seed` (default 42), and takes the ratio of
 * the two means over the same drawn indices; the interval is the (1 − level)/2 and (1 + level)/2
 * quantiles (type 7) of those ratios, `level` default 0.95 (Efron & Tibshirani 1993, ch. 13).
 * Resamples whose mean(a) is not positive are left out and counted. Null with no pairs, or when
 * no resample has a positive mean(a).
 */
export function pairedBootstrapRatio(
  a: readonly number[],
  b: readonly number[],
  options: { resamples?: number; seed?: number; level?: number } = {},
): BootstrapInterval | null {
  if (a.length !== b.length) throw new RangeError('pairedBootstrapRatio: the two samples must have the same length');
  const n = a.length;
  if (n === 0) return null;
  const resamples = options.resamples ?? 10_000;
  const seed = options.seed ?? 42;
  const level = options.level ?? 0.95;
  const rand = mulberry32(seed);
  const fa = Float64Array.from(a);
  const fb = Float64Array.from(b);
  const ratios: number[] = [];
  for (let r = 0; r < resamples; r++) {
    let sa = 0;
    let sb = 0;
    for (let i = 0; i < n; i++) {
      const j = Math.floor(rand() * n);
      sa += fa[j]!;
      sb += fb[j]!;
    }
    if (sa > 0) ratios.push(sb / sa);
  }
  if (ratios.length === 0) return null;
  ratios.sort((x, y) => x - y);
  return {
    low: quantileSorted(ratios, (1 - level) / 2),
    high: quantileSorted(ratios, (1 + level) / 2),
    level,
    resamples,
    undefinedResamples: resamples - ratios.length,
    seed,
  };
}
