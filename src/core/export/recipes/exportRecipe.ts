import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { QxError } from '../../errors.js';
import type { PairState } from '../../curation/types.js';
import type { TaskOptions } from '../../progress.js';
import type { ExportFormat, ExportRequest, ExportResult } from '../../workspace/api.js';
import { writeFileAtomic } from '../../files/atomicWrite.js';
import type { ExportManifest } from '../exportData.js';
import { chatTemplateFor, recipeDefaults } from './hyperparameters.js';
import { datasetEntryName, renderLlamaFactory, sftDatasetInfoEntry } from './llamaFactoryRecipe.js';
import { renderRecipeReadme, renderServeScript } from './readme.js';
import type { RecipeContext, RecipeKind, RecipePromptTemplate } from './recipeTypes.js';
import { renderTrlScript, trlExpectedColumns } from './trlRecipe.js';

export const RECIPE_KINDS: readonly RecipeKind[] = ['trl', 'llama-factory'];

/** What a recipe export needs from a workspace. */
export interface RecipeSource {
  readonly name: string;
  exportData(request: ExportRequest, options: TaskOptions): Promise<ExportResult>;
  /** The student's zero-shot prompt template the export renders every prompt with. */
  studentPrompt(): Promise<RecipePromptTemplate>;
}

export interface RecipeRequest {
  recipe: RecipeKind;
  /** The export folder: data files and recipe files are written into it. */
  outDir: string;
  /** Hugging Face id or local folder of the student base model, e.g. "Qwen/Qwen3-4B". */
  baseModel: string;
  /** A LLaMA-Factory template name, for a base model whose template is not known (see `chatTemplateFor`). */
  llamaFactoryTemplate?: string;
  /** Pair states of the DPO file, default the export's default. */
  states?: PairState[];
  /** Must stay unset: a recipe is never written for an export that overrides the leakage guard. */
  allowEvalQueries?: boolean;
  /** Further export options, passed as they are to both data exports. */
  exportOptions?: Partial<ExportRequest>;
  toolVersion?: string;
  now?: () => Date;
}

export interface RecipeResult {
  dir: string;
  /** Every file written, relative to `dir`, sorted. */
  files: string[];
  sftRecords: number;
  dpoRecords: number;
}

const FILES: RecipeContext['files'] = {
  sft: 'sft.jsonl',
  dpo: 'dpo.jsonl',
  readme: 'README.md',
  recipeJson: 'recipe.json',
  serve: 'serve.sh',
  trlScript: 'train_trl.py',
  lfSft: 'llamafactory_sft.yaml',
  lfMergeSft: 'llamafactory_merge_sft.yaml',
  lfDpo: 'llamafactory_dpo.yaml',
  lfMergeDpo: 'llamafactory_merge_dpo.yaml',
  lfRun: 'train_llamafactory.sh',
  datasetInfo: 'dataset_info.json',
};

function readJsonObject(file: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new QxError('export', `${file} is not JSON (${e instanceof Error ? e.message : String(e)}); nothing was written`, { file, hint: 'Fix or move that file, then export again.' });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new QxError('export', `${file} is not a JSON object; nothing was written`, { file, hint: 'Fix or move that file, then export again.' });
  return parsed as Record<string, unknown>;
}

/**
 * Writes a ready-to-run training recipe with its data into `outDir`: the SFT file (`sft.jsonl`,
 * format sft-messages) and the DPO file (`dpo.jsonl`, trl-conversational for TRL, llama-factory
 * for LLaMA-Factory) with their manifests, then for TRL `train_trl.py`, for LLaMA-Factory the SFT
 * and DPO YAML configs, the two merge configs, `train_llamafactory.sh` and the `dataset_info.json`
 * entries; for both `serve.sh` (vLLM), `README.md` and `recipe.json` (defaults with sources).
 *
 * Refuses (QxError 'export', nothing written) `allowEvalQueries`, and whatever either data export
 * refuses (evaluation queries, zero records). Both data files are first written to a staging
 * folder, so a refused or failed export leaves `outDir` as it was.
 */
