import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { QxError } from '../../core/errors.js';
import { MANIFEST_FILE, loadDataset, loadManifest } from '../../core/dataset/manifest.js';
import { judgmentCoverage } from '../../core/feedback/score.js';
import { DEFAULT_SAMPLE_SEED, SAMPLE_TOPICS_FILE } from '../../core/dataset/sample.js';
import { createWorkspace, rebaseManifestPaths } from '../../core/workspace/workspace.js';
import { opt, parseArgs } from '../args.js';
import type { CliIo } from '../io.js';
import { printJson, workspaceDir } from '../workspaceArgs.js';

const HELP = `usage: qx init --manifest FILE [--workspace DIR] [--sample-queries N [--seed 42]]
       qx init --topics F --qrels F --corpus F [--corpus F ...] --name N
               [--language en] [--split train|dev|test|eval] [--relevance-level 2] [--workspace DIR]
               [--topics-format tsv|beir-jsonl|trec|cranfield] [--qrels-format trec|beir-tsv|cranfield]
               [--corpus-format jsonl|tsv|csv|rankllm-json|cranfield] [--sample-queries N [--seed 42]]

Makes DIR (default: the current folder) a QX workspace: writes ${MANIFEST_FILE} (paths relative
to DIR) and creates .qx/. With --manifest, an existing dataset manifest is copied and its paths
rebased. The dataset is read once to check it, and the topics are counted by judgment: with a
positive judgment, with no judgments at all (absent from the qrels), judged with no grade > 0.
Topics of the last two kinds are left out of every mean (trec_eval ignores the unjudged ones too
and averages the others in as 0). Mark evaluation queries with --split test: exports then
refuse them as training data. Formats are detected when not named; MS MARCO's
queries.train.tsv (qid<TAB>text), qrels.train.tsv (qid<TAB>0<TAB>pid<TAB>1) and collection.tsv
(pid<TAB>passage) are read as they are distributed.

--sample-queries N keeps N queries drawn at random (seeded by --seed, default ${DEFAULT_SAMPLE_SEED}) among the
topics that have a relevant judgment (grade > 0): e.g. 100,000 of MS MARCO's 808,731 training
queries. They go to ${SAMPLE_TOPICS_FILE} in DIR, which the manifest's "topics" names; its "sample"
field records the source file, N, the seed and how many queries were eligible. The same files, N
and seed always give the same queries.
`;

