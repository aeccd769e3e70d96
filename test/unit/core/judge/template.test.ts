import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadJudgeTemplate, resolveJudgeTemplateSpec } from '../../../../src/core/judge/template.js';

test('a shipped judge template is named as it is; any other --template or setting is a file under the base folder', async () => {
  for (const name of ['judge-binary', 'binary', 'judge-graded', 'graded']) assert.equal(resolveJudgeTemplateSpec(name, '/ws'), name);
  assert.equal(resolveJudgeTemplateSpec('prompts/my.tmpl', '/ws'), join('/ws', 'prompts', 'my.tmpl'));
  assert.equal(resolveJudgeTemplateSpec('judge-binaryish', '/ws'), join('/ws', 'judge-binaryish'));
  assert.equal((await loadJudgeTemplate(undefined)).id, 'judge-binary');
  assert.equal((await loadJudgeTemplate('binary')).id, 'judge-binary');
  assert.equal((await loadJudgeTemplate('judge-graded')).mode, 'graded');
  await assert.rejects(loadJudgeTemplate(join('/nonexistent', 'judge-graded.tmpl')), /Cannot read the judge template/);
});
