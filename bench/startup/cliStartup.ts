// Bundle sizes and start-up time of the built CLI: `node dist/cli.js --help` and `qx eval` on the
// DL19 sample (qrels scored against a run made from themselves), each run N times in a fresh
// process. Build first (npm run build). Usage: node --import tsx bench/startup/cliStartup.ts [--runs 10] [--dist DIR]
// (--dist: another build to compare, e.g. a copy of dist/ from before a change).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const repo = resolve(__dirname, '../..');
function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const dist = resolve(arg('dist') ?? join(repo, 'dist'));
const cli = join(dist, 'cli.js');
const runs = Number(arg('runs') ?? 10);

/** Wall time of `node ...argv` in a fresh process, `runs` times, sorted. */
function time(argv: string[]): number[] {
  const ms: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint();
    const p = spawnSync(process.execPath, argv, { encoding: 'utf8' });
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (p.status !== 0) throw new Error(`node ${argv.join(' ')} exited ${p.status}: ${p.stderr}`);
  }
  return ms.sort((a, b) => a - b);
}

function summary(ms: number[]): string {
  const median = ms.length % 2 === 1 ? ms[(ms.length - 1) / 2]! : (ms[ms.length / 2 - 1]! + ms[ms.length / 2]!) / 2;
  return `median ${median.toFixed(0)} ms (min ${ms[0]!.toFixed(0)}, max ${ms[ms.length - 1]!.toFixed(0)}, ${ms.length} runs)`;
}

const tmp = mkdtempSync(join(tmpdir(), 'qx-startup-'));
try {
  const qrels = join(repo, 'samples/dl19/qrels.dl19-passage.txt');
  const run = join(tmp, 'run.txt');
  const qrelsLines = readFileSync(qrels, 'utf8').split('\n').filter((l) => l.trim() !== '');
  const runLines = qrelsLines.map((l, k) => {
    const [qid, , doc, rel] = l.trim().split(/\s+/);
    return `${qid} Q0 ${doc} ${k + 1} ${Number(rel) + 1 / (k + 1)} self`;
  });
  writeFileSync(run, `${runLines.join('\n')}\n`);

  console.log(`${dist}: Node ${process.version}, ${cpus().length} cores, load average ${loadavg()[0]!.toFixed(1)}`);
  for (const f of readdirSync(dist).filter((f) => f.endsWith('.js')).sort()) {
    console.log(`${f.padEnd(24)} ${(statSync(join(dist, f)).size / 1e6).toFixed(2)} MB`);
  }
  time([cli, '--help']); // warm the file cache
  const chunk = join(dist, 'tokenizer-qwen3.js');
  // What the first count of a run without server usage costs: load the tokenizer bundle, count once.
  const count = `require(${JSON.stringify(chunk)}).fromPreTrained().encode('how long is the life cycle of a flea', { add_special_tokens: false })`;
  const rows: [string, string[] | undefined][] = [
    ['node -e 0 (Node alone)', ['-e', '0']],
    ['require dist/workspace.js', ['-e', `require(${JSON.stringify(join(dist, 'workspace.js'))})`]],
    ['node dist/cli.js --help', [cli, '--help']],
    ['node dist/cli.js eval QRELS RUN', [cli, 'eval', qrels, run]],
    ['load dist/tokenizer-qwen3.js + count', existsSync(chunk) ? ['-e', count] : undefined],
  ];
  for (const [label, argv] of rows) if (argv !== undefined) console.log(`${label.padEnd(38)} ${summary(time(argv))}`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
