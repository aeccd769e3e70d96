// The DL19/Cranfield test data (test/fixtures/data), loaded through the project's dataset readers, and nDCG@10
// through the project's trec_eval-exact evaluator.
import path from 'node:path';
import { readCorpusPool } from '../../../../src/core/dataset/corpus.js';
import { readExpansionFile } from '../../../../src/core/dataset/expansionFile.js';
import { readQrels } from '../../../../src/core/dataset/qrels.js';
import { readTopics } from '../../../../src/core/dataset/topics.js';
import type { CorpusDoc, Qrels, Run } from '../../../../src/core/dataset/types.js';
import { evaluate } from '../../../../src/core/eval/evaluate.js';
import { readFileSync } from 'node:fs';

export { DATA } from '../../../fixtures/dataPaths.js';
import { DATA } from '../../../fixtures/dataPaths.js';
export const GOLDEN = path.join(DATA, 'lucene-analyzer-golden');
export const POOL_FILES = [
  path.join(DATA, 'msmarco-dl-bm25-top100-rankllm/retrieve_results_dl19.json'),
  path.join(DATA, 'msmarco-dl-bm25-top100-rankllm/BM25_RM3/retrieve_results_dl19.json'),
];
export const TOPICS = path.join(DATA, 'trec-dl-topics-qrels/topics.dl19-passage.txt');
export const QRELS = path.join(DATA, 'trec-dl-topics-qrels/qrels.dl19-passage.txt');
export const Q2D = path.join(
  DATA,
  'querygym-llm-expansions-dl/runs/msmarco-v1-passage.trecdl2019/query2doc/Qwen/Qwen2.5-72B-Instruct/bm25/0656857b.queries.tsv',
);
export const CRANFIELD = path.join(DATA, 'cranfield');

/** The DL19 pool: union of the BM25 and BM25+RM3 top-100 files (5,492 passages). */
export function poolStream(): AsyncGenerator<CorpusDoc> {
  return readCorpusPool(POOL_FILES);
}

export async function poolDocs(): Promise<CorpusDoc[]> {
  const docs: CorpusDoc[] = [];
  for await (const d of poolStream()) docs.push(d);
  return docs;
}

export async function topics(): Promise<[string, string][]> {
  return (await readTopics(TOPICS)).map((t) => [t.qid, t.text]);
}

/** query2doc expansions, TAB/CR/LF runs collapsed to one space as the golden file was made. */
export async function expansions(): Promise<[string, string][]> {
  return (await readExpansionFile(Q2D)).map((r) => [r.qid, r.text.replace(/[\t\r\n]+/g, ' ')]);
}

export function qrels(): Promise<Qrels> {
  return readQrels(QRELS);
}

export function goldenLines(file: string): Map<string, string> {
  return new Map(
    readFileSync(path.join(GOLDEN, file), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => [l.slice(0, l.indexOf('\t')), l.slice(l.indexOf('\t') + 1)]),
  );
}

/** Mean nDCG@10 over all qrels queries (trec_eval -c -m ndcg_cut.10). */
export function meanNdcg10(q: Qrels, run: Run): number {
  return evaluate(q, run, ['ndcg_cut.10'], { complete: true }).mean['ndcg_cut_10']!;
}
