// API keys stay in SecretStorage (never in settings or the log), and bad input gets a clear message
// without breaking anything: a folder with no workspace, a manifest naming a missing file, an
// endpoint that refuses.
import * as assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { QxExtensionApi } from '../../../src/extension/extension.js';
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
    const r = await vscode.commands.executeCommand('qx.openWorkspace', empty);
    assert.equal(r, undefined);
    assert.equal(session.workspace?.root, ws.root, 'the current workspace is still open');
    const log = (await logText()).slice(before);
    assert.ok(log.includes(`${empty} is not a QX workspace: it has no qx.dataset.json`), log);
  });

  test('a dataset manifest naming a missing corpus: the message names the file, and no workspace is left behind', async () => {
    const { session } = await api();
    const ws = await waitFor(() => session.workspace, 'the workspace');
    const dir = mkdtempSync(path.join(tmpdir(), 'qx-badmanifest-'));
    const manifest = path.join(dir, 'dataset.json');
    writeFileSync(manifest, JSON.stringify({ version: 1, name: 'broken', language: 'en', topics: { path: path.join(ws.root, 'topics.dl19-passage.txt'), format: 'tsv' }, qrels: { path: path.join(ws.root, 'qrels.dl19-passage.txt'), format: 'trec' }, corpus: { path: 'missing-corpus.jsonl', format: 'jsonl' } }));
    const root = path.join(dir, 'ws');
    const before = (await logText()).length;
    await vscode.commands.executeCommand('qx.createWorkspace', { manifest, root });
    const log = (await logText()).slice(before);
    assert.ok(log.includes('missing-corpus.jsonl'), `the log names the missing file: ${log}`);
    assert.ok(!existsSync(path.join(root, 'qx.dataset.json')), 'no half-made workspace');
    assert.equal(session.workspace?.root, ws.root);
  });
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
