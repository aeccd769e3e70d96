// The store checkpoint (.qx/store.checkpoint): an open from it must give exactly the state a
// replay of the journals gives, whatever happened after it was written, and a checkpoint that
// does not match the journals or is damaged is ignored (with a log line), never trusted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHECKPOINT_FILE } from '../../../../src/core/curation/checkpoint.js';
import { CurationStore, originalScoreId, retrievalSettingsKey } from '../../../../src/core/curation/store.js';
import type { PairRecord } from '../../../../src/core/curation/types.js';
import type { Logger } from '../../../../src/core/logger.js';
import { makeExpansion, makeScore } from '../../../fixtures/curation/makeData.js';

const keyA = retrievalSettingsKey({ k1: 0.9 });
const keyB = retrievalSettingsKey({ k1: 1.2 });

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const add = (level: string) => (m: string) => void lines.push(`${level}: ${m}`);
  return { lines, trace: add('trace'), debug: add('debug'), info: add('info'), warn: add('warn'), error: add('error') } as Logger & { lines: string[] };
}

/** Everything a user of the store can observe: records (read from disk), heads per query, score summaries with their journal lines, whole scores, pairs. */
function observe(s: CurationStore): unknown {
  const all = s.listExpansions();
  const qids = [...new Set(all.map((e) => e.qid))];
  const summaries = (key: string) => [...s.scoreSummariesFor(key)].map(([id, e]) => [id, { ...e, score: undefined }]);
  return {
    ids: all.map((e) => e.id),
    records: all,
    heads: qids.map((q) => s.expansionHeadsForQuery(q)),
    summaries: [summaries(keyA), summaries(keyB)],
    scores: [[...s.scoresFor(keyA)], [...s.scoresFor(keyB)]],
    pairs: s.listPairs(),
  };
}

/** The state a fresh open gives with the checkpoint and without it (journals replayed from the start). */
function bothWays(root: string, logger?: Logger): { fromCheckpoint: boolean; viaCheckpoint: unknown; viaJournals: unknown } {
  const c = CurationStore.open(root, { readOnly: true, ...(logger === undefined ? {} : { logger }) });
  const viaCheckpoint = observe(c);
  const fromCheckpoint = c.opened.fromCheckpoint;
  c.close();
  const j = CurationStore.open(root, { readOnly: true, checkpoint: false });
  const viaJournals = observe(j);
  j.close();
  return { fromCheckpoint, viaCheckpoint, viaJournals };
}

