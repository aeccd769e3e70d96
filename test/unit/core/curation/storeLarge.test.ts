// The store at sizes where reading a journal in one string is not possible: journals are streamed
// in 16 MB reads (lines cross read boundaries), expansion texts are read from disk when asked for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CurationStore, retrievalSettingsKey } from '../../../../src/core/curation/store.js';
import { scanExpansionHead } from '../../../../src/core/curation/expansionHead.js';
import { QxError } from '../../../../src/core/errors.js';
import { makeExpansion, makeScore } from '../../../fixtures/curation/makeData.js';

test('a 40 MB journal reopens with every record and text intact, across read boundaries', () => {
  const root = mkdtempSync(join(tmpdir(), 'qx-store-large-'));
  try {
    const key = retrievalSettingsKey({ k: 1 });
    const s = CurationStore.open(root);
    const text = (i: number) => `passage ${i} ${'é "quoted" \\ back\tslash '.repeat(40 + (i % 7))}`;
    for (let b = 0; b < 20; b++) {
      const exps = Array.from({ length: 1000 }, (_, k) => makeExpansion(`q${b * 1000 + k}`, `e${b * 1000 + k}`, { generated: text(b * 1000 + k), role: k % 2 === 0 ? 'teacher' : 'student' }));
      s.addExpansions(exps);
      s.putScores(key, exps.map((e, k) => makeScore(e, k / 1000, 0.1)));
    }
    s.close();
    assert.ok(statSync(join(root, '.qx', 'expansions.jsonl')).size > 33 << 20, 'the journal spans several 16 MB reads');
    const r = CurationStore.open(root);
    assert.equal(r.scoresFor(key).size, 20_000);
    assert.deepEqual(r.expansionHeadsForQuery('q12345'), [{ id: 'e12345', qid: 'q12345', role: 'student', method: 'query2doc-zs', model: 'teacher-model', provider: 'openai-compatible' }]);
    for (const i of [0, 8191, 12345, 19999]) assert.equal(r.getExpansion(`e${i}`)?.generated, text(i));
    const all = r.listExpansions();
    assert.equal(all.length, 20_000);
    assert.deepEqual(all.map((e) => e.id).slice(0, 3), ['e0', 'e1', 'e2']);
    assert.ok(all.every((e, i) => e.generated === text(i)));
    r.close();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a damaged expansion line is reported with its line number when first read, a torn last one is dropped', () => {
  const root = mkdtempSync(join(tmpdir(), 'qx-store-damage-'));
  try {
    const s = CurationStore.open(root);
    s.addExpansions([makeExpansion('q1', 'a'), makeExpansion('q1', 'b')]);
    s.close();
    const file = join(root, '.qx', 'expansions.jsonl');
    appendFileSync(file, '{"id":"c","qid":"q1","role":"teacher","method":"m","model":"x","provider":"p","generated":"cut off');
    const r = CurationStore.open(root);
    assert.deepEqual(r.listExpansions().map((e) => e.id), ['a', 'b'], 'the torn last line is dropped');
    r.addExpansions([makeExpansion('q2', 'd')]);
    r.close();
    // A line whose head reads well but whose text is not JSON (a bad escape in a skipped string).
    appendFileSync(file, '{"id":"e","qid":"q3","role":"teacher","method":"m","model":"x","provider":"p","generated":"bad \\x escape"}\n');
    const again = CurationStore.open(root);
    assert.deepEqual(again.expansionHeadsForQuery('q3').map((h) => h.id), ['e']);
    assert.throws(() => again.getExpansion('e'), (e: unknown) => QxError.is(e, 'store') && /line 4 of the curation journal/.test(e.message));
    again.close();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('scanExpansionHead reads escaped ids, skips nested values, and declines other shapes', () => {
  const intern = (s: string) => s;
  const head = (line: string) => scanExpansionHead(Buffer.from(line), 0, Buffer.byteLength(line), intern);
  assert.deepEqual(head('{"template":{"id":"zz","n":[1,{"a":"}"}]},"id":"a\\"b","qid":"q\\u00e9","role":"teacher","method":"m","model":"x","provider":"p","final":"q q \\"}","sampleIndex":0}'), { id: 'a"b', qid: 'qé', role: 'teacher', method: 'm', model: 'x', provider: 'p' });
  assert.deepEqual(head('{"retract":"a","at":"t"}'), { retract: 'a' });
  assert.equal(head('{"id":"a","qid":7,"role":"teacher","method":"m","model":"x","provider":"p"}'), null, 'a numeric qid is left to JSON.parse');
  assert.equal(head('{"id":"a","qid":"q"'), null);
  assert.equal(head('{"id":"a","qid":"q","role":"t","method":"m","model":"x","provider":"p"} trailing'), null);
});
