import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const importsVscode = /(?:from\s+['"]vscode['"]|require\(\s*['"]vscode['"]\s*\)|import\(\s*['"]vscode['"]\s*\))/;

test('src/core, src/cli and src/protocol never import vscode', () => {
  const offenders = ['src/core', 'src/cli', 'src/protocol']
    .flatMap((d) => { try { return tsFiles(d); } catch { return []; } })
    .filter((f) => importsVscode.test(readFileSync(f, 'utf8')));
  assert.deepEqual(offenders, []);
});

test('the webview imports nothing from the core or the extension', () => {
  const offenders = tsFiles('webview').filter((f) => /from\s+['"][^'"]*src\/(core|extension)\//.test(readFileSync(f, 'utf8')));
  assert.deepEqual(offenders, []);
});

test('the boundary check itself catches a vscode import', () => {
  assert.ok(importsVscode.test("import * as vscode from 'vscode';"));
  assert.ok(importsVscode.test("const v = require('vscode')"));
  assert.ok(!importsVscode.test("import { x } from './vscodeAdapter.js'"));
});
