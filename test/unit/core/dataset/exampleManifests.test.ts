// The example manifests of samples/manifests/ and the README's field list, checked against the
// real manifest parser so neither rots when the format changes. The data files they name are not
// in the repository: each manifest is copied into an empty folder where an empty file stands at
// every path it names, so loadManifest runs all of its validation (the files only have to exist).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { after } from 'node:test';
import { MANIFEST_FIELDS, MANIFEST_FILE, loadManifest } from '../../../../src/core/dataset/manifest.js';
import { defaultSettings, defaultTemplateId, effectiveAnalyzer } from '../../../../src/core/workspace/settings.js';

const repo = resolve(__dirname, '../../../..');
const examples = join(repo, 'samples', 'manifests');
const tmp = mkdtempSync(join(tmpdir(), 'qx-example-manifests-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

interface RawRef {
  path: string;
  format?: string;
}
interface RawManifest {
  name: string;
  language: string;
  split?: string;
  relevanceLevel?: number;
  topics: RawRef;
  qrels: RawRef;
  trainTopics?: RawRef;
  corpus: { path?: string; paths?: string[]; format?: string };
}

const files = readdirSync(examples).filter((f) => f.endsWith('.json')).sort();

test('the example manifests for DL20, DL21, BEIR SciFact and MIRACL-zh dev are all there', () => {
  assert.deepEqual(files, ['beir-scifact.json', 'dl20-passage.json', 'dl21-passage-opensearch.json', 'dl21-passage-pool.json', 'miracl-zh-dev.json']);
});

for (const file of files) {
  test(`samples/manifests/${file} passes the manifest parser with relative paths only`, async () => {
    const raw = JSON.parse(readFileSync(join(examples, file), 'utf8')) as RawManifest;
    const dir = join(tmp, file.replace(/\.json$/, ''), 'data');
    mkdirSync(dir, { recursive: true });
    const named = [raw.topics.path, raw.qrels.path, ...(raw.trainTopics ? [raw.trainTopics.path] : []), ...(raw.corpus.path !== undefined ? [raw.corpus.path] : []), ...(raw.corpus.paths ?? [])];
    for (const p of named) {
      assert.ok(!isAbsolute(p) && !p.startsWith('~'), `${file}: "${p}" must be relative to the manifest, not a machine path`);
      const at = resolve(dir, p);
      assert.ok(!relative(tmp, at).startsWith('..'), `${file}: "${p}" leaves the data folder`);
      mkdirSync(dirname(at), { recursive: true });
      writeFileSync(at, '');
    }
    writeFileSync(join(dir, MANIFEST_FILE), JSON.stringify(raw));

    const m = await loadManifest(dir);
    assert.equal(m.name, raw.name);
    assert.equal(m.language, raw.language);
    assert.equal(m.split, raw.split);
    assert.equal(m.relevanceLevel, raw.relevanceLevel ?? 2);
    assert.equal(m.topics.path, resolve(dir, raw.topics.path));
    assert.equal(m.topics.format, raw.topics.format);
    assert.equal(m.qrels.format, raw.qrels.format);
    assert.equal(m.corpus.format, raw.corpus.format);
    assert.deepEqual(m.corpus.paths, (raw.corpus.paths ?? [raw.corpus.path!]).map((p) => resolve(dir, p)));
    assert.equal(m.trainTopics?.path, raw.trainTopics === undefined ? undefined : resolve(dir, raw.trainTopics.path));
    assert.ok(['test', 'eval'].includes(m.split ?? ''), `${file}: benchmark queries are evaluation queries, so exports must refuse them as training data`);
    if (m.retriever !== undefined) assert.ok(new URL(m.retriever.url).password === '' && m.retriever.authEnv !== undefined, `${file}: credentials only through authEnv`);
  });
}

test('the language of each example picks its analyzer and template by default', () => {
  const defaults = Object.fromEntries(
    files.map((f) => {
      const { language } = JSON.parse(readFileSync(join(examples, f), 'utf8')) as RawManifest;
      return [f, [effectiveAnalyzer(defaultSettings.bm25.analyzer, language), defaultTemplateId(language)]];
    }),
  );
  assert.deepEqual(defaults, {
    'beir-scifact.json': ['english', 'query2doc-zs'],
    'dl20-passage.json': ['english', 'query2doc-zs'],
    'dl21-passage-opensearch.json': ['english', 'query2doc-zs'],
    'dl21-passage-pool.json': ['english', 'query2doc-zs'],
    'miracl-zh-dev.json': ['cjk', 'query2doc-zh'],
  });
});

test('README "Dataset manifest" documents every field the parser accepts and links every example', () => {
  const readme = readFileSync(join(repo, 'README.md'), 'utf8');
  const start = readme.indexOf('## Dataset manifest');
  assert.ok(start >= 0, 'README has a "Dataset manifest" section');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  for (const field of MANIFEST_FIELDS) assert.ok(section.includes(`\`${field}\``), `README "Dataset manifest" does not document \`${field}\``);
  for (const f of files) assert.ok(section.includes(`samples/manifests/${f}`), `README "Dataset manifest" does not link samples/manifests/${f}`);
});
