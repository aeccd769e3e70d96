// Long work as the user sees it: a cancellable progress notification with counts ("12/43
// queries"), Cancel that stops the work quietly, and what is kept afterwards. The teacher is a
// slow local OpenAI-compatible server started here.
import * as assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import * as vscode from 'vscode';
import type { QxExtensionApi } from '../../../src/extension/extension.js';
import { after, before, describe, test } from '../runner.js';
import { activateQx, runWatched, waitFor } from '../util.js';

async function api(): Promise<QxExtensionApi> {
  const exports = (await activateQx()) as QxExtensionApi | undefined;
  assert.ok(exports !== undefined, 'activation failed');
  return exports;
}

/** "12/43 queries" → 12, or undefined for another line. */
function done(line: string | undefined): number | undefined {
  const m = line === undefined ? null : /^(\d+)\/(\d+) queries$/.exec(line);
  return m === null ? undefined : Number(m[1]);
}

describe('long work: progress, counts, cancel', () => {
  let server: Server;
  let baseUrl = '';
  let requests = 0;
  const model = 'slow-teacher';
  const title = 'QX: Expanding with teacher (query2doc-zs)';

  before(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        requests++;
        setTimeout(() => {
          if (res.destroyed) return;
          res.writeHead(200, { 'content-type': 'application/json' }).end(
            JSON.stringify({ id: `s${requests}`, object: 'chat.completion', created: 1, model, choices: [{ index: 0, message: { role: 'assistant', content: `A slow passage number ${requests}.` }, finish_reason: 'stop' }], usage: { prompt_tokens: 20, completion_tokens: 6, total_tokens: 26 } }),
          );
        }, 120);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    baseUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/v1`;
    const c = vscode.workspace.getConfiguration('qx');
    await c.update('teacher.baseUrl', baseUrl, vscode.ConfigurationTarget.Global);
    await c.update('teacher.model', model, vscode.ConfigurationTarget.Global);
    await c.update('concurrency', 2, vscode.ConfigurationTarget.Global);
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    const c = vscode.workspace.getConfiguration('qx');
    for (const k of ['teacher.baseUrl', 'teacher.model', 'concurrency']) await c.update(k, undefined, vscode.ConfigurationTarget.Global);
  });

  test('expanding: counts in a cancellable notification; Cancel stops the requests without an error; a rerun asks only for the rest', async () => {
    const { session } = await api();
    const ws = await waitFor(() => session.workspace, 'the workspace');
    const total = ws.listQueries().length;
    const mine = () => ws.listQueries().reduce((n, q) => n + ws.getQueryReview(q.qid).expansions.filter((s) => s.expansion.model === model).length, 0);
    assert.equal(mine(), 0, `no ${model} expansions yet`);

    const first = await runWatched('qx.expandTeacherZeroShot', title, (line) => (done(line) ?? 0) >= 5);
    assert.equal(first.result, undefined, 'a cancelled command returns nothing');
    assert.deepEqual(first.errors, [], 'Cancel is not an error');
    assert.ok(first.lines.length >= 2, `progress lines: ${first.lines.join(' | ')}`);
    for (const l of first.lines) assert.match(l, new RegExp(`^\\d+/${total} queries$`), 'every line counts queries');
    const counts = first.lines.map(done) as number[];
    assert.deepEqual(counts, [...counts].sort((a, b) => a - b), 'the count only goes up');
    const stoppedAt = counts[counts.length - 1] ?? 0;
    assert.ok(stoppedAt >= 5 && stoppedAt < total, `cancelled part way: ${stoppedAt}/${total}`);
    // Requests in flight when Cancel came are aborted; none start afterwards.
    const sentByCancel = requests;
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(requests, sentByCancel, 'no request after Cancel');
    assert.ok(sentByCancel < total, `${sentByCancel} of ${total} requests were sent`);
    const kept = mine();
    assert.ok(kept >= stoppedAt && kept < total, `the ${stoppedAt} expansions counted before Cancel are in the store right away (${kept} stored)`);

    const second = await runWatched('qx.expandTeacherZeroShot', title);
    const r = second.result as { generated: number; cached: number; failed: number } | undefined;
    assert.ok(r !== undefined, 'the rerun completes');
    assert.equal(r.failed, 0);
    assert.ok(r.cached >= stoppedAt, `the ${stoppedAt} finished before Cancel come from the cache (cached ${r.cached})`);
    assert.equal(r.generated + r.cached, total);
    assert.equal(requests - sentByCancel, r.generated, 'the rerun requested only what was not finished');
    assert.equal(second.lines.at(-1), `${total}/${total} queries`);
    assert.equal(mine(), total, `every query has its ${model} expansion`);
  }, { timeout: 120_000 });

  test('scoring: counts in a cancellable notification; Cancel keeps the scores stored so far; a rerun scores only the rest', async () => {
    const { session } = await api();
    const ws = await waitFor(() => session.workspace, 'the workspace');
    const unscored = () => ws.listQueries().reduce((n, q) => n + ws.getQueryReview(q.qid).expansions.filter((s) => s.score === null).length, 0);
    const scoredQueries = () => ws.listQueries().filter((q) => ws.getQueryReview(q.qid).expansions.some((s) => s.expansion.model === model && s.score !== null)).length;
    const total = ws.listQueries().length;
    const before = unscored();
    assert.ok(before >= total, `the ${model} expansions are not scored yet (${before} unscored)`);

    const first = await runWatched('qx.score', 'QX: Scoring expansions', (line) => (done(line) ?? 0) > 0);
    assert.deepEqual(first.errors, [], 'Cancel is not an error');
    const lines = first.lines.filter((l) => done(l) !== undefined);
    const stoppedAt = done(lines.at(-1)) ?? 0;
    assert.ok(stoppedAt > 0 && stoppedAt < total, `cancelled part way: ${lines.join(' | ')}`);
    assert.equal(scoredQueries(), stoppedAt, 'the queries counted before Cancel keep their scores');
    const left = unscored();
    assert.ok(left < before, 'some scores were kept');

    const second = await runWatched('qx.score', 'QX: Scoring expansions');
    const r = second.result as { scored: number } | undefined;
    assert.equal(r?.scored, left, 'the rerun scored only what was left');
    assert.equal(second.lines.at(-1), `${total - stoppedAt}/${total - stoppedAt} queries`);
    assert.equal(unscored(), 0);
  }, { timeout: 120_000 });
});
