// The full-collection-scale BM25 benchmark: qx vs Lucene 8 on seeded synthetic corpora of 1M and
// 8,841,823 passages (MS MARCO v1's size), drawn by makeData.ts; every step in its own process.
// Usage: npm run bench:bm25-scale [-- --sizes 1000000,8841823] [--only qx,lucene]
// Measures index build wall + CPU time, peak RSS while building, index size without the document
// store, open time, searcher RSS, original and query2doc-expanded query p50/p95 at top 1000 and
// top 10 (qx on one thread, then with two search threads), and whether the top 10 equals Lucene's.
// Writes bench/out/scale-results.json and prints
// the Markdown table of bench/RESULTS.md.
import { execSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { machineInfo, top10Parity } from './timing.js';

const root = path.resolve(__dirname, '../..');
const out = path.join(root, 'bench/out');
const argv = process.argv.slice(2);
const arg = (name: string): string | undefined => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : undefined);
const sizes = (arg('sizes') ?? '1000000,8841823').split(',').map(Number);
const only = arg('only')?.split(',');
const FULL = 8_841_823;

type Row = Record<string, unknown>;

function sh(cmd: string): string {
  try {
    return execSync(cmd, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

/** synth-N.jsonl: drawn by makeData.ts (seed 7); the first N lines of a larger draw are the same documents. */
function corpus(size: number): string {
  const file = path.join(out, `synth-${size}.jsonl`);
  if (existsSync(file)) return file;
  const larger = [...sizes, FULL].filter((s) => s > size && existsSync(path.join(out, `synth-${s}.jsonl`)))[0];
  if (larger !== undefined) execSync(`head -n ${size} ${JSON.stringify(path.join(out, `synth-${larger}.jsonl`))} > ${JSON.stringify(file)}.tmp && mv ${JSON.stringify(file)}.tmp ${JSON.stringify(file)}`);
  else spawnSync(process.execPath, ['--import', 'tsx', path.join(__dirname, 'makeData.ts'), '--docs', String(size)], { stdio: 'inherit', cwd: root });
  return file;
}

function step(label: string, cmd: string, args: string[]): Row {
  process.stderr.write(`bench: ${label} ... (load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')})\n`);
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', timeout: 3 * 3_600_000, stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26 });
  const line = r.stdout?.trim().split('\n').pop();
  if (r.status !== 0 || !line) {
    process.stderr.write(`bench: ${label} failed (${r.error?.message ?? `exit ${r.status}`})\n`);
    return { failed: r.error?.message ?? `exit ${r.status}` };
  }
  process.stderr.write(`bench: ${label}: ${line} (${((Date.now() - t0) / 1000).toFixed(0)} s, load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')})\n`);
  return { ...(JSON.parse(line) as Row), load_after: os.loadavg().map((x) => +x.toFixed(1)) };
}

async function main(): Promise<void> {
  if (!existsSync(path.join(out, 'exp.tsv'))) spawnSync(process.execPath, ['--import', 'tsx', path.join(__dirname, 'makeData.ts'), '--docs', '1000'], { stdio: 'inherit', cwd: root });
  const queries = [path.join(out, 'orig.tsv'), path.join(out, 'exp.tsv')];
  mkdirSync(path.join(out, 'java'), { recursive: true });
  const java = sh('command -v javac') !== '' && existsSync('/usr/share/java');
  if (java) execSync(`javac -cp "/usr/share/java/*" -d ${path.join(out, 'java')} ${path.join(__dirname, 'LuceneBench.java')}`, { cwd: root });
  const machine = machineInfo();
  const rows: Row[] = [];
  for (const size of sizes) {
    const file = corpus(size);
    const name = size === FULL ? 'synth8.8m' : `synth${size >= 1e6 ? `${size / 1e6}m` : `${size / 1e3}k`}`;
    if (!only || only.includes('qx')) {
      const dir = path.join(out, `idx-qx-${name}`);
      rmSync(dir, { recursive: true, force: true });
      const b = step(`qx build ${name}`, process.execPath, ['--import', 'tsx', path.join(__dirname, 'qxScale.ts'), 'build', file, dir]);
      const s = b.failed ? {} : step(`qx search ${name}`, process.execPath, ['--import', 'tsx', path.join(__dirname, 'qxScale.ts'), 'search', dir, name, ...queries]);
      rows.push({ engine: 'qx', corpus: name, build: b, search: s });
      if (s.threads2 !== undefined) rows.push({ engine: 'qx, 2 search threads', corpus: name, build: {}, search: s.threads2 });
      if (!argv.includes('--keep')) rmSync(dir, { recursive: true, force: true });
    }
    if (java && (!only || only.includes('lucene'))) {
      const dir = path.join(out, `idx-lucene-${name}`);
      rmSync(dir, { recursive: true, force: true });
      const cp = `${path.join(out, 'java')}:/usr/share/java/*`;
      const b = step(`lucene build ${name}`, 'java', ['-Xmx8g', '-Dmode=build', '-cp', cp, 'LuceneBench', file, name, dir, ...queries]);
      const s = b.failed ? {} : step(`lucene search ${name}`, 'java', ['-Xmx8g', '-Dmode=search', '-cp', cp, 'LuceneBench', file, name, dir, ...queries]);
      rows.push({ engine: 'lucene', corpus: name, build: b, search: s });
      if (!argv.includes('--keep')) rmSync(dir, { recursive: true, force: true });
    }
    const parity: Row = {};
    for (const q of ['orig', 'exp']) parity[q] = await top10Parity(path.join(out, 'runs', `qx.${name}.${q}.txt`), path.join(out, 'runs', `lucene.${name}.${q}.txt`));
    rows.push({ engine: 'parity', corpus: name, parity });
  }
  writeFileSync(path.join(out, 'scale-results.json'), JSON.stringify({ machine, rows }, null, 2));
  const v = (r: Row, part: string, key: string, sub?: string): string => {
    const x = (r[part] as Row | undefined)?.[key];
    const y = sub === undefined ? x : (x as Row | undefined)?.[sub];
    return y === undefined || y === null ? '–' : String(y);
  };
  const lines = [
    `Machine: ${machine.nproc} cores (${machine.cpu}), ${machine.ram_gb} GB RAM, Node ${machine.node}, ${machine.java}; load average at start ${machine.loadavg_at_start.join(' ')}; ${machine.date}`,
    '',
    '| corpus | engine | build s (CPU s) | peak RSS building MB | index MB (no doc store) | open ms | searcher RSS MB | orig top1000 p50 / p95 ms | exp top1000 p50 / p95 ms | orig top10 p50 / p95 ms | exp top10 p50 / p95 ms |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows.filter((x) => x.engine !== 'parity')) {
    lines.push(
      `| ${String(r.corpus)} | ${String(r.engine)} | ${v(r, 'build', 'build_s')} (${v(r, 'build', 'build_cpu_s')}) | ${v(r, 'build', 'peak_rss_build_mb')} | ${v(r, 'build', 'index_mb')} | ${v(r, 'search', 'open_ms')} | ${v(r, 'search', 'peak_rss_mb')} | ` +
        ['orig', 'exp', 'orig_top10', 'exp_top10'].map((q) => `${v(r, 'search', q, 'p50_ms')} / ${v(r, 'search', q, 'p95_ms')}`).join(' | ') +
        ' |',
    );
  }
  lines.push('');
  for (const r of rows.filter((x) => x.engine === 'parity')) lines.push(`Top 10 identical to Lucene's (${String(r.corpus)}): ${JSON.stringify(r.parity)}`);
  process.stdout.write(lines.join('\n') + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
