// Corpus reading: time to stream every document of a corpus file through `readCorpus`, wall and
// CPU (process.cpuUsage, user + system), with or without byte spans. `--src <root>` loads
// src/core/dataset/corpus.ts from another checkout (e.g. an older commit extracted with
// `git archive`), so two versions can be run alternately on the same file.
// Usage: node --import tsx bench/dataset/readCorpus.ts <corpus file> [--src <root>] [--spans]
// The synthetic corpus is bench/out/synth-1000000.jsonl from bench/bm25/makeData.ts; a TSV copy
// of it (id<TAB>text): `node --import tsx bench/dataset/readCorpus.ts bench/out/synth-1000000.jsonl --write-tsv`.
import { createWriteStream } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { pathToFileURL } from 'node:url';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const file = argv[0];
  if (file === undefined) throw new Error('usage: readCorpus.ts <corpus file> [--src <root>] [--spans] [--write-tsv]');
  const src = argv.includes('--src') ? path.resolve(argv[argv.indexOf('--src') + 1]!) : path.resolve(__dirname, '../..');
  const mod = (await import(pathToFileURL(path.join(src, 'src/core/dataset/corpus.ts')).href)) as typeof import('../../src/core/dataset/corpus.js');

  if (argv.includes('--write-tsv')) {
    const tsv = file.replace(/\.jsonl$/, '.tsv');
    const out = createWriteStream(tsv);
    for await (const d of mod.readCorpus(file)) {
      if (!out.write(`${d.id}\t${d.text.replace(/[\t\n\r]/g, ' ')}\n`)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
    console.log(`wrote ${tsv}`);
    return;
  }
  const spans = argv.includes('--spans');
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let n = 0;
  let chars = 0;
  for await (const d of mod.readCorpus(file, undefined, { spans })) {
    n++;
    chars += d.text.length;
  }
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  const load1 = os.loadavg()[0]!;
  console.log(JSON.stringify({ file: path.basename(file), src, spans, docs: n, chars, wallS: +wall.toFixed(2), cpuS: +cpuS.toFixed(2), load1: +load1.toFixed(2) }));
}

void main();
