import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { countTokens } from '../../../../src/core/expansion/tokenCount.js';

describe('countTokens (Qwen3 tokenizer, loaded on first use)', () => {
  it('counts BPE tokens, not words', async () => {
    assert.equal(await countTokens('Hello world, how long is life cycle of flea'), 10);
    assert.equal(await countTokens(''), 0);
    const zh = await countTokens('月球是地球唯一的天然卫星');
    assert.ok(zh > 1 && zh < 12, `${zh} tokens`);
  });
});
