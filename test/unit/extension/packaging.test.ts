// What the .vsix would hold, as `vsce ls` reports it (the same file walk and .vscodeignore rules as
// `vsce package`): what the installed extension needs is in, sources, tests, tools, workspaces and
// source maps are out, and the lazily loaded bundles work from a copy of exactly those files.
// `npm test` builds first; run `npm run build` before running this file on its own.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { countTokens } from '../../../src/core/expansion/tokenCount.js';

const execFileAsync = promisify(execFile);
const root = path.resolve(__dirname, '../../..');
const tools = path.join(root, '.tools');
// @vscode/vsce 4 needs Node >= 22: the Node 24 that scripts/setupTools.mjs installs (its `node24`,
// in QX_TOOLS_DIR or .tools).
const toolsDir = path.resolve(process.env.QX_TOOLS_DIR ?? tools);
const node24 = path.join(toolsDir, 'node_modules', 'node', 'node_modules', `node-${process.platform}-${process.arch}`, 'bin', 'node');
const vsce = path.join(root, 'node_modules', '@vscode', 'vsce', 'vsce');
const sample = path.join(root, 'samples', 'dl19');
const skip = !existsSync(node24)
  ? 'Node 24 for @vscode/vsce is not installed: node scripts/setupTools.mjs'
  : !existsSync(path.join(root, 'dist', 'extension.js'))
    ? 'dist/ is not built (npm run build)'
    : false;

interface Manifest {
  license: string;
  icon?: string;
  contributes: Record<string, unknown>;
}
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as Manifest;

/** Every file path package.json's contributions point at (icons, walkthrough media), by walking it. */
function referencedMedia(node: unknown, out: Set<string>): Set<string> {
  if (typeof node === 'string') {
    if (/^media\/.+\.\w+$/.test(node)) out.add(node);
  } else if (Array.isArray(node)) {
    for (const v of node) referencedMedia(v, out);
  } else if (node !== null && typeof node === 'object') {
    for (const v of Object.values(node)) referencedMedia(v, out);
  }
  return out;
}

/** The files "Open Sample Workspace" reads: the manifest, what it names, and the demo.json imports. */
function sampleFiles(): string[] {
  const manifest = JSON.parse(readFileSync(path.join(sample, 'qx.dataset.json'), 'utf8')) as Record<string, unknown>;
  const named = ['topics', 'qrels', 'corpus'].map((k) => (manifest[k] as { path: string }).path);
  const demo = JSON.parse(readFileSync(path.join(sample, 'demo.json'), 'utf8')) as { imports: { file: string }[] };
  const licenses = readdirSync(path.join(sample, 'licenses')).map((f) => `licenses/${f}`);
  return ['qx.dataset.json', 'demo.json', 'PROVENANCE.md', ...named, ...demo.imports.map((i) => i.file), ...licenses].map((f) => `samples/dl19/${f}`);
}

