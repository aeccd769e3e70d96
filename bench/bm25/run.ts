// The BM25 engine benchmark: qx vs MiniSearch vs wink-bm25-text-search vs Lucene 8, each engine in
// its own child process, on the DL19 pool and on seeded synthetic corpora (100k, 1M passages).
// Usage: npm run bench:bm25 [-- --skip-1m] [--only qx,lucene]
// Writes bench/out/results.json and prints the Markdown tables of bench/RESULTS.md.
import { execSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Bm25Index } from '../../src/core/bm25/bm25Index.js';
import { readCorpus } from '../../src/core/dataset/corpus.js';
import { readQrels } from '../../src/core/dataset/qrels.js';
import { readRun } from '../../src/core/dataset/runs.js';
import type { RunHit } from '../../src/core/dataset/types.js';
import { evaluate } from '../../src/core/eval/evaluate.js';
import { ndcgAt } from '../../src/core/eval/measures.js';
import { machineInfo, top10Parity } from './timing.js';

const root = path.resolve(__dirname, '../..');
const out = path.join(root, 'bench/out');
const qrelsFile = path.resolve(root, 'test/fixtures/data/trec-dl-topics-qrels/qrels.dl19-passage.txt');
const argv = process.argv.slice(2);
const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1]!.split(',') : undefined;
const skip1m = argv.includes('--skip-1m');

type Row = Record<string, unknown> & { engine: string; corpus: string };

