import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { StoreLock } from '../../../../src/core/files/lock.js';
import { CurationStore } from '../../../../src/core/curation/store.js';
import { QxError } from '../../../../src/core/errors.js';
import type { Logger } from '../../../../src/core/logger.js';

const repoRoot = resolve(__dirname, '../../../..');
const cyclerScript = join(repoRoot, 'test/fixtures/files/lockCycler.ts');

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'qx-lock-'));
}

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, trace() {}, debug() {}, info() {}, warn: (m: string) => void warnings.push(m), error() {} };
}

/** The id of a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

test('an unreadable lock file is respected while fresh (a writer without hard links may be writing it) and taken over with a warning once old', () => {
  const root = tempDir();
  try {
    CurationStore.open(root).close();
    const lock = join(root, '.qx', 'lock');
    // What an older QX Studio killed between creating and writing its lock left behind, or a
    // lock being written in place on a file system without hard links.
    writeFileSync(lock, '');
    assert.throws(() => CurationStore.open(root), (e: unknown) => QxError.is(e, 'store') && /being opened by another process right now/.test(e.message) && /Wait a moment/.test(e.message));
    writeFileSync(lock, '{"pid":');
    const old = new Date(Date.now() - 60_000);
    utimesSync(lock, old, old);
    const log = recordingLogger();
    CurationStore.open(root, { logger: log }).close();
    assert.ok(log.warnings.some((w) => /unreadable lock file, taking it over/.test(w)), log.warnings.join('\n'));
    assert.equal(existsSync(lock), false, 'closing releases the taken-over lock');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a temp lock file left by a process killed before linking it is removed; a live process\'s is kept', () => {
  const dir = tempDir();
  try {
    const file = join(dir, 'lock');
    const dead = `.lock.${deadPid()}.0badf00d.tmp`;
    const live = `.lock.${process.ppid}.0000beef.tmp`;
    writeFileSync(join(dir, dead), '{"pid":1,"host":"h","started":"t"}\n');
    writeFileSync(join(dir, live), '{"pid":1,"host":"h","started":"t"}\n');
    const lock = StoreLock.acquire(file, recordingLogger());
    assert.deepEqual(readdirSync(dir).sort(), [live, 'lock'].sort());
    lock.release();
    assert.deepEqual(readdirSync(dir), [live]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('kill -9 at any moment of taking or releasing the lock: the next process takes it at once, and no temp file stays', { timeout: 120_000 }, async () => {
  const dir = tempDir();
  try {
    const file = join(dir, 'lock');
    for (let round = 0; round < 12; round++) {
      const child = spawn(process.execPath, ['--import', 'tsx', cyclerScript, file], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const exited = new Promise<void>((res) => child.on('exit', () => res()));
      await new Promise<void>((res, rej) => {
        child.stdout.once('data', () => res());
        child.once('exit', () => rej(new Error(`the lock cycler exited early: ${err}`)));
      });
      await new Promise((r) => setTimeout(r, 5 + Math.floor(Math.random() * 40)));
      child.kill('SIGKILL');
      await exited;
      const log = recordingLogger();
      const lock = StoreLock.acquire(file, log);
      lock.release();
      assert.deepEqual(readdirSync(dir), [], `round ${round}: ${readdirSync(dir).join(', ')}`);
      for (const w of log.warnings) assert.match(w, /is gone; taking the lock over/, `round ${round}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('where hard links fail (EPERM, as on FAT), the lock is written in place: taken, refused to a second taker, released; no temp file stays', (t) => {
  const dir = tempDir();
  // The lock module calls fs.linkSync through the module object, so replacing it here is what a
  // file system without hard links does to it.
  const fs = require('node:fs') as typeof import('node:fs');
  const link = t.mock.method(fs, 'linkSync', () => {
    throw Object.assign(new Error('EPERM: operation not permitted, link'), { code: 'EPERM' });
  });
  try {
    const file = join(dir, 'lock');
    const lock = StoreLock.acquire(file, recordingLogger());
    assert.ok(link.mock.callCount() >= 1, 'the lock tried a hard link first');
    assert.deepEqual(readdirSync(dir), ['lock']);
    assert.equal((JSON.parse(readFileSync(file, 'utf8')) as { pid: number }).pid, process.pid);
    assert.throws(() => StoreLock.acquire(file, recordingLogger()), /is opened by process \d+ since/);
    lock.release();
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
