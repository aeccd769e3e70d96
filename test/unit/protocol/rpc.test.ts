import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type RequestHandlers, isNotificationEnvelope, isReplyEnvelope, isRequestEnvelope, paramsProblem } from '../../../src/protocol/messages.js';
import { HostEndpoint, RemoteError, WebviewEndpoint } from '../../../src/protocol/rpc.js';
import type { PairRecord } from '../../../src/core/curation/types.js';

function pair(id: string, state: PairRecord['state']): PairRecord {
  return { id, qid: 'q1', chosenId: 'a', rejectedId: 'b', margin: 0.2, state, origin: 'auto', createdAt: 't', updatedAt: 't' };
}

function unexpected(): never {
  throw new Error('not used by this test');
}

function handlers(overrides: Partial<RequestHandlers>): RequestHandlers {
  const base: RequestHandlers = {
    'review/get': unexpected,
    'queries/select': unexpected,
    'pairs/setState': unexpected,
    'pairs/swap': unexpected,
    'pairs/create': unexpected,
    'pairs/note': unexpected,
    'expansions/preview': unexpected,
    'expansions/save': unexpected,
    'docs/open': unexpected,
    'edit/undo': unexpected,
    'plots/get': unexpected,
    'commands/run': unexpected,
    'ui/focus': unexpected,
  };
  return { ...base, ...overrides };
}

/** Wires both ends through JSON, as postMessage's structured clone would. */
function wire(h: RequestHandlers, timeoutMs = 1000) {
  const toHost: unknown[] = [];
  let host: HostEndpoint;
  const view = new WebviewEndpoint((m) => {
    toHost.push(m);
    void host.receive(JSON.parse(JSON.stringify(m)));
  }, timeoutMs);
  host = new HostEndpoint((m) => view.receive(JSON.parse(JSON.stringify(m))), h, (e) => ({ code: e instanceof Error && 'code' in e ? String(e.code) : 'internal', message: e instanceof Error ? e.message : String(e) }));
  return { host, view, toHost };
}

test('a request resolves with the handler result', async () => {
  const { view } = wire(handlers({ 'pairs/setState': ({ pairId, state }) => pair(pairId, state) }));
  const r = await view.request('pairs/setState', { pairId: 'p7', state: 'accepted' });
  assert.equal(r.id, 'p7');
  assert.equal(r.state, 'accepted');
  assert.equal(view.pendingCount, 0);
});

test('a throwing handler still replies, with its error code and message', async () => {
  const { view } = wire(handlers({ 'pairs/swap': () => { throw Object.assign(new Error('Pair p9 does not exist.'), { code: 'store' }); } }));
  await assert.rejects(view.request('pairs/swap', { pairId: 'p9' }), (e: unknown) => e instanceof RemoteError && e.code === 'store' && e.message === 'Pair p9 does not exist.');
});

test('invalid params are refused before reaching the handler', async () => {
  let called = false;
  const { view } = wire(handlers({ 'pairs/create': () => { called = true; return pair('x', 'accepted'); } }));
  await assert.rejects(view.request('pairs/create', { qid: 'q1', chosenId: 'a', rejectedId: 'a' }), /different expansions/);
  assert.equal(called, false);
});

test('a request the host never answers times out and is forgotten', async () => {
  const view = new WebviewEndpoint(() => undefined, 30);
  await assert.rejects(view.request('edit/undo', {}), (e: unknown) => e instanceof RemoteError && e.code === 'timeout');
  assert.equal(view.pendingCount, 0);
});

test('notifications are queued until webview/ready, keeping only the latest of a kind', () => {
  const seen: unknown[] = [];
  const host = new HostEndpoint((m) => seen.push(m), handlers({}), () => ({ code: 'internal', message: '' }));
  host.notify('queries/changed', { reason: 'first' });
  host.notify('queries/changed', { reason: 'second' });
  host.notify('review/action', { action: 'accept' });
  assert.equal(seen.length, 0);
  void host.receive({ method: 'webview/ready' });
  assert.deepEqual(seen, [
    { method: 'queries/changed', params: { reason: 'second' } },
    { method: 'review/action', params: { action: 'accept' } },
  ]);
  host.notify('status/busy', { message: null });
  assert.equal(seen.length, 3);
  host.reset();
  host.notify('status/busy', { message: 'x' });
  assert.equal(seen.length, 3);
});

test('the webview dispatches notifications to typed listeners and ignores junk', () => {
  const view = new WebviewEndpoint(() => undefined);
  const got: string[] = [];
  view.on('review/action', (p) => got.push(p.action));
  view.receive({ method: 'review/action', params: { action: 'swap' } });
  view.receive({ method: 'no/such', params: {} });
  view.receive('<script>alert(1)</script>');
  view.receive(null);
  view.receive({ id: 99, ok: true, result: 1 });
  assert.deepEqual(got, ['swap']);
});

test('type guards narrow unknown data', () => {
  assert.ok(isRequestEnvelope({ id: 1, method: 'review/get', params: { qid: '1' } }));
  assert.ok(!isRequestEnvelope({ id: '1', method: 'review/get', params: {} }));
  assert.ok(!isRequestEnvelope({ id: 1, method: 'fs/delete', params: {} }));
  assert.ok(isReplyEnvelope({ id: 1, ok: false, error: { code: 'x', message: 'y' } }));
  assert.ok(!isReplyEnvelope({ id: 1, ok: false, error: 'boom' }));
  assert.ok(!isNotificationEnvelope({ id: 1, method: 'review/show', params: {} }));
  assert.equal(paramsProblem('commands/run', { command: 'workbench.action.terminal.new' }), '"command" is not a command the panel may run');
  assert.equal(paramsProblem('commands/run', { command: 'qx.openSample' }), null);
  assert.match(paramsProblem('pairs/setState', { pairId: 'p', state: 'deleted' }) ?? '', /"state" must be one of/);
  assert.match(paramsProblem('expansions/save', { expansionId: 'e', generated: '   ' }) ?? '', /non-empty/);
});
