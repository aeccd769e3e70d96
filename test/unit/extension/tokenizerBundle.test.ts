// The Qwen3 tokenizer is a bundle of its own (dist/tokenizer-qwen3.js), imported only when a server
// reports no token usage: the CLI and the pipeline do not carry it, and the built CLI still counts
// tokens with it. `npm test` builds first; run `npm run build` before running this file on its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { countTokens } from '../../../src/core/expansion/tokenCount.js';

const execFileAsync = promisify(execFile);
const root = path.resolve(__dirname, '../../..');
const dist = path.join(root, 'dist');
const cli = path.join(dist, 'cli.js');
const chunk = path.join(dist, 'tokenizer-qwen3.js');
const skip = existsSync(cli) && existsSync(chunk) ? false : 'dist/ is not built (npm run build)';

test('neither dist/cli.js nor dist/workspace.js carries the tokenizer', { skip }, () => {
  for (const b of ['cli.js', 'workspace.js']) {
    const size = statSync(path.join(dist, b)).size;
    assert.ok(size < statSync(chunk).size / 2, `dist/${b} is ${size} bytes: the tokenizer was bundled into it`);
    assert.match(readFileSync(path.join(dist, b), 'utf8'), /import\("\.\/tokenizer-qwen3\.js"\)/);
  }
});

async function body(req: IncomingMessage): Promise<{ model: string }> {
  let s = '';
  for await (const c of req) s += String(c);
  return JSON.parse(s) as { model: string };
}

test('the built CLI counts tokens with the tokenizer bundle when the server reports no usage', { skip, timeout: 60_000 }, async () => {
  const reply = 'Fleas live for two to three months; eggs hatch in one to ten days.';
  // An OpenAI-compatible server that, like some llama.cpp builds, sends no `usage`.
  const server = createServer((req, res) => {
    void body(req).then((b) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: 'x', object: 'chat.completion', created: 0, model: b.model, choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: reply } }] }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const tmp = mkdtempSync(path.join(tmpdir(), 'qx-tok-'));
  try {
    const ws = path.join(tmp, 'ws');
    const env = { ...process.env, QX_CACHE_DIR: path.join(tmp, 'cache') };
    await execFileAsync(process.execPath, [cli, 'init', '--manifest', path.join(root, 'samples/dl19/qx.dataset.json'), '--workspace', ws], { env });
    const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    const run = execFileAsync(process.execPath, [cli, 'expand', '--workspace', ws, '--role', 'teacher', '--template', 'query2doc-zs', '--qids', '1037798', '--base-url', baseUrl, '--model', 'no-usage', '--json'], { env });
    const [expected, { stdout }] = await Promise.all([countTokens(reply), run]);
    assert.equal((JSON.parse(stdout) as { generated: number }).generated, 1);
    const records = readFileSync(path.join(ws, '.qx', 'expansions.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { generated: string; usage: { completionTokens: number; estimated?: boolean } });
    assert.equal(records.length, 1);
    assert.equal(records[0]!.generated, reply);
    assert.deepEqual([records[0]!.usage.completionTokens, records[0]!.usage.estimated], [expected, true]);
    assert.ok(expected > 5);
  } finally {
    server.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});
