import { recipeDefaults } from './hyperparameters.js';
import type { RecipeContext } from './recipeTypes.js';

function sideText(counts: Record<string, number>): string {
  const e = Object.entries(counts).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return e.length === 0 ? 'nothing' : e.map(([k, n]) => `${k} ${n}`).join(', ');
}

function cell(s: string): string {
  return s.replace(/\|/g, '\\|');
}

/** The export folder's README: what is there, how to train and serve, every default and its source. */
export function renderRecipeReadme(c: RecipeContext): string {
  const f = c.files;
  const trl = c.recipe === 'trl';
  const files = trl
    ? [
        [f.sft, `SFT data (${c.counts.sft} records, format sft-messages): the best teacher expansion per query as the assistant turn`],
        [f.dpo, `DPO data (${c.counts.dpo} pairs, format trl-conversational): prompt messages, chosen/rejected assistant turns`],
        [f.trlScript, 'the TRL script: SFTTrainer, then DPOTrainer from the SFT model; `--check` validates the data only'],
      ]
    : [
        [f.sft, `SFT data (${c.counts.sft} records, format sft-messages, sharegpt layout with role/content tags)`],
        [f.dpo, `DPO data (${c.counts.dpo} pairs, format llama-factory: conversations, chosen, rejected)`],
        [f.datasetInfo, `LLaMA-Factory's dataset registry: entries \`${f.sft.replace(/\.jsonl$/, '')}\` and \`${f.dpo.replace(/\.jsonl$/, '')}\``],
        [f.lfSft, 'stage 1: LoRA SFT (`stage: sft`)'],
        [f.lfMergeSft, 'merges the SFT adapter into the base model'],
        [f.lfDpo, 'stage 2: LoRA DPO from the merged SFT model (`stage: dpo`, `pref_beta`, `pref_loss`)'],
        [f.lfMergeDpo, 'merges the DPO adapter: the trained student'],
        [f.lfRun, 'runs the four steps from this folder'],
      ];
  const run = trl
    ? ['pip install "trl>=0.19" "transformers>=4.51" "peft>=0.15" datasets accelerate torch', `python3 ${f.trlScript} --check`, `python3 ${f.trlScript}          # LoRA (add --full for full fine-tuning)`]
    : ['pip install "llamafactory[torch,metrics]"', `sh ${f.lfRun}`];
  const lines = [
    `# Training recipe: ${trl ? 'TRL' : 'LLaMA-Factory'} for ${c.baseModel}`,
    '',
    `Written by QX Studio ${c.toolVersion} on ${c.createdAt} from dataset **${c.dataset}** (${c.counts.queries} training queries).`,
    'Every path below is relative to this folder. No query of an evaluation split is in these files: QX Studio refuses to write',
    'a recipe for an export made with `--allow-eval-queries`.',
    '',
    `DPO sides: chosen from ${sideText(c.sides.chosen)}; rejected from ${sideText(c.sides.rejected)}${Object.keys(c.sides.rejected).some((k) => k.startsWith('round ')) ? ' (on-policy: the student round\'s own outputs)' : ''}.`,
    '',
    '## Files',
    '',
    '| file | what |',
    '|---|---|',
    ...files.map(([a, b]) => `| \`${cell(a ?? '')}\` | ${cell(b ?? '')} |`),
    `| \`${f.serve}\` | serves \`${c.finalDir}\` with vLLM |`,
    `| \`${f.recipeJson}\` | the same facts as this README, as JSON |`,
    '',
    `Beside each data file: its manifest (\`${f.sft}.manifest.json\`, \`${f.dpo}.manifest.json\`: provenance of every record) and card (\`${f.sft}.card.md\`, \`${f.dpo}.card.md\`).`,
    '',
    '## Train',
    '',
    '**Training needs a CUDA GPU and the Python packages below; QX Studio\'s tests cannot run it** (they check that the',
    `script compiles, the YAML parses, every file named exists and the records have the columns the recipe reads).`,
    '',
    '```sh',
    ...run,
    '```',
    '',
    `Outputs: \`${c.sftDir}\` (the SFT model), \`${c.finalDir}\` (SFT then DPO: the trained student).`,
    '',
    '## Serve and evaluate',
    '',
    '```sh',
    `sh ${f.serve}      # vllm serve ${c.finalDir} --served-model-name ${c.servedModelName} …`,
    '```',
    '',
    `The checkpoint carries the base model's tokenizer and chat template, so vLLM prompts it as it was trained.`,
    c.chat.thinkingOff
      ? `Thinking is off: ${trl ? 'the script passes `enable_thinking=False` to the chat template' : `the configs use template \`${c.chat.llamaFactoryTemplate}\`${c.chat.llamaFactoryTemplate === 'qwen3' ? ' with `enable_thinking: false`' : ''}`}, the server gets \`--default-chat-template-kwargs\` (drop that flag if your vLLM does not know it: QX Studio does not need it), and QX Studio sends \`chat_template_kwargs: {"enable_thinking": false}\` to any student whose model name contains "qwen3", which \`${c.servedModelName}\` does.`
      : `Chat template: LLaMA-Factory \`${c.chat.llamaFactoryTemplate}\` (${c.chat.why}).`,
    '',
    'Then register it as the next student round and measure it on the evaluation queries (in the evaluation workspace):',
    '',
    '```sh',
    `qx round add --base-url http://127.0.0.1:8000/v1 --model ${c.servedModelName}`,
    'qx round eval && qx round report',
    '```',
    '',
    '## Prompt',
    '',
    `Every record's user turn is the student's zero-shot prompt, template \`${c.promptTemplate.id}\` v${c.promptTemplate.version} (${c.promptTemplate.hash}):`,
    '',
    '```',
    ...c.promptTemplate.messages.map((m) => `[${m.role}]\n${m.content}`),
    '```',
    '',
    'Query the trained student with the same prompt (QX Studio does, with the same template).',
    '',
    '## Hyperparameters',
    '',
    'LoRA is the default (a 4B student fits one 24 GB GPU). Edit the constants at the top of the script or the YAML files to change them.',
    '',
    '| setting | value | TRL | LLaMA-Factory | source |',
    '|---|---|---|---|---|',
    ...recipeDefaults.map((d) => `| ${cell(d.key)} | ${d.value} | \`${cell(d.trl)}\` | \`${cell(d.llamaFactory)}\` | ${cell(d.source)} |`),
    '',
  ];
  return lines.join('\n');
}

/** `serve.sh`: vLLM's OpenAI-compatible server on the trained student. */
export function renderServeScript(c: RecipeContext): string {
  const kwargs = c.chat.thinkingOff ? ` \\\n  --default-chat-template-kwargs '{"enable_thinking": false}'` : '';
  return `#!/bin/sh
# Serves the trained student (${c.finalDir}) with vLLM's OpenAI-compatible server on port 8000.
# The chat template is the one saved with the checkpoint (the base model's, ${c.baseModel}).
# Extra arguments are passed to vllm serve (e.g. --port 8001, --gpu-memory-utilization 0.5).
set -e
cd "$(dirname "$0")"
exec vllm serve ${c.finalDir} \\
  --served-model-name ${c.servedModelName} \\
  --max-model-len 2048${kwargs} \\
  "$@"
`;
}