export async function run(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, { valued: ['workspace', 'manifest', 'topics', 'qrels', 'corpus', 'name', 'language', 'split', 'relevance-level', 'corpus-format', 'topics-format', 'qrels-format', 'sample-queries', 'seed'], flags: ['json', 'help'] });
  if (args.flags.has('help')) {
    io.stdout(HELP);
    return 0;
  }
  const dir = workspaceDir(args, io);
  const manifestOpt = opt(args, 'manifest');
  let manifest: Record<string, unknown>;
  if (manifestOpt !== undefined) {
    if (args.options.has('topics') || args.options.has('qrels') || args.options.has('corpus')) throw new QxError('usage', 'give either --manifest or --topics/--qrels/--corpus, not both');
    let file = resolve(io.cwd, manifestOpt);
    let raw: string;
    try {
      raw = readFileSync(file, 'utf8');
    } catch {
      try {
        file = resolve(file, MANIFEST_FILE);
        raw = readFileSync(file, 'utf8');
      } catch {
        throw new QxError('config', `cannot read the manifest ${resolve(io.cwd, manifestOpt)}`, { hint: `Pass the path of a ${MANIFEST_FILE} file.` });
      }
    }
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (e) {
      throw new QxError('config', `the manifest is not valid JSON (${(e as Error).message})`, { file, hint: 'Fix the JSON syntax.' });
    }
    if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new QxError('config', 'the manifest must be a JSON object', { file });
    manifest = rebaseManifestPaths(json as Record<string, unknown>, dirname(file), dir);
  } else {
    const topics = opt(args, 'topics');
    const qrels = opt(args, 'qrels');
    const corpus = args.options.get('corpus');
    const name = opt(args, 'name');
    if (topics === undefined || qrels === undefined || corpus === undefined || name === undefined) {
      throw new QxError('usage', 'qx init needs --manifest FILE, or --topics, --qrels, --corpus and --name', { hint: 'See qx init --help.' });
    }
    const level = opt(args, 'relevance-level');
    const format = opt(args, 'corpus-format');
    const topicsFormat = opt(args, 'topics-format');
    const qrelsFormat = opt(args, 'qrels-format');
    manifest = rebaseManifestPaths(
      {
        version: 1,
        name,
        language: opt(args, 'language', 'en'),
        ...(opt(args, 'split') === undefined ? {} : { split: opt(args, 'split') }),
        topics: { path: topics, ...(topicsFormat === undefined ? {} : { format: topicsFormat }) },
        qrels: { path: qrels, ...(qrelsFormat === undefined ? {} : { format: qrelsFormat }) },
        corpus: { paths: corpus, ...(format === undefined ? {} : { format }) },
        ...(level === undefined ? {} : { relevanceLevel: Number(level) }),
      },
      io.cwd,
      dir,
    );
  }
  const sampleQueries = sampleOption(args);
  const file = await createWorkspace(dir, manifest, sampleQueries === undefined ? {} : { sampleQueries });
  const loaded = await loadManifest(file);
  const sample = sampleQueries === undefined ? undefined : loaded.sample;
  const dataset = await loadDataset(loaded);
  const c = judgmentCoverage(dataset.topics, dataset.qrels);
  if (args.flags.has('json')) {
    printJson(io, { workspace: dir, manifest: file, ...(sample === undefined ? {} : { sample }), topics: { total: c.total, positive: c.positive, unjudged: c.unjudged.length, noPositive: c.noPositive.length, unjudgedQids: c.unjudged, noPositiveQids: c.noPositive } });
    return 0;
  }
  const eg = (ids: string[]): string => (ids.length === 0 ? '' : ` (${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', …' : ''})`);
  io.stdout(`created QX workspace ${dir} (${file})\n`);
  if (sample !== undefined) io.stdout(`sampled ${sample.queries} of ${sample.eligible} queries with a relevant judgment (${sample.total} in ${sample.from}), seed ${sample.seed}, into ${SAMPLE_TOPICS_FILE}\n`);
  io.stdout(`${c.total} topics: ${c.positive} with a positive judgment, ${c.unjudged.length} with no judgments at all${eg(c.unjudged)}, ${c.noPositive.length} judged with no grade > 0${eg(c.noPositive)}\n`);
  if (c.unjudged.length > 0) io.stdout(`the ${c.unjudged.length} topics with no judgments are not in the qrels: they are left out of every mean, and trec_eval ignores them too, even with -c\n`);
  if (c.noPositive.length > 0) io.stdout(`the ${c.noPositive.length} topics judged with no grade > 0 are left out of every mean; trec_eval averages them in as 0 (with -c even when a run lacks them)\n`);
  io.stdout('next: qx import FILE ... | qx expand ... ; then qx score, qx pairs, qx export, qx report\n');
  return 0;
}

function sampleOption(args: ReturnType<typeof parseArgs>): { queries: number; seed: number } | undefined {
  const n = opt(args, 'sample-queries');
  const seed = opt(args, 'seed');
  if (n === undefined) {
    if (seed !== undefined) throw new QxError('usage', '--seed only applies with --sample-queries N', { hint: 'Add --sample-queries N, or drop --seed.' });
    return undefined;
  }
  const queries = Number(n.replace(/_/g, ''));
  if (!/^\d[\d_]*$/.test(n) || !Number.isInteger(queries) || queries < 1) throw new QxError('usage', `--sample-queries must be a positive integer, got "${n}"`);
  const s = seed === undefined ? DEFAULT_SAMPLE_SEED : Number(seed);
  if (seed !== undefined && (!/^\d+$/.test(seed) || s > 0xffffffff)) throw new QxError('usage', `--seed must be an integer from 0 to 4294967295, got "${seed}"`);
  return { queries, seed: s };
}
