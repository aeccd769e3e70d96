// Scoring throughput of a batch of expansions with 1 vs N worker threads (scoreQueries, as qx score
// runs it) over the on-disk synthetic 1M index and the DL19 pool; reports wall, process CPU (all
// threads) and the load average, since the machine may be shared.
// Usage: node --import tsx bench/bm25/threads.ts [--threads 2] [--per-query 12] [--top-k 1000] [--skip-1m]
// Needs bench/out from bench/bm25/makeData.ts; builds bench/out/idx-synth-1m and idx-pool once.
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Bm25Index } from '../../src/core/bm25/bm25Index.js';
import { readCorpus } from '../../src/core/dataset/corpus.js';
import { readQrels } from '../../src/core/dataset/qrels.js';
import type { ExpansionRecord } from '../../src/core/expansion/types.js';
import { scoreQueries, type QueryToScore } from '../../src/core/feedback/score.js';

const root = path.resolve(__dirname, '../..');
const out = path.join(root, 'bench/out');
const argv = process.argv.slice(2);
const arg = (name: string, d: number): number => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : d);
const threads = arg('--threads', 2);
const perQuery = arg('--per-query', 12);
const topK = arg('--top-k', 1000);

function tsv(file: string): [string, string][] {
  return readFileSync(path.join(out, file), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => [l.slice(0, l.indexOf('\t')), l.slice(l.indexOf('\t') + 1)]);
}

async function open(name: string, corpus: string): Promise<{ index: Bm25Index; dir: string }> {
  const dir = path.join(out, name);
  const index = existsSync(dir) ? await Bm25Index.open(dir) : (await Bm25Index.build(readCorpus(path.join(out, corpus)), { dir })).index;
  return { index, dir };
}

function cpuS(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

async function main(): Promise<void> {
  const qrels = await readQrels(path.join(root, 'test/fixtures/data/trec-dl-topics-qrels/qrels.dl19-passage.txt'));
  const orig = tsv('orig.tsv');
  const exp = new Map(tsv('exp.tsv'));
  // Expansions: the query2doc text, then variants that each drop a different sentence of it.
  const work: QueryToScore[] = orig.map(([qid, text]) => {
    const sentences = (exp.get(qid) ?? text).split(/(?<=[.!?])\s+/);
    const list: ExpansionRecord[] = [];
    for (let i = 0; i < perQuery; i++) {
      const kept = i === 0 ? sentences : sentences.filter((_, j) => j % perQuery !== i % sentences.length);
      list.push({ id: `${qid}-${i}`, qid, final: `${text} ${kept.join(' ')}` } as ExpansionRecord);
    }
    return { qid, text, expansions: list };
  });
  const lines: string[] = [];
  const skip1m = argv.includes('--skip-1m');
  for (const [name, idx, corpus] of [
    ['DL19 pool', 'idx-pool', 'pool.jsonl'],
    ['synth 1M', 'idx-synth-1m', 'synth-1000000.jsonl'],
  ] as const) {
    if (skip1m && idx === 'idx-synth-1m') continue;
    const { index, dir } = await open(idx, corpus);
    const results: Record<number, { wall: number; cpu: number; load: string; n: number }> = {};
    let first: string | undefined;
    for (const t of [1, threads]) {
      const load = os.loadavg()[0]!.toFixed(2);
      const c0 = cpuS();
      const t0 = Date.now();
      let n = 0;
      const stored: string[] = [];
      await scoreQueries((q, k) => index.searchSync(q, k), qrels, work, { topK, relevanceLevel: 2 }, {
        signal: new AbortController().signal,
        threads: { threads: t, indexDir: dir, params: index.params, numDocs: index.numDocs, minWork: 0 },
        onScores: (s) => {
          n += s.length;
          stored.push(...s.map((x) => `${x.expansionId} ${x.ndcg10}`));
        },
      });
      results[t] = { wall: (Date.now() - t0) / 1000, cpu: cpuS() - c0, load: `${load}→${os.loadavg()[0]!.toFixed(2)}`, n };
      const sig = stored.join('\n');
      if (first === undefined) first = sig;
      else if (sig !== first) throw new Error(`${name}: ${t} threads stored other scores than 1 thread`);
    }
    const one = results[1]!;
    const many = results[threads]!;
    lines.push(
      `| ${name} | ${one.n} | ${topK} | ${one.wall.toFixed(2)} s (CPU ${one.cpu.toFixed(2)} s, load ${one.load}) | ${many.wall.toFixed(2)} s (CPU ${many.cpu.toFixed(2)} s, load ${many.load}) | ${(one.n / one.wall).toFixed(1)} / ${(many.n / many.wall).toFixed(1)} | ${(one.wall / many.wall).toFixed(2)}× | identical |`,
    );
    process.stderr.write(`${lines.at(-1)}\n`);
    await index.close();
  }
  process.stdout.write(
    [
      `Run ${new Date().toISOString()}: ${os.cpus().length} cores, Node ${process.version}, ${work.length} queries × ${perQuery} expansions (+ ${work.length} originals), top ${topK}.`,
      '',
      `| index | scores | k | 1 thread: wall (process CPU, load avg) | ${threads} threads: wall (process CPU, load avg) | scores/s 1 / ${threads} | speed-up | stored scores |`,
      '|---|---|---|---|---|---|---|---|',
      ...lines,
    ].join('\n') + '\n',
  );
}

void main();
