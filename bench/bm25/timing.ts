// Shared by the BM25 benchmarks: time each query (wall and CPU), write its hits as a TREC run, and
// compare two runs' top 10.
import { execSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { readRun } from '../../src/core/dataset/runs.js';
import type { RunHit } from '../../src/core/dataset/types.js';
import { sortLikeTrecEval } from '../../src/core/eval/trecOrder.js';

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

/**
 * Runs `search` on every query after five warm-up queries (V8 optimizes hot functions within a
 * few calls), writes the hits to `runFile` tagged `tag`, and returns p50/p95/mean wall ms and
 * the median CPU ms.
 */
export function timeQueries(qs: readonly (readonly [string, string])[], search: (q: string) => RunHit[], runFile: string, tag: string): Record<string, number> {
  for (const [, q] of qs.slice(0, 5)) search(q);
  const times: number[] = [];
  const cpu: number[] = [];
  const lines: string[] = [];
  for (const [qid, q] of qs) {
    const s = performance.now();
    const c = process.cpuUsage();
    const hits = search(q);
    times.push(performance.now() - s);
    const dc = process.cpuUsage(c);
    cpu.push((dc.user + dc.system) / 1000);
    hits.forEach((h, i) => lines.push(`${qid} Q0 ${h.docid} ${i + 1} ${h.score} ${tag}`));
  }
  times.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  writeFileSync(runFile, lines.join('\n') + '\n');
  return { p50_ms: +pct(times, 50).toFixed(2), p95_ms: +pct(times, 95).toFixed(2), mean_ms: +(times.reduce((s, t) => s + t, 0) / times.length).toFixed(2), cpu_p50_ms: +pct(cpu, 50).toFixed(2) };
}

/**
 * Lucene parity: for how many of run B's queries run A has the same top-10 docids after
 * trec_eval ordering of float32 scores; "same/total", or undefined when a run file is missing.
 */
export async function top10Parity(a: string, b: string): Promise<string | undefined> {
  if (!existsSync(a) || !existsSync(b)) return undefined;
  const [ra, rb] = [await readRun(a), await readRun(b)];
  const top = (h: RunHit[] | undefined): string =>
    sortLikeTrecEval((h ?? []).map((x) => ({ ...x, score: Math.fround(x.score) })))
      .slice(0, 10)
      .map((x) => x.docid)
      .join(' ');
  let same = 0;
  for (const [qid, hits] of rb) if (top(ra.get(qid)) === top(hits)) same++;
  return `${same}/${rb.size}`;
}

/** The machine a benchmark ran on, and its load average now. */
export function machineInfo(): { nproc: number; cpu: string; ram_gb: number; node: string; java: string; loadavg_at_start: number[]; date: string } {
  let java = '';
  try {
    java = execSync('java -version 2>&1 | head -1', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    java = '';
  }
  return {
    nproc: os.cpus().length,
    cpu: os.cpus()[0]?.model ?? '?',
    ram_gb: +(os.totalmem() / 2 ** 30).toFixed(1),
    node: process.version,
    java,
    loadavg_at_start: os.loadavg().map((x) => +x.toFixed(1)),
    date: new Date().toISOString(),
  };
}
