// Document store: `qx index` of the synthetic corpus with the texts copied into the index vs
// pointers into the corpus file, and from a gzipped tar of the same corpus as TSV (MS MARCO's
// collection.tar.gz layout). Each build runs the bundled CLI (dist/cli.js) under /usr/bin/time
// for wall, CPU and peak RSS; then the index folder size, open time and document read latency.
// Usage: node --import tsx bench/bm25/docStore.ts [--docs 1000000] [--skip-tgz] [--reads 2000]
// Needs bench/out/synth-<docs>.jsonl from bench/bm25/makeData.ts and `npm run build`.
import { execFileSync, spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { Bm25Index } from '../../src/core/bm25/bm25Index.js';
import { lineBatches } from '../../src/core/dataset/textFile.js';

const root = path.resolve(__dirname, '../..');
const out = path.join(root, 'bench/out');
const argv = process.argv.slice(2);
const arg = (name: string, d: number): number => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : d);
const docs = arg('--docs', 1_000_000);
const reads = arg('--reads', 2000);
const cli = path.join(root, 'dist/cli.js');
const jsonl = path.join(out, `synth-${docs}.jsonl`);

function du(dir: string): { total: number; store: number } {
  let total = 0;
  let store = 0;
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const s = statSync(p).size;
        total += s;
        if (e.name.startsWith('store.')) store += s;
      }
    }
  };
  walk(dir);
  return { total, store };
}

const mb = (b: number): string => `${(b / 1e6).toFixed(b < 1e7 ? 1 : 0)} MB`;
const load = (): string => os.loadavg()[0]!.toFixed(1);

/** The corpus as MS MARCO ships it: collection.tsv inside a gzipped tar (written with the system tar). */
async function makeTarGz(): Promise<string> {
  const dir = path.join(out, `tgz-${docs}`);
  const tgz = path.join(out, `synth-${docs}.tar.gz`);
  if (existsSync(tgz)) return tgz;
  rmSync(dir, { recursive: true, force: true });
  execFileSync('mkdir', ['-p', dir]);
  const tsv = createWriteStream(path.join(dir, 'collection.tsv'));
  for await (const batch of lineBatches(jsonl)) {
    const rows = batch.lines.filter((l) => l !== '').map((l) => {
      const o = JSON.parse(l) as { id: string; text: string };
      return `${o.id}\t${o.text}\n`;
    });
    if (!tsv.write(rows.join(''))) await new Promise<void>((r) => tsv.once('drain', () => r()));
  }
  await new Promise<void>((r) => tsv.end(() => r()));
  const tar = path.join(out, `synth-${docs}.tar`);
  execFileSync('tar', ['cf', tar, '-C', dir, 'collection.tsv']);
  await pipeline(createReadStream(tar), createGzip(), createWriteStream(tgz));
  rmSync(tar);
  rmSync(dir, { recursive: true, force: true });
  return tgz;
}

interface Build {
  label: string;
  wall: number;
  cpu: number;
  rssMb: number;
  size: { total: number; store: number };
  openMs: number;
  firstReadMs: number;
  p50us: number;
  p95us: number;
  loads: string;
}

async function build(label: string, corpus: string, extra: string[]): Promise<Build> {
  const dir = path.join(out, `idx-docstore-${label.replace(/\W+/g, '-')}`);
  rmSync(dir, { recursive: true, force: true });
  const before = load();
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', process.execPath, cli, 'index', '--corpus', corpus, '--out', dir, ...extra], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${label}: ${r.stderr}`);
  const [wall, user, sys, rssKb] = r.stderr.trim().split('\n').at(-1)!.split(' ').map(Number) as [number, number, number, number];
  const loads = `${before}→${load()}`;
  const size = du(dir);
  let t = performance.now();
  const index = await Bm25Index.open(dir);
  const openMs = performance.now() - t;
  let seed = 5;
  const ids = Array.from({ length: reads }, () => `s${(seed = (seed * 48271) % 2147483647) % docs}`);
  t = performance.now();
  await index.doc(ids[0]!);
  const firstReadMs = performance.now() - t;
  const times: number[] = [];
  for (const id of ids.slice(1)) {
    t = performance.now();
    const d = await index.doc(id);
    times.push((performance.now() - t) * 1000);
    if (d?.id !== id) throw new Error(`${label}: doc(${id}) returned ${d?.id}`);
  }
  await index.close();
  times.sort((a, b) => a - b);
  const q = (p: number): number => times[Math.min(times.length - 1, Math.floor(p * times.length))]!;
  return { label, wall, cpu: user + sys, rssMb: rssKb / 1024, size, openMs, firstReadMs, p50us: q(0.5), p95us: q(0.95), loads };
}

async function main(): Promise<void> {
  if (!existsSync(jsonl)) throw new Error(`missing ${jsonl}: run node --import tsx bench/bm25/makeData.ts --docs ${docs}`);
  if (!existsSync(cli)) throw new Error('missing dist/cli.js: run npm run build');
  const started = new Date().toISOString();
  const results: Build[] = [];
  results.push(await build('jsonl, pointer (default)', jsonl, []));
  results.push(await build('jsonl, --copy-docs', jsonl, ['--copy-docs']));
  let tgzSize = 0;
  if (!argv.includes('--skip-tgz')) {
    const tgz = await makeTarGz();
    tgzSize = statSync(tgz).size;
    results.push(await build('collection.tar.gz (copy)', tgz, []));
  }
  const lines = [
    `Run ${started} – ${new Date().toISOString()}: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), Node ${process.version}; synth ${docs.toLocaleString('en-US')} docs, corpus ${mb(statSync(jsonl).size)} JSONL${tgzSize ? `, ${mb(tgzSize)} tar.gz` : ''}; ${reads} random doc() reads.`,
    '',
    '| build | wall s | CPU s | peak RSS | index folder | of which document store | open ms | first doc() ms | doc() p50 / p95 µs | load avg (1 min) |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...results.map(
      (b) =>
        `| ${b.label} | ${b.wall.toFixed(1)} | ${b.cpu.toFixed(1)} | ${b.rssMb.toFixed(0)} MB | ${mb(b.size.total)} | ${mb(b.size.store)} | ${b.openMs.toFixed(0)} | ${b.firstReadMs.toFixed(1)} | ${b.p50us.toFixed(0)} / ${b.p95us.toFixed(0)} | ${b.loads} |`,
    ),
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

void main().catch((e: unknown) => {
  process.stderr.write(`${String((e as Error).stack ?? e)}\n`);
  process.exitCode = 1;
});
