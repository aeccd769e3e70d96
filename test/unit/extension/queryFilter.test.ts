import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { QuerySummary } from '../../../src/core/workspace/api.js';
import { formatDelta, matchesFilter, parseFilter, sortQueries } from '../../../src/extension/queryFilter.js';

function q(qid: string, text: string, bestDelta: number | null, extra: Partial<QuerySummary> = {}): QuerySummary {
  return { qid, text, judged: 50, relevant: 10, baseNdcg10: 0.4, bestDelta, bestMethod: bestDelta === null ? null : 'query2doc-fs', judged10: 0.8, expansions: 3, pairs: { auto: 0, accepted: 0, rejected: 0, edited: 0 }, noRelevant: false, ...extra };
}

const rows = [
  q('10', 'how long is a day on mars', 0.12, { pairs: { auto: 1, accepted: 0, rejected: 0, edited: 0 } }),
  q('2', 'causes of the roman empire decline', -0.05, { bestMethod: 'query2doc-zs', judged10: 0.4 }),
  q('33', 'vitamin d deficiency symptoms', null),
  q('4', 'what is a tax credit', 0, { pairs: { auto: 0, accepted: 2, rejected: 1, edited: 0 } }),
];

function filter(text: string): string[] {
  const f = parseFilter(text);
  assert.ok(typeof f !== 'string', `filter "${text}" parses: ${String(f)}`);
  return rows.filter((r) => matchesFilter(r, f)).map((r) => r.qid);
}

test('free words match the qid or the text, all words required', () => {
  assert.deepEqual(filter('roman'), ['2']);
  assert.deepEqual(filter('ROMAN decline'), ['2']);
  assert.deepEqual(filter('roman mars'), []);
  assert.deepEqual(filter('33'), ['33']);
  assert.deepEqual(filter(''), ['10', '2', '33', '4']);
});

test('state, method, delta, judged and scored filters', () => {
  assert.deepEqual(filter('state:auto'), ['10']);
  assert.deepEqual(filter('state:none'), ['2', '33']);
  assert.deepEqual(filter('state:accepted state:auto'), ['10', '4']);
  assert.deepEqual(filter('method:zs'), ['2']);
  assert.deepEqual(filter('delta>0'), ['10']);
  assert.deepEqual(filter('delta<=0'), ['2', '4']);
  assert.deepEqual(filter('judged<0.5'), ['2']);
  assert.deepEqual(filter('scored:no'), ['33']);
});

test('malformed filters are refused with a sentence saying how to fix them', () => {
  assert.match(String(parseFilter('state:done')), /Unknown pair state "done": use auto/);
  assert.match(String(parseFilter('delta>>1')), /not a comparison like delta>0.1/);
  assert.match(String(parseFilter('scored:maybe')), /takes yes or no/);
  assert.match(String(parseFilter('method:')), /needs a value/);
});

test('sorting: unscored queries go last, ties break by natural qid order', () => {
  assert.deepEqual(sortQueries(rows, 'qid').map((r) => r.qid), ['2', '4', '10', '33']);
  assert.deepEqual(sortQueries(rows, 'deltaDesc').map((r) => r.qid), ['10', '4', '2', '33']);
  assert.deepEqual(sortQueries(rows, 'deltaAsc').map((r) => r.qid), ['2', '4', '10', '33']);
  assert.deepEqual(sortQueries(rows, 'state').map((r) => r.qid)[0], '10');
  assert.deepEqual(sortQueries(rows, 'judged').map((r) => r.qid)[0], '2');
});

test('deltas read as signed three-decimal numbers', () => {
  assert.equal(formatDelta(0.1234), '+0.123');
  assert.equal(formatDelta(-0.0315), '−0.031');
  assert.equal(formatDelta(0.0001), '0.000');
  assert.equal(formatDelta(null), '–');
});

