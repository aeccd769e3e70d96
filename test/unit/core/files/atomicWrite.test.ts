import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeAtomicTemps, writeFileAtomic } from '../../../../src/core/files/atomicWrite.js';

test('writeFileAtomic removes the temp file a killed writer left beside the target, never a live writer\'s', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qx-atomic-'));
  const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  try {
    // A pid that is gone: a process that has exited.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    const target = join(dir, 'train.jsonl');
    const deadTemp = `.train.jsonl.${dead}.0123abcd.tmp`;
    const liveTemp = `.train.jsonl.${live.pid}.89abcdef.tmp`;
    const otherTarget = `.other.jsonl.${dead}.0123abcd.tmp`;
    for (const f of [deadTemp, liveTemp, otherTarget]) writeFileSync(join(dir, f), '{"half a rec');
    writeFileAtomic(target, '{"a":1}\n');
    assert.equal(readFileSync(target, 'utf8'), '{"a":1}\n');
    assert.deepEqual(readdirSync(dir).sort(), [liveTemp, otherTarget, 'train.jsonl'].sort());
  } finally {
    live.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writeFileAtomic writes several buffers in order as one file; removeAtomicTemps with includeLive also removes a live pid\'s temp', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qx-atomic-'));
  try {
    const target = join(dir, 'store.checkpoint');
    writeFileAtomic(target, [Buffer.from('head'), new Uint8Array([0x2c, 0x2d]), Buffer.from('body')]);
    assert.equal(readFileSync(target, 'latin1'), 'head,-body');
    const liveTemp = `.store.checkpoint.${process.ppid}.89abcdef.tmp`;
    writeFileSync(join(dir, liveTemp), 'half');
    removeAtomicTemps(target);
    assert.ok(readdirSync(dir).includes(liveTemp), 'a live writer\'s temp stays without includeLive');
    removeAtomicTemps(target, { includeLive: true });
    assert.deepEqual(readdirSync(dir), ['store.checkpoint']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
