import { defaultValue } from './hyperparameters.js';
import type { RecipeContext } from './recipeTypes.js';

/** A JSON-like value as a Python literal (JSON strings and numbers are valid Python; true/false/null are not). */
export function pyLiteral(v: unknown, indent = ''): string {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'None';
  if (typeof v === 'string') return JSON.stringify(v);
  const inner = `${indent}    `;
  if (Array.isArray(v)) return v.length === 0 ? '[]' : `[\n${v.map((x) => `${inner}${pyLiteral(x, inner)},`).join('\n')}\n${indent}]`;
  const entries = Object.entries(v as Record<string, unknown>);
  return entries.length === 0 ? '{}' : `{\n${entries.map(([k, x]) => `${inner}${JSON.stringify(k)}: ${pyLiteral(x, inner)},`).join('\n')}\n${indent}}`;
}

/** Columns (and their JSON types) the TRL script reads from each data file. */
export const trlExpectedColumns = {
  sft: { messages: 'list' },
  dpo: { prompt: 'list', chosen: 'list', rejected: 'list' },
} as const;

/**
 * The TRL training script: SFT (`SFTTrainer`) on the SFT file, then DPO (`DPOTrainer`) from the SFT
 * checkpoint on the preference file, LoRA by default (`--full` for full fine-tuning), each LoRA
 * stage merged so the result is one plain checkpoint vLLM serves with the base model's chat
 * template (saved with the tokenizer). Prompts are rendered with the tokenizer's chat template and
 * the same `chat_template_kwargs` QX Studio sends when it queries the student (thinking off for
 * Qwen3), so training and generation see the same text. `--check` validates the data files
 * without torch or TRL (what the tests run).
 */
