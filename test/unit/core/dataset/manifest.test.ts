import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { QxError } from '../../../../src/core/errors.js';
import { MANIFEST_FILE, loadDataset, loadManifest } from '../../../../src/core/dataset/manifest.js';

import { DATA as data } from '../../../fixtures/dataPaths.js';

/** A dataset folder with DL19 topics/qrels copied in and a manifest written from `m`. */
function datasetDir(m: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'qx-manifest-'));
  mkdirSync(join(dir, 'data'));
  copyFileSync(join(data, 'trec-dl-topics-qrels/topics.dl19-passage.txt'), join(dir, 'data/topics.tsv'));
  copyFileSync(join(data, 'trec-dl-topics-qrels/qrels.dl19-passage.txt'), join(dir, 'data/qrels.txt'));
  copyFileSync(join(data, 'msmarco-dl-bm25-top100-rankllm/retrieve_results_dl19.json'), join(dir, 'data/pool.json'));
  writeFileSync(join(dir, MANIFEST_FILE), JSON.stringify(m));
  return dir;
}

const good = {
  version: 1,
  name: 'dl19',
  language: 'en',
  split: 'test',
  topics: { path: 'data/topics.tsv', format: 'tsv' },
  qrels: { path: 'data/qrels.txt' },
  corpus: { path: 'data/pool.json', format: 'rankllm-json' },
};

test('loadManifest resolves paths against the manifest folder and fills defaults', async () => {
  const dir = datasetDir(good);
  const m = await loadManifest(dir);
  assert.equal(m.file, join(dir, MANIFEST_FILE));
  assert.equal(m.topics.path, join(dir, 'data/topics.tsv'));
  assert.deepEqual(m.corpus, { path: join(dir, 'data/pool.json'), paths: [join(dir, 'data/pool.json')], format: 'rankllm-json' });
  assert.equal(m.relevanceLevel, 2);
  assert.equal(m.split, 'test');
  const ds = await loadDataset(m);
  assert.equal(ds.topics.length, 43);
  assert.equal(ds.qrels.size, 43);
  assert.equal(ds.trainTopics, undefined);
});

test('a missing data file names the manifest, the field, the resolved path and the fix', async () => {
  const dir = datasetDir({ ...good, qrels: { path: 'data/qrels-missing.txt' } });
  await assert.rejects(loadManifest(join(dir, MANIFEST_FILE)), (e: unknown) =>
    QxError.is(e, 'config') && e.file === join(dir, MANIFEST_FILE) && /field "qrels.path": file not found: /.test(e.message)
    && e.message.includes(join(dir, 'data/qrels-missing.txt')) && /Fix the path/.test(e.hint ?? ''));
});

test('invalid fields are named: version, language, split, format, corpus, unknown keys', async () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ ...good, version: 2 }, /field "version": must be 1/],
    [{ ...good, language: 'English' }, /field "language"/],
    [{ ...good, split: 'validation' }, /field "split": must be one of train, dev, test, eval/],
    [{ ...good, topics: { path: 'data/topics.tsv', format: 'csv' } }, /field "topics.format": unknown format "csv"/],
    [{ ...good, corpus: { path: 'a', paths: ['b'] } }, /field "corpus": needs either "path"/],
    [{ ...good, relevanceLevel: 0 }, /field "relevanceLevel": must be an integer >= 1/],
    [{ ...good, qrel: {} }, /field "qrel": unknown field/],
  ];
  for (const [m, re] of cases) {
    const dir = datasetDir(m);
    await assert.rejects(loadManifest(dir), (e: unknown) => QxError.is(e, 'config') && e.file === join(dir, MANIFEST_FILE) && re.test(e.message), String(re));
  }
});

test('a "retriever" names an OpenSearch index: kept as given (trailing slash dropped); a secret or a bad value is refused by field', async () => {
  const retriever = { engine: 'opensearch', url: 'https://search.example.org:9200/', index: 'msmarco-v2-passage', authEnv: 'QX_OPENSEARCH_AUTH', concurrency: 8 };
  const m = await loadManifest(datasetDir({ ...good, retriever }));
  assert.deepEqual(m.retriever, { ...retriever, url: 'https://search.example.org:9200' });
  assert.equal((await loadManifest(datasetDir(good))).retriever, undefined);
  const r = { engine: 'opensearch', url: 'http://localhost:9200', index: 'x' };
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ ...r, engine: 'solr' }, /field "retriever.engine": must be "opensearch", got "solr"/],
    [{ ...r, url: 'localhost:9200' }, /field "retriever.url": must be an http\(s\) URL/],
    [{ ...r, url: 'http://elastic:changeme@localhost:9200' }, /field "retriever.url": holds a user name or password.*name it in "authEnv"/],
    [{ ...r, index: 'MSMARCO' }, /field "retriever.index": must be an OpenSearch index name/],
    [{ ...r, authEnv: 'user:pass' }, /field "retriever.authEnv": must be an environment variable name/],
    [{ ...r, concurrency: 0 }, /field "retriever.concurrency": must be an integer from 1 to 64/],
    [{ ...r, password: 'x' }, /field "retriever.password": unknown field/],
  ];
  for (const [retr, re] of cases) {
    const dir = datasetDir({ ...good, retriever: retr });
    await assert.rejects(loadManifest(dir), (e: unknown) => QxError.is(e, 'config') && e.file === join(dir, MANIFEST_FILE) && re.test(e.message), String(re));
  }
});

test('a manifest that is not JSON, or absent, is a config error naming the file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qx-manifest-'));
  await assert.rejects(loadManifest(dir), (e: unknown) => QxError.is(e, 'config') && e.file === join(dir, MANIFEST_FILE) && /not found/.test(e.message));
  writeFileSync(join(dir, MANIFEST_FILE), '{ "version": 1, ');
  await assert.rejects(loadManifest(dir), (e: unknown) => QxError.is(e, 'config') && /not valid JSON/.test(e.message));
});

test('corpus.paths and trainTopics are loaded', async () => {
  const dir = datasetDir({ ...good, corpus: { paths: ['data/pool.json', 'data/pool.json'] }, trainTopics: { path: 'data/topics.tsv' }, relevanceLevel: 1 });
  const m = await loadManifest(dir);
  assert.equal(m.corpus.paths.length, 2);
  assert.equal(m.corpus.path, undefined);
  assert.equal(m.relevanceLevel, 1);
  const ds = await loadDataset(m);
  assert.equal(ds.trainTopics?.length, 43);
});

test('the embedded DL19 sample (samples/dl19) loads: 43 topics, qrels, 5,492-passage corpus', async () => {
  const { readCorpus } = await import('../../../../src/core/dataset/corpus.js');
  const m = await loadManifest(resolve(__dirname, '../../../../samples/dl19'));
  assert.equal(m.relevanceLevel, 2);
  const ds = await loadDataset(m);
  assert.equal(ds.topics.length, 43);
  assert.equal(ds.qrels.size, 43);
  let n = 0;
  for await (const _ of readCorpus(m.corpus.paths[0]!, m.corpus.format)) n++;
  assert.equal(n, 5492);
});
