import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { describe, test } from '../runner.js';
import { readSettings } from '../../../src/extension/config.js';
import { defaultSettings } from '../../../src/core/workspace/settings.js';
import { activateQx, qxExtension, waitFor } from '../util.js';

interface ContributedCommand {
  command: string;
}

describe('activation', () => {
  test('it activates on its own in a folder holding qx.dataset.json, without an activation error', async () => {
    const manifests = await vscode.workspace.findFiles('qx.dataset.json', undefined, 1);
    assert.equal(manifests.length, 1, 'the test workspace folder should contain qx.dataset.json');
    // No activate() call here: the workspaceContains activation event must do it.
    await waitFor(() => qxExtension().isActive, 'workspaceContains:qx.dataset.json activation', 20_000);
    // activate() catches its own failures, shows them and returns undefined.
    assert.notEqual(qxExtension().exports, undefined, 'activate() returned undefined: activation failed (see the QX Studio log)');
  });

  test('settings left at their defaults read as the core defaults (the analyzer "auto" follows the dataset language)', () => {
    const config = vscode.workspace.getConfiguration('qx');
    const keys = ['bm25.k1', 'bm25.b', 'bm25.analyzer', 'bm25.luceneNorms', 'bm25.topK', 'student.model', 'teacher.baseUrl'];
    const set = keys.filter((k) => {
      const i = config.inspect(k);
      return i?.globalValue !== undefined || i?.workspaceValue !== undefined || i?.workspaceFolderValue !== undefined;
    });
    assert.deepEqual(set, [], 'the test workspace should leave these settings at their defaults');
    const s = readSettings(config);
    assert.equal(s.bm25.analyzer, 'auto');
    assert.deepEqual(s.bm25, defaultSettings.bm25);
    assert.equal(s.student.model, defaultSettings.student.model);
    assert.equal(s.teacher.baseUrl, defaultSettings.teacher.baseUrl);
  });

  test('every command contributed in package.json is registered', async () => {
    await activateQx();
    const contributed = ((qxExtension().packageJSON as { contributes?: { commands?: ContributedCommand[] } }).contributes?.commands ?? []).map((c) => c.command);
    assert.ok(contributed.length > 0, 'package.json contributes no commands');
    const registered = new Set(await vscode.commands.getCommands(true));
    const missing = contributed.filter((c) => !registered.has(c));
    assert.deepEqual(missing, [], `contributed in package.json but never registered by activate(): ${missing.join(', ')}`);
  });

  test('the QX Studio log channel exists and shows the log', async () => {
    await activateQx();
    // The Output view opens the channel's document when the panel renders, which a cold workbench
    // on a busy machine can take a while to do: ask again every few seconds rather than once.
    let asked = 0;
    const doc = await waitFor(
      async () => {
        const found = vscode.workspace.textDocuments.find((d) => d.uri.scheme === 'output' && decodeURIComponent(d.uri.toString()).includes('QX Studio'));
        if (found === undefined && asked++ % 60 === 0) await vscode.commands.executeCommand('qx.showLog');
        return found;
      },
      'an output document of the QX Studio channel',
      30_000,
    );
    assert.ok(doc.uri.toString().length > 0);
  });
});
