import * as vscode from 'vscode';
import { existsSync, statSync } from 'node:fs';
import { cp, mkdir, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { QxError, type QxErrorCode, isCancellationError } from '../core/errors.js';
import type { ExpansionRole } from '../core/expansion/types.js';
import type { Logger } from '../core/logger.js';
import type { ProgressReport } from '../core/progress.js';
import type { ExportFormat, ImportRequest, WorkspaceApi } from '../core/workspace/api.js';
import { readSettings } from './config.js';
import type { ChannelLogger } from './logger.js';
import { withTask } from './progress.js';
import { type SortKey, parseFilter, sortLabels } from './queryFilter.js';
import type { QueryTreeProvider } from './queryTree.js';
import type { ReviewViewProvider } from './reviewView.js';
import { runCommand, showWarning } from './runCommand.js';
import type { ApiKeys } from './secrets.js';
import type { Session } from './session.js';

export const manifestName = 'qx.dataset.json';

export interface CommandContext {
  context: vscode.ExtensionContext;
  session: Session;
  tree: QueryTreeProvider;
  treeView: vscode.TreeView<unknown>;
  review: ReviewViewProvider;
  keys: ApiKeys;
  logger: ChannelLogger;
}

export const dpoFormats: { format: ExportFormat; label: string; detail: string }[] = [
  { format: 'trl-standard', label: 'TRL standard', detail: '{"prompt", "chosen", "rejected"} as plain strings (trl DPOTrainer)' },
  { format: 'trl-conversational', label: 'TRL conversational', detail: 'prompt/chosen/rejected as chat message lists (trl DPOTrainer)' },
  { format: 'openai-preference', label: 'OpenAI preference', detail: 'input / preferred_output / non_preferred_output (OpenAI DPO fine-tuning)' },
  { format: 'llama-factory', label: 'LLaMA-Factory', detail: 'conversations / chosen / rejected (ShareGPT ranking format)' },
];

export function requireWorkspace(session: Session): WorkspaceApi {
  const ws = session.workspace;
  if (ws === undefined) {
    throw new QxError('config', 'No QX workspace is open.', { hint: 'Run "QX: Open Sample Workspace" or "QX: Open Workspace…" first.' });
  }
  return ws;
}

/** A folder, or a `qx.dataset.json` inside it, as the workspace root; a clear error otherwise. */
export function workspaceRootOf(picked: string): string {
  if (!existsSync(picked)) throw new QxError('config', `${picked} does not exist.`, { hint: 'Pick a folder that holds qx.dataset.json.' });
  const root = statSync(picked).isDirectory() ? picked : path.dirname(picked);
  if (!existsSync(path.join(root, manifestName))) {
    throw new QxError('config', `${root} is not a QX workspace: it has no ${manifestName}.`, { hint: 'Use "QX: Create Workspace from Dataset Manifest…" to make one, or open the sample.' });
  }
  return root;
}

/** The sample's demo.json import plan, checked field by field. */
export function sampleImports(plan: unknown): { file: string; model: string; method: string; role: ExpansionRole }[] {
  const imports = typeof plan === 'object' && plan !== null && Array.isArray((plan as { imports?: unknown }).imports) ? (plan as { imports: unknown[] }).imports : [];
  return imports.flatMap((x) => {
    if (typeof x !== 'object' || x === null) return [];
    const r = x as Record<string, unknown>;
    const role = r.role;
    if (typeof r.file !== 'string' || typeof r.model !== 'string' || typeof r.method !== 'string' || (role !== 'teacher' && role !== 'student' && role !== 'imported')) return [];
    return [{ file: r.file, model: r.model, method: r.method, role }];
  });
}

/**
 * The logger for one run: everything goes to `logger`, and the first warning is kept. The
 * expansion runner logs each failed request as a warning "qid: code: message".
 */
export function recordingLogger(logger: Logger): { logger: Logger; firstWarning: () => string | undefined } {
  let first: string | undefined;
  return {
    logger: {
      trace: (m, ...a) => logger.trace(m, ...a),
      debug: (m, ...a) => logger.debug(m, ...a),
      info: (m, ...a) => logger.info(m, ...a),
      warn: (m, ...a) => {
        first ??= m;
        logger.warn(m, ...a);
      },
      error: (m, ...a) => logger.error(m, ...a),
    },
    firstWarning: () => first,
  };
}

const requestFailure = /^\S+: (network|timeout|rateLimit|badResponse|config): (.+)$/;

/** The error for a run in which every request failed, from the first failure the runner logged. */
export function allRequestsFailed(role: string, target: string, failed: number, firstWarning: string | undefined): QxError {
  const m = firstWarning === undefined ? null : requestFailure.exec(firstWarning);
  const code = (m?.[1] ?? 'badResponse') as QxErrorCode;
  const reason = m?.[2] ?? firstWarning ?? 'see the log';
  const hint =
    code === 'network' || code === 'timeout'
      ? `Check that the server is running and qx.${role}.baseUrl is right.`
      : `Check qx.${role}.model and the server's log.`;
  return new QxError(code, `The ${role} ${target} failed for all ${failed} requests, so nothing was stored: ${reason.replace(/\.$/, '')}.`, { hint });
}

/**
 * A core "file not found" problem of a manifest being copied into a new workspace names the copy;
 * the user wrote the original. Re-aim it at `source` (message, Open File), keep the rest.
 */
export function aimAtSourceManifest(e: unknown, source: string, copy: string): unknown {
  if (!QxError.is(e) || e.file !== copy) return e;
  let problem = e.message.startsWith(`${copy}: `) ? e.message.slice(copy.length + 2) : e.message;
  if (e.hint !== undefined && problem.endsWith(e.hint)) problem = problem.slice(0, -e.hint.length).trimEnd();
  return new QxError(e.code, problem.replace(/\.$/, ''), { file: source, cause: e, hint: 'Fix the path in this manifest (relative paths are resolved from its folder) or put the file there.' });
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

function arg(a: unknown, key: string): string | undefined {
  return typeof a === 'object' && a !== null && key in a ? str((a as Record<string, unknown>)[key]) : undefined;
}

/** Every command of the extension. Arguments are optional: with none, the user is asked. */
export function registerCommands(c: CommandContext): vscode.Disposable[] {
  const { session, tree, review, keys, logger } = c;
  const reg = (id: string, fn: (...args: unknown[]) => unknown) => runCommand(id, logger, fn);

  const openRoot = async (root: string) => {
    const ws = await withTask(`Opening ${path.basename(root)}`, logger, async () => session.open(root));
    await c.context.workspaceState.update('qx.lastRoot', root);
    logger.info(`Opened workspace ${ws.name} at ${root} (${ws.listQueries().length} queries)`);
    await vscode.commands.executeCommand('workbench.view.extension.qx');
    return ws;
  };

  const exportWith = async (format: ExportFormat, a: unknown) => {
    const ws = requireWorkspace(session);
    let out = arg(a, 'out');
    if (out === undefined) {
      const picked = await vscode.window.showSaveDialog({
        title: `Export ${format}`,
        defaultUri: vscode.Uri.file(path.join(ws.root, 'exports', `${ws.name}.${format}.jsonl`)),
        filters: { 'JSON Lines': ['jsonl'] },
      });
      if (picked === undefined) return undefined;
      out = picked.fsPath;
    }
    const target = out;
    const run = (allowEvalQueries: boolean) => withTask(`Exporting ${format}`, logger, (o) => ws.exportData({ format, out: target, ...(allowEvalQueries ? { allowEvalQueries } : {}) }, o));
    let result;
    try {
      result = await run(typeof a === 'object' && a !== null && (a as { allowEvalQueries?: unknown }).allowEvalQueries === true);
    } catch (e) {
      if (!(QxError.is(e, 'export') && e.message.includes('leak the evaluation set'))) throw e;
      // The sample and most public sets are evaluation data: say so plainly and let the user decide.
      const choice = await vscode.window.showWarningMessage(
        'These pairs come from evaluation queries.',
        { modal: true, detail: `${e.message.split(';')[0] ?? e.message}. Training on them leaks the evaluation set. Export anyway? The manifest will record it.` },
        'Export Anyway',
      );
      if (choice !== 'Export Anyway') return undefined;
      result = await run(true);
    }
    logger.info(`Exported ${result.records} records to ${result.out} (manifest ${result.manifest})`);
    for (const [k, v] of Object.entries(result.bySource ?? {})) logger.info(`  ${v} ${k}`);
    for (const l of result.leftOut ?? []) logger.info(`Left out ${l.count} ${l.reason}.`);
    void vscode.window.showInformationMessage(`QX: exported ${result.records} records to ${path.basename(result.out)}.`, 'Open File', 'Reveal').then(async (choice) => {
      if (choice === 'Open File') await vscode.window.showTextDocument(vscode.Uri.file(result.out));
      if (choice === 'Reveal') await vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(result.out));
    });
    return result;
  };

  /** `requested` undefined: the zero-shot query2doc of the dataset's language (query2doc-zh for Chinese). */
  const expand = async (role: 'teacher' | 'student', requested?: string) => {
    const ws = requireWorkspace(session);
    const template = requested ?? ws.defaultTemplate;
    const s = readSettings();
    const endpoint = role === 'teacher' ? s.teacher : s.student;
    if (role === 'teacher' || s.student.kind === 'openai') {
      if (endpoint.baseUrl.length === 0 || endpoint.model.length === 0) {
        throw new QxError('config', `The ${role} endpoint is not configured (qx.${role}.baseUrl and qx.${role}.model).`, { hint: 'Set them in Settings → QX Studio.' });
      }
    }
    const run = recordingLogger(logger);
    let last: ProgressReport | undefined;
    let r;
    try {
      r = await withTask(`Expanding with ${role} (${template})`, run.logger, (o) =>
        ws.expand({ role, template }, { ...o, onProgress: (p) => { last = p; o.onProgress?.(p); } }),
      );
    } catch (e) {
      if (isCancellationError(e) && last !== undefined && last.done > 0) {
        // The core stores (and caches) each finished query before it counts, so what was counted is kept.
        session.changed(`expansion cancelled with ${role}`);
        void vscode.window.showInformationMessage(`QX: expansion cancelled at ${last.done}/${last.total ?? '?'} ${last.unit ?? 'queries'}. The finished expansions are stored; run the command again for the rest.`);
      }
      throw e;
    }
    session.changed(`expanded with ${role}`);
    if (r.failed > 0 && r.generated + r.cached === 0) {
      const target = role === 'student' && s.student.kind === 'onnx' ? `model ${s.student.modelPath ?? ''}` : `endpoint ${endpoint.baseUrl}`;
      throw allRequestsFailed(role, target, r.failed, run.firstWarning());
    }
    if (r.failed > 0) {
      showWarning(logger, `qx.expand ${role}`, `QX: ${r.generated} expansions generated, ${r.cached} from cache; ${r.failed} requests failed (first: ${run.firstWarning() ?? 'see the log'}).`);
    } else {
      void vscode.window.showInformationMessage(`QX: ${r.generated} expansions generated, ${r.cached} from cache.`);
    }
    return r;
  };

  return [
    reg('qx.showLog', () => logger.channel.show()),
    reg('qx.openSample', async () => {
      const bundled = vscode.Uri.joinPath(c.context.extensionUri, 'samples', 'dl19').fsPath;
      if (!existsSync(path.join(bundled, manifestName))) {
        throw new QxError('config', 'The bundled DL19 sample is missing from this installation.', { hint: 'Reinstall QX Studio.' });
      }
      // The install folder is replaced on update and may be read-only: work on a copy.
      const copy = vscode.Uri.joinPath(c.context.globalStorageUri, 'samples', 'dl19').fsPath;
      const fresh = !existsSync(path.join(copy, manifestName));
      if (fresh) {
        await mkdir(path.dirname(copy), { recursive: true });
        await cp(bundled, copy, { recursive: true, filter: (src) => !src.split(path.sep).includes('.qx') });
      }
      const ws = await openRoot(copy);
      const plan = path.join(copy, 'demo.json');
      if (fresh && existsSync(plan)) {
        // The sample ships real QueryGym generations: import them once so the walkthrough can go
        // straight to index → score → pairs.
        const imports = sampleImports(JSON.parse(await readFile(plan, 'utf8')));
        await withTask('Importing the sample expansions', logger, async (o) => {
          for (const [i, imp] of imports.entries()) {
            o.onProgress?.({ done: i, total: imports.length, unit: 'files', message: `${imp.model} ${imp.method}` });
            await ws.importExpansions({ ...imp, file: path.join(copy, imp.file), format: 'querygym-tsv' }, o);
          }
        });
        session.changed('sample imported');
      }
      return ws;
    }),
    reg('qx.openWorkspace', async (a) => {
      let picked = str(a) ?? arg(a, 'path');
      if (picked === undefined) {
        const uris = await vscode.window.showOpenDialog({ title: 'Open QX workspace (a folder with qx.dataset.json, or the manifest itself)', canSelectFolders: true, canSelectFiles: true, canSelectMany: false, filters: { 'QX dataset manifest': ['json'] } });
        if (uris?.[0] === undefined) return undefined;
        picked = uris[0].fsPath;
      }
      return openRoot(workspaceRootOf(picked));
    }),
    reg('qx.createWorkspace', async (a) => {
      let manifest = arg(a, 'manifest');
      if (manifest === undefined) {
        const uris = await vscode.window.showOpenDialog({ title: 'Dataset manifest (qx.dataset.json) describing corpus, topics and qrels', canSelectFiles: true, canSelectMany: false, filters: { 'Dataset manifest': ['json'] } });
        if (uris?.[0] === undefined) return undefined;
        manifest = uris[0].fsPath;
      }
      if (!existsSync(manifest)) throw new QxError('config', `Manifest ${manifest} does not exist.`, { hint: 'Pick an existing dataset manifest file.' });
      let root = arg(a, 'root');
      if (root === undefined) {
        const uris = await vscode.window.showOpenDialog({ title: 'Folder for the new workspace', canSelectFolders: true, canSelectFiles: false, canSelectMany: false, defaultUri: vscode.Uri.file(path.dirname(manifest)) });
        if (uris?.[0] === undefined) return undefined;
        root = uris[0].fsPath;
      }
      const mod = await session.module();
      const target = path.resolve(root);
      const source = path.resolve(manifest);
      if (path.dirname(source) === target && path.basename(source) === manifestName) return openRoot(target);
      let parsed: unknown;
      try {
        parsed = JSON.parse(await readFile(source, 'utf8'));
      } catch (e) {
        throw new QxError('config', `${source} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`, { file: source, hint: 'Fix the manifest (see samples/dl19/qx.dataset.json for an example).' });
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new QxError('config', `${source} is not a dataset manifest (expected a JSON object).`, { file: source });
      const rebased = mod.rebaseManifestPaths(parsed as Record<string, unknown>, path.dirname(source), target);
      try {
        await withTask('Creating workspace', logger, async () => mod.createWorkspace(target, rebased));
      } catch (e) {
        throw aimAtSourceManifest(e, source, path.join(target, manifestName));
      }
      return openRoot(target);
    }),
    reg('qx.buildIndex', async (a) => {
      const ws = requireWorkspace(session);
      await withTask('Building BM25 index', logger, (o) => ws.buildIndex({ ...o, rebuild: arg(a, 'rebuild') === 'true' }));
      void vscode.window.setStatusBarMessage('QX: BM25 index ready', 4000);
    }),
    reg('qx.expandTeacherZeroShot', () => expand('teacher')),
    reg('qx.expandTeacherFewShot', () => expand('teacher', 'query2doc-fs')),
    reg('qx.expandStudent', () => expand('student')),
    reg('qx.importExpansions', async (a) => {
      const ws = requireWorkspace(session);
      let file = arg(a, 'file');
      if (file === undefined) {
        const uris = await vscode.window.showOpenDialog({ title: 'Expansions to import', canSelectFiles: true, canSelectMany: false, filters: { Expansions: ['tsv', 'jsonl', 'json'] } });
        if (uris?.[0] === undefined) return undefined;
        file = uris[0].fsPath;
      }
      let role = arg(a, 'role') as ExpansionRole | undefined;
      if (role === undefined) {
        const pick = await vscode.window.showQuickPick(
          [
            { label: 'teacher', detail: 'Written by the large teacher model' },
            { label: 'student', detail: 'Written by the small student model' },
            { label: 'imported', detail: 'Any other source' },
          ],
          { title: 'Who wrote these expansions?' },
        );
        if (pick === undefined) return undefined;
        role = pick.label as ExpansionRole;
      }
      const model = arg(a, 'model') ?? (await vscode.window.showInputBox({ title: 'Model name', prompt: 'Model that wrote the expansions, e.g. Qwen2.5-72B-Instruct', validateInput: (v) => (v.trim() ? undefined : 'Enter a model name.') }));
      if (model === undefined) return undefined;
      const method = arg(a, 'method') ?? (await vscode.window.showInputBox({ title: 'Method label', value: 'query2doc-zs', prompt: 'Label shown in the review, e.g. query2doc-zs', validateInput: (v) => (v.trim() ? undefined : 'Enter a method label.') }));
      if (method === undefined) return undefined;
      const format = arg(a, 'format') as ImportRequest['format'];
      const req: ImportRequest = { file, model: model.trim(), method: method.trim(), role, ...(format === undefined ? {} : { format }) };
      const r = await withTask(`Importing ${path.basename(file)}`, logger, (o) => ws.importExpansions(req, o));
      session.changed('imported');
      void vscode.window.showInformationMessage(`QX: imported ${r.imported} expansions${r.skipped > 0 ? `, skipped ${r.skipped}` : ''}.`);
      for (const w of r.warnings ?? []) void vscode.window.showWarningMessage(`QX: ${w}`);
      return r;
    }),
    reg('qx.addBaseline', async () => {
      const ws = requireWorkspace(session);
      const r = await withTask('Adding the BM25+RM3 baseline', logger, (o) => ws.expandBaseline({ method: 'rm3' }, o));
      session.changed('baseline added');
      void vscode.window.setStatusBarMessage(`QX: BM25+RM3 baseline added to ${r.added} queries (${r.present} had it); score to see it`, 5000);
      return r;
    }),
    reg('qx.score', async () => {
      const ws = requireWorkspace(session);
      let r;
      try {
        r = await withTask('Scoring expansions', logger, (o) => ws.score(o));
      } finally {
        // A cancelled run keeps the scores it stored: show them either way.
        tree.refresh();
        session.changed('scored');
      }
      void vscode.window.setStatusBarMessage(`QX: scored ${r.scored} expansions`, 5000);
      return r;
    }),
    reg('qx.buildPairs', async () => {
      const ws = requireWorkspace(session);
      const r = await withTask('Building pairs', logger, (o) => ws.buildPairs(readSettings().pairs, o));
      if (r.rules !== undefined) logger.info(`Built ${r.pairs} pairs for the student task ${r.rules.task}.`);
      for (const l of r.report?.leftOut ?? []) logger.info(`Left out ${l.expansions} ${l.role} ${l.method} expansions: ${l.reason}.`);
      tree.refresh();
      session.changed('pairs built');
      void vscode.window.setStatusBarMessage(`QX: ${r.pairs} pairs`, 5000);
      return r;
    }),
    reg('qx.exportDpo', async (a) => {
      let format = arg(a, 'format') as ExportFormat | undefined;
      if (format === undefined) {
        const pick = await vscode.window.showQuickPick(dpoFormats.map((f) => ({ label: f.label, detail: f.detail, format: f.format })), { title: 'DPO export format' });
        if (pick === undefined) return undefined;
        format = pick.format;
      }
      if (!dpoFormats.some((f) => f.format === format)) throw new QxError('usage', `Unknown DPO format "${format}".`, { hint: `Use one of ${dpoFormats.map((f) => f.format).join(', ')}.` });
      return exportWith(format, a);
    }),
    reg('qx.exportSft', (a) => exportWith('sft-messages', a)),
    reg('qx.openReport', async () => {
      const ws = requireWorkspace(session);
      const r = await withTask('Writing report', logger, (o) => ws.writeReport(o));
      await vscode.commands.executeCommand('markdown.showPreview', vscode.Uri.file(r.markdown));
      return r;
    }),
    reg('qx.setApiKey', async (a) => {
      const s = readSettings();
      let baseUrl = arg(a, 'baseUrl');
      if (baseUrl === undefined) {
        const choices = [...new Set([s.teacher.baseUrl, s.student.baseUrl].filter((u) => u.length > 0))];
        const pick = await vscode.window.showQuickPick(
          [...choices.map((u) => ({ label: u, description: u === s.teacher.baseUrl ? 'teacher' : 'student' })), { label: 'Other endpoint…', description: '' }],
          { title: 'Set the API key of which endpoint?' },
        );
        if (pick === undefined) return undefined;
        baseUrl = pick.label === 'Other endpoint…' ? await vscode.window.showInputBox({ title: 'Endpoint base URL', placeHolder: 'https://api.example.com/v1' }) : pick.label;
        if (baseUrl === undefined || baseUrl.trim().length === 0) return undefined;
      }
      const key = arg(a, 'key');
      if (key !== undefined) await keys.set(baseUrl, key);
      else if ((await keys.prompt(baseUrl)) === undefined) return undefined;
      void vscode.window.showInformationMessage(`QX: API key saved for ${baseUrl} in the OS keychain.`);
      return true;
    }),
    reg('qx.clearApiKey', async (a) => {
      const s = readSettings();
      let baseUrl = arg(a, 'baseUrl');
      if (baseUrl === undefined) {
        const choices = [...new Set([s.teacher.baseUrl, s.student.baseUrl].filter((u) => u.length > 0))];
        baseUrl = (await vscode.window.showQuickPick(choices, { title: 'Clear the API key of which endpoint?' })) ?? undefined;
        if (baseUrl === undefined) return undefined;
      }
      await keys.clear(baseUrl);
      void vscode.window.showInformationMessage(`QX: API key cleared for ${baseUrl}.`);
      return true;
    }),
    reg('qx.filterQueries', async () => {
      requireWorkspace(session);
      const box = vscode.window.createInputBox();
      box.title = 'Filter queries';
      box.value = tree.currentFilterText;
      box.placeholder = 'words  state:auto  method:fs  delta>0.1  judged>=0.5  scored:no';
      box.prompt = 'Free words match qid or text; combine state:, method:, delta<>, judged<>, scored: (Enter to apply, empty to clear)';
      const done = new Promise<void>((resolve) => {
        box.onDidChangeValue((v) => {
          const f = parseFilter(v);
          box.validationMessage = typeof f === 'string' ? f : undefined;
        });
        box.onDidAccept(() => {
          const f = parseFilter(box.value);
          if (typeof f === 'string') return;
          tree.setFilter(box.value.trim(), f);
          c.treeView.message = box.value.trim().length === 0 ? undefined : `Filter: ${box.value.trim()} — ${tree.rows().length} of ${tree.totalCount} queries`;
          box.hide();
        });
        box.onDidHide(() => {
          box.dispose();
          resolve();
        });
      });
      box.show();
      await done;
    }),
    reg('qx.clearQueryFilter', () => {
      const f = parseFilter('');
      if (typeof f !== 'string') tree.setFilter('', f);
      c.treeView.message = undefined;
    }),
    reg('qx.sortQueries', async (a) => {
      let key = arg(a, 'key') as SortKey | undefined;
      if (key === undefined) {
        const pick = await vscode.window.showQuickPick(
          (Object.keys(sortLabels) as SortKey[]).map((k) => ({ label: sortLabels[k], key: k, picked: k === tree.currentSort, ...(k === tree.currentSort ? { description: 'current' } : {}) })),
          { title: 'Sort queries by' },
        );
        if (pick === undefined) return;
        key = pick.key;
      }
      if (!(key in sortLabels)) throw new QxError('usage', `Unknown sort "${key}".`);
      tree.setSort(key);
    }),
    reg('qx.refreshQueries', () => {
      tree.refresh();
      session.changed('refresh');
    }),
    reg('qx.reviewQuery', async (qid: unknown) => {
      const id = str(qid) ?? (typeof qid === 'object' && qid !== null && 'qid' in qid ? str((qid as { qid: unknown }).qid) : undefined);
      if (id === undefined) return;
      await review.show(id);
    }),
    ...(['accept', 'reject'] as const).map((verb) =>
      reg(verb === 'accept' ? 'qx.acceptAutoPairs' : 'qx.rejectAutoPairs', async (clicked: unknown, selected: unknown) => {
        const ws = requireWorkspace(session);
        const pickQid = (x: unknown) => (typeof x === 'object' && x !== null && 'qid' in x ? str((x as { qid: unknown }).qid) : str(x));
        const qids = [...new Set((Array.isArray(selected) && selected.length > 0 ? selected : [clicked]).map(pickQid).filter((q): q is string => q !== undefined))];
        let changed = 0;
        for (const qid of qids) {
          for (const p of ws.getQueryReview(qid).pairs) {
            if (p.state !== 'auto') continue;
            ws.setPairState(p.id, verb === 'accept' ? 'accepted' : 'rejected');
            changed++;
          }
        }
        tree.refresh();
        session.changed(`${verb}ed auto pairs`);
        void vscode.window.setStatusBarMessage(`QX: ${verb}ed ${changed} auto pairs of ${qids.length} ${qids.length === 1 ? 'query' : 'queries'}`, 5000);
        return changed;
      }),
    ),
    reg('qx.acceptPair', () => review.action('accept')),
    reg('qx.rejectPair', () => review.action('reject')),
    reg('qx.swapPair', () => review.action('swap')),
    reg('qx.nextQuery', () => review.action('next')),
    reg('qx.previousQuery', () => review.action('previous')),
    reg('qx.undo', () => review.undo()),
  ];
}
