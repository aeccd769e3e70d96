// The same in-host integration suite as scripts/testIntegration.mjs, run in a desktop VS Code that
// @vscode/test-electron downloads at run time. NEEDS INTERNET (update.code.visualstudio.com) and a
// display (on a headless Linux: `xvfb-run -a npm run test:electron`); CI does not run it, CI runs
// the offline `npm run test:integration`.
// Usage: node scripts/testElectron.mjs [--folder DIR] [--grep TEXT] [--version stable|insiders|1.x.y]
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runTests } from '@vscode/test-electron';
import { isolatedEnv, repoRoot } from './setupTools.mjs';
import { bundleSuite, copyWorkspace, fail } from './testIntegration.mjs';

const { values: opts } = parseArgs({
  options: {
    folder: { type: 'string', default: join(repoRoot, 'samples', 'dl19') },
    grep: { type: 'string', default: process.env.QX_IT_GREP ?? '' },
    version: { type: 'string', default: process.env.QX_VSCODE_VERSION ?? 'stable' },
  },
});

const { outfile, files } = await bundleSuite();
console.log(`electron: bundled ${files.length} test file(s); downloading VS Code ${opts.version} into .vscode-test/ unless cached (needs internet)`);
const tmp = mkdtempSync(join(tmpdir(), 'qx-electron-'));
const workspace = copyWorkspace(opts.folder, tmp);
mkdirSync(join(tmp, 'user-data'));
mkdirSync(join(tmp, 'extensions'));
const { env, cleanup } = isolatedEnv();
let code = 1;
try {
  code = await runTests({
    version: opts.version,
    extensionDevelopmentPath: repoRoot,
    extensionTestsPath: outfile,
    extensionTestsEnv: { QX_IT_GREP: opts.grep, XDG_CONFIG_HOME: env.XDG_CONFIG_HOME, XDG_DATA_HOME: env.XDG_DATA_HOME },
    launchArgs: [
      workspace,
      '--disable-workspace-trust',
      '--disable-telemetry',
      '--skip-welcome',
      '--skip-release-notes',
      '--user-data-dir', join(tmp, 'user-data'),
      '--extensions-dir', join(tmp, 'extensions'),
    ],
  });
} catch (e) {
  const message = e instanceof Error ? e.message : String(e);
  const offline = /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|getaddrinfo|fetch failed/i.test(message);
  cleanup();
  rmSync(tmp, { recursive: true, force: true });
  fail(offline
    ? `could not download VS Code (${message}). test:electron needs internet; offline, run \`npm run test:integration\` instead.`
    : `VS Code exited abnormally: ${message}`);
}
cleanup();
rmSync(tmp, { recursive: true, force: true });
process.exit(code);
