import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { QuerySummary } from '../../../src/core/workspace/api.js';
import { bestTurnDelta, groupConversations, groupedOrder, isConversationGroup } from '../../../src/extension/conversationGroups.js';
import { QueryList, parseFilter } from '../../../src/extension/queryFilter.js';

function turn(qid: string, bestDelta: number | null): QuerySummary {
  const [conv, n] = qid.split('_');
  return { qid, text: `turn ${qid}`, judged: 5, relevant: 1, baseNdcg10: 0.2, bestDelta, bestMethod: null, judged10: 1, expansions: 1, pairs: { auto: 0, accepted: 0, rejected: 0, edited: 0 }, noRelevant: false, conversation: { id: conv!, turn: Number(n) } };
}
const rows = [turn('31_1', 0.1), turn('31_2', 0.4), turn('31_10', -0.2), turn('32_1', null), turn('32_2', 0.5)];

test('turns are grouped by conversation, in turn order; conversations in the order of their first row', () => {
  const sortedByDelta = [...rows].sort((a, b) => (b.bestDelta ?? -9) - (a.bestDelta ?? -9));
  const groups = groupConversations(sortedByDelta);
  assert.deepEqual(groups.map((g) => (isConversationGroup(g) ? g.id : g.qid)), ['32', '31'], '32_2 has the best delta, so 32 comes first');
  assert.ok(groups.every(isConversationGroup));
  const g31 = groups[1]!;
  assert.ok(isConversationGroup(g31));
  assert.deepEqual(g31.turns.map((t) => t.qid), ['31_1', '31_2', '31_10'], 'turn 10 after turn 2 (numbers, not strings)');
  assert.equal(bestTurnDelta(g31), 0.4);
  assert.deepEqual(groupedOrder(sortedByDelta).map((t) => t.qid), ['32_1', '32_2', '31_1', '31_2', '31_10']);
});

test('queries that are not turns keep their place; a list with no turn is unchanged', () => {
  const plain = { ...turn('x', 0.3) };
  delete plain.conversation;
  assert.deepEqual(groupConversations([plain, rows[1]!, rows[0]!]).map((g) => (isConversationGroup(g) ? `conv ${g.id}` : g.qid)), ['x', 'conv 31']);
  const flat = rows.map(({ conversation: _c, ...q }) => q);
  assert.deepEqual(groupConversations(flat), flat);
});

test('the query browser list walks turns conversation by conversation, within the filter', () => {
  const list = new QueryList();
  list.setSource(() => rows);
  list.setSort('deltaDesc');
  assert.deepEqual(list.rows().map((q) => q.qid), ['32_1', '32_2', '31_1', '31_2', '31_10']);
  assert.equal(list.neighbour('32_2', 'next')?.qid, '31_1', 'next query goes on to the next conversation');
  const f = parseFilter('delta>0');
  assert.ok(typeof f !== 'string');
  list.setFilter(f);
  assert.deepEqual(list.rows().map((q) => q.qid), ['32_2', '31_1', '31_2']);
});