test('the query list navigates in display order and follows filter changes', async () => {
  const { QueryList } = await import('../../../src/extension/queryFilter.js');
  let calls = 0;
  const list = new QueryList(() => { calls++; return rows; });
  list.setSort('deltaDesc');
  assert.deepEqual(list.rows().map((r) => r.qid), ['10', '4', '2', '33']);
  assert.equal(list.neighbour('4', 'next')?.qid, '2');
  assert.equal(list.neighbour('4', 'previous')?.qid, '10');
  assert.equal(list.neighbour('33', 'next')?.qid, '33', 'the last query stays last');
  const f = parseFilter('state:none');
  assert.ok(typeof f !== 'string');
  list.setFilter(f);
  assert.equal(list.indexOf('10'), -1);
  assert.equal(list.neighbour('10', 'next')?.qid, '2', 'a filtered-out query continues from the first visible one');
  assert.equal(calls, 1, 'filtering and sorting reuse the fetched list');
  list.invalidate();
  list.rows();
  assert.equal(calls, 2);
});

test('after one query changes, its row is updated in place when it keeps its place, else the list asks to be rebuilt', async () => {
  const { QueryList } = await import('../../../src/extension/queryFilter.js');
  // The workspace replaces the summary of the edited query (copy on write); the others stay the same objects.
  let source = rows.map((r) => ({ ...r, pairs: { ...r.pairs } }));
  const edit = (qid: string, change: Partial<QuerySummary>) => {
    source = source.map((r) => (r.qid === qid ? { ...r, ...change } : r));
  };
  const list = new QueryList(() => source);
  assert.equal(list.update('10'), undefined, 'nothing drawn yet: nothing to update');
  list.setSort('deltaDesc');
  const shown = list.rows();
  const row10 = shown[0]!;
  // Accepting query 10's auto pair: the delta (the sort value) stays, so the row keeps its place.
  edit('10', { pairs: { auto: 0, accepted: 1, rejected: 0, edited: 0 } });
  assert.equal(list.update('10'), row10, 'the shown row object is the one to redraw');
  assert.deepEqual(row10.pairs, { auto: 0, accepted: 1, rejected: 0, edited: 0 });
  assert.equal(list.rows(), shown, 'no rebuild');
  // An edit that moves the row (a new best delta under the delta sort) asks for a rebuild.
  edit('2', { bestDelta: 0.5 });
  assert.equal(list.update('2'), undefined);
  list.invalidate();
  assert.deepEqual(list.rows().map((r) => r.qid), ['2', '10', '4', '33']);
  // Under a filter: leaving it asks for a rebuild; hidden before and after needs no redraw.
  const f = parseFilter('state:auto');
  assert.ok(typeof f !== 'string');
  list.setFilter(f);
  assert.deepEqual(list.rows().map((r) => r.qid), []);
  edit('4', { pairs: { auto: 0, accepted: 3, rejected: 1, edited: 0 } });
  assert.equal(list.update('4'), null, 'hidden before and after');
  edit('4', { pairs: { auto: 1, accepted: 3, rejected: 1, edited: 0 } });
  assert.equal(list.update('4'), undefined, 'now shown: rebuild');
  list.invalidate();
  assert.deepEqual(list.rows().map((r) => r.qid), ['4']);
  // A conversation turn is always rebuilt (its head row shows the whole conversation's best delta).
  edit('4', { conversation: { id: 'c1', turn: 2 } });
  assert.equal(list.update('4'), undefined);
});

test('natural qid order: the fast path for plain numbers orders exactly as the numeric collator', async () => {
  const { compareQid } = await import('../../../src/extension/queryFilter.js');
  const collator = new Intl.Collator('en', { numeric: true });
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const ids = ['0', '1', '2', '9', '10', '100', '007', '7', 'a', 'a2', 'a10', 'q-1', '12345678901234567890', '99999999999999999999', ''];
  for (let i = 0; i < 300; i++) ids.push(String(Math.floor(rand() * 10 ** (1 + Math.floor(rand() * 9)))));
  for (const a of ids) for (const b of ids) assert.equal(Math.sign(compareQid(a, b)), Math.sign(collator.compare(a, b)), `${a} vs ${b}`);
});
