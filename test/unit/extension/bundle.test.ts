// dist/extension.js as VS Code loads it: activation must not load a native addon or the pipeline.
// `npm test` builds first; run `npm run build` before running this file on its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import Module from 'node:module';
import * as path from 'node:path';

const root = path.resolve(__dirname, '../../..');
const bundle = path.join(root, 'dist/extension.js');

test('loading dist/extension.js requires neither onnxruntime-node, @huggingface/transformers nor the pipeline bundle', { skip: existsSync(bundle) ? false : 'dist/extension.js is not built (npm run build)' }, () => {
  const loaded: string[] = [];
  const mod = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
  const original = mod._load;
  mod._load = function (request: string, ...rest: unknown[]) {
    loaded.push(request);
    if (request === 'vscode') return {};
    return original.call(this, request, ...rest);
  };
  try {
    const exports = require(bundle) as { activate?: unknown };
    assert.equal(typeof exports.activate, 'function');
    const forbidden = loaded.filter((r) => /onnxruntime|@huggingface|sharp|workspace\.js$/.test(r));
    assert.deepEqual(forbidden, [], 'loaded at activation');
    assert.ok(statSync(bundle).size < 500_000, `dist/extension.js is ${statSync(bundle).size} bytes: the pipeline was bundled into it`);
  } finally {
    mod._load = original;
  }
});
