import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { QxError } from '../../../../src/core/errors.js';
import { examplePriceTable, loadPriceTable, parsePriceTable, priceFor, summarizeCost } from '../../../../src/core/expansion/cost.js';
import type { ExpansionRecord } from '../../../../src/core/expansion/types.js';

function rec(provider: string, model: string, method: string, promptTokens: number, completionTokens: number, latencyMs?: number, estimated = false): ExpansionRecord {
  return {
    id: `${model}-${method}-${promptTokens}-${completionTokens}`,
    qid: '1',
    query: 'q',
    method,
    role: provider === 'onnx' ? 'student' : 'teacher',
    model,
    provider,
    sampleIndex: 0,
    generated: 'g',
    formulation: 'query2doc',
    final: 'q q q q q g',
    usage: { promptTokens, completionTokens, ...(estimated ? { estimated } : {}) },
    ...(latencyMs === undefined ? {} : { latencyMs }),
    createdAt: '2025-01-01T00:00:00Z',
  };
}

describe('cost and latency accounting', () => {
  it('puts a number on teacher vs student inference', () => {
    const records = [
      rec('openai-compatible', 'gpt-4.1', 'query2doc-zs', 100_000, 500_000, 1200),
      rec('openai-compatible', 'gpt-4.1', 'query2doc-zs', 100_000, 500_000, 800),
      rec('onnx', 'qwen2.5-0.5b', 'query2doc-zs', 200_000, 1_000_000, 300),
      rec('openai-compatible', 'my-finetune', 'query2doc-zs', 10, 10),
    ];
    const rows = summarizeCost(records, examplePriceTable);
    assert.deepEqual(
      rows.map((r) => [r.provider, r.model, r.expansions, r.promptTokens, r.completionTokens, r.usd, r.wallMs, r.meanLatencyMs]),
      [
        ['onnx', 'qwen2.5-0.5b', 1, 200_000, 1_000_000, 0, 300, 300],
        // 0.2M in × $2 + 1M out × $8 = $8.40
        ['openai-compatible', 'gpt-4.1', 2, 200_000, 1_000_000, 8.4, 2000, 1000],
        ['openai-compatible', 'my-finetune', 1, 10, 10, null, 0, null],
      ],
    );
  });

  it('flags token counts estimated locally', () => {
    const [row] = summarizeCost([rec('openai-compatible', 'gpt-4.1-nano', 'hyde', 10, 10, 5, true)]);
    assert.equal(row?.estimatedTokens, true);
  });

  it('finds a price by exact name, case-insensitively, or without the org prefix', () => {
    assert.deepEqual(priceFor(examplePriceTable, 'Qwen/Qwen2.5-72B-Instruct'), examplePriceTable.models['Qwen2.5-72B-Instruct']);
    assert.deepEqual(priceFor(examplePriceTable, 'GPT-4.1'), examplePriceTable.models['gpt-4.1']);
    assert.equal(priceFor(examplePriceTable, 'unknown'), undefined);
    assert.match(examplePriceTable.note ?? '', /EXAMPLE/);
    assert.match(examplePriceTable.asOf ?? '', /^\d{4}-\d{2}-\d{2}$/);
  });

  it('a user price table is validated with the file named', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'qx-price-'));
    try {
      const file = join(dir, 'prices.json');
      await writeFile(file, JSON.stringify({ models: { mine: { inputPerMTok: 1, outputPerMTok: 2 } } }));
      const t = await loadPriceTable(file);
      assert.equal(summarizeCost([rec('openai-compatible', 'mine', 'x', 1_000_000, 1_000_000)], t)[0]?.usd, 3);
      assert.throws(() => parsePriceTable('{"models": {"m": {"inputPerMTok": "2"}}}', file), (e: unknown) => QxError.is(e, 'config') && e.file === file && /"m".*inputPerMTok/.test(e.message));
      assert.throws(() => parsePriceTable('{', file), (e: unknown) => QxError.is(e, 'config') && e.file === file);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
