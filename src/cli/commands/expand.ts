import { resolve } from 'node:path';
import { QxError } from '../../core/errors.js';
import type { QxSettings } from '../../core/workspace/api.js';
import { type ParsedArgs, numOpt, opt, parseArgs } from '../args.js';
import { type CliIo, progressBar } from '../io.js';
import { WORKSPACE_HELP, listOpt, printJson, withWorkspace, workspaceFlags, workspaceValued } from '../workspaceArgs.js';

const HELP = `usage: qx expand --role teacher|student [--template ID] [--qids 1,2,...]
                 [--base-url URL] [--model M] [--samples N] [--temperature T] [--max-tokens N]
                 [--model-path DIR]   (student only: a local ONNX model folder run in-process)
                 [--batch-input FILE] (write an OpenAI Batch API / vllm run-batch input file instead)
       qx expand --role baseline --method rm3 [--fb-docs 10] [--fb-terms 10] [--orig-weight 0.5] [--qids 1,2,...]

Generates expansions with the teacher or student (any OpenAI-compatible endpoint: DeepSeek,
OpenAI, vLLM, Ollama, llama.cpp) and stores them in the workspace. Completed generations are
cached on disk (.qx/cache, or QX_CACHE_DIR): a rerun or a resumed run never repeats a call.
Defaults: teacher deepseek-chat at https://api.deepseek.com/v1, student at http://127.0.0.1:8000/v1;
the template follows the dataset's language: query2doc-zh for "zh", else query2doc-zs (a template
written in another language than the dataset's is used, with a warning).
The key is read from QX_API_KEY / DEEPSEEK_API_KEY / OPENAI_API_KEY (local servers need none).

--batch-input FILE calls nothing and needs no key: it writes the same prompts as JSONL, one line
per query × sample (custom_id qx:<qid>:<template>:<sample>, body with the model and sampling), for
runs too large to do interactively. Run it with the OpenAI Batch API or
\`vllm run-batch -i FILE -o OUT --model M\`, then bring the results back with
\`qx import OUT --format openai-batch-output --model M --method TEMPLATE --role ROLE\`.

--role baseline --method rm3 calls no model and needs no key or endpoint: it adds one BM25+RM3
expansion per query (role baseline, model BM25+RM3, provider rm3) made with the workspace's BM25
index and settings, Anserini's defaults unless given (--fb-docs 10 feedback documents, --fb-terms
10 terms, --orig-weight 0.5 for the original query). Its retrieval string is the weighted query
(term^weight), which qx score searches exactly as qx search --rm3 does. A query that already has
one with the same parameters is skipped, so a rerun adds nothing. The report shows it as a
baseline row; it is never a pair candidate unless named in --pools, and never exported.

${WORKSPACE_HELP}`;

export async function run(argv: string[], io: CliIo, signal: AbortSignal): Promise<number> {
  const args = parseArgs(argv, { valued: [...workspaceValued, 'role', 'template', 'qids', 'base-url', 'model', 'samples', 'temperature', 'max-tokens', 'model-path', 'batch-input', ...BASELINE_OPTIONS], flags: workspaceFlags });
  if (args.flags.has('help')) {
    io.stdout(HELP);
    return 0;
  }
  const role = opt(args, 'role');
  if (role === 'baseline') return expandBaseline(args, io, signal);
  for (const o of BASELINE_OPTIONS) if (args.options.has(o)) throw new QxError('usage', `--${o} is for --role baseline --method rm3`, { hint: 'See qx expand --help.' });
  const template = opt(args, 'template');
  if (role !== 'teacher' && role !== 'student') {
    throw new QxError('usage', 'qx expand needs --role teacher|student (or --role baseline --method rm3)', { hint: 'See qx expand --help.' });
  }
  const qids = listOpt(args, 'qids');
  const batchInput = opt(args, 'batch-input');
  if (batchInput !== undefined && opt(args, 'model-path') !== undefined) throw new QxError('usage', '--batch-input is for an OpenAI-compatible endpoint, not a local ONNX model (--model-path)');
  if (batchInput !== undefined) return writeBatchInput(args, io, signal, { role, template, batchInput, ...(qids === undefined ? {} : { qids }) });
  const r = await withWorkspace(args, io, async (ws) => {
    const ep = role === 'teacher' ? ws.settings.teacher : ws.settings.student;
    const baseUrl = opt(args, 'base-url');
    if (baseUrl !== undefined) ep.baseUrl = baseUrl;
    const model = opt(args, 'model');
    if (model !== undefined) ep.model = model;
    const modelPath = opt(args, 'model-path');
    if (modelPath !== undefined) {
      if (role !== 'student') throw new QxError('usage', '--model-path is for a local ONNX student (--role student)');
      ws.settings.student.kind = 'onnx';
      ws.settings.student.modelPath = (await import('node:path')).resolve(io.cwd, modelPath);
    }
    applySampling(args, ep);
    if (template === undefined) io.stderr(`template ${ws.defaultTemplate} (the default for dataset language "${ws.manifest.language}")\n`);
    const bar = progressBar(io, `expanding (${role})`);
    const out = await ws.expand({ role, ...(template === undefined ? {} : { template }), ...(qids === undefined ? {} : { qids }) }, { signal, onProgress: bar.update });
    bar.done();
    return { ...out, model: ep.model, baseUrl: ep.baseUrl };
  });
  if (args.flags.has('json')) printJson(io, r);
  else io.stdout(`${r.generated} generated, ${r.cached} from the cache, ${r.failed} failed (${r.model} at ${r.baseUrl})\n`);
  return r.failed > 0 ? 1 : 0;
}

