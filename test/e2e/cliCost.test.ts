import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/io.js';
import { countTokens } from '../../src/core/expansion/tokenCount.js';
import type { CostSection, MethodCost } from '../../src/core/report/cost.js';
import type { QxReport } from '../../src/core/report/report.js';

const repo = resolve(__dirname, '../..');
const sample = join(repo, 'samples', 'dl19');
const tmp = mkdtempSync(join(tmpdir(), 'qx-cost-e2e-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const QIDS = ['1037798', '104861', '1063750'];

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = { s: '', e: '' };
  const io: CliIo = { stdout: (t) => void (out.s += t), stderr: (t) => void (out.e += t), isTTY: false, env: {}, cwd: tmp };
  const code = await main(argv, io, new AbortController().signal);
  return { code, stdout: out.s, stderr: out.e };
}

async function init(name: string): Promise<string> {
  const ws = join(tmp, name);
  const r = await run(['init', '--manifest', join(sample, 'qx.dataset.json'), '--workspace', ws]);
  assert.equal(r.code, 0, r.stderr);
  return ws;
}

interface Call {
  model: string;
  messages: { role: string; content: string }[];
  usage: { prompt_tokens: number; completion_tokens: number };
}

/** An OpenAI-compatible server whose usage differs per request (words of the prompt, of the answer), so sums are not constant. */
async function usageServer(): Promise<{ baseUrl: string; calls: Call[]; close: () => Promise<void> }> {
  const calls: Call[] = [];
  const words = (s: string): number => s.split(/\s+/).filter((w) => w !== '').length;
  const server: Server = createServer((req: IncomingMessage, res) => {
    void (async () => {
      let s = '';
      for await (const c of req) s += String(c);
      const b = JSON.parse(s) as { model: string; messages: Call['messages']; n?: number };
      const n = b.n ?? 1;
      const user = b.messages[b.messages.length - 1]!.content;
      const query = (user.split('Query:').pop() ?? '').split('\n')[0]!.trim();
      const texts = Array.from({ length: n }, (_, i) => `${query} is explained here ${'in detail '.repeat(calls.length + i + 1)}`.trim());
      const usage = { prompt_tokens: words(b.messages.map((m) => m.content).join(' ')) * n, completion_tokens: texts.reduce((a, t) => a + words(t), 0) };
      calls.push({ model: b.model, messages: b.messages, usage });
      await new Promise((r) => setTimeout(r, 15));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: 'x', object: 'chat.completion', created: 0, model: b.model, choices: texts.map((t, i) => ({ index: i, finish_reason: 'stop', message: { role: 'assistant', content: t } })), usage }));
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    calls,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function costOf(report: QxReport, key: string): MethodCost {
  const m = (report.cost as CostSection).methods.find((x) => x.key === key);
  assert.ok(m !== undefined, `no cost row ${key} in ${JSON.stringify(report.cost?.methods.map((x) => x.key))}`);
  return m;
}

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

test('qx report --json: the server-reported token sums and price = tokens × the workspace price table', async () => {
  const server = await usageServer();
  try {
    const ws = await init('usage');
    const rates = { 'fake-teacher': { inputPerMTok: 3, outputPerMTok: 15 }, 'fake-student': { inputPerMTok: 0.25, outputPerMTok: 1 } };
    writeFileSync(join(ws, '.qx', 'prices.json'), JSON.stringify({ asOf: '2026-02-01', note: 'test rates', models: rates }));
    const expand = (role: string, model: string, samples: number) =>
      run(['expand', '--workspace', ws, '--role', role, '--template', 'query2doc-zs', '--qids', QIDS.join(','), '--base-url', server.baseUrl, '--model', model, '--samples', String(samples)]);
    const t = await expand('teacher', 'fake-teacher', 2);
    assert.equal(t.code, 0, t.stderr);
    const s = await expand('student', 'fake-student', 1);
    assert.equal(s.code, 0, s.stderr);
    assert.equal((await run(['score', '--workspace', ws])).code, 0);

    const r = await run(['report', '--workspace', ws, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as QxReport;
    const cost = report.cost as CostSection;
    assert.deepEqual(cost.prices, { kind: 'workspace', file: join('.qx', 'prices.json'), asOf: '2026-02-01', note: 'test rates' });
    for (const [role, model, samples] of [['teacher', 'fake-teacher', 2], ['student', 'fake-student', 1]] as const) {
      const calls = server.calls.filter((c) => c.model === model);
      const row = costOf(report, `${role}/query2doc-zs/${model}`);
      const promptTokens = sum(calls.map((c) => c.usage.prompt_tokens));
      const completionTokens = sum(calls.map((c) => c.usage.completion_tokens));
      assert.equal(row.expansions, QIDS.length * samples);
      assert.equal(row.requests, calls.length, `${model}: one request per query, samples drawn together`);
      assert.equal(row.promptTokens, promptTokens);
      assert.equal(row.completionTokens, completionTokens);
      assert.equal(row.estimatedExpansions, 0, 'the server reported usage: nothing is estimated');
      assert.ok(row.usd !== null);
      const price = rates[model];
      assert.ok(Math.abs(row.usd - (promptTokens * price.inputPerMTok + completionTokens * price.outputPerMTok) / 1e6) < 1e-12, `${model}: ${row.usd}`);
      assert.ok(row.wallMs !== null && row.wallMs >= 10 * calls.length, `${model}: wall time ${row.wallMs}`);
      assert.ok(Math.abs((row.meanLatencyMs as number) - row.wallMs / row.expansions) < 1e-9);
    }
    const ratio = cost.studentVsTeacher.find((c) => c.student === 'student/query2doc-zs/fake-student' && c.teacher === 'teacher/query2doc-zs/fake-teacher');
    const st = costOf(report, 'student/query2doc-zs/fake-student');
    const te = costOf(report, 'teacher/query2doc-zs/fake-teacher');
    assert.ok(ratio !== undefined && ratio.costPercent !== null);
    assert.ok(Math.abs(ratio.costPercent - (100 * ((st.usd as number) / st.expansions)) / ((te.usd as number) / te.expansions)) < 1e-9);
    assert.equal(ratio.ndcgPercent, report.studentVsTeacher.find((c) => c.student === ratio.student && c.teacher === ratio.teacher)?.percent);
    assert.equal(ratio.approximate, false);

    const text = await run(['report', '--workspace', ws]);
    assert.match(text.stdout, /^query2doc-zs\s+teacher\s+fake-teacher\s+3\s/m, 'the method table comes first, as before');
    assert.match(text.stdout, /Prices: \.qx\/prices\.json \(as of 2026-02-01\)/);
    assert.match(text.stdout, new RegExp(`^teacher\\s+query2doc-zs\\s+fake-teacher\\s+openai-compatible\\s+6\\s+3\\s+${te.promptTokens}\\s+${te.completionTokens}\\s`, 'm'));
    assert.match(text.stdout, /^cost: student\/query2doc-zs\/fake-student costs \d+\.\d% of teacher\/query2doc-zs\/fake-teacher per expansion for \d+\.\d% of its nDCG@10$/m);
    const md = readFileSync(join(ws, '.qx', 'reports', 'report.md'), 'utf8');
    assert.match(md, /## Inference cost/);
    assert.ok(md.includes(`| teacher | query2doc-zs | fake-teacher | openai-compatible | 6 | 3 | ${te.promptTokens} | ${te.completionTokens} |`), md);
    assert.match(readFileSync(join(ws, '.qx', 'reports', 'report.html'), 'utf8'), /<h2>Inference cost<\/h2>/);
  } finally {
    await server.close();
  }
});

test('qx expand --batch-input writes the Batch input file; its results import once, attributed to the model and method', async () => {
  const server = await usageServer();
  try {
    const ws = await init('batch');
    const file = join(ws, 'batch', 'teacher.jsonl');
    const w = await run(['expand', '--workspace', ws, '--role', 'teacher', '--template', 'query2doc-zs', '--qids', QIDS.join(','), '--samples', '2', '--temperature', '0.3', '--max-tokens', '77', '--model', 'batch-teacher', '--batch-input', file]);
    assert.equal(w.code, 0, w.stderr);
    assert.equal(server.calls.length, 0);
    assert.match(w.stdout, /wrote 6 requests \(3 queries × 2 samples/);
    assert.ok(w.stdout.includes(`vllm run-batch -i ${file} -o `), w.stdout);
    assert.match(w.stdout, /qx import \S+ --format openai-batch-output --model batch-teacher --method query2doc-zs --role teacher/);

    // The same prompts an interactive run sends.
    const live = await run(['expand', '--workspace', ws, '--role', 'teacher', '--template', 'query2doc-zs', '--qids', QIDS.join(','), '--base-url', server.baseUrl, '--model', 'live-teacher']);
    assert.equal(live.code, 0, live.stderr);
    const sent = new Map(server.calls.map((c) => [c.messages[c.messages.length - 1]!.content.split('Query:').pop()!.split('\n')[0]!.trim(), c.messages]));
    const queries = new Map((readFileSync(join(sample, 'topics.dl19-passage.txt'), 'utf8').trim().split('\n').map((l) => l.split('\t') as [string, string])));

    const lines = readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { custom_id: string; method: string; url: string; body: Record<string, unknown> });
    assert.equal(lines.length, QIDS.length * 2, 'one line per query × sample');
    const seen = new Set<string>();
    for (const l of lines) {
      const m = /^qx:([^:]+):query2doc-zs:(\d+)$/.exec(l.custom_id);
      assert.ok(m !== null, l.custom_id);
      const qid = decodeURIComponent(m[1]!);
      assert.ok(QIDS.includes(qid) && ['0', '1'].includes(m[2]!), l.custom_id);
      seen.add(l.custom_id);
      assert.equal(l.method, 'POST');
      assert.equal(l.url, '/v1/chat/completions');
      assert.equal(l.body.model, 'batch-teacher');
      assert.equal(l.body.temperature, 0.3);
      assert.equal(l.body.max_tokens, 77);
      assert.deepEqual(l.body.messages, sent.get(queries.get(qid)!), `${qid}: the prompt of an interactive run`);
    }
    assert.equal(seen.size, lines.length, 'custom ids are unique');

    // The results as the Batch API returns them (any order); the last line without usage.
    const usage = (i: number) => ({ prompt_tokens: 20 + i, completion_tokens: 30 + 2 * i, total_tokens: 50 + 3 * i });
    const answers = lines.map((l, i) => `${queries.get(decodeURIComponent(l.custom_id.split(':')[1]!))} answered in batch line ${i}`);
    const output = lines
      .map((l, i) =>
        JSON.stringify({
          id: `batch_req_${i}`,
          custom_id: l.custom_id,
          response: { status_code: 200, request_id: `r${i}`, body: { id: `c${i}`, object: 'chat.completion', model: 'batch-teacher', choices: [{ index: 0, message: { role: 'assistant', content: answers[i] }, finish_reason: 'stop' }], ...(i === lines.length - 1 ? {} : { usage: usage(i) }) } },
          error: null,
        }),
      )
      .reverse()
      .join('\n');
    const out = join(ws, 'batch', 'teacher.output.jsonl');
    writeFileSync(out, output + '\n');
    const importArgs = ['import', out, '--format', 'openai-batch-output', '--model', 'batch-teacher', '--method', 'query2doc-zs', '--role', 'teacher', '--workspace', ws, '--json'];
    const first = await run(importArgs);
    assert.equal(first.code, 0, first.stderr);
    assert.equal((JSON.parse(first.stdout) as { imported: number }).imported, 6);
    const second = await run(importArgs);
    assert.equal(second.code, 0, second.stderr);
    const again = JSON.parse(second.stdout) as { imported: number; duplicates: number };
    assert.deepEqual([again.imported, again.duplicates], [0, 6], 'a second import imports nothing new');
    assert.equal((await run(['score', '--workspace', ws])).code, 0);

    const r = await run(['report', '--workspace', ws, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as QxReport;
    const method = report.methods.find((m) => m.key === 'teacher/query2doc-zs/batch-teacher');
    assert.ok(method !== undefined, JSON.stringify(report.methods.map((m) => m.key)));
    assert.equal(method.queries, QIDS.length);
    assert.equal(method.samplesPerQuery, 2);
    const row = costOf(report, 'teacher/query2doc-zs/batch-teacher');
    assert.deepEqual(row.providers, ['openai-batch']);
    assert.equal(row.requests, 6, 'one request per Batch line');
    const reported = lines.slice(0, -1).map((_, i) => usage(i));
    assert.equal(row.promptTokens, sum(reported.map((u) => u.prompt_tokens)));
    // The line without usage: its output counted with the Qwen3 tokenizer, its input unknown.
    assert.equal(row.completionTokens, sum(reported.map((u) => u.completion_tokens)) + (await countTokens(answers[answers.length - 1]!)));
    assert.equal(row.estimatedExpansions, 1);
    assert.equal(row.promptUnknown, 1);
    assert.equal(row.wallMs, null, 'a Batch result records no wall time');
    assert.equal(row.price, null, 'the example table has no price for batch-teacher');
    assert.equal(report.cost?.prices.kind, 'example');
    const text = await run(['report', '--workspace', ws]);
    assert.match(text.stdout, /shipped EXAMPLE table \(as of \d{4}-\d\d-\d\d\), for illustration only/);
    assert.match(text.stdout, new RegExp(`^teacher\\s+query2doc-zs\\s+batch-teacher\\s+openai-batch\\s+6\\s+6\\s+${row.promptTokens}\\+\\?\\s+~${row.completionTokens}\\s+n/a\\s+n/a\\s+n/a$`, 'm'));
  } finally {
    await server.close();
  }
});

test('a price table with a non-numeric rate: qx report fails naming the file and the field', async () => {
  const ws = await init('badprices');
  const file = join(ws, '.qx', 'prices.json');
  writeFileSync(file, JSON.stringify({ asOf: '2026-02-01', models: { 'gpt-4.1': { inputPerMTok: 2, outputPerMTok: 8 }, 'my-teacher': { inputPerMTok: 2, outputPerMTok: 'eight' } } }));
  const r = await run(['report', '--workspace', ws]);
  assert.equal(r.code, 3, r.stderr);
  assert.ok(r.stderr.includes(file), r.stderr);
  assert.match(r.stderr, /"my-teacher" has no valid outputPerMTok/);
  assert.equal(existsSync(join(ws, '.qx', 'reports', 'report.md')), false, 'no report written from a bad table');
});
