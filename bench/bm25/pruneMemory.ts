// Memory of the pruned path's per-term window bounds over a long run of distinct queries (the
// shape of a training workload: tens of thousands of short queries). Each query is --terms words
// drawn (seeded) from the DL19 pool's text, as bench/bm25/makeData.ts draws the synthetic corpora.
// Prints, every --every queries: the bounds kept (bytes), the process RSS and the ms per query.
// Usage: node --expose-gc --import tsx bench/bm25/pruneMemory.ts --index bench/out/idx-synth-1m
//        [--queries 3000] [--terms 4] [--every 500] [--budget-mb 64] [--draw words|tokens]
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Bm25Index } from '../../src/core/bm25/bm25Index.js';
import { mulberry32 } from '../../src/core/random.js';

const argv = process.argv.slice(2);
const opt = (name: string, dflt: string): string => (argv.includes(name) ? argv[argv.indexOf(name) + 1]! : dflt);
const root = path.resolve(__dirname, '../..');
const indexDir = path.resolve(opt('--index', path.join(root, 'bench/out/idx-synth-1m')));
const count = Number(opt('--queries', '3000'));
const perQuery = Number(opt('--terms', '4'));
const every = Number(opt('--every', '500'));
const budgetMb = argv.includes('--budget-mb') ? Number(opt('--budget-mb', '64')) : undefined;
const draw = opt('--draw', 'words');

async function main(): Promise<void> {
  const tokens = readFileSync(path.join(root, 'bench/out/pool.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .flatMap((l) => (JSON.parse(l) as { text: string }).text.toLowerCase().split(/[^a-z0-9]+/))
    .filter((w) => w.length > 2);
  // --draw words: every distinct word equally likely (a new term in most queries: the worst case
  // for kept bounds); --draw tokens: words as often as they occur in the text (Zipfian, as real
  // queries' terms recur).
  const words = draw === 'tokens' ? tokens : [...new Set(tokens)];
  const index = await Bm25Index.open(indexDir);
  if (budgetMb !== undefined) index.termBlocksBudget = budgetMb * 1024 * 1024;
  const rnd = mulberry32(20261207);
  console.log(`${indexDir}: ${index.numDocs} docs; ${words.length} pool ${draw}; ${count} queries of ${perQuery} words`);
  let t = performance.now();
  for (let i = 1; i <= count; i++) {
    const q = Array.from({ length: perQuery }, () => words[Math.floor(rnd() * words.length)]!).join(' ');
    index.searchSync(q, 10);
    if (i % every === 0) {
      const ms = (performance.now() - t) / every;
      global.gc?.();
      const mb = (b: number): string => (b / 1048576).toFixed(1);
      console.log(`${i} queries: bounds kept ${mb(index.termBlocksBytes())} MB, RSS ${mb(process.memoryUsage().rss)} MB, ${ms.toFixed(2)} ms/query`);
      t = performance.now();
    }
  }
}

void main();
