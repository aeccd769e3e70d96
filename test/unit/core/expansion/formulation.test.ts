import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { type FormulationName, checkFormulation, checkFormulationFit, csqeKeySentences, formulate, keywordString, lamerPassages, mugiRepeats, splitFinal } from '../../../../src/core/expansion/formulation.js';
import { QxError } from '../../../../src/core/errors.js';

import { DATA as data } from '../../../fixtures/dataPaths.js';
const dl19 = join(data, 'querygym-llm-expansions-dl/runs/msmarco-v1-passage.trecdl2019');
const topics = new Map(
  readFileSync(join(data, 'trec-dl-topics-qrels/topics.dl19-passage.txt'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.split('\t') as [string, string]),
);

function runFiles(method: string, org: string, model: string): string[] {
  const dir = join(dl19, method, org, model, 'bm25');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.queries.tsv'))
    .map((f) => join(dir, f));
}

function rows(file: string): [string, string][] {
  return parse(readFileSync(file, 'utf8'), { delimiter: '\t', relax_quotes: true }) as [string, string][];
}

function roundTrip(formulation: FormulationName, files: string[]): number {
  let n = 0;
  for (const file of files) {
    for (const [qid, final] of rows(file)) {
      const query = topics.get(qid);
      if (query === undefined) continue;
      const generated = splitFinal(formulation, query, final);
      assert.notEqual(generated, undefined, `${file} ${qid}: not a ${formulation} string`);
      assert.ok(!(generated ?? '').startsWith(`${query} `) || formulation === 'mugi', `${file} ${qid}: query left in the generated text`);
      assert.equal(formulate(formulation, query, generated ?? ''), final, `${file} ${qid}`);
      n++;
    }
  }
  return n;
}

describe('query formulations against QueryGym DL19 runs', () => {
  it('query2doc zs/fs/cot of Qwen2.5-72B and 7B: the generated text splits off and rebuilds the exact final string (43×6)', () => {
    const files = [...runFiles('query2doc', 'Qwen', 'Qwen2.5-72B-Instruct'), ...runFiles('query2doc', 'Qwen', 'Qwen2.5-7B-Instruct')];
    assert.equal(files.length, 6);
    assert.equal(roundTrip('query2doc', files), 43 * 6);
    const [qid, final] = rows(files[0] as string)[0] as [string, string];
    const q = topics.get(qid) as string;
    const g = splitFinal('query2doc', q, final) as string;
    assert.ok(final.startsWith(`${q} ${q} ${q} ${q} ${q} `));
    assert.equal(final.length, 5 * q.length + 5 + g.length);
  });

  it('MuGI runs of all four models follow the adaptive repetition ⌊⌊len(text)/len(query)⌋/5⌋', () => {
    const files = ['Qwen/Qwen2.5-72B-Instruct', 'Qwen/Qwen2.5-7B-Instruct', 'openai/gpt-4.1', 'openai/gpt-4.1-nano'].flatMap((m) => {
      const [org, model] = m.split('/') as [string, string];
      return runFiles('mugi', org, model);
    });
    assert.equal(roundTrip('mugi', files), 43 * 4);
  });

  it('CSQE and Q2E runs round-trip with their formulations', () => {
    const csqe = ['Qwen/Qwen2.5-72B-Instruct', 'Qwen/Qwen2.5-7B-Instruct', 'openai/gpt-4.1', 'openai/gpt-4.1-nano'].flatMap((m) => {
      const [org, model] = m.split('/') as [string, string];
      return runFiles('csqe', org, model);
    });
    assert.equal(roundTrip('csqe', csqe), 43 * 4, 'already extracted key sentences are used as they are');
    assert.equal(roundTrip('query2doc', runFiles('query2e', 'Qwen', 'Qwen2.5-7B-Instruct')), 43);
    assert.equal(roundTrip('lamer', runFiles('lamer', 'Qwen', 'Qwen2.5-72B-Instruct')), 43);
    assert.equal(roundTrip('qa-expand', runFiles('qa_expand', 'Qwen', 'Qwen2.5-72B-Instruct')), 43);
    assert.equal(roundTrip('concat', runFiles('genqr', 'Qwen', 'Qwen2.5-72B-Instruct')), 43);
  });
});

describe('LameR: the query before each passage', () => {
  it('formulates one passage per line and splits them back, even when a passage quotes the query', () => {
    const q = 'causes of military suicide';
    const passages = ['Certainly! Some of the primary causes of military suicide include: 1. **PTSD**', '### Causes of Military Suicide Military', '**Correct Answering Passage:** The causes of military suicide are complex'];
    const final = formulate('lamer', q, passages.join('\n'));
    assert.equal(final, `${q} ${passages[0]} ${q} ${passages[1]} ${q} ${passages[2]}`);
    assert.deepEqual(lamerPassages(q, final), passages);
    assert.equal(splitFinal('lamer', q, final), passages.join('\n'));
    // concat takes one copy out and leaves the other two between the passages: it fits only on the
    // surface, and lamer takes three out.
    assert.deepEqual(checkFormulationFit('concat', q, final), { clean: true, better: 'lamer' });
    assert.deepEqual(checkFormulationFit('lamer', q, final), { clean: true });
  });

  it('an empty passage keeps its place (QueryGym joins with single spaces); line breaks or a missing leading query are not LameR', () => {
    assert.deepEqual(lamerPassages('q1', 'q1  q1 B'), ['', 'B']);
    assert.equal(formulate('lamer', 'q1', '\nB'), 'q1  q1 B');
    assert.equal(lamerPassages('q1', 'q1 A\nq1 B'), undefined);
    assert.equal(lamerPassages('q1', 'A q1 B'), undefined);
    assert.deepEqual(lamerPassages('flea', 'flea Fleas bite. flea bites itch'), ['Fleas bite. flea bites itch'], 'a copy followed by lower case is inside a passage');
  });

  it('QA-Expand: the query 3 times; its empty answers leave the three copies without a trailing space', () => {
    assert.equal(formulate('qa-expand', 'q', 'a'), 'q q q a');
    assert.equal(formulate('qa-expand', 'q', ''), 'q q q');
    assert.equal(splitFinal('qa-expand', 'q', 'q q q'), '');
    assert.deepEqual(checkFormulationFit('query2doc', 'flea', 'flea flea flea some text'), { clean: false, better: 'qa-expand' });
  });
});

describe('formulate / splitFinal', () => {
  it('MuGI repeats the query so it balances the passages', () => {
    const q = 'abcd';
    assert.equal(mugiRepeats(q, 'x'.repeat(39)), 1);
    assert.equal(mugiRepeats(q, 'x'.repeat(40)), 2);
    assert.equal(mugiRepeats(q, 'x'.repeat(19)), 0);
    assert.equal(formulate('mugi', q, 'x'.repeat(40)), `abcd abcd ${'x'.repeat(40)}`);
    assert.equal(splitFinal('mugi', q, `abcd abcd ${'x'.repeat(40)}`), 'x'.repeat(40));
    assert.equal(splitFinal('mugi', q, `abcd ${'x'.repeat(40)}`), undefined, 'wrong repetition count is not MuGI');
  });

  it('rejects strings of another shape instead of guessing', () => {
    assert.equal(splitFinal('query2doc', 'flea', 'flea flea flea flea some text'), undefined);
    assert.equal(splitFinal('concat', 'flea', 'dog text'), undefined);
    assert.equal(splitFinal('query2doc', 'flea', 'flea flea flea flea flea'), '');
  });

  it('keywords only: list markers and separators become single spaces', () => {
    assert.equal(keywordString('1. flea life cycle\n2) egg, larva\n- pupa\n• adult'), 'flea life cycle egg larva pupa adult');
    assert.equal(formulate('keywords', 'q', 'a, b'), 'a b');
    assert.equal(formulate('keywords', 'q', formulate('keywords', 'q', 'a;\nb')), 'a b');
    assert.equal(formulate('concat', 'q', 'text'), 'q text');
    assert.equal(formulate('csqe', 'Flea Cycle', 'The Egg'), 'flea cycle flea cycle the egg');
  });

  it('CSQE keeps only the key sentences a CSQE answer quotes, lower-cased behind the query twice', () => {
    const answer = [
      'Based on the query "Flea Cycle", I have examined the initially retrieved documents. Here are the relevant documents and the key sentences extracted from each:',
      'Document 2:',
      '"Fleas go through four stages: Egg, larva, pupa and adult."',
      '',
      '**Document 5:**',
      '\u201cThe cycle takes 2 to 3 months.\u201d',
      'No other document is relevant.',
    ].join('\n');
    // The query quoted in CSQE's own preamble counts as a key sentence too, as in CSQE's code.
    assert.equal(csqeKeySentences(answer), 'Flea Cycle Fleas go through four stages: Egg, larva, pupa and adult. The cycle takes 2 to 3 months.');
    const final = formulate('csqe', 'Flea Cycle', answer);
    assert.equal(final, 'flea cycle flea cycle flea cycle fleas go through four stages: egg, larva, pupa and adult. the cycle takes 2 to 3 months.');
    assert.doesNotMatch(final, /document|examined|relevant/);
    const back = splitFinal('csqe', 'Flea Cycle', final);
    assert.equal(formulate('csqe', 'Flea Cycle', back ?? ''), final, 'the extracted sentences formulate to the same string again');
    assert.equal(csqeKeySentences('Fleas "jump" far. Document sizes vary.'), undefined, 'no "Document N:" header: not a CSQE answer');
    assert.equal(csqeKeySentences('Document 1:\nnothing quoted'), undefined);
  });

  it('an unknown formulation name is a config error listing the known ones', () => {
    assert.throws(() => checkFormulation('q2d'), (e: unknown) => QxError.is(e, 'config') && /query2doc, mugi, csqe, qa-expand, lamer, concat, keywords/.test(e.message));
  });
});
