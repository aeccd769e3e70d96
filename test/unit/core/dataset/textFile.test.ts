import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lineBatches, splitLines } from '../../../../src/core/dataset/textFile.js';

async function collect(path: string): Promise<Array<[string, number]>> {
  const out: Array<[string, number]> = [];
  for await (const b of lineBatches(path)) b.lines.forEach((l, i) => out.push([l, b.first + i]));
  return out;
}

test('lineBatches: BOM dropped, CRLF and LF, no final newline, lines across 1 MB chunk boundaries, multi-byte text', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qx-lines-'));
  const long = 'é'.repeat(700_000);
  const text = '\ufeffqid\tfirst\r\n' + `${long}\n\n` + 'x'.repeat(1_500_000) + '\r\n二战\tlast';
  const f = join(dir, 'a.txt');
  writeFileSync(f, text);
  const lines = await collect(f);
  const expected = splitLines(text.slice(1));
  assert.deepEqual(lines.map(([l]) => l), expected);
  assert.deepEqual(lines.map(([, n]) => n), expected.map((_, i) => i + 1));
  assert.equal(lines.length, 5);
});
