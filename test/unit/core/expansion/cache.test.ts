import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ExpansionCache, cacheKey } from '../../../../src/core/expansion/cache.js';

const parts = { identity: { endpoint: 'http://x/v1', model: 'm', sampling: { temperature: 1, topP: 1 } }, templateHash: 'abc', query: 'flea', messages: [{ role: 'user', content: 'flea' }], sampleIndex: 0 };

describe('expansion cache', () => {
  it('keys on every part and not on key order', () => {
    const k = cacheKey(parts);
    assert.match(k, /^[0-9a-f]{64}$/);
    assert.equal(cacheKey({ ...parts, identity: { sampling: { topP: 1, temperature: 1 }, model: 'm', endpoint: 'http://x/v1' } }), k);
    assert.notEqual(cacheKey({ ...parts, sampleIndex: 1 }), k);
    assert.notEqual(cacheKey({ ...parts, templateHash: 'abd' }), k);
    assert.notEqual(cacheKey({ ...parts, query: 'fleas' }), k);
    assert.notEqual(cacheKey({ ...parts, identity: { ...parts.identity, sampling: { temperature: 0.7, topP: 1 } } }), k);
    assert.notEqual(cacheKey({ ...parts, identity: { ...parts.identity, endpoint: 'http://y/v1' } }), k);
  });

  it('stores one small JSON file per sample under a two-level fan-out, without temp files left', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'qx-cache-'));
    try {
      const cache = new ExpansionCache(dir);
      const key = cacheKey(parts);
      assert.equal(await cache.get(key), undefined);
      await cache.put({ key, text: 'fleas live', usage: { promptTokens: 3, completionTokens: 2 }, latencyMs: 12, createdAt: '2025-01-01T00:00:00Z' });
      assert.deepEqual(await readdir(join(dir, key.slice(0, 2), key.slice(2, 4))), [`${key}.json`]);
      assert.equal((await cache.get(key))?.text, 'fleas live');
      await cache.put({ key, text: 'again', createdAt: '2025-01-02T00:00:00Z' });
      assert.equal((await cache.get(key))?.text, 'again');
      const all = await readdir(dir, { recursive: true });
      assert.deepEqual(all.filter((f) => f.endsWith('.tmp')), []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('treats a damaged entry as a miss, so the call is made again', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'qx-cache-'));
    try {
      const cache = new ExpansionCache(dir);
      const key = cacheKey(parts);
      await cache.put({ key, text: 'x', createdAt: 'now' });
      await writeFile(join(dir, key.slice(0, 2), key.slice(2, 4), `${key}.json`), '{"key": "');
      assert.equal(await cache.get(key), undefined);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
