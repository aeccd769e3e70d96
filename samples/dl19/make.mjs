#!/usr/bin/env node
// Rebuilds samples/dl19 from the shared public data folder (see PROVENANCE.md).
// usage: node samples/dl19/make.mjs [path/to/shared/data]   (default: ../shared/data beside the repo)
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const data = resolve(process.argv[2] ?? join(here, '../../../shared/data'));

const rankllm = join(data, 'msmarco-dl-bm25-top100-rankllm');
const querygym = join(data, 'querygym-llm-expansions-dl');
const dl = join(data, 'trec-dl-topics-qrels');

copyFileSync(join(dl, 'topics.dl19-passage.txt'), join(here, 'topics.dl19-passage.txt'));
copyFileSync(join(dl, 'qrels.dl19-passage.txt'), join(here, 'qrels.dl19-passage.txt'));

// The pool: BM25 top-100 first, then BM25+RM3 top-100; each docid once, text as published
// (MS MARCO v1 mojibake kept, because the qrels and the published runs refer to exactly that text).
const seen = new Set();
const lines = [];
for (const file of [join(rankllm, 'retrieve_results_dl19.json'), join(rankllm, 'BM25_RM3', 'retrieve_results_dl19.json')]) {
  for (const entry of JSON.parse(readFileSync(file, 'utf8'))) {
    for (const hit of entry.hits) {
      const id = String(hit.docid);
      if (seen.has(id)) continue;
      seen.add(id);
      lines.push(JSON.stringify({ id, text: hit.content }));
    }
  }
}
writeFileSync(join(here, 'corpus.dl19-pool.jsonl'), lines.join('\n') + '\n');

const runs = join(querygym, 'runs', 'msmarco-v1-passage.trecdl2019', 'query2doc', 'Qwen');
const picks = [
  ['Qwen2.5-72B-Instruct', '65ab718c', 'zs'],
  ['Qwen2.5-72B-Instruct', '0656857b', 'fs'],
  ['Qwen2.5-72B-Instruct', '8a9db372', 'cot'],
  ['Qwen2.5-7B-Instruct', 'ef781114', 'zs'],
  ['Qwen2.5-7B-Instruct', '79962ac6', 'fs'],
  ['Qwen2.5-7B-Instruct', '3ea69228', 'cot'],
];
mkdirSync(join(here, 'expansions'), { recursive: true });
for (const [model, hash, mode] of picks) {
  const meta = JSON.parse(readFileSync(join(runs, model, 'bm25', `${hash}.json`), 'utf8'));
  if (meta.config.method_params.mode !== mode) throw new Error(`${model}/${hash}: expected mode ${mode}, found ${meta.config.method_params.mode}`);
  for (const ext of ['json', 'queries.tsv']) {
    copyFileSync(join(runs, model, 'bm25', `${hash}.${ext}`), join(here, 'expansions', `${model}.query2doc-${mode}.${hash}.${ext}`));
  }
}
mkdirSync(join(here, 'licenses'), { recursive: true });
copyFileSync(join(rankllm, 'LICENSE.rank_llm.Apache-2.0.txt'), join(here, 'licenses', 'LICENSE.rank_llm.Apache-2.0.txt'));
copyFileSync(join(querygym, 'LICENSE.QueryGym.Apache-2.0.txt'), join(here, 'licenses', 'LICENSE.QueryGym.Apache-2.0.txt'));
process.stdout.write(`samples/dl19: ${seen.size} pool passages, ${picks.length} expansion files\n`);
