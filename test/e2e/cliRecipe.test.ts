import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type QxRun, runQx } from './runQx.js';

/*
 * `qx export --recipe` on the DL19 sample. The sample's queries are evaluation queries, so the
 * workspace here relabels them `split: train` to get a recipe at all (a test of the files, not
 * advice); the untouched sample is used to check the refusals.
 */

const repo = resolve(__dirname, '../..');
const sample = join(repo, 'samples', 'dl19');
const tmp = mkdtempSync(join(tmpdir(), 'qx-recipe-e2e-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const qx = (argv: string[]): Promise<QxRun> => runQx(argv, { cwd: tmp });

const python = spawnSync('python3', ['-c', 'import yaml, ast, py_compile'], { encoding: 'utf8' });
const noPython = python.status === 0 ? false : 'needs python3 with PyYAML (python3 -c "import yaml") to compile the script and parse the YAML';

function py(code: string, ...args: string[]): string {
  return execFileSync('python3', ['-c', code, ...args], { encoding: 'utf8' });
}

function readJsonl(file: string): Record<string, unknown>[] {
  return readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

const JSON_TYPES: Record<string, (v: unknown) => boolean> = { list: Array.isArray, str: (v) => typeof v === 'string', dict: (v) => v !== null && typeof v === 'object' && !Array.isArray(v) };

const teacherFs = join(sample, 'expansions', 'Qwen2.5-72B-Instruct.query2doc-fs.0656857b.queries.tsv');
const teacherZs = join(sample, 'expansions', 'Qwen2.5-72B-Instruct.query2doc-zs.65ab718c.queries.tsv');
const studentFs = join(sample, 'expansions', 'Qwen2.5-7B-Instruct.query2doc-fs.79962ac6.queries.tsv');

async function workspace(name: string, split: string | null): Promise<string> {
  const ws = join(tmp, name);
  assert.equal((await qx(['init', '--manifest', join(sample, 'qx.dataset.json'), '--workspace', ws])).code, 0);
  if (split !== null) {
    const file = join(ws, 'qx.dataset.json');
    writeFileSync(file, JSON.stringify({ ...(JSON.parse(readFileSync(file, 'utf8')) as object), split }, null, 2));
  }
  for (const [file, role, model, method] of [
    [teacherFs, 'teacher', 'Qwen2.5-72B-Instruct', 'query2doc-fs'],
    [teacherZs, 'teacher', 'Qwen2.5-72B-Instruct', 'query2doc-zs'],
    [studentFs, 'student', 'Qwen2.5-7B-Instruct', 'query2doc-fs'],
  ] as const) {
    const r = await qx(['import', file, '--workspace', ws, '--model', model, '--method', method, '--role', role]);
    assert.equal(r.code, 0, r.stderr);
  }
  assert.equal((await qx(['score', '--workspace', ws])).code, 0);
  assert.equal((await qx(['pairs', '--workspace', ws])).code, 0);
  return ws;
}

describe('qx export --recipe on the DL19 sample (relabelled as training queries)', () => {
  let ws = '';
  before(async () => {
    ws = await workspace('train', 'train');
  });

  test('trl: the script compiles, --check accepts the data, its columns match the records, every file it names exists', { skip: noPython }, async () => {
    const dir = join(tmp, 'trl');
    const r = await qx(['export', '--workspace', ws, '--recipe', 'trl', '--out', dir, '--base-model', 'Qwen/Qwen3-4B', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const res = JSON.parse(r.stdout) as { files: string[]; sftRecords: number; dpoRecords: number };
    assert.ok(res.sftRecords > 0 && res.dpoRecords > 0);
    assert.deepEqual(res.files, readdirSync(dir).sort(), 'the result lists exactly the files in the folder');
    for (const f of ['train_trl.py', 'README.md', 'serve.sh', 'recipe.json', 'sft.jsonl', 'dpo.jsonl', 'sft.jsonl.manifest.json', 'dpo.jsonl.manifest.json']) assert.ok(res.files.includes(f), f);

    execFileSync('python3', ['-m', 'py_compile', join(dir, 'train_trl.py')]);
    const check = execFileSync('python3', [join(dir, 'train_trl.py'), '--check'], { encoding: 'utf8', cwd: tmp });
    assert.equal(check.trim(), `data ok: sft.jsonl ${res.sftRecords} records, dpo.jsonl ${res.dpoRecords} records`);

    // The script's own constants, read with Python's parser, against the records.
    const constants = JSON.parse(
      py(
        `import ast, json, sys
tree = ast.parse(open(sys.argv[1]).read())
print(json.dumps({t.id: ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name) and t.id.isupper() and t.id != "HERE" and t.id != "JSON_TYPES"}))`,
        join(dir, 'train_trl.py'),
      ),
    ) as { BASE_MODEL: string; SFT_FILE: string; DPO_FILE: string; CHAT_TEMPLATE_KWARGS: Record<string, unknown>; EXPECTED_COLUMNS: Record<string, Record<string, string>>; DPO: { beta: number }; PROMPT_TEMPLATE: { id: string } };
    assert.equal(constants.BASE_MODEL, 'Qwen/Qwen3-4B');
    assert.deepEqual(constants.CHAT_TEMPLATE_KWARGS, { enable_thinking: false }, 'thinking off for a Qwen3 student');
    assert.equal(constants.DPO.beta, 0.1);
    assert.equal(constants.PROMPT_TEMPLATE.id, 'query2doc-zs');
    assert.deepEqual(Object.keys(constants.EXPECTED_COLUMNS).sort(), [constants.DPO_FILE, constants.SFT_FILE].sort());
    for (const [file, columns] of Object.entries(constants.EXPECTED_COLUMNS)) {
      assert.ok(existsSync(join(dir, file)), file);
      const records = readJsonl(join(dir, file));
      for (const [i, rec] of records.entries()) for (const [col, kind] of Object.entries(columns)) assert.ok(JSON_TYPES[kind]?.(rec[col]), `${file}:${i + 1} ${col} is a ${kind}`);
    }
    const dpo = readJsonl(join(dir, 'dpo.jsonl'));
    assert.equal(dpo.length, res.dpoRecords);
    assert.match(JSON.stringify(dpo[0]?.prompt), /Write a passage that answers the given query/, 'the prompt is the zero-shot template');

    const manifest = JSON.parse(readFileSync(join(dir, 'dpo.jsonl.manifest.json'), 'utf8')) as { format: string; leakage: { evalQueriesInExport: string[] } };
    assert.equal(manifest.format, 'trl-conversational');
    assert.deepEqual(manifest.leakage.evalQueriesInExport, []);

    // --check fails, naming the file and line, on a record without a column the script reads.
    const broken = join(tmp, 'trl-broken');
    cpSync(dir, broken, { recursive: true });
    const lines = readFileSync(join(broken, 'dpo.jsonl'), 'utf8').split('\n');
    const second = JSON.parse(lines[1] as string) as Record<string, unknown>;
    delete second.rejected;
    lines[1] = JSON.stringify(second);
    writeFileSync(join(broken, 'dpo.jsonl'), lines.join('\n'));
    const bad = spawnSync('python3', [join(broken, 'train_trl.py'), '--check'], { encoding: 'utf8' });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /dpo\.jsonl:2: column 'rejected' must be a list/);

    const readme = readFileSync(join(dir, 'README.md'), 'utf8');
    for (const f of readme.match(/`[\w./-]+\.(?:jsonl|py|sh|json|yaml|md)`/g) ?? []) assert.ok(existsSync(join(dir, f.slice(1, -1))), `README names ${f}`);
    assert.match(readme, /needs a CUDA GPU/);
    assert.match(readme, /\| dpo\.beta \| 0\.1 \|.*Rafailov et al\. 2023/);
    const serve = readFileSync(join(dir, 'serve.sh'), 'utf8');
    execFileSync('sh', ['-n', join(dir, 'serve.sh')]);
    assert.match(serve, /vllm serve checkpoints\/final \\\n\s+--served-model-name Qwen3-4B-qx-trl/);
    assert.match(serve, /--default-chat-template-kwargs '\{"enable_thinking": false\}'/);
  });

  test('llama-factory: the YAML parses, names datasets dataset_info.json holds, with columns the records have', { skip: noPython }, async () => {
    const dir = join(tmp, 'lf');
    const r = await qx(['export', '--workspace', ws, '--recipe', 'llama-factory', '--out', dir, '--base-model', 'Qwen/Qwen3-4B', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const res = JSON.parse(r.stdout) as { files: string[] };
    const yamls = res.files.filter((f) => f.endsWith('.yaml'));
    assert.deepEqual(yamls, ['llamafactory_dpo.yaml', 'llamafactory_merge_dpo.yaml', 'llamafactory_merge_sft.yaml', 'llamafactory_sft.yaml']);
    const parsed = JSON.parse(py('import json, sys, yaml\nprint(json.dumps({f: yaml.safe_load(open(f)) for f in sys.argv[1:]}))', ...yamls.map((f) => join(dir, f)))) as Record<string, Record<string, unknown>>;
    const y = (f: string): Record<string, unknown> => parsed[join(dir, f)] as Record<string, unknown>;
    const sft = y('llamafactory_sft.yaml');
    const dpo = y('llamafactory_dpo.yaml');
    assert.equal(sft.stage, 'sft');
    assert.equal(dpo.stage, 'dpo');
    assert.equal(dpo.pref_beta, 0.1);
    assert.equal(dpo.pref_loss, 'sigmoid');
    assert.equal(typeof dpo.learning_rate, 'number', 'learning rates parse as numbers, not strings');
    assert.equal(dpo.learning_rate, 5e-6);
    assert.equal(sft.template, 'qwen3');
    assert.equal(sft.enable_thinking, false);
    assert.equal(y('llamafactory_merge_sft.yaml').export_dir, dpo.model_name_or_path, 'DPO starts from the merged SFT model');
    assert.equal(y('llamafactory_merge_sft.yaml').adapter_name_or_path, sft.output_dir);
    assert.equal(y('llamafactory_merge_dpo.yaml').adapter_name_or_path, dpo.output_dir);

    const info = JSON.parse(readFileSync(join(dir, 'dataset_info.json'), 'utf8')) as Record<string, { file_name: string; columns: Record<string, string>; tags?: Record<string, string>; ranking?: boolean }>;
    for (const stage of [sft, dpo]) {
      assert.equal(stage.dataset_dir, '.');
      const entry = info[stage.dataset as string];
      assert.ok(entry, `dataset_info.json has ${String(stage.dataset)}`);
      const records = readJsonl(join(dir, entry.file_name));
      for (const [i, rec] of records.entries()) {
        for (const col of Object.values(entry.columns)) {
          if (col === 'system' && rec.system === undefined) continue;
          assert.ok(rec[col] !== undefined, `${entry.file_name}:${i + 1} has column ${col}`);
        }
        if (entry.tags !== undefined) {
          const turns = rec[entry.columns.messages as string] as Record<string, string>[];
          const roles = new Set([entry.tags.user_tag, entry.tags.assistant_tag, entry.tags.system_tag]);
          for (const t of turns) assert.ok(roles.has(t[entry.tags.role_tag as string]) && typeof t[entry.tags.content_tag as string] === 'string', `${entry.file_name}:${i + 1} turn`);
        }
      }
    }
    assert.equal(info.dpo?.ranking, true);
    const run = readFileSync(join(dir, 'train_llamafactory.sh'), 'utf8');
    execFileSync('sh', ['-n', join(dir, 'train_llamafactory.sh')]);
    for (const f of run.match(/llamafactory-cli (?:train|export) (\S+)/g) ?? []) assert.ok(existsSync(join(dir, f.split(' ')[2] as string)), f);
    assert.equal((run.match(/llamafactory-cli/g) ?? []).length, 4);
  });

  test('a folder holding a recipe of the other kind is refused; the same kind is rewritten', { skip: noPython }, async () => {
    const dir = join(tmp, 'trl');
    const before = readFileSync(join(dir, 'dpo.jsonl'), 'utf8');
    const r = await qx(['export', '--workspace', ws, '--recipe', 'llama-factory', '--out', dir, '--base-model', 'Qwen/Qwen3-4B']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /holds a trl recipe/);
    assert.equal(readFileSync(join(dir, 'dpo.jsonl'), 'utf8'), before);
    const again = await qx(['export', '--workspace', ws, '--recipe', 'trl', '--out', dir, '--base-model', 'Qwen/Qwen3-4B']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(readFileSync(join(dir, 'dpo.jsonl'), 'utf8'), before, 'the same pairs export byte-identically');
  });

  test('--allow-eval-queries is refused and nothing is written', async () => {
    const dir = join(tmp, 'refused');
    const r = await qx(['export', '--workspace', ws, '--recipe', 'trl', '--out', dir, '--allow-eval-queries']);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /never written for an export made with --allow-eval-queries/);
    assert.equal(existsSync(dir), false);
  });

  test('an unknown base model without --lf-template is a usage error', async () => {
    const r = await qx(['export', '--workspace', ws, '--recipe', 'llama-factory', '--out', join(tmp, 'unknown'), '--base-model', 'acme/tiny-lm']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no known chat template.*--lf-template/);
  });
});

test('on the evaluation split the recipe is refused and the folder is left as it was', async () => {
  const ws = await workspace('eval', null);
  const dir = join(tmp, 'evalrecipe');
  const r = await qx(['export', '--workspace', ws, '--recipe', 'trl', '--out', dir]);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /leak the evaluation set/);
  assert.deepEqual(readdirSync(dir), [], 'no data file and no staging folder left behind');
});
