import { test } from 'node:test';
import assert from 'node:assert/strict';
import { conditioningOf, outputKindOf, outputKindOfName, taskMismatch } from '../../../../src/core/curation/kinds.js';
import { makeExpansion } from '../../../fixtures/curation/makeData.js';

const imported = (method: string, formulation = 'query2doc') => {
  const { template: _t, ...e } = makeExpansion('q', `${method}-1`, { method });
  return { ...e, provider: 'import', formulation };
};

test('the output kind comes from the method of every QueryGym DL19 run and of the shipped templates', () => {
  const kinds: Record<string, string> = {
    'query2doc-zs': 'passage',
    'query2doc-fs': 'passage',
    'query2doc-cot': 'passage',
    query2doc: 'passage',
    mugi: 'passage',
    hyde: 'passage',
    lamer: 'passage',
    query2e: 'keywords',
    'q2e-zs': 'keywords',
    genqr: 'keywords',
    genqr_ensemble: 'keywords',
    qa_expand: 'answer-list',
    csqe: 'extract',
  };
  for (const [method, kind] of Object.entries(kinds)) assert.equal(outputKindOf(imported(method)), kind, method);
  assert.equal(outputKindOfName('GenQR Ensemble'), 'keywords', 'case, spaces and underscores do not matter');
  assert.equal(outputKindOfName('my-own-method'), undefined);
});

test('LameR and CSQE are retrieval-conditioned, the others are not', () => {
  assert.equal(conditioningOf(imported('lamer')), 'retrieval');
  assert.equal(conditioningOf(imported('csqe')), 'retrieval');
  for (const m of ['query2doc-fs', 'mugi', 'query2e', 'qa_expand']) assert.equal(conditioningOf(imported(m)), 'query', m);
});

test('a stored kind wins; an unknown method falls back to its formulation', () => {
  assert.equal(outputKindOf({ ...imported('lamer'), outputKind: 'rewrite' }), 'rewrite');
  assert.equal(conditioningOf({ ...imported('lamer'), conditioning: 'query' }), 'query');
  assert.equal(outputKindOf(imported('mine', 'keywords')), 'keywords');
  assert.equal(outputKindOf(imported('mine', 'concat')), 'passage');
  // A record's template id names what was run, even under a user's method label.
  assert.equal(outputKindOf({ ...imported('teacher-run-3'), template: { id: 'q2e-zs', version: 2, hash: 'x' } }), 'keywords');
});

test('taskMismatch says why an expansion does not fit the task', () => {
  const task = { template: 'query2doc-zs', kind: 'passage' as const, includeRetrievalConditioned: false };
  assert.equal(taskMismatch(imported('query2doc-fs'), task), null);
  assert.match(taskMismatch(imported('query2e'), task) ?? '', /keywords.*asks for passage/);
  assert.match(taskMismatch(imported('lamer'), task) ?? '', /retrieved passages/);
  assert.equal(taskMismatch(imported('lamer'), { ...task, includeRetrievalConditioned: true }), null);
  const csqe = taskMismatch(imported('csqe'), task) ?? '';
  assert.match(csqe, /extract/);
  assert.match(csqe, /retrieved passages/);
});