type Endpoint = QxSettings['teacher'];

/** Options of `--role baseline` only. */
const BASELINE_OPTIONS = ['method', 'fb-docs', 'fb-terms', 'orig-weight'];

/** `--role baseline --method rm3`: adds the BM25+RM3 expansion of every (or the given) query; calls no model. */
async function expandBaseline(args: ParsedArgs, io: CliIo, signal: AbortSignal): Promise<number> {
  const method = opt(args, 'method');
  if (method !== 'rm3') throw new QxError('usage', `qx expand --role baseline needs --method rm3${method === undefined ? '' : `, got "${method}"`}`, { hint: 'RM3 is the model-free baseline; see qx expand --help.' });
  for (const o of ['template', 'base-url', 'model', 'model-path', 'batch-input', 'samples', 'temperature', 'max-tokens']) {
    if (args.options.has(o)) throw new QxError('usage', `--${o} is for teacher/student expansions, not the RM3 baseline`, { hint: 'See qx expand --help.' });
  }
  const qids = listOpt(args, 'qids');
  const request = { method, fbDocs: numOpt(args, 'fb-docs', 10), fbTerms: numOpt(args, 'fb-terms', 10), originalQueryWeight: numOpt(args, 'orig-weight', 0.5), ...(qids === undefined ? {} : { qids }) } as const;
  const r = await withWorkspace(args, io, async (ws) => {
    const bar = progressBar(io, 'expanding (baseline rm3)');
    const out = await ws.expandBaseline(request, { signal, onProgress: bar.update });
    bar.done();
    return out;
  });
  const p = r.parameters;
  if (args.flags.has('json')) printJson(io, { method, ...r });
  else io.stdout(`${r.added} RM3 baseline expansions added, ${r.present} already there (BM25+RM3: fb_docs ${p.fbDocs}, fb_terms ${p.fbTerms}, original query weight ${p.originalQueryWeight})\n`);
  return 0;
}

function applySampling(args: ParsedArgs, ep: Endpoint): void {
  ep.samples = numOpt(args, 'samples', ep.samples);
  ep.temperature = numOpt(args, 'temperature', ep.temperature);
  ep.maxTokens = numOpt(args, 'max-tokens', ep.maxTokens);
}

/** `--batch-input FILE`: writes the Batch input file and says how to run it and import the results. */
async function writeBatchInput(
  args: ParsedArgs,
  io: CliIo,
  signal: AbortSignal,
  request: { role: 'teacher' | 'student'; template: string | undefined; batchInput: string; qids?: string[] },
): Promise<number> {
  const out = resolve(io.cwd, request.batchInput);
  const r = await withWorkspace(args, io, async (ws) => {
    const ep = request.role === 'teacher' ? ws.settings.teacher : ws.settings.student;
    const model = opt(args, 'model');
    if (model !== undefined) ep.model = model;
    applySampling(args, ep);
    const template = request.template ?? ws.defaultTemplate;
    const written = await ws.writeBatchInput({ role: request.role, template, out, ...(request.qids === undefined ? {} : { qids: request.qids }) }, { signal });
    return { ...written, role: request.role, template, workspace: ws.root };
  });
  const results = `${r.file.replace(/\.jsonl$/, '')}.output.jsonl`;
  const importCmd = `qx import ${quote(results)} --format openai-batch-output --model ${quote(r.model)} --method ${quote(r.template)} --role ${r.role} --workspace ${quote(r.workspace)}`;
  if (args.flags.has('json')) {
    printJson(io, { ...r, import: importCmd });
    return 0;
  }
  io.stdout(
    `wrote ${r.lines} requests (${r.queries} queries × ${r.samples} sample${r.samples === 1 ? '' : 's'}, template ${r.template}, model ${r.model}) to ${r.file}\n` +
      'nothing was sent. Run it with either\n' +
      `  the OpenAI Batch API: upload ${r.file} (purpose "batch"), create a batch for /v1/chat/completions, download its output file\n` +
      `  vLLM: vllm run-batch -i ${quote(r.file)} -o ${quote(results)} --model ${quote(r.model)}\n` +
      'then import the results (a second import of the same file imports nothing new):\n' +
      `  ${importCmd}\n`,
  );
  return 0;
}

/** A shell word: as is when safe, else single-quoted. */
function quote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