function pair(qid: string, chosenId: string, rejectedId: string): PairRecord {
  return { id: `p-${chosenId}-${rejectedId}`, qid, chosenId, rejectedId, margin: 0.25, state: 'auto', origin: 'auto', createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z' };
}

/** A store with expansions of several queries, scores under two keys, pairs with every kind of event, and a retraction. */
function populate(s: CurationStore, from: number, n: number): void {
  const exps = Array.from({ length: n }, (_, i) => makeExpansion(`q${(from + i) % 7}`, `e${from + i}`, { role: i % 3 === 0 ? 'student' : 'teacher', generated: `text ${from + i} "quoted" é` }));
  s.addExpansions(exps);
  s.putScores(keyA, exps.map((e, i) => makeScore(e, (i % 10) / 10, 0.3)));
  s.putScores(keyA, [...new Set(exps.map((e) => e.qid))].map((qid) => ({ ...makeScore({ id: originalScoreId(qid), qid }, 0.3, 0.3), expansionId: originalScoreId(qid) })));
  s.putScores(keyB, exps.slice(0, 3).map((e) => makeScore(e, 0.5, 0.1)));
  s.putScores(keyA, [makeScore(exps[1]!, 0.99, 0.3)]); // a later score replaces the earlier
  const p1 = s.createPair(pair(exps[0]!.qid, exps[0]!.id, exps[7]!.id));
  const p2 = s.createPair(pair(exps[1]!.qid, exps[1]!.id, exps[8]!.id));
  s.setPairState(p1.id, 'accepted');
  s.setPairNote(p1.id, 'good one');
  s.swapPair(p2.id);
  s.deletePair(s.createPair(pair(exps[2]!.qid, exps[2]!.id, exps[9]!.id)).id);
  s.addExpansions([makeExpansion('q1', `hand-${from}`)], { description: 'hand edit' });
  s.undo(); // retracts hand-<from>
}

/** A populated store with a checkpoint of all of it, closed. */
function checkpointed(root: string, n = 30): void {
  const s = CurationStore.open(root);
  populate(s, 0, n);
  s.checkpoint();
  s.close();
}

function withStore(name: string, fn: (root: string) => void | Promise<void>): () => Promise<void> {
  return async () => {
    const root = mkdtempSync(join(tmpdir(), `qx-checkpoint-${name}-`));
    try {
      await fn(root);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  };
}

test(
  'an open from the checkpoint gives exactly the state of a journal replay, also after appends past it',
  withStore('same', (root) => {
    checkpointed(root, 40);
    assert.ok(existsSync(join(root, '.qx', CHECKPOINT_FILE)));
    const first = bothWays(root);
    assert.equal(first.fromCheckpoint, true);
    assert.deepEqual(first.viaCheckpoint, first.viaJournals);

    // Appends after the checkpoint: new expansions, a replaced score, pair events on checkpointed
    // pairs, and a retraction of a checkpointed expansion (undo of an edit made in this session).
    const t = CurationStore.open(root);
    assert.equal(t.opened.fromCheckpoint, true);
    populate(t, 40, 20);
    t.putScores(keyA, [makeScore({ id: 'e3', qid: 'q3' }, 0.11, 0.3)]);
    const old = t.listPairs()[0]!;
    t.setPairState(old.id, 'rejected');
    t.addExpansions([makeExpansion('q2', 'late')], { description: 'edit' });
    t.undo();
    t.close(); // less than 1 MB past the checkpoint: none written, the suffix is replayed
    const second = bothWays(root);
    assert.equal(second.fromCheckpoint, true);
    assert.deepEqual(second.viaCheckpoint, second.viaJournals);
    assert.equal((second.viaCheckpoint as { ids: string[] }).ids.length, 60);
    assert.ok(!(second.viaCheckpoint as { ids: string[] }).ids.includes('late'));
  }),
);

test(
  'a torn last journal line past the checkpoint is dropped as without one',
  withStore('torn', (root) => {
    checkpointed(root);
    const s = CurationStore.open(root);
    s.addExpansions([makeExpansion('q9', 'after')]);
    s.close();
    appendFileSync(join(root, '.qx', 'expansions.jsonl'), '{"id":"cut","qid":"q9","role":"teacher","method":"m","model":"x","provider":"p","generated":"the process died her');
    appendFileSync(join(root, '.qx', 'pairs.jsonl'), '{"op":"setState","pairId":');
    const { fromCheckpoint, viaCheckpoint, viaJournals } = bothWays(root);
    assert.equal(fromCheckpoint, true);
    assert.deepEqual(viaCheckpoint, viaJournals);
    // A writable open cuts the torn lines off and keeps using the checkpoint.
    const log = recordingLogger();
    const w = CurationStore.open(root, { logger: log });
    assert.equal(w.opened.fromCheckpoint, true);
    assert.ok(log.lines.some((l) => l.startsWith('warn:') && l.includes('dropped an incomplete last line')));
    assert.equal(w.getExpansion('after')?.id, 'after');
    assert.equal(w.getExpansion('cut'), undefined);
    w.close();
    assert.deepEqual(bothWays(root).viaCheckpoint, viaJournals);
  }),
);

test(
  'a damaged or truncated checkpoint is ignored with a warning and the journals are replayed',
  withStore('damaged', (root) => {
    checkpointed(root);
    const file = join(root, '.qx', CHECKPOINT_FILE);
    const good = readFileSync(file);
    const expected = bothWays(root).viaJournals;
    for (const damage of [
      (b: Buffer) => ((b[b.length >> 1] = b[b.length >> 1]! ^ 0x55), b), // one flipped byte in the body
      (b: Buffer) => b.subarray(0, b.length - 100), // cut short
      () => Buffer.from('not a checkpoint'),
    ]) {
      writeFileSync(file, damage(Buffer.from(good)));
      const log = recordingLogger();
      const { fromCheckpoint, viaCheckpoint } = bothWays(root, log);
      assert.equal(fromCheckpoint, false);
      assert.deepEqual(viaCheckpoint, expected);
      assert.ok(log.lines.some((l) => l.startsWith('warn:') && l.includes(CHECKPOINT_FILE) && l.includes('damaged')), log.lines.join('\n'));
    }
    // Another format version (an older or newer build) is not damage: an info line, then a replay.
    const other = Buffer.from(good);
    other[4] = 9;
    writeFileSync(file, other);
    const log = recordingLogger();
    const { fromCheckpoint, viaCheckpoint } = bothWays(root, log);
    assert.equal(fromCheckpoint, false);
    assert.deepEqual(viaCheckpoint, expected);
    assert.ok(log.lines.some((l) => l.startsWith('info:') && l.includes('another format')), log.lines.join('\n'));
  }),
);

test(
  'a checkpoint that no longer matches its journals (rewritten, shortened, replaced) is not used',
  withStore('stale', (root) => {
    checkpointed(root);
    const dir = join(root, '.qx');
    const saved = readFileSync(join(dir, CHECKPOINT_FILE));
    const pairsFile = join(dir, 'pairs.jsonl');
    const pairs = readFileSync(pairsFile, 'utf8');
    // Rewritten with the same size: accepted → rejected, and the note changed, by equally long strings.
    writeFileSync(pairsFile, pairs.replace(/"state":"accepted"/g, '"state":"rejected"').replace('"note":"good one"', '"note":"bad  one"'));
    {
      const log = recordingLogger();
      const { fromCheckpoint, viaCheckpoint, viaJournals } = bothWays(root, log);
      assert.equal(fromCheckpoint, false);
      assert.deepEqual(viaCheckpoint, viaJournals);
      assert.ok(log.lines.some((l) => l.startsWith('info:') && l.includes('pairs.jsonl') && /rewritten|changed/.test(l)), log.lines.join('\n'));
      assert.ok((viaCheckpoint as { pairs: PairRecord[] }).pairs.some((p) => p.note === 'bad  one'));
    }
    // Shortened (restored from an older backup): the checkpoint covers more than the journal holds.
    writeFileSync(pairsFile, pairs);
    writeFileSync(join(dir, CHECKPOINT_FILE), saved);
    truncateSync(join(dir, 'scores.jsonl'), statSync(join(dir, 'scores.jsonl')).size - 1);
    const log = recordingLogger();
    const { fromCheckpoint, viaCheckpoint, viaJournals } = bothWays(root, log);
    assert.equal(fromCheckpoint, false);
    assert.deepEqual(viaCheckpoint, viaJournals);
    assert.ok(log.lines.some((l) => l.includes('scores.jsonl') && l.includes('shorter')), log.lines.join('\n'));
    // A writable open replaces the unusable checkpoint at once: the next open uses it.
    CurationStore.open(root).close();
    const again = bothWays(root);
    assert.equal(again.fromCheckpoint, true);
    assert.deepEqual(again.viaCheckpoint, again.viaJournals);
  }),
);

test(
  'a store over 1 MB writes its checkpoint on close, and the next open replays nothing',
  withStore('close', (root) => {
    const s = CurationStore.open(root);
    const text = 'long expansion text '.repeat(60);
    for (let b = 0; b < 3; b++) {
      const exps = Array.from({ length: 500 }, (_, i) => makeExpansion(`q${i % 50}`, `b${b}-${i}`, { generated: `${text}${i}` }));
      s.addExpansions(exps);
      s.putScores(keyA, exps.map((e) => makeScore(e, 0.5, 0.2)));
    }
    s.close();
    const r = CurationStore.open(root, { readOnly: true });
    assert.deepEqual(r.opened, { fromCheckpoint: true, replayedBytes: 0 });
    assert.equal(r.getExpansion('b2-499')?.generated, `${text}499`);
    r.close();
    const { viaCheckpoint, viaJournals } = bothWays(root);
    assert.deepEqual(viaCheckpoint, viaJournals);
  }),
);

test(
  'kill -9 while a checkpoint is being written loses nothing: the next open matches a replay',
  withStore('kill', async (root) => {
    checkpointed(root);
    // A child process that appends and rewrites the checkpoint in a loop (a large one, so that the
    // kill lands during a write) until it is killed.
    const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '..', '..', '..', 'fixtures', 'curation', 'checkpointLoop.ts'), root], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (/checkpoints 3\b/.test(out)) resolve();
      });
      child.on('exit', (code) => reject(new Error(`the writer exited early (${code}): ${out}`)));
    });
    await new Promise((r) => setTimeout(r, 37));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const { viaCheckpoint, viaJournals } = bothWays(root);
    assert.deepEqual(viaCheckpoint, viaJournals);
    // The next writable open removes the dead writer's temporary file, if one is left.
    CurationStore.open(root).close();
    assert.deepEqual(readdirSync(join(root, '.qx')).filter((n) => n.includes('.tmp')), []);
  }),
);