export function renderTrlScript(c: RecipeContext): string {
  const kwargs = c.chat.thinkingOff ? { enable_thinking: false } : {};
  const sft = {
    learning_rate_lora: defaultValue('sft.learning_rate (LoRA)'),
    learning_rate_full: defaultValue('sft.learning_rate (full)'),
    num_train_epochs: defaultValue('sft.num_train_epochs'),
    max_length: defaultValue('sft.max_length'),
  };
  const dpo = {
    beta: defaultValue('dpo.beta'),
    loss_type: defaultValue('dpo.loss'),
    learning_rate_lora: defaultValue('dpo.learning_rate (LoRA)'),
    learning_rate_full: defaultValue('dpo.learning_rate (full)'),
    num_train_epochs: defaultValue('dpo.num_train_epochs'),
    max_prompt_length: defaultValue('dpo.max_prompt_length'),
    max_length: defaultValue('dpo.max_length'),
  };
  const common = {
    per_device_train_batch_size: defaultValue('per_device_train_batch_size'),
    gradient_accumulation_steps: defaultValue('gradient_accumulation_steps'),
    lr_scheduler_type: defaultValue('lr_scheduler_type'),
    warmup_ratio: defaultValue('warmup_ratio'),
    logging_steps: 10,
    save_strategy: 'no',
    report_to: 'none',
  };
  const lora = { r: defaultValue('lora.r'), lora_alpha: defaultValue('lora.alpha'), lora_dropout: defaultValue('lora.dropout'), target_modules: defaultValue('lora.target'), task_type: 'CAUSAL_LM' };
  return `#!/usr/bin/env python3
"""QX Studio training recipe for TRL: SFT, then DPO, of the student ${c.baseModel}.

Dataset ${c.dataset}, written by QX Studio ${c.toolVersion} on ${c.createdAt}.
Every path is relative to this file's folder; everything the recipe assumes is set below.

    pip install "trl>=0.19" "transformers>=4.51" "peft>=0.15" datasets accelerate torch
    python3 ${c.files.trlScript} --check   # validate the data files (no GPU, no packages needed)
    python3 ${c.files.trlScript}           # SFT, then DPO, LoRA merged after each stage
    python3 ${c.files.trlScript} --full    # full fine-tuning instead of LoRA
    sh ${c.files.serve}                    # serve ${c.finalDir} with vLLM (OpenAI-compatible)

Training needs a CUDA GPU and the packages above. The defaults and their sources are in
${c.files.readme}.
"""
import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

BASE_MODEL = ${pyLiteral(c.baseModel)}
SFT_FILE = ${pyLiteral(c.files.sft)}
DPO_FILE = ${pyLiteral(c.files.dpo)}
SFT_DIR = ${pyLiteral(c.sftDir)}
DPO_DIR = ${pyLiteral(c.dpoDir)}
FINAL_DIR = ${pyLiteral(c.finalDir)}

# Passed to the chat template when prompts are rendered, as QX Studio sends it when it queries
# the student (vLLM chat_template_kwargs): ${c.chat.thinkingOff ? 'thinking off for Qwen3.' : 'nothing for this model.'}
CHAT_TEMPLATE_KWARGS = ${pyLiteral(kwargs)}

# The student's zero-shot prompt the records were rendered with (the user turn of every record).
PROMPT_TEMPLATE = ${pyLiteral(c.promptTemplate)}

# Columns read from each file and their JSON types; --check verifies every record has them.
EXPECTED_COLUMNS = ${pyLiteral({ [c.files.sft]: trlExpectedColumns.sft, [c.files.dpo]: trlExpectedColumns.dpo })}

SFT = ${pyLiteral(sft)}
DPO = ${pyLiteral(dpo)}
COMMON = ${pyLiteral(common)}
LORA = ${pyLiteral(lora)}

JSON_TYPES = {"list": list, "str": str, "dict": dict}


def read_jsonl(name):
    path = HERE / name
    if not path.is_file():
        sys.exit(f"{path}: missing; export it again with qx export --recipe trl")
    rows = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    sys.exit(f"{path}:{n}: not JSON ({e})")
    return rows


def check():
    """Validates the data files against EXPECTED_COLUMNS; returns the record counts."""
    counts = {}
    for name, columns in EXPECTED_COLUMNS.items():
        rows = read_jsonl(name)
        if not rows:
            sys.exit(f"{HERE / name}: no records")
        for n, row in enumerate(rows, 1):
            for col, kind in columns.items():
                if not isinstance(row.get(col), JSON_TYPES[kind]):
                    sys.exit(f"{HERE / name}:{n}: column {col!r} must be a {kind}")
            turns = row.get("messages") or (row["prompt"] + row["chosen"])
            for turn in turns:
                if turn.get("role") not in ("system", "user", "assistant") or not isinstance(turn.get("content"), str):
                    sys.exit(f"{HERE / name}:{n}: a turn needs a role (system, user, assistant) and a content string")
            answers = row["messages"][-1:] if "messages" in row else row["chosen"] + row["rejected"]
            if any(a.get("role") != "assistant" for a in answers):
                sys.exit(f"{HERE / name}:{n}: the answer turns must be assistant turns")
        counts[name] = len(rows)
    return counts


def render_prompt(tokenizer, messages):
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, **CHAT_TEMPLATE_KWARGS)


def sft_rows(tokenizer):
    # Prompt-completion rows: the loss is on the completion (the expansion) only.
    return [
        {"prompt": render_prompt(tokenizer, r["messages"][:-1]), "completion": r["messages"][-1]["content"] + tokenizer.eos_token}
        for r in read_jsonl(SFT_FILE)
    ]


def dpo_rows(tokenizer):
    return [
        {"prompt": render_prompt(tokenizer, r["prompt"]), "chosen": r["chosen"][0]["content"], "rejected": r["rejected"][0]["content"]}
        for r in read_jsonl(DPO_FILE)
    ]


def save_merged(trainer, tokenizer, out_dir, use_lora):
    model = trainer.model.merge_and_unload() if use_lora else trainer.model
    model.save_pretrained(HERE / out_dir)
    tokenizer.save_pretrained(HERE / out_dir)  # keeps the chat template vLLM serves with


def train(use_lora):
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoTokenizer
    from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer

    bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    lr = "learning_rate_lora" if use_lora else "learning_rate_full"
    peft_config = LoraConfig(**LORA) if use_lora else None

    tokenizer = AutoTokenizer.from_pretrained(BASE_MODEL)
    sft_args = SFTConfig(
        output_dir=str(HERE / SFT_DIR),
        learning_rate=SFT[lr],
        num_train_epochs=SFT["num_train_epochs"],
        max_length=SFT["max_length"],
        bf16=bf16,
        **COMMON,
    )
    sft = SFTTrainer(model=BASE_MODEL, args=sft_args, train_dataset=Dataset.from_list(sft_rows(tokenizer)), processing_class=tokenizer, peft_config=peft_config)
    sft.train()
    save_merged(sft, tokenizer, SFT_DIR, use_lora)
    del sft

    dpo_args = DPOConfig(
        output_dir=str(HERE / DPO_DIR),
        beta=DPO["beta"],
        loss_type=DPO["loss_type"],
        learning_rate=DPO[lr],
        num_train_epochs=DPO["num_train_epochs"],
        max_prompt_length=DPO["max_prompt_length"],
        max_length=DPO["max_length"],
        bf16=bf16,
        **COMMON,
    )
    # Without ref_model, TRL uses the SFT model as the reference (with LoRA: the adapter disabled).
    dpo = DPOTrainer(model=str(HERE / SFT_DIR), args=dpo_args, train_dataset=Dataset.from_list(dpo_rows(tokenizer)), processing_class=tokenizer, peft_config=peft_config)
    dpo.train()
    save_merged(dpo, tokenizer, FINAL_DIR, use_lora)
    print(f"trained student: {HERE / FINAL_DIR}")


def main():
    parser = argparse.ArgumentParser(description="SFT then DPO of " + BASE_MODEL + " on the QX Studio export beside this file")
    parser.add_argument("--check", action="store_true", help="only validate the data files")
    parser.add_argument("--full", action="store_true", help="full fine-tuning instead of LoRA")
    args = parser.parse_args()
    counts = check()
    print("data ok: " + ", ".join(f"{name} {n} records" for name, n in counts.items()))
    if not args.check:
        train(use_lora=not args.full)


if __name__ == "__main__":
    main()
`;
}
