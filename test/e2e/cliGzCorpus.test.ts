// `qx index` on a corpus as MS MARCO distributes it (collection.tar.gz holding collection.tsv),
// gzipped (collection.tsv.gz) and plain, then `qx search`: the same runs, BM25 and BM25+RM3 (RM3
// reads document texts, so it exercises the pointer store of the plain corpus and the copied store
// of the archives). The archives are built here with node:zlib and tar-stream; the text is invented.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { tarOf } from '../fixtures/archives.js';
import { type QxRun, runQx } from './runQx.js';

const tmp = mkdtempSync(join(tmpdir(), 'qx-gz-e2e-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const qx = (...argv: string[]): Promise<QxRun> => runQx(argv, { cwd: tmp });

const words = ['river', 'bank', 'loan', 'interest', 'fish', 'bridge', 'water', 'flow', 'rate', 'money', 'boat', 'stone', 'café', 'naïve', 'über', 'mountain', 'snow', 'glacier', 'valley', 'city'];

before(async () => {
  let seed = 11;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const rows: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const len = 5 + Math.floor(rnd() * 30);
    rows.push(`${i}\t${Array.from({ length: len }, () => words[Math.floor(rnd() * words.length)]).join(' ')}`);
  }
  const tsv = rows.join('\n') + '\n';
  writeFileSync(join(tmp, 'collection.tsv'), tsv);
  writeFileSync(join(tmp, 'collection.tsv.gz'), gzipSync(tsv));
  writeFileSync(join(tmp, 'collection.tar.gz'), gzipSync(await tarOf([['collection.tsv', tsv]])));
  writeFileSync(join(tmp, 'queries.tsv'), ['1\triver bank', '2\tloan interest rate', '3\tsnow glacier valley', '4\tcafé über bridge'].join('\n') + '\n');
});

function storeFiles(dir: string): string[] {
  const root = join(tmp, dir);
  const gen = readFileSync(join(root, 'CURRENT'), 'utf8').trim();
  return readdirSync(join(root, gen)).filter((f) => f.startsWith('store.')).sort();
}

test('qx index --corpus collection.tar.gz / .tsv.gz then qx search: the same runs as the plain collection.tsv', async () => {
  const plain = await qx('index', '--corpus', 'collection.tsv', '--out', 'idx-plain');
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(plain.stdout, /^indexed 3000 documents/);
  assert.match(plain.stdout, /document texts are read from .*collection\.tsv/);
  assert.deepEqual(storeFiles('idx-plain'), ['store.ptr']);

  const tgz = await qx('index', '--corpus', 'collection.tar.gz', '--out', 'idx-tgz');
  assert.equal(tgz.code, 0, tgz.stderr);
  assert.match(tgz.stdout, /^indexed 3000 documents/);
  assert.match(tgz.stdout, /document texts copied into the index \(the corpus is a tar\.gz file\)/);
  assert.match(tgz.stderr, /indexing: 3000\/3000 documents/);
  assert.deepEqual(storeFiles('idx-tgz'), ['store.blk', 'store.jsonl.z', 'store.off']);

  const gz = await qx('index', '--corpus', 'collection.tsv.gz', '--out', 'idx-gz');
  assert.equal(gz.code, 0, gz.stderr);

  const copied = await qx('index', '--corpus', 'collection.tsv', '--out', 'idx-copy', '--copy-docs');
  assert.equal(copied.code, 0, copied.stderr);
  assert.match(copied.stdout, /copied into the index \(asked for \(--copy-docs\)\)/);
  assert.deepEqual(storeFiles('idx-copy'), ['store.blk', 'store.jsonl.z', 'store.off']);

  for (const extra of [[], ['--rm3']]) {
    const runs: string[] = [];
    for (const dir of ['idx-plain', 'idx-tgz', 'idx-gz', 'idx-copy']) {
      const r = await qx('search', '--index', dir, '--topics', 'queries.tsv', '--k', '100', ...extra);
      assert.equal(r.code, 0, r.stderr);
      runs.push(r.stdout);
    }
    assert.ok(runs[0]!.split('\n').length > 100, 'the run has hits');
    for (const r of runs.slice(1)) assert.equal(r, runs[0], `same run ${extra.join(' ')}`);
  }
});

test('qx index on a damaged archive fails naming the file; nothing is left half-built', async () => {
  writeFileSync(join(tmp, 'broken.tar.gz'), gzipSync(await tarOf([['collection.tsv', '1\tfine\n2\n']])));
  const r = await qx('index', '--corpus', 'broken.tar.gz', '--out', 'idx-broken');
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /broken\.tar\.gz \(collection\.tsv\):2: expected 2 or 3 TAB-separated columns/);
  assert.deepEqual(readdirSync(join(tmp, 'idx-broken')).filter((e) => !e.startsWith('write.lock')), [], 'no index was committed');
});
