// One qx step of the scale benchmark in its own process (so its peak RSS is that step's alone).
// Prints one JSON line.
//   build CORPUS.jsonl INDEXDIR [THREADS]  — qx's on-disk build (segments, worker threads)
//   search INDEXDIR NAME QUERIES.tsv...    — open the index, search each file at top 1000 and top 10,
//                                            on one thread, then with two search threads;
//                                            writes bench/out/runs/qx[2t].NAME.<queries>[_top10].txt
import { mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { Bm25Index } from '../../src/core/bm25/bm25Index.js';
import { corpusForIndex } from '../../src/core/bm25/docStore.js';
import { timeQueries } from './timing.js';

const mb = (bytes: number): number => +(bytes / 2 ** 20).toFixed(1);
const cpuS = (): number => {
  const u = process.resourceUsage();
  return (u.userCPUTime + u.systemCPUTime) / 1e6;
};

/** Bytes of the index generation without the document store (store.jsonl, store.off). */
function indexBytes(dir: string): number {
  const gen = path.join(dir, readFileSync(path.join(dir, 'CURRENT'), 'utf8').trim());
  return readdirSync(gen)
    .filter((f) => !f.startsWith('store.'))
    .reduce((s, f) => s + statSync(path.join(gen, f)).size, 0);
}

async function build(corpus: string, dir: string, threads?: number): Promise<Record<string, unknown>> {
  const t0 = performance.now();
  let last = 0;
  // As `qx index --corpus FILE` does: one plain corpus file gets the pointer store (no copy of
  // the texts; Lucene's index here stores only the id), progress in MB of the file with an ETA.
  const { docs, plan, onProgress } = await corpusForIndex([corpus], undefined, {
    onProgress: (p) => {
      if (Date.now() - last > 30_000) {
        last = Date.now();
        process.stderr.write(`qx build: ${p.done}${p.unit === 'MB' ? ` of ${p.total} MB` : ''} ${p.message ?? ''} rss ${mb(process.memoryUsage().rss)} MB\n`);
      }
    },
  });
  const { index, report } = await Bm25Index.build(docs, {
    dir,
    store: plan,
    ...(threads === undefined ? {} : { threads }),
    ...(onProgress === undefined ? {} : { onProgress }),
  });
  const buildS = (performance.now() - t0) / 1000;
  await index.close();
  return { engine: 'qx', build_s: +buildS.toFixed(1), build_cpu_s: +cpuS().toFixed(1), peak_rss_build_mb: Math.round(process.resourceUsage().maxRSS / 1024), docs: report.numDocs, index_mb: mb(indexBytes(dir)) };
}

/** Times every query file at top 1000 and top 10 into `into`, writing runs named `<prefix>.NAME.<key>.txt`. */
function searchFiles(index: Bm25Index, name: string, files: string[], prefix: string, into: Record<string, unknown>): void {
  const runs = path.resolve(__dirname, '../out/runs');
  mkdirSync(runs, { recursive: true });
  for (const qf of files) {
    const qs = readFileSync(qf, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => [l.slice(0, l.indexOf('\t')), l.slice(l.indexOf('\t') + 1)] as const);
    for (const k of [1000, 10]) {
      const key = path.basename(qf, '.tsv') + (k === 1000 ? '' : `_top${k}`);
      into[key] = timeQueries(qs, (q) => index.searchSync(q, k), path.join(runs, `${prefix}.${name}.${key}.txt`), 'qx');
      // Hits of a multi-thread run must equal the one-thread run's, line for line.
      if (prefix !== 'qx') into[`${key}_same_as_1t`] = readFileSync(path.join(runs, `${prefix}.${name}.${key}.txt`), 'utf8') === readFileSync(path.join(runs, `qx.${name}.${key}.txt`), 'utf8');
    }
  }
}

async function search(dir: string, name: string, files: string[]): Promise<Record<string, unknown>> {
  const o0 = performance.now();
  const index = await Bm25Index.open(dir);
  const openMs = performance.now() - o0;
  const result: Record<string, unknown> = { engine: 'qx', corpus: name, open_ms: +openMs.toFixed(1), rss_after_open_mb: mb(process.memoryUsage().rss) };
  searchFiles(index, name, files, 'qx', result);
  result.searcher_rss_mb = mb(process.memoryUsage().rss);
  result.peak_rss_mb = Math.round(process.resourceUsage().maxRSS / 1024);
  // The same searches with two search threads (as `qx search` and live re-scoring run them).
  const t0 = performance.now();
  const threads = await index.startSearchThreads(2);
  const two: Record<string, unknown> = { threads, start_ms: +(performance.now() - t0).toFixed(1) };
  searchFiles(index, name, files, 'qx2t', two);
  two.peak_rss_mb = Math.round(process.resourceUsage().maxRSS / 1024);
  two.open_ms = result.open_ms;
  result.threads2 = two;
  await index.close();
  return result;
}

async function main(): Promise<void> {
  const [mode, ...rest] = process.argv.slice(2);
  const out =
    mode === 'build' ? await build(rest[0]!, rest[1]!, rest[2] === undefined ? undefined : Number(rest[2])) : mode === 'search' ? await search(rest[0]!, rest[1]!, rest.slice(2)) : undefined;
  if (out === undefined) throw new Error('usage: qxScale.ts build CORPUS DIR [THREADS] | search DIR NAME QUERIES...');
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
