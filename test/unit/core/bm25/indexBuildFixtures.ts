import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** A JSONL corpus of `n` documents over a vocabulary of 3,000 words (deterministic). */
export function writeSyntheticCorpus(file: string, n: number): void {
  let seed = 7;
  const rand = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const words: string[] = [];
    const len = 4 + Math.floor(rand() * 30);
    for (let j = 0; j < len; j++) words.push(`w${Math.floor(rand() * rand() * 3000).toString(36)}`);
    lines.push(JSON.stringify({ id: `d${i}`, text: words.join(' ') }));
  }
  writeFileSync(file, lines.join('\n') + '\n');
}

/**
 * The files of the current generation of the index in `dir`, by name, sorted; meta.json is left
 * out (it holds the build's time), so two builds of the same corpus compare equal.
 */
export function currentIndexFiles(dir: string): Map<string, Buffer> {
  const gen = path.join(dir, readFileSync(path.join(dir, 'CURRENT'), 'utf8').trim());
  return new Map(
    readdirSync(gen)
      .filter((n) => n !== 'meta.json')
      .sort()
      .map((n) => [n, readFileSync(path.join(gen, n))]),
  );
}
