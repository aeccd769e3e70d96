import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/io.js';

const repo = resolve(__dirname, '../..');
const sample = join(repo, 'samples', 'dl19');
const tmp = mkdtempSync(join(tmpdir(), 'qx-expand-e2e-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  let s = '';
  for await (const c of req) s += String(c);
  return JSON.parse(s) as Record<string, unknown>;
}

test('qx expand against a local OpenAI-compatible server: stored, cached on rerun, then scored', async () => {
  const seen: Record<string, unknown>[] = [];
  const server = createServer((req, res) => {
    void body(req).then((b) => {
      seen.push(b);
      const messages = b.messages as { content: string }[];
      const user = messages[messages.length - 1]!.content;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'x',
          object: 'chat.completion',
          created: 0,
          model: b.model,
          choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: `A passage answering: ${user.slice(-80)}` } }],
          usage: { prompt_tokens: 10, completion_tokens: 12, total_tokens: 22 },
        }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  try {
    const ws = join(tmp, 'ws');
    const io = (out: { s: string; e: string }): CliIo => ({ stdout: (t) => void (out.s += t), stderr: (t) => void (out.e += t), isTTY: false, env: {}, cwd: tmp });
    const run = async (argv: string[]) => {
      const out = { s: '', e: '' };
      const code = await main(argv, io(out), new AbortController().signal);
      return { code, stdout: out.s, stderr: out.e };
    };
    assert.equal((await run(['init', '--manifest', join(sample, 'qx.dataset.json'), '--workspace', ws])).code, 0);
    const args = ['expand', '--workspace', ws, '--role', 'teacher', '--template', 'query2doc-zs', '--qids', '1037798,104861', '--base-url', `http://127.0.0.1:${port}/v1`, '--model', 'fake-teacher', '--json'];
    const first = await run(args);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(JSON.parse(first.stdout), { generated: 2, cached: 0, failed: 0, model: 'fake-teacher', baseUrl: `http://127.0.0.1:${port}/v1` });
    assert.equal(seen.length, 2);
    assert.equal(seen[0]!.model, 'fake-teacher');
    const second = await run(args);
    assert.deepEqual(JSON.parse(second.stdout), { generated: 0, cached: 2, failed: 0, model: 'fake-teacher', baseUrl: `http://127.0.0.1:${port}/v1` });
    assert.equal(seen.length, 2, 'a rerun makes no request');
    const score = JSON.parse((await run(['score', '--workspace', ws, '--json'])).stdout) as { scored: number };
    assert.equal(score.scored, 2);
    const report = await run(['report', '--workspace', ws]);
    assert.match(report.stdout, /^query2doc-zs\s+teacher\s+fake-teacher\s+2\s/m);
  } finally {
    server.close();
  }
});

test('qx expand without a key for a remote endpoint fails with exit 4 and says where the key goes', async () => {
  const ws = join(tmp, 'nokey');
  const out = { s: '', e: '' };
  const io: CliIo = { stdout: (t) => void (out.s += t), stderr: (t) => void (out.e += t), isTTY: false, env: {}, cwd: tmp };
  assert.equal(await main(['init', '--manifest', join(sample, 'qx.dataset.json'), '--workspace', ws], io, new AbortController().signal), 0);
  const code = await main(['expand', '--workspace', ws, '--role', 'teacher', '--template', 'query2doc-zs', '--qids', '1037798'], io, new AbortController().signal);
  assert.equal(code, 4);
  assert.match(out.e, /No API key for https:\/\/api\.deepseek\.com\/v1.*QX_API_KEY/);
});
