import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { QxError } from '../../../../src/core/errors.js';
import { createExpander } from '../../../../src/core/expansion/factory.js';
import { defaultSettings } from '../../../../src/core/workspace/settings.js';
import { startFakeChatServer } from '../../../fixtures/llm/fakeChatServer.js';

const endpoint = { baseUrl: '', model: 'teacher-model', temperature: 0.5, topP: 0.8, maxTokens: 40, seed: 3, samples: 1, extraBody: { top_k: 5 } };

describe('createExpander', () => {
  it('builds the OpenAI-compatible teacher from the settings', async () => {
    const server = await startFakeChatServer();
    try {
      const e = createExpander('teacher', { ...endpoint, baseUrl: server.baseUrl }, { getApiKey: () => 'k', concurrency: 2 });
      assert.equal(e.provider, 'openai-compatible');
      const out = await e.expand([{ key: 'a', messages: [{ role: 'user', content: 'Query: x' }], n: 1 }], { signal: new AbortController().signal });
      assert.equal(out[0]?.ok, true);
      assert.deepEqual(
        { t: server.bodies[0]?.temperature, p: server.bodies[0]?.top_p, m: server.bodies[0]?.max_tokens, s: server.bodies[0]?.seed, k: server.bodies[0]?.top_k },
        { t: 0.5, p: 0.8, m: 40, s: 3, k: 5 },
      );
    } finally {
      await server.close();
    }
  });

  it('the default student is Qwen3-4B with thinking turned off, and stores only its answer', async () => {
    const server = await startFakeChatServer();
    try {
      const e = createExpander('student', { ...defaultSettings.student, baseUrl: server.baseUrl }, { getApiKey: () => 'local' });
      const out = await e.expand([{ key: 'a', messages: [{ role: 'user', content: 'Query: flea [think]' }], n: 1 }], { signal: new AbortController().signal });
      assert.equal(server.bodies[0]?.model, 'Qwen/Qwen3-4B');
      assert.deepEqual(server.bodies[0]?.chat_template_kwargs, { enable_thinking: false });
      assert.deepEqual(out[0]?.ok === true ? out[0].texts : out[0], ['flea [think] passage r1 s0']);
    } finally {
      await server.close();
    }
  });

  it('an ONNX student without a model folder is a config error', () => {
    assert.throws(() => createExpander('student', { ...endpoint, kind: 'onnx' }, { getApiKey: () => undefined }), (e: unknown) => QxError.is(e, 'config') && /model folder/.test(e.message));
    assert.equal(createExpander('student', { ...endpoint, kind: 'onnx', modelPath: '/nonexistent/tiny', model: '' }, { getApiKey: () => undefined }).model, 'tiny');
  });
});
