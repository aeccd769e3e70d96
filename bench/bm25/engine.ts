// Runs ONE engine on one corpus in its own process (so peak RSS is that engine's), prints one
// JSON line of measurements, and writes one TREC run per query file into bench/out/runs/.
// Usage: node --import tsx bench/bm25/engine.ts ENGINE CORPUS.jsonl NAME QUERIES.tsv [QUERIES.tsv ...]
//   ENGINE: qx | minisearch | wink     (Lucene: bench/bm25/LuceneBench.java)
import { createReadStream, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import MiniSearch from 'minisearch';
import { createAnalyzer } from '../../src/core/bm25/analyzer.js';
import { Bm25Index } from '../../src/core/bm25/bm25Index.js';
import type { CorpusDoc, RunHit } from '../../src/core/dataset/types.js';
import { timeQueries } from './timing.js';

interface Engine {
  build(docs: AsyncIterable<CorpusDoc>): Promise<void>;
  indexBytes(): number | null;
  search(q: string, k: number): RunHit[];
}

const analyzer = createAnalyzer('english');
const K1 = 0.9;
const B = 0.4;

async function* readJsonl(file: string): AsyncGenerator<CorpusDoc> {
  const rl = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  for await (const line of rl) if (line !== '') yield JSON.parse(line) as CorpusDoc;
}

function qxEngine(): Engine {
  let index: Bm25Index | undefined;
  return {
    async build(docs) {
      index = (await Bm25Index.build(docs, { keepDocs: false })).index;
    },
    indexBytes() {
      return index!.data.bytes;
    },
    search: (q, k) => index!.searchSync(q, k),
  };
}

function miniSearchEngine(): Engine {
  const ms = new MiniSearch<CorpusDoc>({
    fields: ['text'],
    idField: 'id',
    tokenize: (s) => analyzer.analyze(s),
    processTerm: (t) => t,
    searchOptions: { combineWith: 'OR', bm25: { k: K1, b: B, d: 0 } },
  });
  return {
    async build(docs) {
      for await (const d of docs) ms.add({ id: d.id, text: d.text });
    },
    indexBytes() {
      try {
        return Buffer.byteLength(JSON.stringify(ms));
      } catch {
        return null;
      }
    },
    search: (q, k) => ms.search(q).slice(0, k).map((r) => ({ docid: String(r.id), score: r.score })),
  };
}

function winkEngine(): Engine {
  const bm25 = require('wink-bm25-text-search') as () => {
    defineConfig(c: object): void;
    definePrepTasks(t: ((s: string) => string[])[]): void;
    addDoc(d: object, id: string): void;
    consolidate(): void;
    search(q: string, limit: number): [string, number][];
    exportJSON(): string;
  };
  const engine = bm25();
  engine.defineConfig({ fldWeights: { text: 1 }, bm25Params: { k1: K1, b: B, k: 1 } });
  engine.definePrepTasks([(s) => analyzer.analyze(s)]);
  return {
    async build(docs) {
      for await (const d of docs) engine.addDoc({ text: d.text }, d.id);
      engine.consolidate();
    },
    indexBytes() {
      try {
        return Buffer.byteLength(engine.exportJSON());
      } catch {
        return null;
      }
    },
    search: (q, k) => engine.search(q, k).map(([id, score]) => ({ docid: id, score })),
  };
}

async function main(): Promise<void> {
  const [name, corpus, corpusName, ...queryFiles] = process.argv.slice(2);
  if (!name || !corpus || !corpusName || queryFiles.length === 0) throw new Error('usage: engine.ts ENGINE CORPUS NAME QUERIES...');
  const engine = name === 'qx' ? qxEngine() : name === 'minisearch' ? miniSearchEngine() : name === 'wink' ? winkEngine() : undefined;
  if (!engine) throw new Error(`unknown engine ${name}`);
  const runsDir = path.resolve(__dirname, '../out/runs');
  mkdirSync(runsDir, { recursive: true });
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await engine.build(readJsonl(corpus));
  const buildS = (performance.now() - t0) / 1000;
  const c1 = process.cpuUsage(c0);
  const buildCpuS = (c1.user + c1.system) / 1e6;
  const rssAfterBuild = process.resourceUsage().maxRSS / 1024;
  const result: Record<string, unknown> = {
    engine: name,
    corpus: corpusName,
    build_s: +buildS.toFixed(2),
    build_cpu_s: +buildCpuS.toFixed(2),
    peak_rss_build_mb: Math.round(rssAfterBuild),
  };
  for (const qf of queryFiles) {
    const qs = readFileSync(qf, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => [l.slice(0, l.indexOf('\t')), l.slice(l.indexOf('\t') + 1)] as const);
    const qname = path.basename(qf, '.tsv');
    result[qname] = timeQueries(qs, (q) => engine.search(q, 1000), path.join(runsDir, `${name}.${corpusName}.${qname}.txt`), name);
  }
  const bytes = engine.indexBytes();
  result.index_mb = bytes === null ? null : +(bytes / 2 ** 20).toFixed(1);
  result.peak_rss_mb = Math.round(process.resourceUsage().maxRSS / 1024);
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