export async function exportRecipe(source: RecipeSource, request: RecipeRequest, options: TaskOptions): Promise<RecipeResult> {
  if (request.allowEvalQueries === true || request.exportOptions?.allowEvalQueries === true) {
    throw new QxError('export', 'a training recipe is never written for an export made with --allow-eval-queries: it would train the student on evaluation queries; nothing was written', {
      hint: 'Export the recipe from a workspace of training queries (manifest split train or dev), without --allow-eval-queries.',
    });
  }
  if (!RECIPE_KINDS.includes(request.recipe)) throw new QxError('usage', `--recipe must be one of ${RECIPE_KINDS.join(', ')}, got "${String(request.recipe)}"`);
  const chat = chatTemplateFor(request.baseModel, request.llamaFactoryTemplate);
  const dir = resolve(request.outDir);
  const previous = join(dir, FILES.recipeJson);
  if (existsSync(previous)) {
    const kind = readJsonObject(previous).recipe;
    if (kind !== request.recipe) {
      throw new QxError('usage', `${dir} holds a ${String(kind)} recipe: its data files would no longer match it; nothing was written`, { file: previous, hint: 'Write this recipe into another folder.' });
    }
  }
  const promptTemplate = await source.studentPrompt();
  mkdirSync(dir, { recursive: true });
  const staging = join(dir, `.qx-recipe-${process.pid}-${Date.now()}`);
  mkdirSync(staging);
  const dpoFormat: ExportFormat = request.recipe === 'trl' ? 'trl-conversational' : 'llama-factory';
  try {
    const base = { ...(request.exportOptions ?? {}), allowEvalQueries: false };
    const sft = await source.exportData({ ...base, format: 'sft-messages', out: join(staging, FILES.sft) }, options);
    const dpo = await source.exportData({ ...base, format: dpoFormat, out: join(staging, FILES.dpo), ...(request.states === undefined ? {} : { states: request.states }) }, options);
    const manifests = [sft.manifest, dpo.manifest].map((m) => readJsonObject(m) as unknown as ExportManifest);
    for (const m of manifests) {
      if (m.leakage.evalQueriesInExport.length > 0) throw new QxError('internal', `the ${m.format} export holds evaluation queries although the guard was on`);
    }
    const queries = new Set(manifests.flatMap((m) => m.qids)).size;
    const sides: RecipeContext['sides'] = { chosen: {}, rejected: {} };
    for (const p of manifests[1]?.provenance ?? []) {
      for (const [side, info] of [['chosen', p.chosen], ['rejected', p.rejected]] as const) {
        if (info === undefined) continue;
        const from = info.round === null || info.round === undefined ? info.role : `round ${info.round}`;
        sides[side][from] = (sides[side][from] ?? 0) + 1;
      }
    }
    const createdAt = (request.now ?? (() => new Date()))().toISOString();
    const modelName = basename(request.baseModel.replace(/[\\/]+$/, ''));
    const ctx: RecipeContext = {
      recipe: request.recipe,
      baseModel: request.baseModel,
      chat,
      dataset: source.name,
      toolVersion: request.toolVersion ?? 'dev',
      createdAt,
      promptTemplate,
      files: FILES,
      sftDir: 'checkpoints/sft',
      dpoDir: 'checkpoints/dpo',
      finalDir: 'checkpoints/final',
      servedModelName: `${modelName}-qx-${request.recipe}`,
      counts: { sft: sft.records, dpo: dpo.records, queries },
      sides,
    };

    const out = new Map<string, string>();
    if (request.recipe === 'trl') {
      out.set(FILES.trlScript, renderTrlScript(ctx));
    } else {
      const lf = renderLlamaFactory(ctx);
      out.set(FILES.lfSft, lf.sftYaml);
      out.set(FILES.lfMergeSft, lf.mergeSftYaml);
      out.set(FILES.lfDpo, lf.dpoYaml);
      out.set(FILES.lfMergeDpo, lf.mergeDpoYaml);
      out.set(FILES.lfRun, lf.runScript);
      // The DPO export wrote its entry into the staging folder's dataset_info.json; merge both into the folder's.
      const existing = join(dir, FILES.datasetInfo);
      const info = existsSync(existing) ? readJsonObject(existing) : {};
      const staged = join(staging, FILES.datasetInfo);
      Object.assign(info, existsSync(staged) ? readJsonObject(staged) : {});
      info[datasetEntryName(FILES.sft)] = sftDatasetInfoEntry(FILES.sft);
      out.set(FILES.datasetInfo, JSON.stringify(info, null, 2) + '\n');
      rmSync(staged, { force: true });
    }
    out.set(FILES.serve, renderServeScript(ctx));
    out.set(FILES.readme, renderRecipeReadme(ctx));
    out.set(
      FILES.recipeJson,
      JSON.stringify(
        {
          kind: 'qx-studio-recipe',
          recipeVersion: 1,
          recipe: ctx.recipe,
          baseModel: ctx.baseModel,
          dataset: ctx.dataset,
          createdAt,
          toolVersion: ctx.toolVersion,
          chatTemplate: { llamaFactory: chat.llamaFactoryTemplate, chatTemplateKwargs: chat.thinkingOff ? { enable_thinking: false } : {}, why: chat.why },
          promptTemplate,
          data: { sft: { file: FILES.sft, format: 'sft-messages', records: sft.records }, dpo: { file: FILES.dpo, format: dpoFormat, records: dpo.records, sides } },
          expectedColumns: request.recipe === 'trl' ? { [FILES.sft]: trlExpectedColumns.sft, [FILES.dpo]: trlExpectedColumns.dpo } : null,
          run: request.recipe === 'trl' ? [`python3 ${FILES.trlScript}`] : [`sh ${FILES.lfRun}`],
          serve: `sh ${FILES.serve}`,
          servedModelName: ctx.servedModelName,
          outputs: [ctx.sftDir, ctx.finalDir],
          defaults: recipeDefaults,
          leakage: { evalQueriesInExport: [], allowEvalQueries: false },
        },
        null,
        2,
      ) + '\n',
    );

    // Move the data files in, then write the recipe files (each atomically).
    const written: string[] = [];
    for (const name of readdirSync(staging)) {
      renameSync(join(staging, name), join(dir, name));
      written.push(name);
    }
    for (const [name, text] of out) {
      writeFileAtomic(join(dir, name), text);
      written.push(name);
    }
    return { dir, files: [...new Set(written)].sort(), sftRecords: sft.records, dpoRecords: dpo.records };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}