describe('the packaged extension (vsce ls)', { skip, timeout: 120_000 }, () => {
  let tmp = '';
  let files: string[] = [];

  before(() => {
    tmp = mkdtempSync(path.join(tmpdir(), 'qx-pack-'));
    // vsce compiles every .vscodeignore pattern anew for each file it walks (a few ms a file), and
    // .tools (the VS Code server, ~12,000 files) would double the walk. So vsce walks a mirror of
    // the repo made of symlinks, with .tools cut down to its top-level files (enough to catch a
    // line that lets .tools in) and, as after opening the sample in place, a .qx/ in the sample.
    const mirror = path.join(tmp, 'repo');
    mkdirSync(mirror);
    for (const e of readdirSync(root)) {
      if (e !== '.git' && e !== '.tools' && e !== 'samples') symlinkSync(path.join(root, e), path.join(mirror, e));
    }
    if (existsSync(tools)) {
      mkdirSync(path.join(mirror, '.tools'));
      for (const e of readdirSync(tools)) if (statSync(path.join(tools, e)).isFile()) symlinkSync(path.join(tools, e), path.join(mirror, '.tools', e));
    }
    mkdirSync(path.join(mirror, 'samples', 'dl19', '.qx'), { recursive: true });
    writeFileSync(path.join(mirror, 'samples', 'dl19', '.qx', 'store.json'), '{}\n');
    for (const e of readdirSync(path.join(root, 'samples'))) if (e !== 'dl19') symlinkSync(path.join(root, 'samples', e), path.join(mirror, 'samples', e));
    for (const e of readdirSync(sample)) if (e !== '.qx') symlinkSync(path.join(sample, e), path.join(mirror, 'samples', 'dl19', e));

    const r = spawnSync(node24, [vsce, 'ls', '--follow-symlinks'], { cwd: mirror, encoding: 'utf8', timeout: 110_000 });
    assert.equal(r.status, 0, `vsce ls failed: ${r.stderr}${r.error?.message ?? ''}`);
    files = r.stdout.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  });

  after(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test('holds the bundles, every prompt template, the sample Open Sample imports, the icons and the licence', () => {
    const templates = readdirSync(path.join(root, 'src/core/expansion/templates')).filter((f) => f.endsWith('.tmpl'));
    assert.ok(templates.length > 0);
    const media = referencedMedia(pkg.contributes, new Set(pkg.icon === undefined ? [] : [pkg.icon]));
    assert.ok([...media].some((m) => m.endsWith('.png')) && [...media].some((m) => m.endsWith('.svg')), 'package.json names the icons');
    const wanted = [
      'package.json',
      'README.md',
      'LICENSE',
      'dist/extension.js',
      'dist/workspace.js',
      'dist/scoreWorker.js',
      'dist/indexWorker.js',
      'dist/searchWorker.js',
      'dist/webview.js',
      ...templates.map((t) => `dist/templates/${t}`),
      ...sampleFiles(),
      ...media,
    ];
    assert.deepEqual(wanted.filter((f) => !files.includes(f)), [], 'missing from the package');
  });

  test('holds every file a packaged bundle imports at run time', () => {
    const bundles = files.filter((f) => /^dist\/[^/]+\.js$/.test(f));
    const imported = bundles.flatMap((b) => [...readFileSync(path.join(root, b), 'utf8').matchAll(/\b(?:import|require)\("(\.\.?\/[^"]+)"\)/g)].map((m) => path.posix.join('dist', m[1]!)));
    assert.ok(imported.includes('dist/workspace.js') && imported.includes('dist/tokenizer-qwen3.js'), `lazy bundles: ${imported.join(', ')}`);
    assert.deepEqual(imported.filter((f) => !files.includes(f)), [], 'imported but not packaged');
  });

  test('leaves out sources, tests, benchmarks, tools, workspaces, the sample generator and source maps', () => {
    const out = files.filter((f) => /^(src|test|bench|webview|scripts|tools|\.tools)\//.test(f) || f.split('/').includes('.qx') || /\.map$|\.d\.[cm]?ts$/.test(f) || f === 'samples/dl19/make.mjs');
    assert.deepEqual(out, []);
  });

  test('the Qwen3 tokenizer bundle counts tokens from a copy of the packaged dist/ alone', async () => {
    // No node_modules in the copy: the bundle must carry everything it needs.
    const installed = path.join(tmp, 'extension');
    for (const f of files.filter((f) => f.startsWith('dist/'))) cpSync(path.join(root, f), path.join(installed, f));
    const text = 'Hello world, how long is life cycle of flea';
    // Loaded as dist/workspace.js loads it: import() of the CommonJS bundle, then its named export.
    const probe = `import(require('node:url').pathToFileURL('dist/tokenizer-qwen3.js').href).then((m) => process.stdout.write(String(m.fromPreTrained().encode(${JSON.stringify(text)}, { add_special_tokens: false }).length)))`;
    const child = execFileAsync(process.execPath, ['-e', probe], { cwd: installed, encoding: 'utf8' });
    const [expected, { stdout }] = await Promise.all([countTokens(text), child]);
    assert.ok(expected > 0);
    assert.equal(Number(stdout), expected);
  });
});

test('LICENSE is the licence package.json names', () => {
  const text = readFileSync(path.join(root, 'LICENSE'), 'utf8');
  assert.match(text.split('\n')[0]!, new RegExp(`^${pkg.license} License$`));
  assert.match(text, /^Copyright \(c\) \d{4} QX Studio authors$/m);
});
