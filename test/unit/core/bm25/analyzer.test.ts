import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { createAnalyzer, icuStandardTokens, javaLowerCase, LUCENE_ENGLISH_STOP_WORDS, standardTokens } from '../../../../src/core/bm25/analyzer.js';
import { DATA, GOLDEN, expansions, goldenLines, poolDocs, topics } from './dl19Data.js';

const english = createAnalyzer('english');

function mismatches(inputs: [string, string][], golden: Map<string, string>): string[] {
  assert.equal(inputs.length, golden.size, 'every golden line has an input');
  return inputs.filter(([id, text]) => english.analyze(text).join(' ') !== golden.get(id)).map(([id]) => id);
}

test('english analyzer reproduces Lucene 8.8.1 on all 5,492 DL19 pool passages', async () => {
  const docs = (await poolDocs()).map((d): [string, string] => [d.id, d.text]);
  assert.deepEqual(mismatches(docs, goldenLines('pool-dl19.lucene.tsv')), []);
});

test('english analyzer reproduces Lucene on the 43 DL19 queries and their query2doc expansions', async () => {
  assert.deepEqual(mismatches(await topics(), goldenLines('orig.lucene.tsv')), []);
  assert.deepEqual(mismatches(await expansions(), goldenLines('exp.lucene.tsv')), []);
});

test('english analyzer reproduces Lucene on the tricky cases (URLs, possessives, CJK, emoji, İ, Σ, Porter)', () => {
  const inputs = readFileSync(path.join(GOLDEN, 'tricky.tsv'), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l): [string, string] => [l.slice(0, l.indexOf('\t')), l.slice(l.indexOf('\t') + 1)]);
  const golden = goldenLines('tricky.lucene.tsv');
  for (const [id, text] of inputs) assert.equal(english.analyze(text).join(' '), golden.get(id), `tricky line ${id}`);
});

test('english chain pieces: 33 stop words, possessives, Java lowercasing, Porter', () => {
  assert.equal(LUCENE_ENGLISH_STOP_WORDS.size, 33);
  assert.deepEqual(english.analyze("The dog's bones AND the DOGS’ toys"), ['dog', 'bone', 'dog', 'toi']);
  assert.equal(javaLowerCase('İSTANBUL ΣΟΦΟΣ'), 'istanbul σοφοσ');
  assert.deepEqual(english.analyze('___ !!! ...'), []);
});

test('cjk analyzer makes overlapping bigrams of CJK runs and keeps Latin words', () => {
  const cjk = createAnalyzer('cjk');
  assert.deepEqual(cjk.analyze('中华人民共和国'), ['中华', '华人', '人民', '民共', '共和', '和国']);
  assert.deepEqual(cjk.analyze('我 iPhone 手机'), ['我', 'iphone', '手机']);
  assert.deepEqual(cjk.analyze('ＬＡＴＩＮ カタカナ'), ['latin', 'カタ', 'タカ', 'カナ']);
  assert.deepEqual(cjk.analyze('한국어'), ['한국', '국어']);
});

test('whitespace analyzer splits on whitespace only; unknown analyzer is a clear config error', () => {
  assert.deepEqual(createAnalyzer('whitespace').analyze(' a  B\tc\n'), ['a', 'B', 'c']);
  assert.throws(() => createAnalyzer('klingon'), (e: Error) => /unknown analyzer "klingon".*english, cjk, whitespace/.test(e.message));
});

test('the ASCII fast path tokenizes exactly like the ICU path (random strings of tricky characters)', () => {
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom('a', 'Z', 'e', '0', '7', '_', '.', ',', ':', ';', "'", ' ', '-', '/', '@', '$', '\n'), maxLength: 40 }), (s) => {
      assert.deepEqual(standardTokens(s).map((t) => t.text), icuStandardTokens(s));
    }),
    { numRuns: 3000, seed: 42 },
  );
});

test('cjk analyzer reproduces Lucene 8.8.1 CJKAnalyzer on the 393 MIRACL-zh queries and the tricky lines', () => {
  // Golden files made with bench/bm25/LuceneAnalyze.java (see its header).
  const cjk = createAnalyzer('cjk');
  const inputs = (file: string): Map<string, string> =>
    new Map(
      readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l): [string, string] => [l.slice(0, l.indexOf('\t')), l.slice(l.indexOf('\t') + 1)]),
    );
  for (const [input, golden] of [
    [path.join(DATA, 'miracl-zh-dev-topics-qrels/topics.miracl-v1.0-zh-dev.tsv'), path.join(__dirname, 'golden/miracl-zh-topics.cjk.lucene.tsv')],
    [path.join(GOLDEN, 'tricky.tsv'), path.join(__dirname, 'golden/tricky.cjk.lucene.tsv')],
  ] as const) {
    const texts = inputs(input);
    const want = inputs(golden);
    assert.equal(want.size, texts.size);
    const wrong = [...want].filter(([id, tokens]) => cjk.analyze(texts.get(id)!).join(' ') !== tokens).map(([id]) => id);
    assert.deepEqual(wrong, [], path.basename(golden));
  }
});
