import { QxError, errorMessage, isCancellationError } from '../core/errors.js';
import { type CliIo, processIo } from './io.js';

/** A `qx` sub-command: resolves to the process exit code. */
export type CommandRun = (argv: string[], io: CliIo, signal: AbortSignal) => Promise<number>;

interface CommandEntry {
  summary: string;
  load: () => Promise<CommandRun>;
}

/**
 * Every sub-command, loaded lazily so `qx eval` never pays for the LLM client or ONNX.
 * Each lives in src/cli/commands/<name>.ts and exports `run`.
 */
const commands: Record<string, CommandEntry> = {
  init: { summary: 'make a folder a QX workspace from a dataset manifest or topics/qrels/corpus files', load: async () => (await import('./commands/init.js')).run },
  expand: { summary: 'generate expansions with the teacher or student LLM (cached, resumable)', load: async () => (await import('./commands/expand.js')).run },
  import: { summary: 'import expansions from a QueryGym TSV, JSONL or OpenAI Batch output file', load: async () => (await import('./commands/import.js')).run },
  score: { summary: 'score every unscored expansion by BM25 retrieval feedback (nDCG@10 delta, Recall, Judged@10)', load: async () => (await import('./commands/score.js')).run },
  pairs: { summary: 'rebuild chosen/rejected pairs from the scores (margin, strategy, pools)', load: async () => (await import('./commands/pairs.js')).run },
  export: { summary: 'export DPO pairs (TRL, OpenAI, LLaMA-Factory) or SFT messages as JSONL with a manifest', load: async () => (await import('./commands/export.js')).run },
  round: { summary: 'student rounds: register trained checkpoints, evaluate them, draw on-policy candidates, compare them', load: async () => (await import('./commands/round.js')).run },
  report: { summary: 'print the per-method table and write the Markdown/HTML report', load: async () => (await import('./commands/report.js')).run },
  demo: { summary: 'run the whole pipeline on the embedded TREC DL 2019 sample, offline', load: async () => (await import('./commands/demo.js')).run },
  index: { summary: 'build an on-disk BM25 index from a corpus (Lucene-exact English analyzer by default)', load: async () => (await import('./commands/index.js')).run },
  search: { summary: 'search an index with a topics file and write a TREC run (BM25, optional RM3)', load: async () => (await import('./commands/search.js')).run },
  'bench-search': { summary: 'time an in-memory BM25 build and search over a corpus and queries; prints one JSON line', load: async () => (await import('./commands/benchSearch.js')).run },
  judge: { summary: 'judge unjudged top-10 documents with an LLM (logprobs), calibrate against the qrels, judge-filled nDCG@10', load: async () => (await import('./commands/judge.js')).run },
  'export-kd': { summary: 'export KD-listwise lists or contrastive triples: teacher-scored candidates plus sampled negatives', load: async () => (await import('./commands/exportKd.js')).run },
  rewrites: { summary: 'conversational search: import the dataset\'s rewrites as candidates, report deltas against raw and manual', load: async () => (await import('./commands/rewrites.js')).run },
  eval: { summary: 'evaluate a TREC run against qrels, printing trec_eval\'s format (nDCG@k, recall, MAP, MRR)', load: async () => (await import('./commands/eval.js')).run },
};

/** Exit codes: 0 ok, 1 failure, 2 usage, 3 bad data/config, 4 auth/network, 130 cancelled. */
export function exitCodeFor(e: unknown): number {
  if (isCancellationError(e)) return 130;
  if (QxError.is(e)) {
    switch (e.code) {
      case 'usage':
        return 2;
      case 'dataset':
      case 'config':
      case 'template':
      case 'index':
      case 'store':
      case 'export':
        return 3;
      case 'auth':
      case 'network':
      case 'rateLimit':
      case 'timeout':
      case 'badResponse':
        return 4;
      default:
        return 1;
    }
  }
  return 1;
}

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  return [
    'qx — QX Studio headless pipeline',
    '',
    'usage: qx <command> [options]',
    '',
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'Set QX_LOG=debug for more output. API keys come from the environment (see README).',
  ].join('\n');
}

export async function main(argv: string[], io: CliIo, signal: AbortSignal): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    io.stdout(usage() + '\n');
    return name === undefined ? 2 : 0;
  }
  const entry = commands[name];
  if (entry === undefined) {
    io.stderr(`qx: unknown command "${name}"\n\n${usage()}\n`);
    return 2;
  }
  try {
    const run = await entry.load();
    return await run(rest, io, signal);
  } catch (e) {
    if (isCancellationError(e)) {
      io.stderr('qx: cancelled\n');
    } else if (QxError.is(e)) {
      io.stderr(`qx ${name}: ${e.message}\n`);
      if (io.env.QX_LOG === 'debug' && e.stack) io.stderr(e.stack + '\n');
    } else {
      io.stderr(`qx ${name}: ${errorMessage(e)}\n${e instanceof Error && e.stack ? e.stack + '\n' : ''}`);
    }
    return exitCodeFor(e);
  }
}

if (require.main === module) {
  const controller = new AbortController();
  let interrupts = 0;
  process.on('SIGINT', () => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    process.stderr.write('\nqx: stopping after the current unit of work (Ctrl-C again to quit now)\n');
    controller.abort();
  });
  main(process.argv.slice(2), processIo(), controller.signal).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`qx: ${errorMessage(e)}\n`);
      process.exitCode = 1;
    },
  );
}
