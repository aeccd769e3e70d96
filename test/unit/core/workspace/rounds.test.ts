import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRounds, pickRound, registerRound, ROUNDS_FILE } from '../../../../src/core/workspace/rounds.js';
import { defaultSettings } from '../../../../src/core/workspace/settings.js';
import { allowedSide } from '../../../../src/core/curation/pairs.js';
import { QxError } from '../../../../src/core/errors.js';
import { makeExpansion } from '../../../fixtures/curation/makeData.js';

test('the first checkpoint registers round 0 (the base student) and becomes round 1', () => {
  const root = mkdtempSync(join(tmpdir(), 'qx-rounds-'));
  try {
    assert.deepEqual(loadRounds(root), []);
    assert.throws(() => pickRound(loadRounds(root)), (e) => QxError.is(e, 'usage') && /qx round add/.test(e.message));
    const rounds = registerRound(root, defaultSettings.student, { kind: 'openai', baseUrl: 'http://127.0.0.1:9000/v1', model: 'ckpt1' }, new Date('2026-01-01T00:00:00Z'));
    assert.deepEqual(rounds.map((r) => [r.round, r.model, r.baseUrl]), [
      [0, defaultSettings.student.model, defaultSettings.student.baseUrl],
      [1, 'ckpt1', 'http://127.0.0.1:9000/v1'],
    ]);
    registerRound(root, defaultSettings.student, { kind: 'onnx', modelPath: '/models/ckpt2' });
    assert.deepEqual(loadRounds(root).map((r) => [r.round, r.kind, r.model]), [[0, 'openai', defaultSettings.student.model], [1, 'openai', 'ckpt1'], [2, 'onnx', '/models/ckpt2']]);
    assert.equal(pickRound(loadRounds(root)).round, 2);
    assert.throws(() => pickRound(loadRounds(root), 7), /there is no round 7; rounds: 0..2/);
    assert.throws(() => registerRound(root, defaultSettings.student, { kind: 'openai', baseUrl: 'localhost:8000', model: 'x' }), /http\(s\) URL/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a damaged rounds file names the file and the problem', () => {
  const root = mkdtempSync(join(tmpdir(), 'qx-rounds-'));
  try {
    mkdirSync(join(root, '.qx'));
    const file = join(root, ROUNDS_FILE);
    writeFileSync(file, '{"version": 1, "rounds": [{"round": 1, "kind": "openai", "baseUrl": "http://x", "model": "m"}]}');
    assert.throws(() => loadRounds(root), (e) => QxError.is(e, 'config') && e.message.includes(file) && /round 0 is missing or out of order/.test(e.message));
    writeFileSync(file, '{not json');
    assert.throws(() => loadRounds(root), (e) => QxError.is(e, 'config') && /not JSON/.test(e.message));
    assert.ok(readFileSync(file, 'utf8').startsWith('{not'), 'left as it was');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('side rules: roles, methods, round:N and any round', () => {
  const teacher = makeExpansion('q', 't', { role: 'teacher' });
  const r1 = { ...makeExpansion('q', 's', { role: 'student', method: 'query2doc-zs@r1' }), round: 1 };
  const plain = makeExpansion('q', 'p', { role: 'student' });
  assert.ok(allowedSide(teacher, undefined) && allowedSide(teacher, []));
  assert.ok(allowedSide(teacher, ['teacher']) && !allowedSide(r1, ['teacher']));
  assert.ok(allowedSide(r1, ['round:1']) && !allowedSide(r1, ['round:2']) && !allowedSide(plain, ['round:1']));
  assert.ok(allowedSide(r1, ['round']) && !allowedSide(plain, ['round']));
  assert.ok(allowedSide(r1, ['query2doc-zs@r1']) && allowedSide(plain, ['student']));
});

test('best-worst with side rules pairs the best allowed chosen with the worst allowed rejected', async () => {
  const { buildPairs } = await import('../../../../src/core/curation/pairs.js');
  const { defaultPairRules } = await import('../../../../src/core/curation/types.js');
  const { makeScore } = await import('../../../fixtures/curation/makeData.js');
  const mk = (id: string, role: 'teacher' | 'student', ndcg: number, round?: number) => {
    const e = { ...makeExpansion('q', id, { role, method: round === undefined ? 'query2doc-zs' : `query2doc-zs@r${round}` }), ...(round === undefined ? {} : { round }) };
    return { expansion: e, score: makeScore(e, ndcg, 0.1) };
  };
  // The best candidate is a round-1 sample and the worst a teacher text: without side rules they would pair the other way round.
  const group = [mk('t-good', 'teacher', 0.7), mk('t-bad', 'teacher', 0.05), mk('r1-best', 'student', 0.9, 1), mk('r1-poor', 'student', 0.2, 1), mk('r0', 'student', 0.1, 0)];
  const free = buildPairs([group], defaultPairRules, [], { now: '2026-01-01T00:00:00.000Z' });
  assert.deepEqual(free.map((p) => [p.chosenId, p.rejectedId]), [['r1-best', 't-bad']]);
  const onPolicy = buildPairs([group], { ...defaultPairRules, chosenFrom: ['teacher'], rejectedFrom: ['round:1'] }, [], { now: '2026-01-01T00:00:00.000Z' });
  assert.deepEqual(onPolicy.map((p) => [p.chosenId, p.rejectedId]), [['t-good', 'r1-poor']]);
  const all = buildPairs([group], { ...defaultPairRules, strategy: 'all', chosenFrom: ['teacher'], rejectedFrom: ['round'] }, [], { now: '2026-01-01T00:00:00.000Z' });
  assert.deepEqual(all.map((p) => [p.chosenId, p.rejectedId]).sort(), [['t-good', 'r0'], ['t-good', 'r1-poor']]);
});