test(
  'a writable open removes every temporary checkpoint a killed writer left (this process id too, as in a container where runs share pid 1), and nothing else',
  withStore('leftovers', (root) => {
    const s = CurationStore.open(root);
    populate(s, 0, 12);
    s.close();
    const dir = join(root, '.qx');
    const planted = [`.${CHECKPOINT_FILE}.${process.pid}.0123abcd.tmp`, `.${CHECKPOINT_FILE}.${process.ppid}.deadbeef.tmp`, `${CHECKPOINT_FILE}.tmp-1`];
    for (const name of planted) writeFileSync(join(dir, name), 'torn');
    writeFileSync(join(dir, 'notes.tmp'), 'not ours');
    CurationStore.open(root).close();
    const left = readdirSync(dir);
    assert.deepEqual(planted.filter((n) => left.includes(n)), []);
    assert.ok(left.includes('notes.tmp'), 'a file the store did not write is kept');
  }),
);

test(
  'a pair patch with an undefined field folds in memory as it reads back from the journal, so a checkpoint written from memory matches a replay',
  withStore('patch', (root) => {
    const s = CurationStore.open(root);
    populate(s, 0, 12);
    const p = s.listPairs()[0]!;
    assert.ok(p.rulesHash === undefined);
    s.updatePair(p.id, { rulesHash: 'abc' });
    s.applyPairs(s.listPairs().map((x) => (x.id === p.id ? { ...x, rulesHash: undefined, margin: 0.5 } : x)));
    assert.equal(s.getPair(p.id)?.rulesHash, 'abc', 'undefined is not written, so it does not clear the field');
    s.checkpoint();
    s.close();
    const { fromCheckpoint, viaCheckpoint, viaJournals } = bothWays(root);
    assert.equal(fromCheckpoint, true);
    assert.deepEqual(viaCheckpoint, viaJournals);
  }),
);
