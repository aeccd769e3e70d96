// Test-local loading of the shared DL19 data (the dataset readers live in src/core/dataset; this
// keeps the engine's tests independent of their progress) and a trec_eval-exact nDCG@10.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import type { CorpusDoc, Qrels, RunHit } from '../../../../src/core/dataset/types.js';

export const DATA = path.resolve(__dirname, '../../../../../shared/data');
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

/** The DL19 pool: union of the BM25 and BM25+RM3 top-100 files, first occurrence kept. */
export function poolDocs(): CorpusDoc[] {
  const seen = new Map<string, CorpusDoc>();
  for (const f of POOL_FILES) {
    for (const q of JSON.parse(readFileSync(f, 'utf8')) as { hits: { docid: string; content: string }[] }[]) {
      for (const h of q.hits) if (!seen.has(h.docid)) seen.set(h.docid, { id: h.docid, text: h.content });
    }
  }
  return [...seen.values()];
}

export function topics(): [string, string][] {
  return readFileSync(TOPICS, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const [qid, text] = l.split('\t');
      return [qid!, text!];
    });
}

/** query2doc expansions (RFC-4180 TSV), TAB/CR/LF runs collapsed as the golden file was made. */
export function expansions(): [string, string][] {
  const rows = parse(readFileSync(Q2D, 'utf8'), { delimiter: '\t', relax_quotes: true }) as string[][];
  return rows.map((r) => [r[0]!, r[1]!.replace(/[\t\r\n]+/g, ' ')]);
}

export function qrels(): Qrels {
  const q: Qrels = new Map();
  for (const l of readFileSync(QRELS, 'utf8').split('\n')) {
    const p = l.trim().split(/\s+/);
    if (p.length < 4) continue;
    let m = q.get(p[0]!);
    if (!m) q.set(p[0]!, (m = new Map()));
    m.set(p[2]!, Number(p[3]));
  }
  return q;
}

export function goldenLines(file: string): Map<string, string> {
  return new Map(
    readFileSync(path.join(GOLDEN, file), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => [l.slice(0, l.indexOf('\t')), l.slice(l.indexOf('\t') + 1)]),
  );
}

/** trec_eval ndcg_cut.10: score desc, docid desc (strcmp), linear gains, ideal from qrels. */
export function ndcg10(qrel: Map<string, number> | undefined, hits: RunHit[]): number {
  if (!qrel) return 0;
  const sorted = [...hits].sort((a, b) => b.score - a.score || (a.docid < b.docid ? 1 : a.docid > b.docid ? -1 : 0));
  let dcg = 0;
  sorted.slice(0, 10).forEach((h, i) => {
    const g = qrel.get(h.docid) ?? 0;
    if (g > 0) dcg += g / Math.log2(i + 2);
  });
  const ideal = [...qrel.values()].filter((g) => g > 0).sort((a, b) => b - a).slice(0, 10);
  const idcg = ideal.reduce((s, g, i) => s + g / Math.log2(i + 2), 0);
  return idcg === 0 ? 0 : dcg / idcg;
}

/** Mean nDCG@10 over all qrels queries (trec_eval -c). */
export function meanNdcg10(q: Qrels, run: Map<string, RunHit[]>): number {
  let s = 0;
  for (const [qid, rel] of q) s += ndcg10(rel, run.get(qid) ?? []);
  return s / q.size;
}
