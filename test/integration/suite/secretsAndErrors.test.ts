// API keys stay in SecretStorage (never in settings or the log), and bad input gets a clear message
// without breaking anything: a folder with no workspace, a manifest naming a missing file, an
// endpoint that refuses.
import * as assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { QxExtensionApi } from '../../../src/extension/extension.js';
import type { ShownError } from '../../../src/extension/runCommand.js';
import { after, before, describe, test } from '../runner.js';
import { activateQx, waitFor } from '../util.js';

const fakeKey = 'sk-qx-integration-FAKE-7f3a9c2e51';

async function api(): Promise<QxExtensionApi> {
  const exports = (await activateQx()) as QxExtensionApi | undefined;
  assert.ok(exports !== undefined, 'activation failed');
  return exports;
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

/** The text of the QX Studio log file the LogOutputChannel writes (under the extension host's log folder). */
async function logText(): Promise<string> {
  const { paths } = await api();
  const root = path.dirname(paths.logs);
  const file = await waitFor(() => filesUnder(root).find((f) => path.basename(f).includes('QX Studio')), `the QX Studio log file under ${root}`);
  await new Promise((r) => setTimeout(r, 300));
  return readFileSync(file, 'utf8');
}

/** Runs `fn` and returns the error messages shown meanwhile (text and buttons), as the user saw them. */
async function shownDuring(fn: () => Thenable<unknown> | Promise<unknown>): Promise<ShownError[]> {
  const { onDidShowError } = await api();
  const shown: ShownError[] = [];
  const sub = onDidShowError((e) => shown.push(e));
  try {
    await fn();
    // The runner shows the message without awaiting it.
    await new Promise((r) => setTimeout(r, 50));
  } finally {
    sub.dispose();
  }
  return shown;
}

/** The Review panel still answers: it shows a query of the open workspace with its expansions. */
async function panelStillWorks(): Promise<void> {
  const { session, review, tree } = await api();
  const ws = await waitFor(() => session.workspace, 'the workspace');
  const q = tree.getChildren()[0];
  assert.ok(q !== undefined, 'the query browser still lists queries');
  const shown = await review.handle('review/get', { qid: q.qid });
  assert.equal(shown.review.qid, q.qid);
  assert.equal(shown.review.expansions.length, ws.getQueryReview(q.qid).expansions.length);
  await vscode.commands.executeCommand('qx.reviewQuery', q.qid);
  await waitFor(() => review.currentQid === q.qid, 'the panel to show the query');
}

/** Size and modification time of every file under the workspace's .qx folder (the curation store). */
function storeFiles(root: string): Record<string, string> {
  const dir = path.join(root, '.qx');
  const out: Record<string, string> = {};
  for (const f of filesUnder(dir)) {
    const st = statSync(f);
    out[path.relative(dir, f)] = `${st.size}@${st.mtimeMs}`;
  }
  return out;
}

/** Settings files the key must never reach: user settings and the folder's .vscode/settings.json. */
async function settingsFiles(): Promise<string[]> {
  const { paths } = await api();
  const files = [path.join(paths.globalStorage, '..', '..', 'settings.json')];
  for (const f of vscode.workspace.workspaceFolders ?? []) files.push(path.join(f.uri.fsPath, '.vscode', 'settings.json'));
  return files.filter((f) => existsSync(f));
}

describe('secrets and bad input', () => {
  let server: Server;
  let baseUrl = '';
  const auth: string[] = [];
  let refuse = false;

  before(async () => {
    server = createServer((req: IncomingMessage, res) => {
      auth.push(String(req.headers.authorization ?? ''));
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        if (refuse) {
          res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'Incorrect API key provided', type: 'invalid_request_error', code: 'invalid_api_key' } }));
          return;
        }
        const model = (JSON.parse(body || '{}') as { model?: string }).model ?? 'fake';
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({ id: 'c1', object: 'chat.completion', created: 1, model, choices: [{ index: 0, message: { role: 'assistant', content: 'A passage about the topic with relevant details.' }, finish_reason: 'stop' }], usage: { prompt_tokens: 20, completion_tokens: 9, total_tokens: 29 } }),
        );
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    baseUrl = `http://127.0.0.1:${port}/v1`;
  });

  after(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    const c = vscode.workspace.getConfiguration('qx');
    for (const k of ['teacher.baseUrl', 'teacher.model', 'student.baseUrl', 'student.model', 'maxRetries']) await c.update(k, undefined, vscode.ConfigurationTarget.Global);
  });

  test('Set API Key stores the key for the endpoint; it is sent to the endpoint and appears in no settings file and not in the log', async () => {
    const { session } = await api();
    await waitFor(() => session.workspace, 'the workspace');
    const c = vscode.workspace.getConfiguration('qx');
    await c.update('teacher.baseUrl', baseUrl, vscode.ConfigurationTarget.Global);
    await c.update('teacher.model', 'fake-teacher', vscode.ConfigurationTarget.Global);
    await c.update('maxRetries', 0, vscode.ConfigurationTarget.Global);
    assert.equal(await vscode.commands.executeCommand('qx.setApiKey', { baseUrl, key: fakeKey }), true);
    const r = (await vscode.commands.executeCommand('qx.expandTeacherZeroShot')) as { generated: number; failed: number } | undefined;
    assert.ok(r !== undefined && r.generated > 0, `the teacher expanded queries (${JSON.stringify(r)})`);
    assert.ok(auth.length > 0 && auth.every((a) => a === `Bearer ${fakeKey}`), 'every request carried the stored key');
    const log = await logText();
    assert.ok(log.includes('API key stored'), 'the log records that a key was stored');
    assert.ok(!log.includes(fakeKey), 'the key is not in the log');
    const files = await settingsFiles();
    assert.ok(files.length > 0, 'the user settings file exists (the test wrote qx.teacher.baseUrl to it)');
    for (const f of files) assert.ok(!readFileSync(f, 'utf8').includes(fakeKey), `the key is not in ${f}`);
    const all = JSON.stringify(vscode.workspace.getConfiguration('qx'));
    assert.ok(!all.includes(fakeKey), 'the key is not in any qx.* setting');
  }, { timeout: 120_000 });

  test('an endpoint that refuses the key: an auth error is logged with its message, nothing crashes', async () => {
    refuse = true;
    const c = vscode.workspace.getConfiguration('qx');
    // The student on the same server: its calls are not cached yet, so they reach the endpoint.
    await c.update('student.baseUrl', baseUrl, vscode.ConfigurationTarget.Global);
    await c.update('student.model', 'fake-student', vscode.ConfigurationTarget.Global);
    try {
      const before = (await logText()).length;
      const r = await vscode.commands.executeCommand('qx.expandStudent');
      const log = (await logText()).slice(before);
      // The runner shows the error (with "Set API Key"); the command itself resolves.
      assert.ok(r === undefined || (r as { failed: number }).failed > 0, 'the expansion did not succeed');
      assert.match(log, /\[auth\]/, `the log has the auth error: ${log}`);
      assert.ok(!log.includes('failed unexpectedly'), 'a known error, not an unexpected one');
      assert.ok(!log.includes(fakeKey));
    } finally {
      refuse = false;
    }
  }, { timeout: 120_000 });

  test('a remote endpoint without a stored key: a password box asks for it; Escape cancels cleanly with an auth message', async () => {
    // 127.0.0.2 is loopback too, but not one of the names treated as a key-less local server.
    const seen: string[] = [];
    const remote = createServer((req, res) => {
      seen.push(String(req.headers.authorization ?? ''));
      req.resume();
      req.on('end', () => res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":{"message":"missing key"}}'));
    });
    await new Promise<void>((r) => remote.listen(0, '127.0.0.2', r));
    const url = `http://127.0.0.2:${(remote.address() as { port: number }).port}/v1`;
    const c = vscode.workspace.getConfiguration('qx');
    await c.update('teacher.baseUrl', url, vscode.ConfigurationTarget.Global);
    await c.update('teacher.model', 'prompted-teacher', vscode.ConfigurationTarget.Global);
    try {
      const before = (await logText()).length;
      const run = vscode.commands.executeCommand('qx.expandTeacherZeroShot');
      await waitFor(async () => (await logText()).slice(before).includes(`Asking for the API key of ${url}`), 'the password box to open', 20_000, 200);
      // The extension host cannot type into the box; Escape is what a user without a key does.
      await vscode.commands.executeCommand('workbench.action.closeQuickOpen');
      await run;
      const log = (await logText()).slice(before);
      assert.ok(log.includes(`No API key entered for ${url}`), log);
      assert.match(log, /\[auth\]/, 'the command ends with the auth message (and its Set API Key action)');
      assert.ok(seen.every((a) => !a.startsWith('Bearer sk-')), 'no stored key was sent to the new endpoint');
    } finally {
      await new Promise<void>((r) => remote.close(() => r()));
    }
  }, { timeout: 60_000 });

  test('Clear API Key removes the stored key and says so in the log', async () => {
    await vscode.commands.executeCommand('qx.clearApiKey', { baseUrl });
    const log = await logText();
    assert.ok(log.includes(`API key cleared for ${baseUrl}`));
  });

  test('opening a folder that is not a workspace: a clear message, the open workspace stays', async () => {
    const { session } = await api();
    const ws = await waitFor(() => session.workspace, 'the workspace');
    const empty = mkdtempSync(path.join(tmpdir(), 'qx-notws-'));
    const before = (await logText()).length;
    let r: unknown;
    const shown = await shownDuring(async () => (r = await vscode.commands.executeCommand('qx.openWorkspace', empty)));
    assert.equal(r, undefined);
    assert.equal(session.workspace?.root, ws.root, 'the current workspace is still open');
    const log = (await logText()).slice(before);
    assert.ok(log.includes(`${empty} is not a QX workspace: it has no qx.dataset.json`), log);
    assert.equal(shown.length, 1, JSON.stringify(shown));
    assert.match(shown[0]!.message, /is not a QX workspace: it has no qx\.dataset\.json\. Use "QX: Create Workspace from Dataset Manifest…"/);
    assert.ok(shown[0]!.actions.includes('Show Log'));
    await panelStillWorks();
  });

  test('a dataset manifest naming a missing corpus: the message names the file, and no workspace is left behind', async () => {
    const { session } = await api();
    const ws = await waitFor(() => session.workspace, 'the workspace');
    const dir = mkdtempSync(path.join(tmpdir(), 'qx-badmanifest-'));
    const manifest = path.join(dir, 'dataset.json');
    writeFileSync(manifest, JSON.stringify({ version: 1, name: 'broken', language: 'en', topics: { path: path.join(ws.root, 'topics.dl19-passage.txt'), format: 'tsv' }, qrels: { path: path.join(ws.root, 'qrels.dl19-passage.txt'), format: 'trec' }, corpus: { path: 'missing-corpus.jsonl', format: 'jsonl' } }));
    const root = path.join(dir, 'ws');
    const before = (await logText()).length;
    const shown = await shownDuring(() => vscode.commands.executeCommand('qx.createWorkspace', { manifest, root }));
    const log = (await logText()).slice(before);
    assert.ok(log.includes('missing-corpus.jsonl'), `the log names the missing file: ${log}`);
    assert.ok(!existsSync(path.join(root, 'qx.dataset.json')), 'no half-made workspace');
    assert.equal(session.workspace?.root, ws.root);
    // The message names the manifest the user picked (not the copy it would have become) and the file.
    assert.equal(shown.length, 1, JSON.stringify(shown));
    const { message, actions } = shown[0]!;
    assert.ok(message.includes(`${manifest}: field "corpus.path": file not found: ${path.join(dir, 'missing-corpus.jsonl')}`), message);
    assert.ok(!message.includes(path.join(root, 'qx.dataset.json')), `no mention of the copy: ${message}`);
    assert.deepEqual(actions, ['Open File', 'Show Log']);
    await panelStillWorks();
  });

  test('a workspace whose own manifest names a moved corpus: the message names the manifest and the file; the panel explains when nothing else is open', async () => {
    const { session, review } = await api();
    const ws = await waitFor(() => session.workspace, 'the workspace');
    const dir = mkdtempSync(path.join(tmpdir(), 'qx-moved-'));
    for (const f of ['qx.dataset.json', 'topics.dl19-passage.txt', 'qrels.dl19-passage.txt']) cpSync(path.join(ws.root, f), path.join(dir, f));
    const manifest = path.join(dir, 'qx.dataset.json');
    const m = JSON.parse(readFileSync(manifest, 'utf8')) as { corpus: { path: string } };
    m.corpus.path = 'moved-away.jsonl';
    writeFileSync(manifest, JSON.stringify(m));
    const shown = await shownDuring(() => vscode.commands.executeCommand('qx.openWorkspace', dir));
    assert.equal(shown.length, 1, JSON.stringify(shown));
    assert.ok(shown[0]!.message.includes(`${manifest}: field "corpus.path": file not found: ${path.join(dir, 'moved-away.jsonl')}`), shown[0]!.message);
    assert.deepEqual(shown[0]!.actions, ['Open File', 'Show Log']);
    assert.equal(session.workspace?.root, ws.root, 'the open workspace stays');
    await panelStillWorks();
    // With no workspace open, the panel says which one failed and why, instead of "none open".
    await session.close();
    try {
      await shownDuring(() => vscode.commands.executeCommand('qx.openWorkspace', dir));
      const empty = await waitFor(() => review.emptyState, 'the panel to show the failure');
      assert.equal(empty.title, `The QX workspace in ${path.basename(dir)} could not be opened`);
      assert.ok(empty.hint.includes('moved-away.jsonl'), empty.hint);
      assert.ok(empty.actions.some((a) => a.command === 'qx.showLog'));
    } finally {
      await session.open(ws.root);
    }
    await waitFor(() => review.emptyState?.title.endsWith('could not be opened') !== true, 'the failure to clear once a workspace opens');
    await panelStillWorks();
  });

  test('an endpoint that refuses the connection (closed local port): one message with "Show Log", nothing stored, the panel still works', async () => {
    const { session, tree } = await api();
    const ws = await waitFor(() => session.workspace, 'the workspace');
    // A port that was just free and is closed again: connecting to it is refused.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const url = `http://127.0.0.1:${port}/v1`;
    const c = vscode.workspace.getConfiguration('qx');
    await c.update('teacher.baseUrl', url, vscode.ConfigurationTarget.Global);
    await c.update('teacher.model', 'refused-teacher', vscode.ConfigurationTarget.Global);
    await c.update('maxRetries', 0, vscode.ConfigurationTarget.Global);
    const expansionsBefore = tree.getChildren().reduce((n, q) => n + q.expansions, 0);
    const filesBefore = storeFiles(ws.root);
    let r: unknown;
    const shown = await shownDuring(async () => (r = await vscode.commands.executeCommand('qx.expandTeacherZeroShot')));
    assert.equal(r, undefined, 'the command ends with the error, not a result');
    assert.equal(shown.length, 1, `one message, not one per query: ${JSON.stringify(shown)}`);
    const { code, message, actions } = shown[0]!;
    assert.equal(code, 'network');
    assert.ok(message.includes(`The teacher endpoint ${url} failed for all 43 requests, so nothing was stored`), message);
    assert.match(message, /cannot reach the endpoint/);
    assert.match(message, /Check that the server is running and qx\.teacher\.baseUrl is right/);
    assert.ok(actions.includes('Show Log'), `actions: ${actions.join(', ')}`);
    assert.equal(tree.getChildren().reduce((n, q) => n + q.expansions, 0), expansionsBefore, 'no expansion was added');
    assert.deepEqual(storeFiles(ws.root), filesBefore, 'no store file was written');
    await panelStillWorks();
  }, { timeout: 60_000 });
});

describe('open sample', () => {
  test('Open Sample copies the bundled DL19 sample to extension storage, imports its expansions and opens it', async () => {
    const { session, tree } = await api();
    await vscode.commands.executeCommand('qx.openSample');
    const ws = await waitFor(() => session.workspace !== undefined && session.workspace.root.includes('globalStorage') && session.workspace, 'the sample to open', 60_000);
    assert.ok(existsSync(path.join(ws.root, 'qx.dataset.json')));
    await waitFor(() => tree.getChildren().length === 43 && tree.getChildren().every((q) => q.expansions === 6), 'the sample queries with their 6 imported expansions each', 60_000);
  }, { timeout: 120_000 });
});
