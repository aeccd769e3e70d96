import type { ChatTemplateChoice } from './hyperparameters.js';

/** The training frameworks a recipe can be written for. */
export type RecipeKind = 'trl' | 'llama-factory';

/** The student prompt the records were rendered with, written into every recipe. */
export interface RecipePromptTemplate {
  id: string;
  version: number;
  /** First 16 hex chars of the template file's sha256. */
  hash: string;
  /** The template's chat turns with their `{{query}}` placeholder. */
  messages: { role: string; content: string }[];
}

/** Everything a recipe file is rendered from. Paths are relative to the export folder. */
export interface RecipeContext {
  recipe: RecipeKind;
  baseModel: string;
  chat: ChatTemplateChoice;
  dataset: string;
  toolVersion: string;
  createdAt: string;
  promptTemplate: RecipePromptTemplate;
  files: {
    sft: string;
    dpo: string;
    readme: string;
    recipeJson: string;
    serve: string;
    trlScript: string;
    lfSft: string;
    lfMergeSft: string;
    lfDpo: string;
    lfMergeDpo: string;
    lfRun: string;
    datasetInfo: string;
  };
  /** Checkpoint folders the recipe writes (they do not exist until it runs). */
  sftDir: string;
  dpoDir: string;
  finalDir: string;
  /** Name vLLM serves the result under; contains the base model's name so QX Studio turns Qwen3 thinking off. */
  servedModelName: string;
  counts: { sft: number; dpo: number; queries: number };
  /** Where the DPO sides come from: "teacher", "student", "round 1", … → number of pairs. */
  sides: { chosen: Record<string, number>; rejected: Record<string, number> };
}
