// The dataset's language drives the defaults: analyzer "auto" resolves from the manifest before
// anything is keyed to it, so English workspaces keep the scores they had under "english".
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { nullLogger } from '../../../../src/core/logger.js';
import type { QxSettings } from '../../../../src/core/workspace/api.js';
import { defaultSettings, defaultTemplateId, effectiveAnalyzer, withSettings } from '../../../../src/core/workspace/settings.js';
import { openWorkspace, type Workspace } from '../../../../src/core/workspace/workspace.js';

const repo = resolve(__dirname, '../../../..');
const sample = join(repo, 'samples', 'dl19');
const signal = new AbortController().signal;
const tmp = mkdtempSync(join(tmpdir(), 'qx-lang-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const open = (dir: string, settings: QxSettings): Promise<Workspace> => openWorkspace(dir, { settings, logger: nullLogger, getApiKey: async () => undefined });

test('"auto" is the default analyzer; the language tag picks cjk for zh/ja/ko and english otherwise, an explicit choice wins', () => {
  assert.equal(defaultSettings.bm25.analyzer, 'auto');
  const auto = ['en', 'zh', 'zh-Hans', 'ja', 'ko', 'fr'].map((l) => effectiveAnalyzer('auto', l));
  assert.deepEqual(auto, ['english', 'cjk', 'cjk', 'cjk', 'cjk', 'english']);
  assert.equal(effectiveAnalyzer('english', 'zh'), 'english');
  assert.equal(effectiveAnalyzer('whitespace', 'en'), 'whitespace');
  assert.deepEqual(['en', 'zh', 'zh-TW', 'ja'].map(defaultTemplateId), ['query2doc-zs', 'query2doc-zh', 'query2doc-zh', 'query2doc-zs']);
});

test('an English workspace scored under "english" keeps its scores and index when the setting becomes "auto"', async () => {
  const dir = join(tmp, 'dl19');
  cpSync(sample, dir, { recursive: true });
  const english = withSettings({ bm25: { analyzer: 'english' } });
  let ws = await open(dir, english);
  let before: Array<number | null>;
  let key: string;
  try {
    await ws.importExpansions({ file: 'expansions/Qwen2.5-72B-Instruct.query2doc-fs.0656857b.queries.tsv', model: 'Qwen2.5-72B-Instruct', method: 'query2doc-fs', role: 'teacher' }, { signal });
    assert.equal((await ws.score({ signal })).scored, 43);
    before = ws.listQueries().map((q) => q.baseNdcg10);
    key = ws.settingsKey;
  } finally {
    await ws.close();
  }
  ws = await open(dir, defaultSettings);
  try {
    assert.equal(ws.analyzer, 'english');
    assert.equal(ws.retrievalSettings.analyzer, 'english', 'the key records the effective analyzer, never "auto"');
    assert.equal(ws.settingsKey, key);
    assert.deepEqual(ws.listQueries().map((q) => q.baseNdcg10), before, 'the scores made under "english" show under "auto"');
    assert.ok(ws.getDocument('5611210') !== undefined, 'the english index is reused, not dropped');
    assert.equal((await ws.score({ signal })).scored, 0, 'nothing to score again');
  } finally {
    await ws.close();
  }
});
