import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CancellationError, QxError, isCancellationError } from '../../../src/core/errors.js';

// The extension (dist/extension.js) loads the pipeline from a second bundle (dist/workspace.js), so
// errors thrown there are instances of a *different* QxError class. The adapter must still see the
// code (to offer "Set API Key") and must still treat cancellation as silent.
function foreign<T extends Error>(cls: new (...a: never[]) => T, make: () => T): Error {
  const e = make();
  const copy = new Error(e.message);
  copy.name = e.name;
  for (const [k, v] of Object.entries(e)) (copy as unknown as Record<string, unknown>)[k] = v;
  assert.ok(!(copy instanceof cls));
  return copy;
}

test('a QxError from another bundle keeps its code', () => {
  const e = foreign(QxError, () => new QxError('auth', 'The endpoint rejected the API key.'));
  assert.ok(QxError.is(e));
  assert.ok(QxError.is(e, 'auth'));
  assert.ok(!QxError.is(e, 'network'));
  assert.equal((e as QxError).code, 'auth');
});

test('a CancellationError from another bundle is still a cancellation', () => {
  assert.ok(isCancellationError(foreign(CancellationError, () => new CancellationError())));
});

test('a plain Error is neither', () => {
  const e = new Error('boom');
  assert.ok(!QxError.is(e));
  assert.ok(!isCancellationError(e));
  const named = Object.assign(new Error('x'), { name: 'QxError' });
  assert.ok(!QxError.is(named), 'a name alone, without a code, is not enough');
});
