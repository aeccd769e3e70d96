// Segment merge: CPU and wall time of `mergeSegments` (the last step of an on-disk `qx index`)
// over the segment files of a corpus, and a sha256 of the postings it writes. The segments are
// made once, as a 2-thread build makes them (batches of 1,024 documents dealt alternately to two
// builders, each writing a segment at 16M postings, both together), and kept in
// bench/out/merge-<corpus>/. `--src <root>` loads src/core/bm25/segments.ts and postings.ts from
// another checkout (e.g. `git archive` of an older commit) to compare versions on the same files.
// `--tail k` appends k rare words to every document (seeded; word r drawn as ⌊3·10⁷·u²⌋, u uniform),
// a long tail of terms like a real vocabulary's (MS MARCO: millions of terms, most in few
// passages), which the synthetic corpus (15,806 terms, drawn from the DL19 pool) lacks.
// Usage: node --import tsx bench/bm25/merge.ts [--corpus synth-1000000.jsonl] [--tail 0] [--src <root>]
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { readCorpus } from '../../src/core/dataset/corpus.js';

const root = path.resolve(__dirname, '../..');
const out = path.join(root, 'bench/out');
const argv = process.argv.slice(2);
const opt = (name: string, d: string): string => (argv.includes(name) ? argv[argv.indexOf(name) + 1]! : d);
const corpus = opt('--corpus', 'synth-1000000.jsonl');
const src = path.resolve(opt('--src', root));
const tail = Number(opt('--tail', '0'));
const segDir = path.join(out, `merge-${corpus.replace(/\.[^.]+$/, '')}${tail > 0 ? `-tail${tail}` : ''}`);

async function main(): Promise<void> {
  const segments = (await import(pathToFileURL(path.join(src, 'src/core/bm25/segments.ts')).href)) as typeof import('../../src/core/bm25/segments.js');
  const postings = (await import(pathToFileURL(path.join(src, 'src/core/bm25/postings.ts')).href)) as typeof import('../../src/core/bm25/postings.js');
  if (!existsSync(path.join(segDir, 'done'))) {
    rmSync(segDir, { recursive: true, force: true });
    mkdirSync(segDir, { recursive: true });
    const builders = [new segments.SegmentBuilder('english'), new segments.SegmentBuilder('english')];
    let made = 0;
    const flushAll = (): void => {
      for (const b of builders) segments.flushSegment(b, path.join(segDir, `seg-${String(made++).padStart(3, '0')}.seg`));
    };
    let n = 0;
    let seed = 7;
    const rare = (): string => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return `r${Math.floor(3e7 * (seed / 2 ** 32) ** 2).toString(36)}`;
    };
    for await (const d of readCorpus(path.join(out, corpus))) {
      const b = builders[Math.floor(n / 1024) % 2]!;
      const text = d.title === undefined ? d.text : `${d.title} ${d.text}`;
      b.add(n++, tail > 0 ? `${text} ${Array.from({ length: tail }, rare).join(' ')}` : text);
      if (n % 1024 === 0 && builders.some((x) => x.postings >= 16_000_000)) flushAll();
    }
    flushAll();
    writeFileSync(path.join(segDir, 'done'), `${n} documents\n`);
    console.error(`made ${made} segments of ${n} documents in ${segDir}`);
  }
  const files = readdirSync(segDir)
    .filter((f) => f.endsWith('.seg'))
    .map((f) => path.join(segDir, f));
  const target = path.join(out, 'merge-postings.bin');
  const fd = openSync(target, 'w');
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let terms = 0;
  try {
    const writer = new postings.PostingsWriter((bytes, position) => {
      let done = 0;
      while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, position + done);
    });
    segments.mergeSegments(files, writer, (t) => (terms = t));
    const written = writer.finish();
    terms = written.dfs.length;
  } finally {
    closeSync(fd);
  }
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const sha = createHash('sha256').update(readFileSync(target)).digest('hex').slice(0, 16);
  rmSync(target);
  const load1 = os.loadavg()[0]!;
  console.log(JSON.stringify({ corpus, tail, src, segments: files.length, terms, wallS: +wall.toFixed(2), cpuS: +((cpu.user + cpu.system) / 1e6).toFixed(2), sha256: sha, load1: +load1.toFixed(2) }));
}

void main();
