// Reading gzipped corpora and tar archives as they are distributed (MS MARCO collection.tar.gz,
// collection.tsv.gz, MIRACL *.jsonl.gz): same documents as the plain file, errors naming the
// archive and the line of the file inside it, progress in bytes of the compressed file.
// Fixtures are built here with node:zlib and tar-stream's pack: no binaries in the repository.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { readCorpus } from '../../../../src/core/dataset/corpus.js';
import { openDataStream, packingOf } from '../../../../src/core/dataset/dataStream.js';
import { readJudgments } from '../../../../src/core/dataset/qrels.js';
import { readTopics } from '../../../../src/core/dataset/topics.js';
import { QxError } from '../../../../src/core/errors.js';
import type { CorpusDoc } from '../../../../src/core/dataset/types.js';
import { tarOf } from '../../../fixtures/archives.js';

const tmp = mkdtempSync(join(tmpdir(), 'qx-gz-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function all(it: AsyncIterable<CorpusDoc>): Promise<CorpusDoc[]> {
  const out: CorpusDoc[] = [];
  for await (const d of it) out.push(d);
  return out;
}

function file(name: string, content: Buffer | string): string {
  const f = join(tmp, name);
  writeFileSync(f, content);
  return f;
}

// Big enough for several 1 MB read chunks and lines cut across chunk ends.
const tsvRows: string[] = [];
for (let i = 0; i < 40_000; i++) tsvRows.push(`${i}\tpassage ${i} über the river bank number ${i * 7} — ${'x'.repeat(i % 50)}`);
const tsv = tsvRows.join('\n') + '\n';

test('collection.tsv.gz and collection.tar.gz give the same documents as collection.tsv', async () => {
  const plain = await all(readCorpus(file('collection.tsv', tsv)));
  assert.equal(plain.length, 40_000);
  const gz = file('collection.tsv.gz', gzipSync(tsv));
  assert.deepEqual(await all(readCorpus(gz)), plain);
  // MS MARCO's archive: collection.tsv at the top level; here also after a directory and a macOS resource file.
  const tgz = file('collection.tar.gz', gzipSync(await tarOf([['collection/', ''], ['collection/._collection.tsv', 'junk'], ['collection/collection.tsv', tsv]])));
  assert.equal(await packingOf(tgz), 'tar.gz');
  assert.deepEqual(await all(readCorpus(tgz)), plain);
  const tar = file('collection.tar', await tarOf([['collection.tsv', tsv]]));
  assert.deepEqual(await all(readCorpus(tar)), plain);
});

test('MIRACL-style corpus.jsonl.gz (multi-byte text; concatenated gzip members) reads as jsonl', async () => {
  const a = [{ docid: '1#0', title: '北京', text: '北京是中华人民共和国的首都' }].map((d) => JSON.stringify(d)).join('\n') + '\n';
  const b = [{ docid: '1#1', title: '北京', text: '位于华北平原的北部' }].map((d) => JSON.stringify(d)).join('\n') + '\n';
  const gz = file('docs-0.jsonl.gz', Buffer.concat([gzipSync(a), gzipSync(b)]));
  assert.deepEqual(await all(readCorpus(gz)), [
    { id: '1#0', title: '北京', text: '北京是中华人民共和国的首都' },
    { id: '1#1', title: '北京', text: '位于华北平原的北部' },
  ]);
});

test('gzip is recognised by its magic bytes, whatever the name', async () => {
  const f = file('renamed.tsv', gzipSync('d1\thello\n'));
  assert.equal(await packingOf(f), 'gzip');
  assert.deepEqual(await all(readCorpus(f)), [{ id: 'd1', text: 'hello' }]);
});

test('a bad record inside an archive names the archive, the member and its line', async () => {
  const bad = tsvRows.slice(0, 5).join('\n') + '\nonly-one-column\n';
  const tgz = file('bad.tar.gz', gzipSync(await tarOf([['collection.tsv', bad]])));
  await assert.rejects(all(readCorpus(tgz)), (e: unknown) => {
    assert.ok(e instanceof QxError);
    assert.equal(e.code, 'dataset');
    assert.equal(e.file, `${tgz} (collection.tsv)`);
    assert.equal(e.line, 6);
    return true;
  });
  const gz = file('bad.tsv.gz', gzipSync(bad));
  await assert.rejects(all(readCorpus(gz)), (e: unknown) => e instanceof QxError && e.file === gz && e.line === 6);
});

test('a cut-short download is a dataset error naming the file, not a silent short corpus', async () => {
  const whole = gzipSync(tsv);
  const cut = file('cut.tsv.gz', whole.subarray(0, Math.floor(whole.length / 2)));
  await assert.rejects(all(readCorpus(cut)), (e: unknown) => {
    assert.ok(e instanceof QxError, String(e));
    assert.equal(e.code, 'dataset');
    assert.equal(e.file, cut);
    assert.match(e.message, /not a valid gzip file or cut short/);
    return true;
  });
  const tgzWhole = gzipSync(await tarOf([['collection.tsv', tsv]]));
  const tgzCut = file('cut.tar.gz', tgzWhole.subarray(0, Math.floor(tgzWhole.length / 2)));
  await assert.rejects(all(readCorpus(tgzCut)), (e: unknown) => e instanceof QxError && e.file === tgzCut && /cut short/.test(e.message));
});

test('an archive with no regular file, and an inner name with no known format, are clear errors', async () => {
  const empty = file('empty.tar.gz', gzipSync(await tarOf([['dir/', '']])));
  await assert.rejects(all(readCorpus(empty)), /holds no regular file/);
  const odd = file('odd.tar.gz', gzipSync(await tarOf([['collection.dat', 'a\tb\n']])));
  await assert.rejects(all(readCorpus(odd)), (e: unknown) => e instanceof QxError && e.file === odd && /collection\.dat in the archive/.test(e.message));
  // With the format given, the member is read.
  assert.deepEqual(await all(readCorpus(odd, 'tsv')), [{ id: 'a', text: 'b' }]);
});

test('progress counts bytes of the compressed file up to its size', async () => {
  const gz = file('progress.tsv.gz', gzipSync(tsv));
  const size = statSync(gz).size;
  const seen: [number, number][] = [];
  const data = await openDataStream(gz, { onBytes: (done, total) => seen.push([done, total]) });
  let inner = 0;
  for await (const c of data.chunks) inner += c.length;
  assert.equal(inner, Buffer.byteLength(tsv));
  assert.ok(seen.length > 0);
  assert.deepEqual(seen.at(-1), [size, size]);
  assert.ok(seen.every(([d, t], i) => t === size && (i === 0 || d >= seen[i - 1]![0])));
});

test('cancelling stops a gzip read with a cancellation, not a dataset error', async () => {
  const gz = file('cancel.tsv.gz', gzipSync(tsv));
  const ac = new AbortController();
  let n = 0;
  await assert.rejects(
    (async () => {
      for await (const _ of readCorpus(gz, undefined, { signal: ac.signal })) if (++n === 10) ac.abort();
    })(),
    (e: unknown) => (e as Error).name === 'CancellationError' || (e as Error).name === 'AbortError',
  );
});

test('topics and qrels as distributed: queries.train.tsv.gz, a MIRACL topics .jsonl.gz and qrels in a .tar.gz', async () => {
  const queries = '1185869\t)what was the immediate impact of the success of the manhattan project?\n1185868\t_________ justice is designed to repair the harm\n';
  assert.deepEqual(await readTopics(file('queries.train.tsv.gz', gzipSync(queries))), [
    { qid: '1185869', text: ')what was the immediate impact of the success of the manhattan project?' },
    { qid: '1185868', text: '_________ justice is designed to repair the harm' },
  ]);
  const jsonl = file('topics.zh.jsonl.gz', gzipSync(JSON.stringify({ _id: 'q1', text: '北京在哪里' }) + '\n'));
  assert.deepEqual(await readTopics(jsonl), [{ qid: 'q1', text: '北京在哪里' }]);
  const qrels = file('qrels.train.tar.gz', gzipSync(await tarOf([['qrels.train.tsv', '1185869\t0\t0\t1\n1185868\t0\t16\t1\n']])));
  assert.deepEqual(await readJudgments(qrels), [
    { qid: '1185869', docid: '0', grade: 1 },
    { qid: '1185868', docid: '16', grade: 1 },
  ]);
  const cut = gzipSync(queries);
  await assert.rejects(readTopics(file('cut-queries.tsv.gz', cut.subarray(0, cut.length - 12))), (e: unknown) => e instanceof QxError && e.code === 'dataset' && /cut short/.test(e.message));
});
