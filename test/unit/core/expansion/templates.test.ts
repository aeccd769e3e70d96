import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { QxError } from '../../../../src/core/errors.js';
import type { RunHit } from '../../../../src/core/dataset/types.js';
import type { Retriever } from '../../../../src/core/retrieval/retriever.js';
import { buildPrompt } from '../../../../src/core/expansion/runner.js';
import { type FewShotExample, loadTemplates, parseTemplate, pickExamples, renderTemplate, shippedTemplateDir, templateRef } from '../../../../src/core/expansion/templates.js';

const valid = (body: string, meta = 'formulation: query2doc'): string => ['---', 'id: t', 'version: 2', meta, '---', body, ''].join('\n');

describe('shipped templates', () => {
  it('cover the methods, each hashed from its file text', async () => {
    const all = await loadTemplates();
    assert.deepEqual([...all.keys()].sort(), ['cqr-condense', 'cqr-llm4cs', 'csqe', 'hyde', 'lamer', 'mugi', 'q2e-zs', 'query2doc-cot', 'query2doc-fs', 'query2doc-zh', 'query2doc-zs']);
    for (const t of all.values()) {
      const text = await readFile(t.file, 'utf8');
      assert.equal(t.sha256, createHash('sha256').update(text).digest('hex'));
      assert.equal(templateRef(t).hash, t.sha256.slice(0, 16));
      assert.equal(t.origin, 'shipped');
    }
    const zs = all.get('query2doc-zs');
    assert.deepEqual(renderTemplate(zs!, { qid: '1', query: 'how long is life cycle of flea' }), [
      { role: 'user', content: 'Write a passage that answers the given query:\nQuery: how long is life cycle of flea\nPassage:' },
    ]);
    assert.deepEqual(renderTemplate(all.get('q2e-zs')!, { qid: '1', query: 'flea' }), [{ role: 'user', content: 'Write a list of keywords for the following query: flea' }]);
    assert.match(all.get('query2doc-cot')!.messages[0]!.content, /^Answer the following query:\n.*\nGive the rationale before answering$/);
    assert.equal(all.get('mugi')!.formulation, 'mugi');
    assert.equal(all.get('csqe')!.formulation, 'csqe');
    assert.deepEqual(all.get('lamer')!.needs, { examples: false, passages: true, history: false });
    const zh = all.get('query2doc-zh')!;
    assert.equal(zh.language, 'zh');
    assert.match(renderTemplate(zh, { qid: '0', query: '月球是什么' })[0]!.content, /查询：月球是什么\n段落：$/);
  });

  it('a workspace template with the same id wins', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'qx-tmpl-'));
    try {
      const text = ['---', 'id: query2doc-zs', 'version: 7', 'formulation: query2doc', '---', '[user]', 'My own prompt for {{query}}', ''].join('\n');
      await writeFile(join(dir, 'mine.tmpl'), text);
      const all = await loadTemplates({ workspaceDir: dir });
      const t = all.get('query2doc-zs')!;
      assert.equal(t.origin, 'workspace');
      assert.equal(t.version, 7);
      assert.equal(t.messages[0]!.content, 'My own prompt for {{query}}');
      assert.equal(all.get('hyde')?.origin, 'shipped');
      assert.equal((await loadTemplates({ workspaceDir: join(dir, 'missing') })).get('query2doc-zs')?.origin, 'shipped');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('shipped templates say what their papers published', () => {
  it('MuGI: the PassageGenGPT system message, the query in single quotes, and the primed assistant turn', async () => {
    const mugi = (await loadTemplates()).get('mugi')!;
    const msgs = renderTemplate(mugi, { qid: '1', query: 'how long is life cycle of flea' });
    assert.deepEqual(
      msgs.map((m) => m.role),
      ['system', 'user', 'assistant'],
    );
    assert.match(msgs[0]!.content, /^You are PassageGenGPT, /);
    assert.equal(msgs[1]!.content, "Generate one passage that is relevant to the following query: 'how long is life cycle of flea'. The passage should be concise, informative, and clear");
    assert.equal(msgs[2]!.content, "Sure, here's a passage relevant to the query:");
  });

  it('LameR: the quoted question, the numbered candidates, most of them wrong', async () => {
    const lamer = (await loadTemplates()).get('lamer')!;
    const [m] = renderTemplate(lamer, { qid: '1', query: 'flea life cycle', passages: ['first\npassage', 'second'] });
    assert.equal(
      m!.content,
      'Give a question "flea life cycle" and its possible answering passages (most of these passages are wrong) enumerated as:\n1. first passage\n2. second\nplease write a correct answering passage.',
    );
  });

  it('CSQE: the system instruction, the one-shot shark demonstration, then the query and its passages', async () => {
    const csqe = (await loadTemplates()).get('csqe')!;
    assert.equal(csqe.numPassages, 10);
    const msgs = renderTemplate(csqe, { qid: '1', query: 'flea life cycle', passages: ['a flea lives two months', 'fleas lay eggs'] });
    assert.deepEqual(
      msgs.map((m) => m.role),
      ['system', 'user', 'assistant', 'user'],
    );
    assert.match(msgs[0]!.content, /identifying the ones that are relevant, even partially, to the query\. Once the relevant documents are identified, you will extract the key sentences/);
    assert.match(msgs[1]!.content, /^Query: "how are some sharks warm blooded"\nRetrieved documents:\n1\. Most sharks/);
    assert.match(msgs[2]!.content, /\nDocument 4:\n"Salmon sharks can elevate their body temperatures by up to 20 degrees compared to the surrounding water, for example\."$/);
    assert.match(msgs[3]!.content, /^Query: "flea life cycle"\nRetrieved documents:\n1\. a flea lives two months\n2\. fleas lay eggs\n\nYou will begin by examining/);
  });

  it('every changed prompt has a new version, so its hash and cache keys change with it', async () => {
    const all = await loadTemplates();
    const versions = Object.fromEntries([...all.values()].map((t) => [t.id, t.version]));
    assert.deepEqual(versions, { 'cqr-condense': 1, 'cqr-llm4cs': 1, csqe: 2, hyde: 1, lamer: 2, mugi: 2, 'q2e-zs': 2, 'query2doc-cot': 1, 'query2doc-fs': 1, 'query2doc-zh': 1, 'query2doc-zs': 2 });
    assert.equal(all.get('hyde')!.messages[0]!.content, 'Please write a passage to answer the question.\nQuestion: {{query}}\nPassage:');
  });
});

describe('template errors', () => {
  it('an unknown placeholder names the file, the line and the known placeholders', () => {
    const text = valid('[system]\nBe brief.\n[user]\nQuery: {{query}}\nDocs: {{passage}}');
    assert.throws(
      () => parseTemplate(text, '/ws/.qx/templates/bad.tmpl'),
      (e: unknown) =>
        QxError.is(e, 'template') &&
        e.file === '/ws/.qx/templates/bad.tmpl' &&
        e.line === 10 &&
        e.message.includes('{{passage}}') &&
        e.message.includes('{{query}}, {{examples}}, {{passages}}'),
    );
  });

  it('front matter problems are reported with their line', () => {
    assert.throws(() => parseTemplate('[user]\n{{query}}', 'a.tmpl'), (e: unknown) => QxError.is(e, 'template') && e.line === 1);
    assert.throws(() => parseTemplate(valid('[user]\n{{query}}', 'formulation: fancy'), 'a.tmpl'), (e: unknown) => QxError.is(e, 'template') && e.line === 4 && /fancy/.test(e.message));
    assert.throws(() => parseTemplate(valid('[user]\nno query here'), 'a.tmpl'), /never uses \{\{query\}\}/);
    assert.throws(() => parseTemplate(valid('[user]\n{{query}} {{examples}}'), 'a.tmpl'), /\{\{examples\}\} is used but not declared/);
  });
});

describe('few-shot exemplars', () => {
  const pool: FewShotExample[] = Array.from({ length: 30 }, (_, i) => ({ qid: `t${i}`, query: `training query ${i}`, passage: `passage ${i}` }));

  it('never include the query being expanded, by id or by text', () => {
    for (let i = 0; i < 30; i++) {
      const picked = pickExamples([...pool, { qid: 'dup', query: ` Training  QUERY ${i}`, passage: 'leak' }], `t${i}`, `training query ${i}`, 4);
      assert.equal(picked.length, 4);
      assert.ok(picked.every((e) => e.qid !== `t${i}` && e.qid !== 'dup'), `query t${i} got itself as an exemplar`);
    }
    assert.deepEqual(pickExamples(pool, 'x', 'q', 4), pickExamples(pool, 'x', 'q', 4), 'deterministic per query');
  });

  it('render refuses exemplars that contain the query itself', async () => {
    const fs = (await loadTemplates()).get('query2doc-fs')!;
    assert.throws(() => renderTemplate(fs, { qid: 't1', query: 'training query 1', examples: pool.slice(0, 4) }), (e: unknown) => QxError.is(e, 'config') && /own few-shot examples/.test(e.message));
    const msgs = renderTemplate(fs, { qid: 'q9', query: 'new query', examples: pool.slice(0, 2) });
    assert.equal(msgs[0]!.content, 'Write a passage that answers the given query:\n\nQuery: training query 0\nPassage: passage 0\n\nQuery: training query 1\nPassage: passage 1\n\nQuery: new query\nPassage:');
  });

  it('a pool too small once the query is excluded is an error, not a silent short prompt', () => {
    assert.throws(() => pickExamples(pool.slice(0, 4), 't0', 'training query 0', 4), (e: unknown) => QxError.is(e, 'config') && /pool has 3/.test(e.message));
  });
});

describe('templates with retrieved passages (LameR, CSQE)', () => {
  const docs = new Map([
    ['d1', 'a flea lives two to three months'],
    ['d2', 'concrete floors cost money'],
    ['d3', 'the flea life cycle has four stages'],
  ]);
  const retriever: Retriever = {
    info: () => ({ engine: 'overlap', analyzer: {}, params: {}, numDocs: docs.size }),
    search: async (q, o) => {
      const terms = new Set(q.toLowerCase().split(/\s+/));
      const hits: RunHit[] = [...docs].map(([docid, text]) => ({ docid, score: text.split(' ').filter((w) => terms.has(w)).length }));
      return hits.filter((h) => h.score > 0).sort((a, b) => b.score - a.score || (a.docid < b.docid ? 1 : -1)).slice(0, o?.k ?? 1000);
    },
  };

  it('puts the top passages into the prompt in rank order', async () => {
    const lamer = (await loadTemplates()).get('lamer')!;
    const msgs = await buildPrompt(lamer, { qid: '1', text: 'flea life cycle' }, { retriever, getDocText: (id) => docs.get(id) });
    assert.match(msgs[0]!.content, /\n1\. the flea life cycle has four stages\n2\. a flea lives two to three months\n/);
    assert.doesNotMatch(msgs[0]!.content, /concrete/);
  });

  it('without a retriever the template cannot run', async () => {
    const csqe = (await loadTemplates()).get('csqe')!;
    await assert.rejects(buildPrompt(csqe, { qid: '1', text: 'x' }, {}), (e: unknown) => QxError.is(e, 'config'));
  });
});

describe('shippedTemplateDir', () => {
  it('points at the folder holding the .tmpl files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'qx-tmpl2-'));
    try {
      await mkdir(join(dir, 'x'));
      const all = await loadTemplates({ shippedDir: shippedTemplateDir(), workspaceDir: join(dir, 'x') });
      assert.ok(all.size >= 9);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
