import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { QxError } from '../../../../src/core/errors.js';
import { formulate, rewriteText } from '../../../../src/core/expansion/formulation.js';
import { loadTemplates, parseTemplate, renderHistory, renderTemplate } from '../../../../src/core/expansion/templates.js';
import { datasetRewriteRecords } from '../../../../src/core/expansion/datasetRewrites.js';
import { readTopics } from '../../../../src/core/dataset/topics.js';
import { DATA } from '../../../fixtures/dataPaths.js';

const history = [
  { qid: '81_1', utterance: 'How do you know when your garage door opener is going bad?' },
  { qid: '81_2', utterance: 'Now it  stopped\nworking. Why?', response: 'The motor may have failed.' },
];

test('renderHistory lays out earlier turns as LLM4CS does, with responses when known', () => {
  assert.equal(renderHistory([]), '(no earlier turns)');
  assert.equal(
    renderHistory(history),
    'Turn: 1\nQuestion: How do you know when your garage door opener is going bad?\n\nTurn: 2\nQuestion: Now it stopped working. Why?\nResponse: The motor may have failed.',
  );
});

test('the shipped rewrite templates hold the history and the current turn; a non-conversational query is refused', async () => {
  const templates = await loadTemplates();
  for (const id of ['cqr-llm4cs', 'cqr-condense']) {
    const t = templates.get(id)!;
    assert.equal(t.formulation, 'rewrite');
    assert.equal(t.needs.history, true);
    const [user] = renderTemplate(t, { qid: '81_3', query: 'How much does it cost to fix it?', conversation: { turn: 3, history } });
    assert.ok(user!.content.includes('Question: Now it stopped working. Why?\nResponse: The motor may have failed.'), user!.content);
    assert.ok(user!.content.includes('How much does it cost to fix it?'));
    assert.throws(() => renderTemplate(t, { qid: '1', query: 'q' }), (e: unknown) => QxError.is(e, 'config') && /not one/.test(e.message));
  }
  const llm4cs = renderTemplate(templates.get('cqr-llm4cs')!, { qid: '81_3', query: 'How much?', conversation: { turn: 3, history } })[0]!.content;
  assert.match(llm4cs, /\n\nTurn: 3\nQuestion: How much\?\nRewrite:$/);
});

test('a template must declare needs: [history] exactly when it uses {{history}}', () => {
  const head = (needs: string) => `---\nid: x\nversion: 1\nformulation: rewrite\nneeds: ${needs}\n---\n[user]\n`;
  assert.throws(() => parseTemplate(`${head('[]')}{{history}}\n{{query}}\n`, 'x.tmpl'), (e: unknown) => QxError.is(e, 'template') && /\{\{history\}\} is used but not declared/.test(e.message));
  assert.throws(() => parseTemplate(`${head('[history]')}{{query}}\n`, 'x.tmpl'), (e: unknown) => QxError.is(e, 'template') && /declared but not used/.test(e.message));
  assert.equal(parseTemplate(`${head('[history]')}{{history}}\n{{query}}\n`, 'x.tmpl').needs.history, true);
});

test('rewriteText takes the rewrite out of a model answer', () => {
  assert.equal(rewriteText('Rewrite: Is throat cancer treatable?\nResponse: Yes.'), 'Is throat cancer treatable?');
  assert.equal(rewriteText('\n  "Is throat cancer treatable?"  \n'), 'Is throat cancer treatable?');
  assert.equal(rewriteText('The user asks about throat cancer. So the question should be rewritten as: Is throat cancer treatable?'), 'Is throat cancer treatable?');
  assert.equal(rewriteText('Standalone question: When did the Curiosity   rover land?'), 'When did the Curiosity rover land?');
  assert.equal(formulate('rewrite', 'Is it treatable?', 'Rewrite: Is throat cancer treatable?'), 'Is throat cancer treatable?', 'the rewrite replaces the query');
});

test('CAsT 2020 rewrites become candidates: 216 manual (teacher, human) and 216 automatic (baseline), stable ids', async () => {
  const topics = await readTopics(join(DATA, 'trec-cast/2020/2020_manual_evaluation_topics_v1.0.json'));
  const records = datasetRewriteRecords(topics, '2026-01-01T00:00:00Z');
  const manual = records.filter((r) => r.method === 'manual-rewrite');
  const auto = records.filter((r) => r.method === 'automatic-rewrite');
  assert.equal(manual.length, 216);
  assert.equal(auto.length, 216);
  assert.ok(manual.every((r) => r.role === 'teacher' && r.model === 'human' && r.final === r.generated));
  assert.ok(auto.every((r) => r.role === 'baseline'));
  const r = manual.find((x) => x.qid === '81_2')!;
  assert.equal(r.query, 'Now it stopped working. Why?');
  assert.equal(r.final, 'Now my garage door opener stopped working. Why?');
  assert.deepEqual(datasetRewriteRecords(topics, 'later').map((x) => x.id), records.map((x) => x.id));
  assert.equal(new Set(records.map((x) => x.id)).size, records.length);
});
