import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { QxError } from '../../core/errors.js';
import type { ExpansionRole } from '../../core/expansion/types.js';
import type { ExportResult } from '../../core/workspace/api.js';
import { opt, parseArgs } from '../args.js';
import { type CliIo, progressBar } from '../io.js';
import { printJson, withWorkspace } from '../workspaceArgs.js';
import { EXPORT_FORMATS } from './export.js';
import { formatCostTable, formatMethodTable } from './report.js';

const HELP = `usage: qx demo [--out DIR] [--json]

Runs the whole pipeline on the embedded TREC DL 2019 sample, offline and without any key:
copies samples/dl19 to DIR (default: a new folder under the system temp folder), builds the BM25
index of the 5,492-passage pool, imports the real QueryGym expansions (Qwen2.5-72B as teacher,
Qwen2.5-7B as student; query2doc zs/fs/cot), adds the BM25+RM3 baseline (fb_docs 10, fb_terms 10,
original weight 0.5), scores them, builds pairs, exports every DPO format and SFT, writes the
report, and prints the per-method table. DIR is a normal workspace afterwards:
open it in VS Code or rerun any qx command with --workspace DIR.
`;

interface DemoImport {
  file: string;
  model: string;
  method: string;
  role: ExpansionRole;
}

interface DemoBaseline {
  method: 'rm3';
  fbDocs?: number;
  fbTerms?: number;
  originalQueryWeight?: number;
}

/** The embedded sample: beside the bundle (dist/../samples) or the sources (src/cli/commands/../../../samples). */
function sampleDir(): string {
  const candidates = [resolve(__dirname, '..', 'samples', 'dl19'), resolve(__dirname, '..', '..', '..', 'samples', 'dl19')];
  const found = candidates.find((d) => existsSync(join(d, 'qx.dataset.json')));
  if (found === undefined) throw new QxError('config', `the embedded sample is missing (looked in ${candidates.join(', ')})`, { hint: 'Run qx from a QX Studio checkout or package that includes samples/.' });
  return found;
}

export async function run(argv: string[], io: CliIo, signal: AbortSignal): Promise<number> {
  const args = parseArgs(argv, { valued: ['out'], flags: ['json', 'help'] });
  if (args.flags.has('help')) {
    io.stdout(HELP);
    return 0;
  }
  const src = sampleDir();
  const outOpt = opt(args, 'out');
  let dir: string;
  if (outOpt === undefined) {
    dir = mkdtempSync(join(tmpdir(), 'qx-demo-'));
  } else {
    dir = resolve(io.cwd, outOpt);
    if (existsSync(dir) && readdirSync(dir).length > 0) throw new QxError('usage', `${dir} is not empty`, { hint: 'Give --out a new or empty folder, or omit it to use a temp folder.' });
  }
  cpSync(src, dir, { recursive: true, filter: (p) => !p.includes(`${join(src, '.qx')}`) });
  const say = (s: string): void => {
    if (!args.flags.has('json')) io.stdout(s);
  };
  say(`QX Studio demo: TREC DL 2019 sample copied to ${dir}\n`);
  const demo = JSON.parse(readFileSync(join(dir, 'demo.json'), 'utf8')) as { imports: DemoImport[]; baselines?: DemoBaseline[] };
  const plan = demo.imports;

  const result = await withWorkspace(
    { positionals: [], options: new Map(), flags: new Set() },
    io,
    async (ws) => {
      const indexBar = progressBar(io, 'indexing');
      await ws.buildIndex({ signal, onProgress: indexBar.update });
      indexBar.done();
      const imports = [];
      for (const imp of plan) {
        const r = await ws.importExpansions({ file: join(dir, imp.file), model: imp.model, method: imp.method, role: imp.role, format: 'querygym-tsv' }, { signal });
        imports.push({ ...imp, imported: r.imported, skipped: r.skipped });
        say(`imported ${String(r.imported).padStart(3)} ${imp.role} expansions: ${imp.model} ${imp.method}\n`);
      }
      const baselines = [];
      for (const b of demo.baselines ?? []) {
        const r = await ws.expandBaseline(b, { signal });
        baselines.push(r);
        say(`added    ${String(r.added).padStart(3)} baseline expansions: BM25+RM3 (fb_docs ${r.parameters.fbDocs}, fb_terms ${r.parameters.fbTerms}, original weight ${r.parameters.originalQueryWeight})\n`);
      }
      const scoreBar = progressBar(io, 'scoring');
      const scored = await ws.score({ signal, onProgress: scoreBar.update });
      scoreBar.done();
      say(`scored ${scored.scored} expansions and ${scored.originals} original queries\n`);
      const pairs = await ws.buildPairs({}, { signal });
      say(`pairs: ${pairs.pairs} (min margin ${pairs.rules.minMargin}, ${pairs.rules.strategy}, chosen must beat the original)\n`);
      say(
        '\nwarning: the DL19 queries are TREC evaluation queries (the manifest says "split": "test"). The demo exports them with\n' +
          '--allow-eval-queries only to show the file formats; do not train on them (the manifests record the override).\n\n',
      );
      const exports: ExportResult[] = [];
      for (const format of EXPORT_FORMATS) {
        exports.push(await ws.exportData({ format, out: join(dir, 'exports', `dl19.${format}.jsonl`), allowEvalQueries: true }, { signal }));
      }
      const report = ws.report(await ws.costInput({ signal }));
      const files = await ws.writeReport({ signal }, report);
      return { imports, baselines, scored, pairs, exports, report, files };
    },
    dir,
  );
  if (args.flags.has('json')) {
    printJson(io, { workspace: dir, ...result });
    return 0;
  }
  io.stdout(`\n${formatMethodTable(result.report)}\n`);
  io.stdout(`pairs: ${result.pairs.pairs} chosen/rejected pairs over ${result.report.queries.included} queries\n`);
  io.stdout('written:\n');
  for (const e of result.exports) io.stdout(`  ${e.out} (${e.records} records)\n`);
  io.stdout(`  ${result.files.markdown}\n  ${result.files.html}\n`);
  io.stdout(`\nworkspace: ${dir}\nopen it in VS Code, or continue with e.g. qx pairs --workspace ${dir} --strategy all\n`);
  io.stdout(`\n${formatCostTable(result.report)}`);
  return 0;
}
