// Resuming an interrupted `qx index`: a full build of the synthetic corpus, then a build killed
// with SIGKILL once its progress passes --kill-at of the corpus bytes, then the same command again
// (which resumes). Full build and rerun run the bundled CLI (dist/cli.js) under /usr/bin/time for
// wall, CPU and peak RSS; the resumed index's files are compared byte for byte with the full
// build's (meta.json aside: it holds the build time). Prints a Markdown table for bench/RESULTS.md.
// Usage: node --import tsx bench/bm25/resume.ts [--docs 1000000] [--kill-at 0.5] [--segment-postings N]
// Needs bench/out/synth-<docs>.jsonl from bench/bm25/makeData.ts and `npm run build`.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(__dirname, '../..');
const out = path.join(root, 'bench/out');
const argv = process.argv.slice(2);
const arg = (name: string, d: number): number => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : d);
const docs = arg('--docs', 1_000_000);
const killAt = arg('--kill-at', 0.5);
const segmentPostings = argv.includes('--segment-postings') ? ['--segment-postings', String(arg('--segment-postings', 0))] : [];
const cli = path.join(root, 'dist/cli.js');
const corpus = path.join(out, `synth-${docs}.jsonl`);
const load = (): string => os.loadavg()[0]!.toFixed(1);

interface Timed {
  wall: number;
  cpu: number;
  rssMb: number;
  stdout: string;
  stderr: string;
  load: string;
}

function timedIndex(dir: string): Timed {
  const before = load();
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', process.execPath, cli, 'index', '--corpus', corpus, '--out', dir, ...segmentPostings], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`qx index --out ${dir}: ${r.stderr}`);
  const [wall, user, sys, rssKb] = r.stderr.trim().split('\n').at(-1)!.split(' ').map(Number) as [number, number, number, number];
  return { wall, cpu: user + sys, rssMb: rssKb / 1024, stdout: r.stdout, stderr: r.stderr, load: `${before}→${load()}` };
}

/** Starts a build of `dir` and kills it with SIGKILL once its progress bar passes `fraction` of the corpus megabytes. */
async function killedIndex(dir: string, fraction: number): Promise<{ seconds: number; at: string }> {
  const t0 = Date.now();
  const child = spawn(process.execPath, [cli, 'index', '--corpus', corpus, '--out', dir, ...segmentPostings], { stdio: ['ignore', 'ignore', 'pipe'] });
  let at = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => {
    for (const m of d.matchAll(/indexing: (\d+)\/(\d+) MB/g)) {
      if (at === '' && Number(m[1]) / Number(m[2]) >= fraction) {
        at = `${m[1]}/${m[2]} MB`;
        child.kill('SIGKILL');
      }
    }
  });
  await new Promise((r) => child.once('exit', r));
  if (at === '') throw new Error('the build finished before it could be killed');
  return { seconds: (Date.now() - t0) / 1000, at };
}

function currentFiles(dir: string): Map<string, Buffer> {
  const gen = path.join(dir, readFileSync(path.join(dir, 'CURRENT'), 'utf8').trim());
  return new Map(
    readdirSync(gen)
      .filter((n) => n !== 'meta.json')
      .map((n) => [n, readFileSync(path.join(gen, n))]),
  );
}

async function main(): Promise<void> {
  if (!existsSync(corpus)) throw new Error(`${corpus} is missing: node --import tsx bench/bm25/makeData.ts --docs ${docs}`);
  if (!existsSync(cli)) throw new Error('dist/cli.js is missing: npm run build');
  const started = new Date().toISOString();
  const fullDir = path.join(out, 'resume-full');
  const resumedDir = path.join(out, 'resume-killed');
  rmSync(fullDir, { recursive: true, force: true });
  rmSync(resumedDir, { recursive: true, force: true });
  process.stderr.write(`bench: full build (load ${load()})\n`);
  const full = timedIndex(fullDir);
  process.stderr.write(`bench: killed build (load ${load()})\n`);
  const killed = await killedIndex(resumedDir, killAt);
  process.stderr.write(`bench: rerun (load ${load()})\n`);
  const rerun = timedIndex(resumedDir);
  const reuse = /resumed an interrupted build: (\d+) documents reused, (\d+) analyzed/.exec(rerun.stdout);
  const line = /resuming: .*/.exec(rerun.stderr)?.[0] ?? '(no resume line)';
  const want = currentFiles(fullDir);
  const got = currentFiles(resumedDir);
  const differing = [...want.keys()].filter((n) => !got.get(n)?.equals(want.get(n)!));
  const extra = [...got.keys()].filter((n) => !want.has(n));
  const row = (label: string, t: Timed): string => `| ${label} | ${t.wall.toFixed(1)} s | ${t.cpu.toFixed(1)} s | ${t.rssMb.toFixed(0)} MB | ${t.load} |`;
  const lines = [
    `Run ${started} – ${new Date().toISOString()}: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), Node ${process.version}; ${docs.toLocaleString('en-US')} synthetic passages (${path.basename(corpus)}), pointer store${segmentPostings.length > 0 ? `, ${segmentPostings.join(' ')}` : ', default segment size'}.`,
    '',
    '| run | wall | CPU (user+sys) | peak RSS | load average |',
    '|---|---|---|---|---|',
    row('full build', full),
    `| killed (SIGKILL at ${killed.at}) | ${killed.seconds.toFixed(1)} s | – | – | – |`,
    row('rerun (resumes)', rerun),
    '',
    `Rerun: "${line}"; ${reuse === null ? 'nothing reused' : `${Number(reuse[1]).toLocaleString('en-US')} documents reused, ${Number(reuse[2]).toLocaleString('en-US')} analyzed`}. ` +
      `Index files vs the full build: ${differing.length === 0 && extra.length === 0 ? `all ${want.size} identical byte for byte (meta.json aside)` : `differ: ${[...differing, ...extra].join(', ')}`}.`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

void main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
