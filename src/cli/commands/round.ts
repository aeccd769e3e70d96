import { resolve } from 'node:path';
import { QxError } from '../../core/errors.js';
import { renderRoundsText } from '../../core/report/rounds.js';
import { linkEvalWorkspace, loadRounds, registerRound, runRound, writeRoundReport, type StudentRound } from '../../core/workspace/rounds.js';
import { type ParsedArgs, numOpt, opt, parseArgs } from '../args.js';
import { type CliIo, progressBar } from '../io.js';
import { WORKSPACE_HELP, cliSettings, printJson, withWorkspace, workspaceDir, workspaceFlags, workspaceValued } from '../workspaceArgs.js';

const HELP = `usage: qx round add (--base-url URL --model NAME | --model-path DIR [--model NAME]) [--note TEXT]
       qx round list
       qx round link --eval-workspace DIR
       qx round eval [--round N] [--template ID]
       qx round sample [--round N] [--template ID] [--samples 4] [--temperature 1]
       qx round report [--teacher role/method/model]

Student rounds. Round 0 is the base student (the student endpoint of the settings, registered
with the first add); each trained checkpoint registered with add is the next round: an
OpenAI-compatible endpoint + model name (e.g. the vllm serve of a recipe), or a local ONNX folder.
Rounds are kept in .qx/rounds.json; register them in each workspace that uses them.

  link     (in the training workspace) names the evaluation workspace: from then on every export,
           recipe and on-policy sample here refuses the queries it also has (same qid or text).
  eval     generates with the round (default the last) on this workspace's evaluation queries
           (split test/eval) and scores: method <template>@r<N>, role student.
  sample   on-policy candidates: draws --samples outputs per query at --temperature with the round
           on this workspace's training queries (split train/dev; refused on evaluation queries)
           and scores them, so the next qx pairs can pair the student's own outputs against the
           teacher's (see qx pairs --chosen-from/--rejected-from). Exports record each side's round.
  report   compares the original query, the teacher, every round and the baselines: mean nDCG@10,
           % of teacher with a 95% bootstrap interval, per-query W/T/L against the teacher and the
           previous round; writes .qx/reports/rounds.md, rounds.svg (plot), rounds.html, rounds.json.

${WORKSPACE_HELP}`;

function describe(r: StudentRound): string {
  return `round ${r.round}: ${r.model} ${r.kind === 'openai' ? `at ${r.baseUrl}` : `(ONNX ${r.modelPath})`}${r.note === undefined ? '' : ` — ${r.note}`}`;
}

export async function run(argv: string[], io: CliIo, signal: AbortSignal): Promise<number> {
  const [sub, ...rest] = argv;
  const args = parseArgs(rest, { valued: [...workspaceValued, 'base-url', 'model', 'model-path', 'note', 'round', 'template', 'samples', 'temperature', 'teacher', 'eval-workspace'], flags: workspaceFlags });
  if (sub === undefined || sub === '--help' || sub === '-h' || args.flags.has('help')) {
    io.stdout(HELP);
    return sub === undefined ? 2 : 0;
  }
  switch (sub) {
    case 'add':
      return add(args, io);
    case 'list': {
      const rounds = loadRounds(workspaceDir(args, io));
      if (args.flags.has('json')) printJson(io, rounds);
      else io.stdout(rounds.length === 0 ? 'no round registered (qx round add registers round 0, the base student, and the first checkpoint)\n' : rounds.map(describe).join('\n') + '\n');
      return 0;
    }
    case 'link': {
      const dir = opt(args, 'eval-workspace');
      if (dir === undefined) throw new QxError('usage', 'qx round link needs --eval-workspace DIR');
      const r = await linkEvalWorkspace(workspaceDir(args, io), resolve(io.cwd, dir));
      if (args.flags.has('json')) printJson(io, r);
      else io.stdout(`linked the evaluation workspace ${r.evalWorkspace} (${r.evalQueries} queries): exports and on-policy samples here refuse its queries\n`);
      return 0;
    }
    case 'eval':
    case 'sample':
      return generate(args, io, signal, sub);
    case 'report':
      return report(args, io);
    default:
      throw new QxError('usage', `unknown qx round command "${sub}"`, { hint: 'Use add, list, link, eval, sample or report; see qx round --help.' });
  }
}

