import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { QxError } from '../core/errors.js';
import type { QxSettings } from '../core/workspace/api.js';
import { defaultSettings } from '../core/workspace/settings.js';
import { openWorkspace, type Workspace } from '../core/workspace/workspace.js';
import { type ParsedArgs, numOpt, opt } from './args.js';
import { type CliIo, stderrLogger } from './io.js';

/** Options every workspace command takes: the folder, JSON output, and the retrieval settings scores are keyed to. */
export const workspaceValued = ['workspace', 'k1', 'b', 'top-k', 'analyzer'];
export const workspaceFlags = ['json', 'help', 'exact-lengths'];

export const WORKSPACE_HELP = `Common options:
  --workspace DIR      the workspace folder (default: the current folder)
  --json               machine-readable result on stdout
  --k1 0.9 --b 0.4     BM25 parameters; --exact-lengths (no Lucene norms)
  --analyzer auto      english|cjk|whitespace; auto (default): cjk for a zh/ja/ko dataset, else english
  --top-k 1000         documents retrieved per query (Recall@k)
Scores are keyed to the retrieval settings: changing them makes every expansion unscored again.
Environment: QX_TEACHER_BASE_URL, QX_TEACHER_MODEL, QX_STUDENT_BASE_URL, QX_STUDENT_MODEL override
the endpoints; the API key comes from QX_API_KEY, else DEEPSEEK_API_KEY (for api.deepseek.com),
else OPENAI_API_KEY. QX_LOG=debug for more output.
`;

/** The settings of a CLI run: the defaults, then environment overrides, then flags. */
export function cliSettings(args: ParsedArgs, io: CliIo): QxSettings {
  const s = structuredClone(defaultSettings);
  const env = io.env;
  if (env.QX_TEACHER_BASE_URL) s.teacher.baseUrl = env.QX_TEACHER_BASE_URL;
  if (env.QX_TEACHER_MODEL) s.teacher.model = env.QX_TEACHER_MODEL;
  if (env.QX_STUDENT_BASE_URL) s.student.baseUrl = env.QX_STUDENT_BASE_URL;
  if (env.QX_STUDENT_MODEL) s.student.model = env.QX_STUDENT_MODEL;
  s.bm25.k1 = numOpt(args, 'k1', s.bm25.k1);
  s.bm25.b = numOpt(args, 'b', s.bm25.b);
  const topK = numOpt(args, 'top-k', s.bm25.topK);
  if (!Number.isInteger(topK) || topK < 10) throw new QxError('usage', `--top-k must be an integer >= 10, got ${topK}`);
  s.bm25.topK = topK;
  const analyzer = opt(args, 'analyzer', s.bm25.analyzer);
  if (analyzer !== 'auto' && analyzer !== 'english' && analyzer !== 'cjk' && analyzer !== 'whitespace') throw new QxError('usage', `--analyzer must be auto, english, cjk or whitespace, got "${analyzer}"`);
  s.bm25.analyzer = analyzer;
  if (args.flags.has('exact-lengths')) s.bm25.luceneNorms = false;
  return s;
}

/** The API key of an endpoint from the environment (never from flags, so it stays out of shell history). */
export function envApiKey(io: CliIo): (baseUrl: string) => Promise<string | undefined> {
  return async (baseUrl) => {
    const env = io.env;
    if (env.QX_API_KEY) return env.QX_API_KEY;
    if (/deepseek\.com/.test(baseUrl) && env.DEEPSEEK_API_KEY) return env.DEEPSEEK_API_KEY;
    return env.OPENAI_API_KEY || env.DEEPSEEK_API_KEY || undefined;
  };
}

/** Version from the package.json beside the bundle (dist/..) or the sources (src/cli/..). */
export function toolVersion(): string {
  for (const p of [resolve(__dirname, '..', 'package.json'), resolve(__dirname, '..', '..', 'package.json')]) {
    try {
      const v = (JSON.parse(readFileSync(p, 'utf8')) as { name?: string; version?: string });
      if (v.name === 'qx-studio' && typeof v.version === 'string') return v.version;
    } catch {
      // try the next place
    }
  }
  return 'dev';
}

/** The workspace folder of a command: `--workspace DIR` or the current folder. */
export function workspaceDir(args: ParsedArgs, io: CliIo): string {
  return resolve(io.cwd, opt(args, 'workspace', '.')!);
}

/** Opens the workspace, runs `fn`, and always closes it (releasing the store lock). */
export async function withWorkspace<T>(args: ParsedArgs, io: CliIo, fn: (ws: Workspace) => Promise<T>, dir = workspaceDir(args, io)): Promise<T> {
  const ws = await openWorkspace(dir, {
    settings: cliSettings(args, io),
    logger: stderrLogger(io),
    getApiKey: envApiKey(io),
    toolVersion: toolVersion(),
    env: io.env,
    ...(io.env.QX_CACHE_DIR ? { cacheDir: resolve(io.cwd, io.env.QX_CACHE_DIR) } : {}),
  });
  try {
    return await fn(ws);
  } finally {
    await ws.close();
  }
}

/** A comma-separated and/or repeated list option. */
export function listOpt(args: ParsedArgs, name: string): string[] | undefined {
  const v = args.options.get(name);
  if (v === undefined) return undefined;
  return v.flatMap((x) => x.split(',')).map((x) => x.trim()).filter((x) => x !== '');
}

export function printJson(io: CliIo, value: unknown): void {
  io.stdout(JSON.stringify(value, null, 2) + '\n');
}
