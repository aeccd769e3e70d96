import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CurationStore, originalScoreId, retrievalSettingsKey } from '../../../../src/core/curation/store.js';
import { QxError } from '../../../../src/core/errors.js';
import type { Logger } from '../../../../src/core/logger.js';
import type { PairRecord } from '../../../../src/core/curation/types.js';
import { makeExpansion, makeScore } from '../../../fixtures/curation/makeData.js';

const repoRoot = resolve(__dirname, '../../../..');
const writerScript = join(repoRoot, 'test/fixtures/curation/storeWriter.ts');

function tempRoot(): string {
  return mkdtempSync(join(tmpdir(), 'qx-store-'));
}

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, trace() {}, debug() {}, info() {}, warn: (m: string) => void warnings.push(m), error() {} };
}

function pair(id: string, qid = 'q1', extra: Partial<PairRecord> = {}): PairRecord {
  return { id, qid, chosenId: 'a', rejectedId: 'b', margin: 0.2, state: 'auto', origin: 'auto', createdAt: 't0', updatedAt: 't0', ...extra };
}

test('edits survive a close and reopen, scores are kept per retrieval settings', () => {
  const root = tempRoot();
  try {
    const s = CurationStore.open(root, { toolVersion: '1.2.3' });
    const e1 = makeExpansion('q1', 'e1');
    assert.equal(s.addExpansions([e1, e1, makeExpansion('q2', 'e2')]), 2);
    const k1 = retrievalSettingsKey({ k1: 0.9, b: 0.4 });
    const k2 = retrievalSettingsKey({ k1: 1.2, b: 0.75 });
    assert.notEqual(k1, k2);
    s.putScores(k1, [makeScore(e1, 0.7, 0.5), makeScore({ id: originalScoreId('q1'), qid: 'q1' }, 0.5, 0.5)]);
    s.createPair(pair('p1'));
    s.setPairState('p1', 'accepted');
    s.setPairNote('p1', 'good one');
    s.close();

    const r = CurationStore.open(root);
    assert.equal(r.meta.toolVersion, '1.2.3');
    assert.deepEqual(r.listExpansions().map((e) => e.id), ['e1', 'e2']);
    assert.equal(r.getScore(k1, 'e1')?.ndcg10, 0.7);
    assert.equal(r.getScore(k2, 'e1'), undefined, 'a change of BM25 params must not reuse old scores');
    assert.equal(r.scoresFor(k1).get(originalScoreId('q1'))?.ndcg10, 0.5);
    const p = r.getPair('p1');
    assert.equal(p?.state, 'accepted');
    assert.equal(p?.note, 'good one');
    r.close();
    const meta = JSON.parse(readFileSync(join(root, '.qx', 'store.json'), 'utf8')) as { schemaVersion: number };
    assert.equal(meta.schemaVersion, 1);
    assert.equal(existsSync(join(root, '.qx', 'lock')), false, 'close releases the lock');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('undo appends inverse events and is itself persistent', () => {
  const root = tempRoot();
  try {
    const s = CurationStore.open(root);
    s.createPair(pair('p1'));
    s.setPairState('p1', 'rejected');
    s.swapPair('p1');
    assert.equal(s.getPair('p1')?.chosenId, 'b');
    assert.equal(s.getPair('p1')?.margin, -0.2);
    assert.equal(s.undo().description, 'swap chosen and rejected');
    assert.equal(s.getPair('p1')?.chosenId, 'a');
    assert.equal(s.getPair('p1')?.state, 'rejected');
    s.undo();
    assert.equal(s.getPair('p1')?.state, 'auto');
    s.group('edit expansion', 'q1', () => {
      s.addExpansions([makeExpansion('q1', 'e9')], { description: 'edit expansion' });
      s.updatePair('p1', { chosenId: 'e9', state: 'edited' });
    });
    assert.equal(s.getPair('p1')?.chosenId, 'e9');
    assert.deepEqual(s.undo(), { description: 'edit expansion', qid: 'q1' });
    assert.equal(s.getPair('p1')?.chosenId, 'a');
    assert.equal(s.getExpansion('e9'), undefined);
    assert.deepEqual(s.expansionsForQuery('q1'), []);
    s.addExpansions([makeExpansion('q1', 'e9')], { description: 'edit again' });
    assert.deepEqual(s.expansionsForQuery('q1').map((e) => e.id), ['e9'], 'the same edit made again is listed once');
    assert.equal(s.undo().description, 'edit again');
    s.undo();
    assert.equal(s.getPair('p1'), undefined);
    assert.deepEqual(s.undo(), { description: null, qid: null });
    s.close();
    const lines = readFileSync(join(root, '.qx', 'pairs.jsonl'), 'utf8').trim().split('\n');
    assert.ok(lines.length >= 7, 'history is appended, never rewritten');
    const r = CurationStore.open(root);
    assert.equal(r.getPair('p1'), undefined);
    assert.equal(r.getExpansion('e9'), undefined);
    r.close();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a torn last line is cut off with a warning; a corrupt middle line names file and line', () => {
  const root = tempRoot();
  try {
    const s = CurationStore.open(root);
    s.createPair(pair('p1'));
    s.createPair(pair('p2'));
    s.close();
    const file = join(root, '.qx', 'pairs.jsonl');
    appendFileSync(file, '{"op":"create","eid":"x","at":"t","pair":{"id":"p3"');
    const log = recordingLogger();
    const r = CurationStore.open(root, { logger: log });
    assert.deepEqual(r.listPairs().map((p) => p.id), ['p1', 'p2']);
    assert.equal(log.warnings.length, 1);
    assert.match(log.warnings[0] as string, /pairs\.jsonl.*incomplete last line/);
    r.createPair(pair('p4'));
    r.close();
    const again = CurationStore.open(root);
    assert.deepEqual(again.listPairs().map((p) => p.id), ['p1', 'p2', 'p4'], 'appends after recovery start on a clean line');
    again.close();

    const lines = readFileSync(file, 'utf8').split('\n');
    lines[1] = '{"op":"create", broken';
    writeFileSync(file, lines.join('\n'));
    assert.throws(
      () => CurationStore.open(root),
      (e: unknown) => QxError.is(e, 'store') && /pairs\.jsonl:2: /.test(e.message) && e.line === 2,
    );
    assert.equal(existsSync(join(root, '.qx', 'lock')), false, 'a failed open leaves no lock behind');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a store from a newer schema is refused with the version and the fix', () => {
  const root = tempRoot();
  try {
    CurationStore.open(root).close();
    writeFileSync(join(root, '.qx', 'store.json'), JSON.stringify({ schemaVersion: 7, created: 't', toolVersion: '9.0.0' }));
    assert.throws(
      () => CurationStore.open(root),
      (e: unknown) => QxError.is(e, 'store') && /schema version 7/.test(e.message) && /Upgrade QX Studio/.test(e.message),
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('read-only opening works beside a writer and refuses writes', () => {
  const root = tempRoot();
  try {
    const w = CurationStore.open(root);
    w.createPair(pair('p1'));
    const ro = CurationStore.open(root, { readOnly: true });
    assert.equal(ro.getPair('p1')?.id, 'p1');
    assert.throws(() => ro.setPairState('p1', 'accepted'), (e: unknown) => QxError.is(e, 'store') && /read-only/.test(e.message));
    ro.close();
    w.close();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

interface Child {
  acks: string[];
  kill: () => Promise<void>;
  ready: Promise<void>;
  stderr: () => string;
}

function startWriter(root: string, start: number, mode: 'write' | 'hold'): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', writerScript, root, String(start), mode], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  const acks: string[] = [];
  let buf = '';
  let err = '';
  let onFirst: () => void = () => {};
  const ready = new Promise<void>((res) => (onFirst = res));
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d: string) => {
    buf += d;
    const parts = buf.split('\n');
    buf = parts.pop() ?? '';
    for (const p of parts) acks.push(p);
    if (acks.length > 0) onFirst();
  });
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((res) => child.on('exit', () => res()));
  return {
    acks,
    ready,
    stderr: () => err,
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

test('kill -9 at random moments loses no acknowledged edit and the store reopens', { timeout: 120_000 }, async () => {
  const root = tempRoot();
  try {
    const acked: string[] = [];
    for (let round = 0; round < 4; round++) {
      const child = startWriter(root, round * 1_000_000, 'write');
      await child.ready;
      await new Promise((r) => setTimeout(r, 20 + Math.floor(Math.random() * 200)));
      await child.kill();
      assert.ok(child.acks.length > 0, `round ${round}: the writer acknowledged nothing: ${child.stderr()}`);
      acked.push(...child.acks);

      const log = recordingLogger();
      const s = CurationStore.open(root, { logger: log });
      const lastNote = new Map<string, number>();
      for (const a of acked) {
        const [, kind, id, n] = a.split(' ') as [string, string, string, string];
        if (kind === 'exp') assert.ok(s.getExpansion(id), `acknowledged expansion ${id} is missing`);
        if (kind === 'pair') assert.ok(s.getPair(id), `acknowledged pair ${id} is missing`);
        if (kind === 'note') lastNote.set(id, Number(n));
      }
      for (const [id, n] of lastNote) {
        const note = s.getPair(id)?.note ?? '';
        const found = Number(note.replace('note ', ''));
        assert.ok(found >= n, `pair ${id} lost acknowledged note ${n} (has "${note}")`);
      }
      s.close();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a second process is refused while the first holds the store; a dead holder is taken over', { timeout: 60_000 }, async () => {
  const root = tempRoot();
  try {
    const holder = startWriter(root, 0, 'hold');
    await holder.ready;
    assert.throws(
      () => CurationStore.open(root),
      (e: unknown) => QxError.is(e, 'store') && /opened by process \d+ since /.test(e.message) && /Close it/.test(e.message),
    );
    await holder.kill();
    const log = recordingLogger();
    const s = CurationStore.open(root, { logger: log });
    assert.ok(log.warnings.some((w) => /is gone; taking the lock over/.test(w)), log.warnings.join('\n'));
    s.close();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('read-only opening of a store with a torn last line reads around it without touching the file', () => {
  const root = tempRoot();
  try {
    const s = CurationStore.open(root);
    s.createPair(pair('p1'));
    s.close();
    const file = join(root, '.qx', 'pairs.jsonl');
    appendFileSync(file, '{"op":"setState"');
    const before = readFileSync(file);
    const log = recordingLogger();
    const ro = CurationStore.open(root, { readOnly: true, logger: log });
    assert.deepEqual(ro.listPairs().map((p) => p.id), ['p1']);
    assert.equal(log.warnings.length, 1);
    ro.close();
    assert.ok(readFileSync(file).equals(before), 'a viewer never repairs the writer\'s file');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
