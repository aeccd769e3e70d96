// Measures how long the curation store takes to open at research scale:
// 10,000 queries × 10 expansions (100k expansions, 100k scores) and 10,000 pairs.
// Usage: node --import tsx bench/curation/openStore.ts [queries=10000] [perQuery=10]
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CurationStore, retrievalSettingsKey } from '../../src/core/curation/store.js';
import { buildPairs, type ScoredCandidate } from '../../src/core/curation/pairs.js';
import { defaultPairRules } from '../../src/core/curation/types.js';
import { makeExpansion, makeScore } from '../../test/fixtures/curation/makeData.js';

const queries = Number(process.argv[2] ?? '10000');
const perQuery = Number(process.argv[3] ?? '10');
const root = mkdtempSync(join(tmpdir(), 'qx-bench-store-'));
const key = retrievalSettingsKey({ engine: 'qx-bm25', k1: 0.9, b: 0.4 });
let seed = 12345;
const rand = (): number => ((seed = (seed * 16807) % 2147483647) / 2147483647);
const words = 'the of retrieval passage query expansion model answer water city history science disease cost average number'.split(' ');
const passage = (n: number): string => Array.from({ length: n }, () => words[Math.floor(rand() * words.length)]).join(' ');

try {
  let t = performance.now();
  const s = CurationStore.open(root, { toolVersion: 'bench' });
  const groups: ScoredCandidate[][] = [];
  for (let q = 0; q < queries; q++) {
    const qid = `q${q}`;
    const orig = rand() * 0.6;
    const group: ScoredCandidate[] = [];
    for (let i = 0; i < perQuery; i++) {
      const e = makeExpansion(qid, `${qid}-e${i}`, { role: i < 2 ? 'teacher' : 'student', sampleIndex: i, generated: passage(90) });
      group.push({ expansion: e, score: makeScore(e, Math.min(1, Math.max(0, orig + (rand() - 0.4) * 0.5)), orig) });
    }
    groups.push(group);
    s.addExpansions(group.map((g) => g.expansion));
    s.putScores(key, group.map((g) => g.score));
  }
  const pairs = buildPairs(groups, { ...defaultPairRules, requireChosenBeatsOriginal: false, minMargin: 0 });
  const tBuild = performance.now();
  s.applyPairs(pairs);
  const applyMs = performance.now() - tBuild;
  s.close();
  const writeMs = performance.now() - t;
  const size = (f: string): number => statSync(join(root, '.qx', f)).size / 1e6;

  const runs: number[] = [];
  const cpu: number[] = [];
  let counts = '';
  for (let r = 0; r < 3; r++) {
    t = performance.now();
    const c0 = process.cpuUsage();
    const o = CurationStore.open(root);
    runs.push(performance.now() - t);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    counts = `${o.listExpansions().length} expansions, ${o.scoresFor(key).size} scores, ${o.listPairs().length} pairs`;
    o.close();
  }
  const w = CurationStore.open(root);
  const pid = w.listPairs()[0]?.id as string;
  const n = 200;
  t = performance.now();
  for (let i = 0; i < n; i++) w.setPairState(pid, i % 2 === 0 ? 'accepted' : 'rejected');
  const editMs = (performance.now() - t) / n;
  w.close();

  console.log(`store: ${counts}; journals ${size('expansions.jsonl').toFixed(1)} MB + ${size('scores.jsonl').toFixed(1)} MB + ${size('pairs.jsonl').toFixed(1)} MB`);
  console.log(`create (one fsynced append per query): ${(writeMs / 1000).toFixed(2)} s; applyPairs of ${pairs.length} pairs: ${applyMs.toFixed(0)} ms`);
  console.log(`open: wall ${runs.map((x) => x.toFixed(0)).join(', ')} ms, CPU ${cpu.map((x) => x.toFixed(0)).join(', ')} ms (3 runs; wall time grows when other processes share the cores)`);
  console.log(`edit (setPairState incl. fsync): ${editMs.toFixed(2)} ms per edit (mean of ${n})`);
} finally {
  if (process.env.QX_BENCH_KEEP) console.log(root); else rmSync(root, { recursive: true, force: true });
}
