import { QxError } from '../../errors.js';

/** One documented default of a training recipe: its value and where the value comes from. */
export interface RecipeDefault {
  /** Stage and name, e.g. "dpo.beta". */
  key: string;
  value: number | string;
  /** TRL argument it sets (SFTConfig / DPOConfig / peft LoraConfig). */
  trl: string;
  /** LLaMA-Factory YAML key it sets. */
  llamaFactory: string;
  /** Why this value: the paper, library default or example it is taken from. */
  source: string;
}

const TRL_DPO = 'TRL `DPOConfig` default (trl/trainer/dpo_config.py)';
const TRL_SFT = 'TRL `SFTConfig` default (trl/trainer/sft_config.py)';
const LF_SFT = 'LLaMA-Factory example examples/train_lora/qwen3_lora_sft.yaml';
const LF_DPO = 'LLaMA-Factory example examples/train_lora/qwen3_lora_dpo.yaml';

/**
 * The defaults every recipe writes, with their sources. Both recipes use the same values so a
 * TRL run and a LLaMA-Factory run of one export are comparable. LoRA is the default (a 4B student
 * fits one 24 GB GPU); the full-fine-tuning learning rates are the trainers' own defaults.
 */
export const recipeDefaults: readonly RecipeDefault[] = [
  { key: 'sft.learning_rate (LoRA)', value: 1e-4, trl: 'SFTConfig.learning_rate', llamaFactory: 'learning_rate', source: LF_SFT },
  { key: 'sft.learning_rate (full)', value: 2e-5, trl: 'SFTConfig.learning_rate', llamaFactory: 'learning_rate', source: TRL_SFT },
  { key: 'sft.num_train_epochs', value: 3, trl: 'SFTConfig.num_train_epochs', llamaFactory: 'num_train_epochs', source: `${LF_SFT}; also the transformers TrainingArguments default` },
  { key: 'sft.max_length', value: 1024, trl: 'SFTConfig.max_length', llamaFactory: 'cutoff_len', source: `${TRL_SFT}; a zero-shot prompt plus a 128-token expansion is far shorter` },
  { key: 'dpo.beta', value: 0.1, trl: 'DPOConfig.beta', llamaFactory: 'pref_beta', source: `Rafailov et al. 2023, Direct Preference Optimization (β = 0.1 in most experiments); ${TRL_DPO}; ${LF_DPO}` },
  { key: 'dpo.loss', value: 'sigmoid', trl: 'DPOConfig.loss_type', llamaFactory: 'pref_loss', source: `the DPO loss of the paper; ${TRL_DPO}; ${LF_DPO}` },
  { key: 'dpo.learning_rate (LoRA)', value: 5e-6, trl: 'DPOConfig.learning_rate', llamaFactory: 'learning_rate', source: LF_DPO },
  { key: 'dpo.learning_rate (full)', value: 1e-6, trl: 'DPOConfig.learning_rate', llamaFactory: 'learning_rate', source: TRL_DPO },
  { key: 'dpo.num_train_epochs', value: 3, trl: 'DPOConfig.num_train_epochs', llamaFactory: 'num_train_epochs', source: LF_DPO },
  { key: 'dpo.max_prompt_length', value: 512, trl: 'DPOConfig.max_prompt_length', llamaFactory: '(cutoff_len covers prompt and answer)', source: TRL_DPO },
  { key: 'dpo.max_length', value: 1024, trl: 'DPOConfig.max_length', llamaFactory: 'cutoff_len', source: TRL_DPO },
  { key: 'per_device_train_batch_size', value: 1, trl: 'per_device_train_batch_size', llamaFactory: 'per_device_train_batch_size', source: `${LF_SFT} and ${LF_DPO}` },
  { key: 'gradient_accumulation_steps', value: 8, trl: 'gradient_accumulation_steps', llamaFactory: 'gradient_accumulation_steps', source: `${LF_SFT} and ${LF_DPO}` },
  { key: 'lr_scheduler_type', value: 'cosine', trl: 'lr_scheduler_type', llamaFactory: 'lr_scheduler_type', source: `${LF_SFT} and ${LF_DPO}` },
  { key: 'warmup_ratio', value: 0.1, trl: 'warmup_ratio', llamaFactory: 'warmup_ratio', source: `${LF_SFT} and ${LF_DPO}` },
  { key: 'lora.r', value: 8, trl: 'LoraConfig.r', llamaFactory: 'lora_rank', source: 'LLaMA-Factory default lora_rank and both examples' },
  { key: 'lora.alpha', value: 16, trl: 'LoraConfig.lora_alpha', llamaFactory: 'lora_alpha', source: 'LLaMA-Factory default (lora_alpha = 2 × lora_rank)' },
  { key: 'lora.dropout', value: 0, trl: 'LoraConfig.lora_dropout', llamaFactory: 'lora_dropout', source: 'LLaMA-Factory default' },
  { key: 'lora.target', value: 'all-linear', trl: 'LoraConfig.target_modules', llamaFactory: 'lora_target: all', source: 'both LLaMA-Factory examples (every linear layer)' },
];

/** The value of one default by key; throws on a key that is not in {@link recipeDefaults}. */
export function defaultValue(key: string): number | string {
  const d = recipeDefaults.find((x) => x.key === key);
  if (d === undefined) throw new QxError('internal', `no recipe default "${key}"`);
  return d.value;
}

/** How a base model is prompted: its LLaMA-Factory template and whether thinking must be turned off. */
export interface ChatTemplateChoice {
  /** LLaMA-Factory `template:` name. */
  llamaFactoryTemplate: string;
  /** Qwen3 hybrid models think unless `enable_thinking=False` is passed to their chat template. */
  thinkingOff: boolean;
  /** Why this template, for the README. */
  why: string;
}

/**
 * The chat template of a student base model. Qwen3 hybrid models (Qwen/Qwen3-4B, …) get the
 * `qwen3` template with thinking off (the empty `<think></think>` block vLLM writes when
 * `enable_thinking` is false); Qwen3 "Instruct-2507" models never think (`qwen3_nothink`);
 * Qwen2/2.5 use `qwen`, Llama 3 `llama3`. Another model needs `template` (a LLaMA-Factory name).
 */
export function chatTemplateFor(baseModel: string, template?: string): ChatTemplateChoice {
  const qwen3 = /qwen3/i.test(baseModel);
  if (template !== undefined && template !== '') return { llamaFactoryTemplate: template, thinkingOff: qwen3, why: 'given with --lf-template' };
  if (qwen3 && /instruct-2507/i.test(baseModel)) return { llamaFactoryTemplate: 'qwen3_nothink', thinkingOff: true, why: 'a Qwen3 Instruct-2507 model has no thinking mode' };
  if (qwen3) return { llamaFactoryTemplate: 'qwen3', thinkingOff: true, why: 'a Qwen3 hybrid model: thinking turned off (enable_thinking: false), as QX Studio prompts it' };
  if (/qwen2/i.test(baseModel)) return { llamaFactoryTemplate: 'qwen', thinkingOff: false, why: 'Qwen2/Qwen2.5 chat models' };
  if (/llama-?3/i.test(baseModel)) return { llamaFactoryTemplate: 'llama3', thinkingOff: false, why: 'Llama 3 chat models' };
  throw new QxError('usage', `no known chat template for the student base model "${baseModel}"`, {
    hint: 'Pass --lf-template NAME (a LLaMA-Factory template name, e.g. qwen3, qwen, llama3, gemma).',
  });
}
