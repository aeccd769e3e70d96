import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JUDGMENTS_DIR, listJudgmentFiles } from '../../../../src/core/judge/store.js';

test('listJudgmentFiles: the judgments files of a workspace, last written first (the one qx report uses); none without the folder', () => {
  const root = mkdtempSync(join(tmpdir(), 'qx-judgments-'));
  try {
    assert.deepEqual(listJudgmentFiles(root), []);
    const dir = join(root, JUDGMENTS_DIR);
    mkdirSync(dir, { recursive: true });
    const at = (name: string, seconds: number): string => {
      const f = join(dir, name);
      writeFileSync(f, '');
      utimesSync(f, seconds, seconds);
      return f;
    };
    const old = at('a-judge.judge-binary-00000000.jsonl', 1_000);
    const newest = at('b-judge.judge-graded-11111111.jsonl', 3_000);
    const middle = at('c-judge.judge-binary-22222222.jsonl', 2_000);
    writeFileSync(join(dir, 'notes.txt'), 'not a judgments file');
    assert.deepEqual(listJudgmentFiles(root), [newest, middle, old]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
