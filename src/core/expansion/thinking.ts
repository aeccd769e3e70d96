// Reasoning models (Qwen3, DeepSeek-R1 distills) put their thinking before the answer; an
// expansion keeps only the answer, whether it came from a live call or a Batch API output file.

/**
 * The answer of a chat completion without the model's reasoning: a leading `<think>…</think>`
 * block (Qwen3, DeepSeek-R1 distills on vLLM without a reasoning parser), or everything up to a
 * first `</think>` whose opening tag was part of the prompt, is removed. `unfinished` when the text
 * opens a `<think>` block that never closes (the token budget ran out while thinking).
 */
export function stripThinking(content: string): { text: string; stripped: boolean; unfinished: boolean } {
  const m = /^\s*<think>([\s\S]*?)<\/think>/.exec(content);
  if (m !== null) return { text: content.slice(m[0].length).trim(), stripped: true, unfinished: false };
  if (/^\s*<think>/.test(content)) return { text: '', stripped: true, unfinished: true };
  const close = content.indexOf('</think>');
  if (close >= 0 && !content.slice(0, close).includes('<think>')) return { text: content.slice(close + '</think>'.length).trim(), stripped: true, unfinished: false };
  return { text: content.trim(), stripped: false, unfinished: false };
}
