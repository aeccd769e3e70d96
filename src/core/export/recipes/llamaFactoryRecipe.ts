import { defaultValue } from './hyperparameters.js';
import type { RecipeContext } from './recipeTypes.js';

type YamlValue = string | number | boolean | null;

/**
 * One YAML scalar. Strings are always double-quoted with JSON escapes (a JSON string is a valid
 * YAML double-quoted scalar), so a model name or path never turns into a number, bool or null.
 */
function yamlScalar(v: YamlValue): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') {
    if (Number.isInteger(v) || Math.abs(v) >= 1e-3) return String(v);
    // YAML 1.1 (PyYAML) reads a float only with a dot and a signed exponent: 5.0e-6, not 5e-6.
    const [m = '0', e = '0'] = v.toExponential().split('e');
    return `${m.includes('.') ? m : `${m}.0`}e${e.startsWith('-') || e.startsWith('+') ? e : `+${e}`}`;
  }
  return JSON.stringify(v);
}

/** A flat YAML mapping with `### section` comments, the layout of LLaMA-Factory's examples. */
export function renderFlatYaml(header: string[], sections: [string, Record<string, YamlValue>][]): string {
  const out = header.map((h) => `# ${h}`.trimEnd());
  for (const [name, entries] of sections) {
    out.push('', `### ${name}`);
    for (const [k, v] of Object.entries(entries)) out.push(`${k}: ${yamlScalar(v)}`);
  }
  return out.join('\n') + '\n';
}

/** The `dataset_info.json` entry of the SFT file (OpenAI-style `messages` in sharegpt layout). */
export function sftDatasetInfoEntry(file: string): Record<string, unknown> {
  return {
    file_name: file,
    formatting: 'sharegpt',
    columns: { messages: 'messages' },
    tags: { role_tag: 'role', content_tag: 'content', user_tag: 'user', assistant_tag: 'assistant', system_tag: 'system' },
  };
}

/** Name of a file's entry in dataset_info.json: the file name without `.jsonl` (as the export names it). */
export function datasetEntryName(file: string): string {
  return file.replace(/\.jsonl?$/i, '');
}

export interface LlamaFactoryFiles {
  sftYaml: string;
  mergeSftYaml: string;
  dpoYaml: string;
  mergeDpoYaml: string;
  runScript: string;
}

/**
 * LLaMA-Factory configs: LoRA SFT on the SFT file, merge, LoRA DPO (`stage: dpo`, `pref_beta`,
 * `pref_loss: sigmoid`) on the preference file from the merged SFT model, merge again into the
 * final checkpoint; and a shell script that runs the four steps from the export folder
 * (`dataset_dir: .`, so every path is relative to it).
 */
export function renderLlamaFactory(c: RecipeContext): LlamaFactoryFiles {
  const header = (what: string): string[] => [
    `QX Studio recipe for LLaMA-Factory: ${what}`,
    `student ${c.baseModel}, dataset ${c.dataset}; written by QX Studio ${c.toolVersion} on ${c.createdAt}.`,
    `Run from this folder: sh ${c.files.lfRun} (or llamafactory-cli train|export <this file>). Defaults and sources: ${c.files.readme}.`,
  ];
  const model = (path: string): Record<string, YamlValue> => ({ model_name_or_path: path, trust_remote_code: true });
  const template: Record<string, YamlValue> = { template: c.chat.llamaFactoryTemplate, ...(c.chat.thinkingOff && c.chat.llamaFactoryTemplate === 'qwen3' ? { enable_thinking: false } : {}) };
  const lora: Record<string, YamlValue> = {
    finetuning_type: 'lora',
    lora_rank: defaultValue('lora.r') as number,
    lora_alpha: defaultValue('lora.alpha') as number,
    lora_dropout: defaultValue('lora.dropout') as number,
    lora_target: 'all',
  };
  const train = (lr: number, epochs: number): Record<string, YamlValue> => ({
    per_device_train_batch_size: defaultValue('per_device_train_batch_size') as number,
    gradient_accumulation_steps: defaultValue('gradient_accumulation_steps') as number,
    learning_rate: lr,
    num_train_epochs: epochs,
    lr_scheduler_type: defaultValue('lr_scheduler_type') as string,
    warmup_ratio: defaultValue('warmup_ratio') as number,
    bf16: true,
  });
  const output = (dir: string): Record<string, YamlValue> => ({ output_dir: dir, logging_steps: 10, save_steps: 500, plot_loss: true, overwrite_output_dir: true, report_to: 'none' });
  const sftLora = `${c.sftDir}-lora`;
  const dpoLora = `${c.dpoDir}-lora`;

  const sftYaml = renderFlatYaml(header('stage 1, supervised fine-tuning on the best teacher expansions'), [
    ['model', model(c.baseModel)],
    ['method', { stage: 'sft', do_train: true, ...lora }],
    ['dataset', { dataset: datasetEntryName(c.files.sft), dataset_dir: '.', ...template, cutoff_len: defaultValue('sft.max_length') as number, overwrite_cache: true }],
    ['output', output(sftLora)],
    ['train', train(defaultValue('sft.learning_rate (LoRA)') as number, defaultValue('sft.num_train_epochs') as number)],
  ]);
  const merge = (what: string, base: string, adapter: string, exportDir: string): string =>
    renderFlatYaml(header(what), [
      ['model', { ...model(base), adapter_name_or_path: adapter, ...template, finetuning_type: 'lora' }],
      ['export', { export_dir: exportDir, export_size: 5, export_legacy_format: false }],
    ]);
  const dpoYaml = renderFlatYaml(header('stage 2, DPO on the chosen/rejected pairs, from the merged SFT model'), [
    ['model', model(c.sftDir)],
    ['method', { stage: 'dpo', do_train: true, ...lora, pref_beta: defaultValue('dpo.beta') as number, pref_loss: defaultValue('dpo.loss') as string }],
    ['dataset', { dataset: datasetEntryName(c.files.dpo), dataset_dir: '.', ...template, cutoff_len: defaultValue('dpo.max_length') as number, overwrite_cache: true }],
    ['output', output(dpoLora)],
    ['train', train(defaultValue('dpo.learning_rate (LoRA)') as number, defaultValue('dpo.num_train_epochs') as number)],
  ]);
  const runScript = `#!/bin/sh
# QX Studio recipe for LLaMA-Factory: SFT, merge, DPO, merge. Needs a CUDA GPU and
#   pip install "llamafactory[torch,metrics]"
# Paths in the YAML files are relative to this folder.
set -e
cd "$(dirname "$0")"
llamafactory-cli train ${c.files.lfSft}
llamafactory-cli export ${c.files.lfMergeSft}
llamafactory-cli train ${c.files.lfDpo}
llamafactory-cli export ${c.files.lfMergeDpo}
echo "trained student: $(pwd)/${c.finalDir}; serve it with: sh ${c.files.serve}"
`;
  return {
    sftYaml,
    mergeSftYaml: merge('merge the SFT LoRA adapter into the base model', c.baseModel, sftLora, c.sftDir),
    dpoYaml,
    mergeDpoYaml: merge('merge the DPO LoRA adapter into the SFT model: the trained student', c.sftDir, dpoLora, c.finalDir),
    runScript,
  };
}