function add(args: ParsedArgs, io: CliIo): number {
  const baseUrl = opt(args, 'base-url');
  const model = opt(args, 'model');
  const modelPath = opt(args, 'model-path');
  const note = opt(args, 'note');
  if ((baseUrl === undefined) === (modelPath === undefined)) throw new QxError('usage', 'qx round add needs --base-url URL --model NAME, or --model-path DIR', { hint: 'See qx round --help.' });
  if (baseUrl !== undefined && model === undefined) throw new QxError('usage', 'qx round add --base-url needs --model NAME (the served model name)');
  const root = workspaceDir(args, io);
  const student = cliSettings(args, io).student;
  const rounds = registerRound(
    root,
    student,
    baseUrl !== undefined
      ? { kind: 'openai', baseUrl, model: model as string, ...(note === undefined ? {} : { note }) }
      : { kind: 'onnx', modelPath: resolve(io.cwd, modelPath as string), ...(model === undefined ? {} : { model }), ...(note === undefined ? {} : { note }) },
  );
  const last = rounds[rounds.length - 1] as StudentRound;
  if (args.flags.has('json')) printJson(io, rounds);
  else io.stdout(`${rounds.length === 2 ? `registered ${describe(rounds[0] as StudentRound)}\n` : ''}registered ${describe(last)}\n`);
  return 0;
}

async function generate(args: ParsedArgs, io: CliIo, signal: AbortSignal, purpose: 'eval' | 'sample'): Promise<number> {
  const roundOpt = opt(args, 'round');
  const round = roundOpt === undefined ? undefined : Number(roundOpt);
  if (round !== undefined && !(Number.isInteger(round) && round >= 0)) throw new QxError('usage', `--round must be a round number (0, 1, …), got "${roundOpt}"`);
  const template = opt(args, 'template');
  const samples = args.options.has('samples') ? numOpt(args, 'samples', 4) : undefined;
  const temperature = args.options.has('temperature') ? numOpt(args, 'temperature', 1) : undefined;
  if (samples !== undefined && !(Number.isInteger(samples) && samples >= 1)) throw new QxError('usage', `--samples must be an integer >= 1, got ${samples}`);
  const r = await withWorkspace(args, io, async (ws) => {
    const bar = progressBar(io, `round ${purpose}`);
    const out = await runRound(
      ws,
      { purpose, ...(round === undefined ? {} : { round }), ...(template === undefined ? {} : { template }), ...(samples === undefined ? {} : { samples }), ...(temperature === undefined ? {} : { temperature }) },
      { signal, onProgress: bar.update },
    );
    bar.done();
    return out;
  });
  if (args.flags.has('json')) printJson(io, r);
  else io.stdout(`round ${r.round} (${r.method}, ${purpose === 'eval' ? 'evaluation queries' : 'on-policy samples of training queries'}): ${r.generated} generated, ${r.cached} from the cache, ${r.failed} failed; ${r.scored} scored\n`);
  return r.failed > 0 ? 1 : 0;
}

async function report(args: ParsedArgs, io: CliIo): Promise<number> {
  const teacher = opt(args, 'teacher');
  const r = await withWorkspace(args, io, async (ws) => writeRoundReport(ws, teacher === undefined ? {} : { teacher }));
  if (args.flags.has('json')) printJson(io, { ...r.report, files: r.files });
  else io.stdout(`${renderRoundsText(r.report)}plot: ${r.files.svg}\nreport: ${r.files.markdown}, ${r.files.html}\n`);
  return 0;
}
