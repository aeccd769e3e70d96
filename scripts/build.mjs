// One esbuild script, four bundles: the extension host (cjs, node), the pipeline it loads on first
// use (dist/workspace.js), the CLI (node, with a shebang) and the webview (browser). `vscode` and
// native addons stay external and are loaded at run time.
import * as esbuild from 'esbuild';
import { chmodSync, cpSync } from 'node:fs';

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');
const nativeExternals = ['onnxruntime-node', '@huggingface/transformers', 'sharp'];

const common = { bundle: true, sourcemap: !production, minify: production, logLevel: 'warning' };

// The extension's `import('../core/workspace/workspace.js')` stays a separate file: the pipeline
// (with an 8 MB tokenizer) is parsed when a workspace is first opened, not at activation.
const lazyWorkspace = {
  name: 'lazy-workspace',
  setup(build) {
    build.onResolve({ filter: /core\/workspace\/workspace\.js$/ }, (args) => (args.kind === 'dynamic-import' ? { path: './workspace.js', external: true } : undefined));
  },
};

const targets = [
  { ...common, entryPoints: ['src/extension/extension.ts'], outfile: 'dist/extension.js', platform: 'node', format: 'cjs', target: 'node20', external: ['vscode', ...nativeExternals], plugins: [lazyWorkspace] },
  { ...common, entryPoints: ['src/core/workspace/workspace.ts'], outfile: 'dist/workspace.js', platform: 'node', format: 'cjs', target: 'node20', external: [...nativeExternals] },
  { ...common, entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js', platform: 'node', format: 'cjs', target: 'node20', external: [...nativeExternals], banner: { js: '#!/usr/bin/env node' } },
  { ...common, entryPoints: ['webview/main.ts'], outfile: 'dist/webview.js', platform: 'browser', format: 'esm', target: 'es2022' },
];

for (const t of targets) {
  if (watch) (await esbuild.context(t)).watch();
  else await esbuild.build(t);
}
if (!watch) chmodSync('dist/cli.js', 0o755);
// Shipped prompt templates are read at run time from <bundle dir>/templates (see shippedTemplateDir()).
cpSync('src/core/expansion/templates', 'dist/templates', { recursive: true });
