import { resolve } from 'node:path';
import { QxError } from '../../core/errors.js';
import type { PairState } from '../../core/curation/types.js';
import { describeLengthStats } from '../../core/curation/lengths.js';
import type { ExportFormat, ExportRequest, ExportResult } from '../../core/workspace/api.js';
import { numOpt, opt, parseArgs } from '../args.js';
import { RECIPE_KINDS, exportRecipe } from '../../core/export/recipes/exportRecipe.js';
import type { RecipeKind } from '../../core/export/recipes/recipeTypes.js';
import type { CliIo } from '../io.js';
import { WORKSPACE_HELP, listOpt, printJson, toolVersion, withWorkspace, workspaceFlags, workspaceValued } from '../workspaceArgs.js';

export const EXPORT_FORMATS: readonly ExportFormat[] = ['trl-standard', 'trl-conversational', 'openai-preference', 'llama-factory', 'sft-messages'];
const STATES: readonly PairState[] = ['auto', 'accepted', 'rejected', 'edited'];

const HELP = `usage: qx export --format ${EXPORT_FORMATS.join('|')} --out FILE
                 [--states auto,accepted,edited] [--allow-eval-queries] [--task TEMPLATE]
                 [--include-retrieval-conditioned] [--max-length-ratio R] [--sft-min-delta D]
       qx export --recipe ${RECIPE_KINDS.join('|')} --out DIR [--base-model M] [--lf-template NAME]
                 [--states auto,accepted,edited]

Writes curated training data as JSONL plus FILE.manifest.json (provenance, rules, counts):
DPO pairs (TRL standard/conversational, OpenAI preference fine-tuning, LLaMA-Factory), or SFT
messages from the best teacher expansion per query. Every record's prompt is the student task's
zero-shot prompt (--task, default the pair settings' task: the dataset language's zero-shot
query2doc), and only expansions of that task's output kind are exported: pairs with a side of
another kind (keywords, answer lists, ...) or written with retrieved passages in its prompt
(LameR, CSQE; --include-retrieval-conditioned to keep them) are left out and counted.
--max-length-ratio R leaves out pairs whose longer text is more than R times the shorter; the
closing note gives the pairs by method pair and the chosen/rejected length ratio (before and
after the cap). SFT targets: the best teacher expansion of the task's kind per query, with an
nDCG@10 delta over the original above --sft-min-delta (default 0).
Evaluation queries (manifest split test/eval, or no split) are refused unless
--allow-eval-queries, which the manifest then records. Nothing is written when there would be
zero records.

--recipe writes into the folder DIR the SFT data (sft.jsonl), the DPO data (dpo.jsonl) and a
ready-to-run training recipe for the student base model (--base-model, default the student model
of the settings): for trl a Python script (SFTTrainer then DPOTrainer), for llama-factory the SFT
and DPO YAML configs, merge configs and dataset_info.json entries; plus serve.sh (vllm serve),
README.md (how to run it, every default with its source) and recipe.json. It refuses
--allow-eval-queries. --lf-template names the LLaMA-Factory template of an unknown base model.

${WORKSPACE_HELP}`;

export async function run(argv: string[], io: CliIo, signal: AbortSignal): Promise<number> {
  const args = parseArgs(argv, {
    valued: [...workspaceValued, 'format', 'out', 'states', 'task', 'max-length-ratio', 'sft-min-delta', 'recipe', 'base-model', 'lf-template'],
    flags: [...workspaceFlags, 'allow-eval-queries', 'include-retrieval-conditioned'],
  });
  if (args.flags.has('help')) {
    io.stdout(HELP);
    return 0;
  }
  const recipe = opt(args, 'recipe');
  if (recipe !== undefined) return runRecipe(args, io, signal, recipe);
  const format = opt(args, 'format') as ExportFormat | undefined;
  const out = opt(args, 'out');
  if (format === undefined || out === undefined) throw new QxError('usage', 'qx export needs --format and --out', { hint: 'See qx export --help.' });
  if (!EXPORT_FORMATS.includes(format)) throw new QxError('usage', `--format must be one of ${EXPORT_FORMATS.join(', ')}, got "${format}"`);
  const states = listOpt(args, 'states') as PairState[] | undefined;
  if (states !== undefined && states.some((s) => !STATES.includes(s))) throw new QxError('usage', `--states takes ${STATES.join(', ')}`);
  const allowEvalQueries = args.flags.has('allow-eval-queries');
  const request: ExportRequest = { format, out: resolve(io.cwd, out), ...(states === undefined ? {} : { states }), ...(allowEvalQueries ? { allowEvalQueries } : {}) };
  const task = opt(args, 'task');
  if (task !== undefined) request.task = task;
  if (args.flags.has('include-retrieval-conditioned')) request.includeRetrievalConditioned = true;
  if (args.options.has('max-length-ratio')) {
    const m = numOpt(args, 'max-length-ratio', 0);
    if (!(m === 0 || m >= 1)) throw new QxError('usage', `--max-length-ratio must be 0 (no cap) or at least 1, got ${m}`);
    request.maxLengthRatio = m;
  }
  if (args.options.has('sft-min-delta')) request.sftMinDelta = numOpt(args, 'sft-min-delta', 0);
  const r = await withWorkspace(args, io, (ws) => ws.exportData(request, { signal }));
  if (args.flags.has('json')) printJson(io, r);
  else io.stdout(closingNote(format, r));
  return 0;
}

