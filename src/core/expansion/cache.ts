import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TokenUsage } from './types.js';

/** One cached generation: a single sample of a single prompt. Only successes are cached. */
export interface CachedGeneration {
  /** Cache key (sha256 hex) of the call. */
  key: string;
  text: string;
  usage?: TokenUsage;
  /** Wall time of the original call, ms, divided by the samples the call returned. */
  latencyMs?: number;
  /** ISO time of the original call. */
  createdAt: string;
  /**
   * A relevance judge's call (see src/core/judge): the most likely tokens of the first answer
   * position with their natural-log probabilities, as the server returned them.
   */
  topLogprobs?: { token: string; logprob: number }[];
}

/** What identifies one sample of one generation call. */
export interface CacheKeyParts {
  /** The generator's identity: endpoint or model folder, model, sampling params. */
  identity: Record<string, unknown>;
  /** Full sha256 of the template file, or its short hash. */
  templateHash: string;
  query: string;
  /** The rendered messages (covers few-shot examples and retrieved passages). */
  messages: unknown;
  /** 0-based. */
  sampleIndex: number;
}

/** sha256 (hex) of the canonical JSON of the parts: object keys sorted, so key order never matters. */
export function cacheKey(parts: CacheKeyParts): string {
  return createHash('sha256').update(canonicalJson(parts)).digest('hex');
}

/**
 * A content-addressed cache of generations on disk: `<dir>/<k[0..2]>/<k[2..4]>/<k>.json`, each
 * written to a temp file and renamed, so a crash never leaves a half-written entry. Unreadable
 * entries count as misses.
 */
export class ExpansionCache {
  private readonly made = new Set<string>();

  constructor(readonly dir: string) {}

  private path(key: string): string {
    return join(this.dir, key.slice(0, 2), key.slice(2, 4), `${key}.json`);
  }

  /** The cached sample, or undefined when absent or unreadable. */
  async get(key: string): Promise<CachedGeneration | undefined> {
    let text: string;
    try {
      text = await readFile(this.path(key), 'utf8');
    } catch {
      return undefined;
    }
    try {
      const v = JSON.parse(text) as CachedGeneration;
      return v.key === key && typeof v.text === 'string' ? v : undefined;
    } catch {
      return undefined;
    }
  }

  /** Stores a finished sample atomically (temp file + rename); an existing entry is replaced. */
  async put(entry: CachedGeneration): Promise<void> {
    const file = this.path(entry.key);
    const sub = join(this.dir, entry.key.slice(0, 2), entry.key.slice(2, 4));
    if (!this.made.has(sub)) {
      await mkdir(sub, { recursive: true });
      this.made.add(sub);
    }
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      try {
        await writeFile(tmp, JSON.stringify(entry), 'utf8');
      } catch (e) {
        if ((e as { code?: unknown }).code !== 'ENOENT') throw e;
        // The folder was removed while we ran (a cleared cache): make it again.
        await mkdir(sub, { recursive: true });
        await writeFile(tmp, JSON.stringify(entry), 'utf8');
      }
      await rename(tmp, file);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw e;
    }
  }
}

function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
    .join(',')}}`;
}