function sh(cmd: string): string {
  try {
    return execSync(cmd, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

function ensureData(): void {
  if (!existsSync(path.join(out, 'synth-1000000.jsonl')) || !existsSync(path.join(out, 'pool.jsonl'))) {
    spawnSync(process.execPath, ['--import', 'tsx', path.join(__dirname, 'makeData.ts'), '--docs', '1000000'], { stdio: 'inherit', cwd: root });
  }
  const p100k = path.join(out, 'synth-100000.jsonl');
  if (!existsSync(p100k)) execSync(`head -n 100000 ${JSON.stringify(path.join(out, 'synth-1000000.jsonl'))} > ${JSON.stringify(p100k)}`);
}

function javaReady(): boolean {
  const hasLucene = existsSync('/usr/share/java') && sh('ls /usr/share/java').split('\n').some((f) => f.startsWith('lucene-core'));
  if (!sh('command -v javac') || !hasLucene) return false;
  mkdirSync(path.join(out, 'java'), { recursive: true });
  execSync(`javac -cp "/usr/share/java/*" -d ${path.join(out, 'java')} ${path.join(__dirname, 'LuceneBench.java')}`, { cwd: root });
  return true;
}

function runEngine(engine: string, corpus: string, name: string): Row {
  const queries = [path.join(out, 'orig.tsv'), path.join(out, 'exp.tsv')];
  process.stderr.write(`bench: ${engine} on ${name} ...\n`);
  const r =
    engine === 'lucene'
      ? spawnSync('java', ['-Xmx8g', '-cp', `${path.join(out, 'java')}:/usr/share/java/*`, 'LuceneBench', corpus, name, path.join(out, `idx-lucene-${name}`), ...queries], {
          cwd: root,
          encoding: 'utf8',
          timeout: 3_600_000,
        })
      : spawnSync(process.execPath, [...(engine === 'qx' ? [] : ['--max-old-space-size=16000']), '--import', 'tsx', path.join(__dirname, 'engine.ts'), engine, corpus, name, ...queries], {
          cwd: root,
          encoding: 'utf8',
          timeout: 3_600_000,
        });
  if (engine === 'lucene') rmSync(path.join(out, `idx-lucene-${name}`), { recursive: true, force: true });
  const line = r.stdout?.trim().split('\n').pop();
  if (r.status !== 0 || !line) {
    const why = r.error ? String(r.error.message) : (r.stderr ?? '').trim().split('\n').slice(-2).join(' ');
    process.stderr.write(`bench: ${engine} on ${name} failed: ${why}\n`);
    return { engine, corpus: name, failed: why.slice(0, 200) };
  }
  process.stderr.write(`bench: ${line}\n`);
  return JSON.parse(line) as Row;
}

async function poolQuality(rows: Row[]): Promise<void> {
  const qrels = await readQrels(qrelsFile);
  for (const row of rows.filter((r) => r.corpus === 'pool' && !r.failed)) {
    for (const q of ['orig', 'exp']) {
      const run = await readRun(path.join(out, 'runs', `${row.engine}.pool.${q}.txt`));
      row[`ndcg10_${q}`] = +evaluate(qrels, run, ['ndcg_cut.10'], { complete: true }).mean['ndcg_cut_10']!.toFixed(4);
    }
  }
}

/** Lucene parity: identical top-10 docids per query after trec_eval ordering. */
async function top10ParityOf(corpus: string): Promise<Record<string, string>> {
  const res: Record<string, string> = {};
  for (const q of ['orig', 'exp']) {
    const same = await top10Parity(path.join(out, 'runs', `qx.${corpus}.${q}.txt`), path.join(out, 'runs', `lucene.${corpus}.${q}.txt`));
    if (same !== undefined) res[q] = same;
  }
  return res;
}

/** The review loop: re-score one edited expansion = search the pool + nDCG@10 of that query. */
async function rescoreLatency(): Promise<Record<string, number>> {
  const { index } = await Bm25Index.build(readCorpus(path.join(out, 'pool.jsonl')), { keepDocs: false });
  const qrels = await readQrels(qrelsFile);
  const exps = readFileSync(path.join(out, 'exp.tsv'), 'utf8').split('\n').filter((l) => l !== '').map((l) => l.split('\t') as [string, string]);
  const times: number[] = [];
  for (let rep = 0; rep < 6; rep++) {
    for (const [qid, text] of exps) {
      const edited = rep === 0 ? text : `${text} edit${rep}`;
      const s = performance.now();
      ndcgAt(index.searchSync(edited, 1000), qrels.get(qid), 10);
      if (rep > 0) times.push(performance.now() - s);
    }
  }
  times.sort((x, y) => x - y);
  const pct = (p: number): number => +times[Math.ceil((p / 100) * times.length) - 1]!.toFixed(2);
  return { p50_ms: pct(50), p95_ms: pct(95), max_ms: +times[times.length - 1]!.toFixed(2), n: times.length };
}

function fmt(v: unknown): string {
  return v === undefined || v === null ? '–' : typeof v === 'number' ? String(v) : String(v);
}

async function main(): Promise<void> {
  ensureData();
  const java = javaReady();
  const machine = machineInfo();
  const plan: [string, string, string[]][] = [
    ['pool', path.join(out, 'pool.jsonl'), ['qx', 'minisearch', 'wink', 'lucene']],
    ['synth100k', path.join(out, 'synth-100000.jsonl'), ['qx', 'minisearch', 'wink', 'lucene']],
    // wink keeps every posting as JS objects: at 1M passages it needs far more than the machine's memory budget allows in reasonable time.
    ...(skip1m ? [] : ([['synth1m', path.join(out, 'synth-1000000.jsonl'), ['qx', 'lucene', 'minisearch']]] as [string, string, string[]][])),
  ];
  const rows: Row[] = [];
  for (const [name, file, engines] of plan) {
    for (const e of engines) {
      if (only && !only.includes(e)) continue;
      if (e === 'lucene' && !java) {
        rows.push({ engine: e, corpus: name, failed: 'javac or no lucene-core jar in /usr/share/java (apt-get install liblucene8-java default-jdk-headless)' });
        continue;
      }
      rows.push(runEngine(e, file, name));
    }
  }
  await poolQuality(rows);
  const parity = { pool: await top10ParityOf('pool'), synth1m: await top10ParityOf('synth1m') };
  const rescore = await rescoreLatency();
  writeFileSync(path.join(out, 'results.json'), JSON.stringify({ machine, rows, parity, rescore }, null, 2));

  const lines: string[] = [];
  lines.push(`Machine: ${machine.nproc} cores (${machine.cpu}), ${machine.ram_gb} GB RAM, Node ${machine.node}, ${machine.java}; load average at start ${machine.loadavg_at_start.join(' ')}; ${machine.date}`);
  lines.push('');
  lines.push('| corpus | engine | build s (CPU s) | index MB | peak RSS MB | orig p50 / p95 ms | exp p50 / p95 ms | exp CPU p50 ms | nDCG@10 orig | nDCG@10 exp |');
  lines.push('|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const o = (r.orig ?? {}) as Record<string, number>;
    const x = (r.exp ?? {}) as Record<string, number>;
    if (r.failed) {
      lines.push(`| ${r.corpus} | ${r.engine} | failed: ${String(r.failed)} | | | | | | | |`);
      continue;
    }
    lines.push(
      `| ${r.corpus} | ${r.engine} | ${fmt(r.build_s)} (${fmt(r.build_cpu_s)}) | ${fmt(r.index_mb)} | ${fmt(r.peak_rss_mb)} | ${fmt(o.p50_ms)} / ${fmt(o.p95_ms)} | ${fmt(x.p50_ms)} / ${fmt(x.p95_ms)} | ${fmt(x.cpu_p50_ms)} | ${fmt(r.ndcg10_orig)} | ${fmt(r.ndcg10_exp)} |`,
    );
  }
  lines.push('');
  lines.push(`Lucene parity (identical top-10 after trec_eval ordering): pool ${JSON.stringify(parity.pool)}, synth1m ${JSON.stringify(parity.synth1m)}`);
  lines.push(`Re-score one edited expansion on the DL19 pool (search top-1000 + nDCG@10): p50 ${rescore.p50_ms} ms, p95 ${rescore.p95_ms} ms, max ${rescore.max_ms} ms over ${rescore.n}`);
  process.stdout.write(lines.join('\n') + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
