// Entry point VS Code loads as extensionTestsPath. scripts/testIntegration.mjs bundles it together
// with every test/integration/suite/*.test.ts (imported first, so their tests are registered).
import { existsSync } from 'node:fs';
import { runRegistered, summaryLine } from './runner.js';

// VS Code tears the extension host down once run() settles, so the launcher's screenshot of the
// live workbench is taken in between: it writes QX_IT_SCREENSHOT_DONE when it has the picture.
async function waitForScreenshot(): Promise<void> {
  const done = process.env.QX_IT_SCREENSHOT_DONE;
  if (done === undefined || done === '') return;
  const deadline = Date.now() + 15_000;
  while (!existsSync(done) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
}

/**
 * Runs the registered tests inside the extension host. Resolves when all pass (VS Code then exits
 * with 0) and rejects when any fails (exit 1). `QX_IT_GREP` in the environment keeps only tests whose
 * name contains it.
 */
export async function run(): Promise<void> {
  // The offline launcher reads the suite's lines out of the workbench console, among the
  // workbench's own chatter: it asks for a marker on each line.
  const mark = process.env.QX_IT_MARK ?? '';
  const print = (text: string) => {
    for (const line of text.split('\n')) console.log(`${mark}${line}`);
  };
  const grep = process.env.QX_IT_GREP === undefined || process.env.QX_IT_GREP === '' ? undefined : process.env.QX_IT_GREP;
  const summary = await runRegistered(print, grep);
  print(summaryLine(summary));
  await waitForScreenshot();
  if (summary.passed + summary.failed === 0) throw new Error(grep === undefined ? 'No integration tests ran.' : `No integration test matches QX_IT_GREP='${grep}'.`);
  if (summary.failed > 0) throw new Error(`${summary.failed} integration test(s) failed`);
}