async function runRecipe(args: ReturnType<typeof parseArgs>, io: CliIo, signal: AbortSignal, recipe: string): Promise<number> {
  if (!RECIPE_KINDS.includes(recipe as RecipeKind)) throw new QxError('usage', `--recipe must be one of ${RECIPE_KINDS.join(', ')}, got "${recipe}"`);
  if (opt(args, 'format') !== undefined) throw new QxError('usage', '--recipe writes its own formats: drop --format', { hint: 'See qx export --help.' });
  const out = opt(args, 'out');
  if (out === undefined) throw new QxError('usage', 'qx export --recipe needs --out DIR (the export folder)', { hint: 'See qx export --help.' });
  const states = listOpt(args, 'states') as PairState[] | undefined;
  if (states !== undefined && states.some((s) => !STATES.includes(s))) throw new QxError('usage', `--states takes ${STATES.join(', ')}`);
  const lfTemplate = opt(args, 'lf-template');
  const r = await withWorkspace(args, io, (ws) =>
    exportRecipe(
      ws,
      {
        recipe: recipe as RecipeKind,
        outDir: resolve(io.cwd, out),
        baseModel: opt(args, 'base-model') ?? ws.settings.student.model,
        ...(lfTemplate === undefined ? {} : { llamaFactoryTemplate: lfTemplate }),
        ...(states === undefined ? {} : { states }),
        allowEvalQueries: args.flags.has('allow-eval-queries'),
        toolVersion: toolVersion(),
      },
      { signal },
    ),
  );
  if (args.flags.has('json')) printJson(io, r);
  else io.stdout(`wrote a ${recipe} recipe to ${r.dir}: ${r.sftRecords} SFT records, ${r.dpoRecords} DPO pairs\nfiles: ${r.files.join(', ')}\nhow to run it: ${resolve(r.dir, 'README.md')}\n`);
  return 0;
}

/** What an export wrote and left out, for people: counts by source, reasons, length figures. */
export function closingNote(format: ExportFormat, r: ExportResult): string {
  const lines = [`wrote ${r.records} ${format} records to ${r.out}`, `manifest: ${r.manifest}`];
  if (r.task !== undefined) lines.push(`student task: ${r.task.template} (${r.task.kind})`);
  const by = Object.entries(r.bySource ?? {});
  if (by.length > 0) {
    lines.push(format === 'sft-messages' ? 'targets by method:' : 'pairs by method pair (chosen > rejected):');
    for (const [k, v] of by) lines.push(`  ${v}  ${k}`);
  }
  for (const l of r.leftOut ?? []) lines.push(`left out ${l.count} ${l.reason}`);
  const len = r.lengths;
  if (len !== undefined && len !== null) {
    if (len.maxLengthRatio > 0) {
      lines.push(`length before the cap ${len.maxLengthRatio}: ${describeLengthStats(len.beforeCap)}`);
      lines.push(`length after the cap: ${describeLengthStats(len.exported)}`);
    } else {
      const rule = len.pairRuleMaxLengthRatio > 0 ? `pairs built with the length cap ${len.pairRuleMaxLengthRatio}` : 'no length cap';
      lines.push(`length: ${describeLengthStats(len.exported)} (${rule}; --max-length-ratio sets one at export)`);
      if (len.preview !== undefined) {
        lines.push(`with --max-length-ratio ${len.preview.maxLengthRatio}: ${len.preview.kept.pairs} of ${len.exported.pairs} pairs kept, ${describeLengthStats(len.preview.kept)}`);
      }
    }
  }
  return lines.join('\n') + '\n';
}
