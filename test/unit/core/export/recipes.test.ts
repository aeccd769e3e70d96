import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chatTemplateFor, recipeDefaults } from '../../../../src/core/export/recipes/hyperparameters.js';
import { renderFlatYaml } from '../../../../src/core/export/recipes/llamaFactoryRecipe.js';
import { pyLiteral } from '../../../../src/core/export/recipes/trlRecipe.js';
import { QxError } from '../../../../src/core/errors.js';

const hasYaml = spawnSync('python3', ['-c', 'import yaml'], { encoding: 'utf8' }).status === 0;

test('the chat template follows the base model; Qwen3 hybrids get thinking off', () => {
  assert.deepEqual([chatTemplateFor('Qwen/Qwen3-4B').llamaFactoryTemplate, chatTemplateFor('Qwen/Qwen3-4B').thinkingOff], ['qwen3', true]);
  assert.equal(chatTemplateFor('Qwen/Qwen3-4B-Instruct-2507').llamaFactoryTemplate, 'qwen3_nothink');
  assert.deepEqual([chatTemplateFor('Qwen/Qwen2.5-7B-Instruct').llamaFactoryTemplate, chatTemplateFor('Qwen/Qwen2.5-7B-Instruct').thinkingOff], ['qwen', false]);
  assert.equal(chatTemplateFor('meta-llama/Llama-3.2-3B-Instruct').llamaFactoryTemplate, 'llama3');
  assert.equal(chatTemplateFor('acme/lm', 'gemma').llamaFactoryTemplate, 'gemma');
  assert.throws(() => chatTemplateFor('acme/lm'), (e) => QxError.is(e, 'usage') && /--lf-template/.test(e.message));
});

test('every default names a source', () => {
  for (const d of recipeDefaults) assert.ok(d.source.length > 10, d.key);
  assert.equal(recipeDefaults.find((d) => d.key === 'dpo.beta')?.value, 0.1);
});

test('Python literals round-trip through Python', { skip: hasYaml ? false : 'needs python3' }, () => {
  const value = { s: 'a "quoted"\nline é', t: true, f: false, n: null, x: 5e-6, l: [1, 'two', { k: [] }], e: {} };
  const r = spawnSync('python3', ['-c', 'import json,sys; print(json.dumps(eval(sys.stdin.read())))'], { input: pyLiteral(value), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), value);
});

test('YAML scalars parse to the same types with PyYAML (small floats stay floats, strings stay strings)', { skip: hasYaml ? false : 'needs python3 with PyYAML' }, () => {
  const entries = { lr: 5e-6, lr2: 1e-4, ratio: 0.1, epochs: 3, flag: true, name: 'null', path: 'checkpoints/sft', ver: '1.0', odd: 'a: b # c' };
  const text = renderFlatYaml(['header'], [['s', entries]]);
  const r = spawnSync('python3', ['-c', 'import json,sys,yaml; print(json.dumps(yaml.safe_load(sys.stdin.read())))'], { input: text, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), entries);
});
