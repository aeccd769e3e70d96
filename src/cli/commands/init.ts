import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { QxError } from '../../core/errors.js';
import { MANIFEST_FILE, loadDataset, loadManifest } from '../../core/dataset/manifest.js';
import { judgmentCoverage } from '../../core/feedback/score.js';
import { createWorkspace, rebaseManifestPaths } from '../../core/workspace/workspace.js';
import { opt, parseArgs } from '../args.js';
import type { CliIo } from '../io.js';
import { printJson, workspaceDir } from '../workspaceArgs.js';

const HELP = `usage: qx init --manifest FILE [--workspace DIR]
       qx init --topics F --qrels F --corpus F [--corpus F ...] --name N
               [--language en] [--split train|dev|test|eval] [--relevance-level 2] [--workspace DIR]

Makes DIR (default: the current folder) a QX workspace: writes ${MANIFEST_FILE} (paths relative
to DIR) and creates .qx/. With --manifest, an existing dataset manifest is copied and its paths
rebased. The dataset is read once to check it, and the topics are counted by judgment: with a
positive judgment, with no judgments at all (absent from the qrels), judged with no grade > 0.
Topics of the last two kinds are left out of every mean (trec_eval ignores the unjudged ones too
and averages the others in as 0). Mark evaluation queries with --split test: exports then
refuse them as training data.
`;

export async function run(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, { valued: ['workspace', 'manifest', 'topics', 'qrels', 'corpus', 'name', 'language', 'split', 'relevance-level', 'corpus-format'], flags: ['json', 'help'] });
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
    manifest = rebaseManifestPaths(
      {
        version: 1,
        name,
        language: opt(args, 'language', 'en'),
        ...(opt(args, 'split') === undefined ? {} : { split: opt(args, 'split') }),
        topics: { path: topics },
        qrels: { path: qrels },
        corpus: { paths: corpus, ...(format === undefined ? {} : { format }) },
        ...(level === undefined ? {} : { relevanceLevel: Number(level) }),
      },
      io.cwd,
      dir,
    );
  }
  const file = await createWorkspace(dir, manifest);
  const dataset = await loadDataset(await loadManifest(file));
  const c = judgmentCoverage(dataset.topics, dataset.qrels);
  if (args.flags.has('json')) {
    printJson(io, { workspace: dir, manifest: file, topics: { total: c.total, positive: c.positive, unjudged: c.unjudged.length, noPositive: c.noPositive.length, unjudgedQids: c.unjudged, noPositiveQids: c.noPositive } });
    return 0;
  }
  const eg = (ids: string[]): string => (ids.length === 0 ? '' : ` (${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', …' : ''})`);
  io.stdout(`created QX workspace ${dir} (${file})\n`);
  io.stdout(`${c.total} topics: ${c.positive} with a positive judgment, ${c.unjudged.length} with no judgments at all${eg(c.unjudged)}, ${c.noPositive.length} judged with no grade > 0${eg(c.noPositive)}\n`);
  if (c.unjudged.length > 0) io.stdout(`the ${c.unjudged.length} topics with no judgments are not in the qrels: they are left out of every mean, and trec_eval ignores them too, even with -c\n`);
  if (c.noPositive.length > 0) io.stdout(`the ${c.noPositive.length} topics judged with no grade > 0 are left out of every mean; trec_eval averages them in as 0 (with -c even when a run lacks them)\n`);
  io.stdout('next: qx import FILE ... | qx expand ... ; then qx score, qx pairs, qx export, qx report\n');
  return 0;
}
