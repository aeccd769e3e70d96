// Local ONNX judge throughput on tiny models built here (no download): what the judge itself costs
// per judgment (tokenization, onnxruntime call, log-softmax, cache write) on DL19 (query, passage)
// pairs, beside a rerun from the cache. A real model's own compute comes on top.
// Usage: npm run bench:judge [-- --items 1000 --rounds 3]
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ExpansionCache } from '../../src/core/expansion/cache.js';
import { OnnxJudge } from '../../src/core/judge/onnxJudge.js';
import { type JudgeItem, runJudgments } from '../../src/core/judge/runner.js';
import { loadJudgeTemplate } from '../../src/core/judge/template.js';
import { writeTinyCrossEncoder, writeTinyJudgeLm } from '../../test/fixtures/llm/tinyJudgeModels.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

/** The first `n` judged (query, passage) pairs of the DL19 sample, in qrels order. */
function dl19Items(n: number): JudgeItem[] {
  const sample = resolve(__dirname, '../../samples/dl19');
  const docs = new Map<string, string>();
  for (const line of readFileSync(join(sample, 'corpus.dl19-pool.jsonl'), 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const d = JSON.parse(line) as { id: string; title?: string; text: string };
    docs.set(d.id, d.title ? `${d.title}\n${d.text}` : d.text);
  }
  const queries = new Map(readFileSync(join(sample, 'topics.dl19-passage.txt'), 'utf8').trim().split('\n').map((l) => l.split('\t') as [string, string]));
  const items: JudgeItem[] = [];
  for (const line of readFileSync(join(sample, 'qrels.dl19-passage.txt'), 'utf8').split('\n')) {
    const [qid, , docid] = line.trim().split(/\s+/);
    const text = docid === undefined ? undefined : docs.get(docid);
    const query = qid === undefined ? undefined : queries.get(qid);
    if (text !== undefined && query !== undefined) items.push({ qid: qid as string, query, docid: docid as string, text });
    if (items.length === n) break;
  }
  return items;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function main(): Promise<void> {
  const n = arg('items', 1000);
  const rounds = arg('rounds', 3);
  const dir = await mkdtemp(join(tmpdir(), 'qx-bench-judge-'));
  const items = dl19Items(n);
  const binary = await loadJudgeTemplate('judge-binary');
  const ce = await writeTinyCrossEncoder(dir, 'tiny-ce', 2);
  const lm = await writeTinyJudgeLm(dir);
  const signal = new AbortController().signal;
  const configs = [
    { name: 'cross-encoder, batch 1', path: ce, batchSize: 1 },
    { name: 'cross-encoder, batch 16', path: ce, batchSize: 16 },
    { name: 'causal LM (26-token vocabulary)', path: lm, batchSize: 1 },
  ];
  console.log(`${items.length} DL19 (query, passage) pairs, ${rounds} rounds, ${cpus().length} cores, load average ${loadavg()[0]!.toFixed(1)} at start`);
  console.log('| judge | judgments/s wall (median) | CPU ms per judgment | rerun from cache (s, 0 model calls) |');
  console.log('|---|---|---|---|');
  try {
    for (const c of configs) {
      const rates: number[] = [];
      const cpuPer: number[] = [];
      const reruns: number[] = [];
      for (let r = 0; r < rounds; r++) {
        const cache = new ExpansionCache(join(dir, `cache-${c.name}-${r}`));
        const judge = new OnnxJudge({ modelPath: c.path, batchSize: c.batchSize });
        // Load the model outside the timing: one judgment warms it up.
        await judge.judge([{ key: 'warm', messages: [{ role: 'user', content: 'flea' }], pair: { query: 'flea', document: 'flea' } }], { signal, labels: ['No', 'Yes'] });
        const cpu = process.cpuUsage();
        const start = process.hrtime.bigint();
        const res = await runJudgments({ judge, template: binary, items, cache, signal });
        const wall = Number(process.hrtime.bigint() - start) / 1e9;
        const used = process.cpuUsage(cpu);
        if (res.judged !== items.length) throw new Error(`${c.name}: ${res.judged} of ${items.length} judged`);
        rates.push(items.length / wall);
        cpuPer.push((used.user + used.system) / 1000 / items.length);
        const again = process.hrtime.bigint();
        const re = await runJudgments({ judge, template: binary, items, cache, signal });
        if (re.judged !== 0) throw new Error('the rerun called the model');
        reruns.push(Number(process.hrtime.bigint() - again) / 1e9);
      }
      console.log(`| ${c.name} | ${median(rates).toFixed(0)} (${rates.map((x) => x.toFixed(0)).join(', ')}) | ${median(cpuPer).toFixed(2)} | ${median(reruns).toFixed(2)} |`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  console.log(`load average ${loadavg()[0]!.toFixed(1)} at end`);
}

void main();
