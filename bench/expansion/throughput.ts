// Expansion throughput against a local OpenAI-compatible server with a fixed simulated latency:
// how close the client (openai package + our semaphore, retries, cache writes) gets to the ideal
// concurrency / latency requests per second. Usage: npm run bench:expansion [-- --latency 200 --concurrency 32 --requests 960 --rounds 3]
import { fork } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExpansionCache } from '../../src/core/expansion/cache.js';
import { OpenAiExpander } from '../../src/core/expansion/openAiExpander.js';
import { runExpansions } from '../../src/core/expansion/runner.js';
import { parseTemplate } from '../../src/core/expansion/templates.js';
import { startFakeChatServer } from '../../test/fixtures/llm/fakeChatServer.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

// The server runs in a child process, as a real one would, so it does not share our event loop.
async function serve(latency: number): Promise<void> {
  const server = await startFakeChatServer({ latencyMs: latency });
  process.on('message', (m) => {
    if (m === 'count') process.send?.({ requests: server.requests });
    if (m === 'close') void server.close().then(() => process.exit(0));
  });
  process.send?.({ baseUrl: server.baseUrl });
}

interface ChildServer {
  baseUrl: string;
  requests(): Promise<number>;
  close(): Promise<void>;
}

async function startChildServer(latency: number): Promise<ChildServer> {
  const child = fork(__filename, ['--serve', '--latency', String(latency)], { execArgv: ['--import', 'tsx'] });
  const next = (): Promise<Record<string, unknown>> => new Promise((resolve) => child.once('message', (m) => resolve(m as Record<string, unknown>)));
  const { baseUrl } = (await next()) as { baseUrl: string };
  return {
    baseUrl,
    requests: async () => {
      const reply = next();
      child.send('count');
      return (await reply).requests as number;
    },
    close: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.send('close');
      }),
  };
}

async function main(): Promise<void> {
  const latency = arg('latency', 200);
  if (process.argv.includes('--serve')) return serve(latency);
  const concurrency = arg('concurrency', 32);
  const requests = arg('requests', 960);
  const ideal = (concurrency * 1000) / latency;
  const server = await startChildServer(latency);
  const dir = await mkdtemp(join(tmpdir(), 'qx-bench-'));
  const template = parseTemplate(['---', 'id: bench', 'version: 1', 'formulation: query2doc', '---', '[user]', 'Query: {{query}}', ''].join('\n'), 'bench.tmpl');
  const make = (): OpenAiExpander =>
    new OpenAiExpander({ role: 'teacher', baseUrl: server.baseUrl, model: 'bench', getApiKey: () => 'sk-bench', sampling: { temperature: 1, topP: 1, maxTokens: 128 }, concurrency, timeoutMs: 10_000 });
  const rounds = arg('rounds', 3);
  const fmt = (x: number): string => x.toFixed(1);
  const pct = (rps: number): string => `${fmt((100 * rps) / ideal)}%`;
  const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');
  try {
    // Warm-up: open the connection pool.
    await make().expand(Array.from({ length: concurrency }, (_, i) => ({ key: `w${i}`, messages: [{ role: 'user' as const, content: `Query: warm ${i}` }], n: 1 })), { signal: new AbortController().signal });
    let sent = concurrency;
    console.log(`machine: ${cpus().length} cores, Node ${process.version}; server latency ${latency} ms (separate process), concurrency ${concurrency}, ${requests} requests per measurement`);
    console.log(`ideal: ${fmt(ideal)} req/s`);
    const raw: number[] = [];
    const run: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      const loadStart = load();
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await make().expand(Array.from({ length: requests }, (_, i) => ({ key: `r${i}`, messages: [{ role: 'user' as const, content: `Query: raw ${round} ${i}` }], n: 1 })), { signal: new AbortController().signal });
      const rawS = (performance.now() - t0) / 1000;
      const c1 = process.cpuUsage(c0);
      const cpuPerRequest = (c1.user + c1.system) / 1000 / requests;

      const queries = Array.from({ length: requests }, (_, i) => ({ qid: `q${i}`, text: `bench query ${round} ${i}` }));
      const cache = new ExpansionCache(join(dir, `cache${round}`));
      const t1 = performance.now();
      const res = await runExpansions({ expander: make(), template, queries, cache, signal: new AbortController().signal });
      const runS = (performance.now() - t1) / 1000;
      if (res.generated !== requests) throw new Error(`generated ${res.generated} of ${requests}`);

      const t2 = performance.now();
      const again = await runExpansions({ expander: make(), template, queries, cache, signal: new AbortController().signal });
      const cachedS = (performance.now() - t2) / 1000;
      if (again.cached !== requests) throw new Error('rerun was not fully cached');
      sent += 2 * requests;
      const extra = (await server.requests()) - sent;

      raw.push(requests / rawS);
      run.push(requests / runS);
      console.log(
        `round ${round} (load ${loadStart} → ${load()}): expander ${fmt(requests / rawS)} req/s (${pct(requests / rawS)}, client CPU ${cpuPerRequest.toFixed(2)} ms/request); ` +
          `runExpansions + cache ${fmt(requests / runS)} req/s (${pct(requests / runS)}); rerun from cache ${cachedS.toFixed(2)} s with ${extra} requests`,
      );
    }
    const median = (xs: number[]): number => {
      const s = [...xs].sort((a, b) => a - b);
      return s[Math.floor(s.length / 2)] as number;
    };
    console.log(`median expander:              ${fmt(median(raw))} req/s (${pct(median(raw))} of ideal)`);
    console.log(`median runExpansions + cache: ${fmt(median(run))} req/s (${pct(median(run))} of ideal)`);
    if (median(run) < 0.9 * ideal) process.exitCode = 1;
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
