// Expansion throughput against a local OpenAI-compatible server with a fixed simulated latency:
// how close the client (openai package + our semaphore, retries, cache writes) gets to the ideal
// concurrency / latency requests per second. Usage: npm run bench:expansion [-- --latency 200 --concurrency 32 --requests 960]
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
  const load0 = loadavg().map((x) => x.toFixed(2)).join(' ');
  const server = await startChildServer(latency);
  const dir = await mkdtemp(join(tmpdir(), 'qx-bench-'));
  const template = parseTemplate(['---', 'id: bench', 'version: 1', 'formulation: query2doc', '---', '[user]', 'Query: {{query}}', ''].join('\n'), 'bench.tmpl');
  const make = (): OpenAiExpander =>
    new OpenAiExpander({ role: 'teacher', baseUrl: server.baseUrl, model: 'bench', getApiKey: () => 'sk-bench', sampling: { temperature: 1, topP: 1, maxTokens: 128 }, concurrency, timeoutMs: 10_000 });
  try {
    // Warm-up: open the connection pool.
    await make().expand(Array.from({ length: concurrency }, (_, i) => ({ key: `w${i}`, messages: [{ role: 'user' as const, content: `Query: warm ${i}` }], n: 1 })), { signal: new AbortController().signal });

    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await make().expand(Array.from({ length: requests }, (_, i) => ({ key: `r${i}`, messages: [{ role: 'user' as const, content: `Query: raw ${i}` }], n: 1 })), { signal: new AbortController().signal });
    const rawS = (performance.now() - t0) / 1000;
    const c1 = process.cpuUsage(c0);
    const cpuPerRequest = (c1.user + c1.system) / 1000 / requests;

    const queries = Array.from({ length: requests }, (_, i) => ({ qid: `q${i}`, text: `bench query ${i}` }));
    const cache = new ExpansionCache(join(dir, 'cache'));
    const t1 = performance.now();
    const res = await runExpansions({ expander: make(), template, queries, cache, signal: new AbortController().signal });
    const runS = (performance.now() - t1) / 1000;
    if (res.generated !== requests) throw new Error(`generated ${res.generated} of ${requests}`);

    const t2 = performance.now();
    const again = await runExpansions({ expander: make(), template, queries, cache, signal: new AbortController().signal });
    const cachedS = (performance.now() - t2) / 1000;
    if (again.cached !== requests) throw new Error('rerun was not fully cached');

    const fmt = (x: number): string => x.toFixed(1);
    const rawRps = requests / rawS;
    const runRps = requests / runS;
    console.log(`load average at the start: ${load0}`);
    console.log(`machine: ${cpus().length} cores, Node ${process.version}; server latency ${latency} ms, concurrency ${concurrency}, ${requests} requests`);
    console.log(`ideal: ${fmt(ideal)} req/s`);
    console.log(`expander only:           ${fmt(rawRps)} req/s (${fmt((100 * rawRps) / ideal)}% of ideal, ${rawS.toFixed(2)} s, client CPU ${cpuPerRequest.toFixed(2)} ms/request)`);
    console.log(`runExpansions + cache:   ${fmt(runRps)} req/s (${fmt((100 * runRps) / ideal)}% of ideal, ${runS.toFixed(2)} s)`);
    console.log(`rerun from cache:        ${requests} expansions in ${cachedS.toFixed(2)} s, ${(await server.requests()) - concurrency - 2 * requests} extra requests`);
    console.log(`load average at the end: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
    if (runRps < 0.9 * ideal) process.exitCode = 1;
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
