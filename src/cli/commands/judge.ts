import { basename, resolve } from 'node:path';
import { QxError } from '../../core/errors.js';
import { formatCalibration, formatFill } from '../../core/judge/format.js';
import { ONNX_DTYPES, type OnnxDtype } from '../../core/expansion/onnxExpander.js';
import { type JudgeTemplate, loadJudgeTemplate, resolveJudgeTemplateSpec } from '../../core/judge/template.js';
import { KD_FORMATS, sampledPairs } from '../../core/judge/kdExport.js';
import { NEGATIVE_STRATEGIES, type NegativeStrategy } from '../../core/sampling/negatives.js';
import { type JudgeSelection, judgeWorkspace, kdExportWorkspace, openJudgments, rejectDisagreeingPairs, workspaceCalibration, workspaceFill } from '../../core/judge/workflow.js';
import { type ParsedArgs, numOpt, positiveIntOpt, opt, parseArgs } from '../args.js';
import { type CliIo, progressBar, stderrLogger } from '../io.js';
import { WORKSPACE_HELP, envApiKey, listOpt, printJson, toolVersion, withWorkspace, workspaceFlags, workspaceValued } from '../workspaceArgs.js';

const HELP = `usage: qx judge [--base-url URL] [--model M] [--template judge-binary|judge-graded|FILE]
                [--model-path DIR [--dtype fp32|fp16|q8|q4|q4f16] [--batch-size 16]]
                [--run FILE --depth N] [--include-judged] [--qids 1,2,...] [--top-logprobs 20]
       qx judge --calibrate [--model M] [--template ...]
       qx judge --fill [--threshold T] [--require-agreement] [--model M] [--template ...]
       qx judge --export-kd kd-listwise|kd-margin-mse --out FILE [--from original|ROLE/MODEL/METHOD]
                [--k 10] [--run FILE] [--min-margin 0] [--strategy S --negatives 4 --seed 13]
                [--allow-eval-queries]

An LLM relevance judge over any OpenAI-compatible endpoint that returns logprobs (vLLM, OpenAI,
DeepSeek, recent Ollama). The judge reads the document first, then the query, and answers with one
token; the score is read from the log-probabilities of the label tokens (top_logprobs), never from
the text: binary judge-binary gives P(Yes) / (P(Yes) + P(No)); graded judge-graded the expected
grade over 0-3. A template file (see README) replaces the prompt; its hash is in the cache key.

By default it judges, per query, the documents in the top 10 of the original query or of any
scored expansion that the qrels leave unjudged (run qx score first); --run FILE --depth N judges the
top N of a TREC run instead. --include-judged also judges the pool's judged documents, which
calibration needs. Judgments go to .qx/judgments/<model>.<template>-<hash>.jsonl, never into the
qrels. Answers are cached (.qx/cache, or QX_CACHE_DIR): a rerun makes no request.

--calibrate (no calls) compares the stored judgments with the qrels on the judged documents: ROC
AUC per query, their mean and pooled; mean score per grade; a score threshold chosen by Cohen's
kappa on one half of the queries (by sha256 of the qid) and, on the other half, kappa, accuracy and
Kendall's tau-b. --fill (no calls) prints every method's mean nDCG@10 judged-only beside
judge-filled (holes filled by the judge: binary score >= threshold counts as the dataset's relevance
level; default threshold: the calibrated one, else 0.5) and counts the pairs whose order flips.
--fill --require-agreement also sets every auto pair whose judge-filled margin disagrees with the
judged-only one (flipped, or tied) to "rejected" with a note naming the judge: exports leave it out
and pair rebuilds keep that decision; pairs a person decided on are not touched.

--export-kd writes the judge's scores for distilling a retriever: per query the top --k candidates
(of the original query by default, of one method's expansion with --from as --fill lists it, or of
a run with --run) with teacher scores. kd-listwise: {qid, query, docs: [{docid, text, score}]} per
query, for a KL-divergence loss. kd-margin-mse: {query, positive, negative, label} rows with
label = score(positive) - score(negative), the columns of sentence-transformers' MarginMSELoss
(pairs: the top-scored candidate against each lower-scored one, margin > --min-margin; with
--strategy top-k-hard|random-top-k|score-bands|random, against --negatives of them drawn by the
shared negative sampler, seeded per query from --seed, as qx export-kd draws). Candidates
not judged yet are judged first (cached). A manifest is written beside the file. Evaluation
queries are refused unless --allow-eval-queries.

Endpoint: --base-url/--model, else QX_JUDGE_BASE_URL/QX_JUDGE_MODEL, else the teacher's.

Local judge: --model-path DIR runs an ONNX model folder in-process (transformers.js layout:
config.json, tokenizer.json, tokenizer_config.json, onnx/model.onnx; --dtype picks
model_fp16/_quantized/_q4/_q4f16.onnx), no server and no key. A cross-encoder (config.json
architectures *ForSequenceClassification) scores P(relevant) = sigmoid(logit), or softmax over two
labels, in batches of --batch-size; binary template only. A causal LM (*ForCausalLM) reads the
judge template through its chat template and scores the next-token probabilities of the label
tokens, as with top_logprobs (binary or graded). --model names its judgments (default the folder
name); the cache key holds a fingerprint of the folder's files, not its path. The same flags work
with --calibrate, --fill and --export-kd.

${WORKSPACE_HELP}`;

