import { QxError } from '../errors.js';
import type { Qrels, Topic } from './types.js';
import { mulberry32 } from '../random.js';

/**
 * How a workspace's topics were sampled from a bigger topics file (`qx init --sample-queries`),
 * recorded as the manifest's `sample` field.
 */
export interface TopicsSample {
  /** The topics file the sample was drawn from (relative to the manifest in the JSON file). */
  from: string;
  /** Its format when it was named, else omitted (detected). */
  format?: string;
  /** Queries drawn. */
  queries: number;
  /** Seed of the draw (an unsigned 32-bit integer); the same file, size and seed give the same queries. */
  seed: number;
  /** Queries of `from` that could be drawn (those with a judgment of grade > 0). */
  eligible: number;
  /** Queries in `from`. */
  total: number;
}

/** The file `qx init --sample-queries` writes the sampled topics into (BEIR JSONL, exact texts). */
export const SAMPLE_TOPICS_FILE = 'sample.topics.jsonl';

/** Default seed of `sampleTopics` when none is given. */
export const DEFAULT_SAMPLE_SEED = 42;

/**
 * Draws `n` topics uniformly without replacement among those with at least one judgment of grade
 * > 0 in `qrels` (a query without a relevant passage cannot be scored into a training pair), with
 * a partial Fisher–Yates shuffle over the eligible topics in file order, driven by mulberry32
 * seeded with `seed`. The result keeps file order. The same topics, qrels, `n` and `seed` always
 * give the same sample, and a sample of n is not a prefix of a sample of n + 1.
 * @param n queries to draw, an integer in 1..eligible
 * @param seed an integer in 0..2^32−1
 * @returns the sampled topics and how many were eligible
 */
export function sampleTopics(topics: readonly Topic[], qrels: Qrels, n: number, seed: number): { topics: Topic[]; eligible: number } {
  if (!Number.isInteger(n) || n < 1) throw new QxError('usage', `the sample size must be a positive integer, got ${n}`, { hint: 'Pass --sample-queries N with N >= 1.' });
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new QxError('usage', `the seed must be an integer from 0 to 4294967295, got ${seed}`, { hint: 'Pass --seed S, e.g. --seed 42.' });
  const eligible: number[] = [];
  topics.forEach((t, i) => {
    const j = qrels.get(t.qid);
    if (j === undefined) return;
    for (const g of j.values()) {
      if (g > 0) {
        eligible.push(i);
        return;
      }
    }
  });
  if (n > eligible.length) {
    throw new QxError('usage', `cannot sample ${n} queries: only ${eligible.length} of the ${topics.length} queries have a relevant judgment (grade > 0) in the qrels`, {
      hint: `Pass --sample-queries ${eligible.length} or less, or check that the qrels belong to these topics.`,
    });
  }
  const rand = mulberry32(seed);
  const pool = [...eligible];
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(rand() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  const chosen = pool.slice(0, n).sort((a, b) => a - b);
  return { topics: chosen.map((i) => topics[i]!), eligible: eligible.length };
}

/** The sampled topics as BEIR JSONL (`{"_id", "text"}` per line), which keeps every text exactly. */
export function topicsJsonl(topics: readonly Topic[]): string {
  let out = '';
  for (const t of topics) out += JSON.stringify({ _id: t.qid, text: t.text }) + '\n';
  return out;
}
