import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../../../../src/core/export/atomicWrite.js';

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