export async function run(argv: string[], io: CliIo, signal: AbortSignal): Promise<number> {
  const args = parseArgs(argv, {
    valued: [...workspaceValued, 'base-url', 'model', 'model-path', 'dtype', 'batch-size', 'template', 'run', 'depth', 'qids', 'top-logprobs', 'threshold', 'export-kd', 'out', 'from', 'k', 'min-margin', 'strategy', 'negatives', 'seed'],
    flags: [...workspaceFlags, 'include-judged', 'calibrate', 'fill', 'allow-eval-queries', 'require-agreement'],
  });
  if (args.flags.has('help')) {
    io.stdout(HELP);
    return 0;
  }
  const template = await loadJudgeTemplate(resolveTemplate(args, io));
  if (args.options.has('export-kd')) return exportKd(args, io, signal, template);
  if (args.flags.has('calibrate') || args.flags.has('fill')) return report(args, io, template);
  const depthGiven = args.options.has('depth');
  if (depthGiven && !args.options.has('run')) throw new QxError('usage', '--depth is for --run FILE', { hint: 'Give the run to judge with --run FILE --depth N.' });
  const runFile = opt(args, 'run');
  const qids = listOpt(args, 'qids');
  const depth = positiveIntOpt(args, 'depth', 10);
  const r = await withWorkspace(args, io, async (ws) => {
    const sel = selection(args, io, ws.settings.teacher, template);
    const bar = progressBar(io, `judging (${sel.model})`);
    const out = await judgeWorkspace(
      ws,
      sel,
      { ...(runFile === undefined ? {} : { run: resolve(io.cwd, runFile), depth }), includeJudged: args.flags.has('include-judged'), ...(qids === undefined ? {} : { qids }) },
      { signal, onProgress: bar.update, logger: stderrLogger(io), getApiKey: envApiKey(io), cacheDir: io.env.QX_CACHE_DIR ? resolve(io.cwd, io.env.QX_CACHE_DIR) : undefined },
    );
    bar.done();
    const calibration = args.flags.has('include-judged') ? workspaceCalibration(ws, openJudgments(ws, sel)) : undefined;
    return { ...out, model: sel.model, baseUrl: sel.modelPath ?? sel.baseUrl, template: template.id, ...(calibration === undefined ? {} : { calibration }) };
  });
  if (args.flags.has('json')) printJson(io, r);
  else {
    io.stdout(`${r.pool} documents in the pool (${r.unjudgedInPool} unjudged): ${r.judged} judged now, ${r.cached} from the cache, ${r.failed} failed${r.missingText > 0 ? `, ${r.missingText} without text` : ''} (${r.model} ${args.options.has('model-path') ? 'in' : 'at'} ${r.baseUrl}, ${r.template})\n`);
    for (const f of r.failures.slice(0, 5)) io.stdout(`  failed ${f.qid}/${f.docid}: ${f.code}: ${f.message}\n`);
    io.stdout(`${r.stored} judgments in ${r.file}\n`);
    for (const c of r.cost) io.stdout(`cost: ${c.expansions} calls, ${c.promptTokens} tokens in, ${c.completionTokens} out, ${c.usd === null ? 'no price for this model' : `$${c.usd.toFixed(4)}`}\n`);
    if (r.calibration !== undefined) io.stdout(formatCalibration(r.calibration));
  }
  return r.failed > 0 ? 1 : 0;
}

async function exportKd(args: ParsedArgs, io: CliIo, signal: AbortSignal, template: JudgeTemplate): Promise<number> {
  const format = opt(args, 'export-kd');
  if (format !== 'kd-listwise' && format !== 'kd-margin-mse') throw new QxError('usage', `--export-kd must be ${KD_FORMATS.join(' or ')}, got "${String(format)}"`);
  const out = opt(args, 'out');
  if (out === undefined) throw new QxError('usage', '--export-kd needs --out FILE', { hint: 'e.g. --out kd/listwise.jsonl' });
  const runFile = opt(args, 'run');
  const from = opt(args, 'from');
  const strategy = opt(args, 'strategy');
  if (strategy !== undefined && !NEGATIVE_STRATEGIES.includes(strategy as NegativeStrategy)) throw new QxError('usage', `--strategy must be one of ${NEGATIVE_STRATEGIES.join(', ')}, got "${strategy}"`);
  if (strategy !== undefined && format !== 'kd-margin-mse') throw new QxError('usage', '--strategy picks the negatives of kd-margin-mse pairs; kd-listwise exports the whole candidate list');
  const negatives = numOpt(args, 'negatives', 4);
  const seed = numOpt(args, 'seed', 13);
  const sampler = strategy === undefined ? undefined : sampledPairs({ strategy: strategy as NegativeStrategy, count: negatives, seed });
  const r = await withWorkspace(args, io, async (ws) => {
    const sel = selection(args, io, ws.settings.teacher, template);
    const bar = progressBar(io, `judging candidates (${sel.model})`);
    const w = await kdExportWorkspace(
      ws,
      sel,
      {
        format,
        out: resolve(ws.root, out),
        ...(from === undefined ? {} : { from }),
        ...(runFile === undefined ? {} : { run: resolve(io.cwd, runFile) }),
        k: numOpt(args, 'k', 10),
        minMargin: numOpt(args, 'min-margin', 0),
        ...(sampler === undefined ? {} : { sampler, samplerName: `${strategy}, ${negatives} negatives per query, seed ${seed} (src/core/sampling/negatives.ts)` }),
        allowEvalQueries: args.flags.has('allow-eval-queries'),
        toolVersion: toolVersion(),
      },
      { signal, onProgress: bar.update, logger: stderrLogger(io), getApiKey: envApiKey(io), cacheDir: io.env.QX_CACHE_DIR ? resolve(io.cwd, io.env.QX_CACHE_DIR) : undefined },
    );
    bar.done();
    return w;
  });
  if (args.flags.has('json')) printJson(io, r);
  else io.stdout(`wrote ${r.records} ${format} records (${r.queries} queries) to ${r.out}, manifest ${r.manifest}; ${r.judged} candidates judged now, ${r.cached} from the cache, ${r.failed} failed\n`);
  return r.failed > 0 ? 1 : 0;
}

