// Pruned (MaxScore) vs exhaustive top k on the DL19 pool and the synthetic 1M corpus, original and
// query2doc-expanded queries, top 10 and top 1000: p50/p95 ms, CPU ms and postings scored per
// query, and a check that both give the same hits with bit-identical scores.
// Usage: node --import tsx bench/bm25/pruning.ts [--skip-1m] [--rounds 3]
// Inputs come from bench/bm25/makeData.ts (run first, or by npm run bench:bm25); the 1M index is
// built once into bench/out/idx-synth-1m (as `qx index` does) and reopened on later runs.
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Bm25Index, newSearchStats, type PruningOptions } from '../../src/core/bm25/bm25Index.js';
import { readCorpus } from '../../src/core/dataset/corpus.js';

const root = path.resolve(__dirname, '../..');
const out = path.join(root, 'bench/out');
const argv = process.argv.slice(2);
const skip1m = argv.includes('--skip-1m');
const skipPool = argv.includes('--skip-pool');
const rounds = argv.includes('--rounds') ? Number(argv[argv.indexOf('--rounds') + 1]) : 3;
const windowBits = argv.includes('--window-bits') ? Number(argv[argv.indexOf('--window-bits') + 1]) : undefined;
const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : undefined;
const pruneOpts: PruningOptions = windowBits === undefined ? {} : { windowBits };

function queries(file: string): string[] {
  return readFileSync(path.join(out, file), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.slice(l.indexOf('\t') + 1));
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

interface Measure {
  p50: number;
  p95: number;
  cpuPerQuery: number;
  postingsPerQuery: number;
}

function measure(index: Bm25Index, qs: string[], k: number, options: PruningOptions): Measure {
  const times: number[] = [];
  const stats = newSearchStats();
  const c0 = cpuMs();
  for (let r = 0; r < rounds; r++) {
    for (const q of qs) {
      const t0 = process.hrtime.bigint();
      index.searchSync(q, k, { ...options, stats });
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  }
  const n = rounds * qs.length;
  return { p50: pct(times, 50), p95: pct(times, 95), cpuPerQuery: (cpuMs() - c0) / n, postingsPerQuery: stats.postingsScored / n };
}

async function bench(name: string, index: Bm25Index): Promise<string[]> {
  const rows: string[] = [];
  for (const [qname, file] of [
    ['original', 'orig.tsv'],
    ['query2doc', 'exp.tsv'],
  ] as const) {
    if (only !== undefined && only !== qname) continue;
    const qs = queries(file);
    // First use of a term computes its window bounds: measured once, then every query is warm.
    const c0 = cpuMs();
    const t0 = Date.now();
    for (const q of qs) index.searchSync(q, 10, pruneOpts);
    const coldMs = Date.now() - t0;
    const coldCpu = cpuMs() - c0;
    for (const k of [10, 1000]) {
      let same = 0;
      for (const q of qs) {
        const a = index.searchSync(q, k, pruneOpts);
        const forced = index.searchSync(q, k, { ...pruneOpts, maxTerms: Infinity });
        const b = index.searchSync(q, k, { exhaustive: true });
        const eq = (x: typeof a): boolean => x.length === b.length && x.every((h, i) => h.docid === b[i]!.docid && Object.is(h.score, b[i]!.score));
        if (eq(a) && eq(forced)) same++;
      }
      for (const q of qs.slice(0, 5)) index.searchSync(q, k, { exhaustive: true });
      const ex = measure(index, qs, k, { exhaustive: true });
      const pr = measure(index, qs, k, pruneOpts);
      // The engine sends long queries to the exhaustive path; this forces MaxScore on them too.
      const fo = measure(index, qs, k, { ...pruneOpts, maxTerms: Infinity });
      rows.push(
        `| ${name} | ${qname} | ${k} | ${ex.p50.toFixed(2)} / ${ex.p95.toFixed(2)} | ${pr.p50.toFixed(2)} / ${pr.p95.toFixed(2)} | ${ex.cpuPerQuery.toFixed(2)} / ${pr.cpuPerQuery.toFixed(2)} | ${Math.round(ex.postingsPerQuery).toLocaleString('en-US')} | ${Math.round(pr.postingsPerQuery).toLocaleString('en-US')} (${((100 * pr.postingsPerQuery) / ex.postingsPerQuery).toFixed(1)}%) | ${fo.p50.toFixed(2)} / ${fo.p95.toFixed(2)} ms, ${((100 * fo.postingsPerQuery) / ex.postingsPerQuery).toFixed(1)}% | ${same}/${qs.length} |`,
      );
      process.stderr.write(`${rows[rows.length - 1]}\n`);
    }
    process.stderr.write(`${name} ${qname}: first pass (window bounds of ${qs.length} queries' terms computed) ${coldMs} ms wall, ${coldCpu.toFixed(0)} ms CPU\n`);
  }
  return rows;
}

async function main(): Promise<void> {
  if (!existsSync(path.join(out, 'pool.jsonl'))) throw new Error('run node --import tsx bench/bm25/makeData.ts first');
  const load0 = os.loadavg()[0]!.toFixed(2);
  const started = new Date().toISOString();
  const rows: string[] = [];
  const pool = skipPool ? undefined : (await Bm25Index.build(readCorpus(path.join(out, 'pool.jsonl')), { keepDocs: false })).index;
  if (pool !== undefined) rows.push(...(await bench('DL19 pool', pool)));
  if (!skip1m) {
    const dir = path.join(out, 'idx-synth-1m');
    const synth = existsSync(dir) ? await Bm25Index.open(dir) : (await Bm25Index.build(readCorpus(path.join(out, 'synth-1000000.jsonl')), { dir })).index;
    rows.push(...(await bench('synth 1M', synth)));
  }
  const header = [
    `Run ${started} – ${new Date().toISOString()}: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), Node ${process.version}; load average ${load0} at the start, ${os.loadavg()[0]!.toFixed(2)} at the end; ${rounds} timed rounds per query set.`,
    '',
    '| corpus | queries | k | exhaustive p50 / p95 ms | default (pruned ≤ 24 terms) p50 / p95 ms | CPU ms per query (exh. / default) | postings scored per query, exhaustive | default | MaxScore forced on every query: p50 / p95, postings | same hits, bit-identical scores (default and forced) |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  process.stdout.write([...header, ...rows].join('\n') + '\n');
}

void main();
