import { QxError } from '../../core/errors.js';
import { numOpt, opt, parseArgs } from '../args.js';
import { type CliIo, progressBar } from '../io.js';
import { WORKSPACE_HELP, listOpt, printJson, withWorkspace, workspaceFlags, workspaceValued } from '../workspaceArgs.js';

const HELP = `usage: qx expand --role teacher|student --template query2doc-zs [--qids 1,2,...]
                 [--base-url URL] [--model M] [--samples N] [--temperature T] [--max-tokens N]
                 [--model-path DIR]   (student only: a local ONNX model folder run in-process)

Generates expansions with the teacher or student (any OpenAI-compatible endpoint: DeepSeek,
OpenAI, vLLM, Ollama, llama.cpp) and stores them in the workspace. Completed generations are
cached on disk (.qx/cache, or QX_CACHE_DIR): a rerun or a resumed run never repeats a call.
Defaults: teacher deepseek-chat at https://api.deepseek.com/v1, student at http://127.0.0.1:8000/v1.
The key is read from QX_API_KEY / DEEPSEEK_API_KEY / OPENAI_API_KEY (local servers need none).

${WORKSPACE_HELP}`;

export async function run(argv: string[], io: CliIo, signal: AbortSignal): Promise<number> {
  const args = parseArgs(argv, { valued: [...workspaceValued, 'role', 'template', 'qids', 'base-url', 'model', 'samples', 'temperature', 'max-tokens', 'model-path'], flags: workspaceFlags });
  if (args.flags.has('help')) {
    io.stdout(HELP);
    return 0;
  }
  const role = opt(args, 'role');
  const template = opt(args, 'template');
  if ((role !== 'teacher' && role !== 'student') || template === undefined) {
    throw new QxError('usage', 'qx expand needs --role teacher|student and --template ID', { hint: 'See qx expand --help.' });
  }
  const qids = listOpt(args, 'qids');
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
    ep.samples = numOpt(args, 'samples', ep.samples);
    ep.temperature = numOpt(args, 'temperature', ep.temperature);
    ep.maxTokens = numOpt(args, 'max-tokens', ep.maxTokens);
    const bar = progressBar(io, `expanding (${role})`);
    const out = await ws.expand({ role, template, ...(qids === undefined ? {} : { qids }) }, { signal, onProgress: bar.update });
    bar.done();
    return { ...out, model: ep.model, baseUrl: ep.baseUrl };
  });
  if (args.flags.has('json')) printJson(io, r);
  else io.stdout(`${r.generated} generated, ${r.cached} from the cache, ${r.failed} failed (${r.model} at ${r.baseUrl})\n`);
  return r.failed > 0 ? 1 : 0;
}
