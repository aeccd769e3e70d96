// Writes the benchmark inputs into bench/out/: the DL19 pool as JSONL, the 43 DL19 queries and
// their query2doc expansions as plain qid<TAB>text files, and a seeded synthetic corpus whose
// passages are drawn from the pool's real token and length distributions.
// Usage: node --import tsx bench/bm25/makeData.ts [--docs 1000000] [--seed 7]
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { standardTokens } from '../../src/core/bm25/analyzer.js';
import { mulberry32 } from '../../src/core/random.js';

const root = path.resolve(__dirname, '../..');
const data = path.resolve(root, 'test/fixtures/data');
const out = path.join(root, 'bench/out');
mkdirSync(out, { recursive: true });

const argv = process.argv.slice(2);
const arg = (name: string, fallback: number): number => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const numDocs = arg('docs', 1_000_000);
const seed = arg('seed', 7);

const pool = new Map<string, string>();
for (const f of ['retrieve_results_dl19.json', 'BM25_RM3/retrieve_results_dl19.json']) {
  const queries = JSON.parse(readFileSync(path.join(data, 'msmarco-dl-bm25-top100-rankllm', f), 'utf8')) as { hits: { docid: string; content: string }[] }[];
  for (const q of queries) for (const h of q.hits) if (!pool.has(h.docid)) pool.set(h.docid, h.content);
}
writeFileSync(path.join(out, 'pool.jsonl'), [...pool].map(([id, text]) => JSON.stringify({ id, text })).join('\n') + '\n');

const clean = (s: string): string => s.replace(/[\t\r\n]+/g, ' ').trim();
const topics = readFileSync(path.join(data, 'trec-dl-topics-qrels/topics.dl19-passage.txt'), 'utf8').split('\n').filter((l) => l.trim() !== '');
writeFileSync(path.join(out, 'orig.tsv'), topics.map((l) => l.trim()).join('\n') + '\n');
const q2d = parse(
  readFileSync(path.join(data, 'querygym-llm-expansions-dl/runs/msmarco-v1-passage.trecdl2019/query2doc/Qwen/Qwen2.5-72B-Instruct/bm25/0656857b.queries.tsv'), 'utf8'),
  { delimiter: '\t', relax_quotes: true },
) as string[][];
writeFileSync(path.join(out, 'exp.tsv'), q2d.map((r) => `${r[0]}\t${clean(r[1]!)}`).join('\n') + '\n');

// Token unigram distribution (surface forms, so every engine analyzes real words) and lengths.
const counts = new Map<string, number>();
const lengths: number[] = [];
for (const text of pool.values()) {
  const toks = standardTokens(text);
  lengths.push(toks.length);
  for (const t of toks) counts.set(t.text, (counts.get(t.text) ?? 0) + 1);
}
const vocab = [...counts.keys()];
const cumulative = new Float64Array(vocab.length);
let total = 0;
vocab.forEach((t, i) => {
  total += counts.get(t)!;
  cumulative[i] = total;
});

const rand = mulberry32(seed);
const pickToken = (): string => {
  const x = rand() * total;
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cumulative[mid]! > x) hi = mid;
    else lo = mid + 1;
  }
  return vocab[lo]!;
};

const file = path.join(out, `synth-${numDocs}.jsonl`);
// Written synchronously in 1 MB pieces (a stream would buffer the whole corpus: the loop never
// yields), to a temporary name first so a killed run never leaves a truncated corpus behind.
const fd = openSync(`${file}.tmp`, 'w');
let buffer = '';
for (let d = 0; d < numDocs; d++) {
  const len = lengths[Math.floor(rand() * lengths.length)]!;
  const words: string[] = new Array<string>(len);
  for (let i = 0; i < len; i++) words[i] = pickToken();
  buffer += JSON.stringify({ id: `s${d}`, text: words.join(' ') }) + '\n';
  if (buffer.length > 1 << 20) {
    writeSync(fd, buffer);
    buffer = '';
  }
}
writeSync(fd, buffer);
closeSync(fd);
renameSync(`${file}.tmp`, file);
process.stdout.write(`wrote pool.jsonl (${pool.size}), orig.tsv (${topics.length}), exp.tsv (${q2d.length}), ${path.basename(file)} (${numDocs} docs, vocab ${vocab.length}, seed ${seed})\n`);