function resolveTemplate(args: ParsedArgs, io: CliIo): string | undefined {
  const t = opt(args, 'template');
  return t === undefined ? undefined : resolveJudgeTemplateSpec(t, io.cwd);
}

function selection(args: ParsedArgs, io: CliIo, teacher: { baseUrl: string; model: string }, template: JudgeTemplate): JudgeSelection {
  const topLogprobs = numOpt(args, 'top-logprobs', 20);
  if (!Number.isInteger(topLogprobs) || topLogprobs < 1 || topLogprobs > 20) throw new QxError('usage', `--top-logprobs must be an integer in 1..20, got ${topLogprobs}`);
  const modelPath = opt(args, 'model-path');
  for (const o of ['dtype', 'batch-size']) if (modelPath === undefined && args.options.has(o)) throw new QxError('usage', `--${o} is for a local ONNX judge (--model-path DIR)`);
  if (modelPath !== undefined) {
    if (args.options.has('base-url')) throw new QxError('usage', '--base-url and --model-path name two judges: give one');
    const dtype = opt(args, 'dtype') ?? 'fp32';
    if (!ONNX_DTYPES.includes(dtype as OnnxDtype)) throw new QxError('usage', `--dtype must be one of ${ONNX_DTYPES.join(', ')}, got "${dtype}"`);
    const batchSize = positiveIntOpt(args, 'batch-size', 16);
    const folder = resolve(io.cwd, modelPath);
    return { baseUrl: '', model: opt(args, 'model') ?? basename(folder), modelPath: folder, dtype: dtype as OnnxDtype, batchSize, template };
  }
  return {
    baseUrl: opt(args, 'base-url') ?? (io.env.QX_JUDGE_BASE_URL || teacher.baseUrl),
    model: opt(args, 'model') ?? (io.env.QX_JUDGE_MODEL || teacher.model),
    template,
    topLogprobs,
  };
}

async function report(args: ParsedArgs, io: CliIo, template: JudgeTemplate): Promise<number> {
  const r = await withWorkspace(args, io, async (ws) => {
    const sel = selection(args, io, ws.settings.teacher, template);
    const store = openJudgments(ws, sel, stderrLogger(io));
    if (store.size === 0) throw new QxError('usage', `no judgments of ${sel.model} with ${template.id} in this workspace (${store.file})`, { hint: 'Run qx judge first (with --include-judged to calibrate).' });
    const calibration = workspaceCalibration(ws, store);
    const given = args.options.has('threshold') ? numOpt(args, 'threshold', 0.5) : undefined;
    const fill = args.flags.has('fill') ? workspaceFill(ws, store, template.mode, given ?? calibration.threshold ?? 0.5) : undefined;
    if (args.flags.has('require-agreement') && fill === undefined) throw new QxError('usage', '--require-agreement goes with --fill');
    const rejected = fill !== undefined && args.flags.has('require-agreement') ? rejectDisagreeingPairs(ws, fill, sel) : undefined;
    return { model: sel.model, template: template.id, file: store.file, relevanceLevel: ws.manifest.relevanceLevel ?? 1, calibration, ...(fill === undefined ? {} : { fill }), ...(rejected === undefined ? {} : { rejected }) };
  });
  if (args.flags.has('json')) {
    printJson(io, r);
    return 0;
  }
  io.stdout(`judge ${r.model} (${r.template}), ${r.file}\n`);
  if (args.flags.has('calibrate') || r.fill === undefined) io.stdout(formatCalibration(r.calibration));
  if (r.fill !== undefined) io.stdout(formatFill(r.fill, r.relevanceLevel));
  if (r.rejected !== undefined) io.stdout(`${r.rejected.length} auto pairs the judge disagrees with set to rejected\n`);
  return 0;
}
