// A small test runner for the extension host. node:test cannot run there: its harness reports when
// the process exits, and the extension host never exits on its own. The API mirrors node:test
// (describe/test/before/after, `skip` with a reason, per-test `timeout`) so tests read the same,
// and the summary ends with the `N passed, N failed, N skipped` line CI looks for.

/** Options of one test. `skip` is the reason it is skipped (a skipped test must say why). */
export interface TestOptions {
  /** Milliseconds before the test fails as timed out; default 30 000. */
  timeout?: number;
  skip?: string;
}

type Fn = () => unknown;

interface TestCase {
  name: string;
  fn: Fn;
  options: TestOptions;
}

interface Suite {
  name: string;
  tests: TestCase[];
  before: Fn[];
  after: Fn[];
}

const suites: Suite[] = [];
const rootSuite: Suite = { name: '', tests: [], before: [], after: [] };
let current: Suite = rootSuite;

/** Groups tests; hooks registered inside apply to this group. Groups do not nest. */
export function describe(name: string, body: () => void): void {
  if (current !== rootSuite) throw new Error(`describe('${name}') inside describe('${current.name}'): groups do not nest in the integration runner.`);
  const suite: Suite = { name, tests: [], before: [], after: [] };
  suites.push(suite);
  current = suite;
  try {
    body();
  } finally {
    current = rootSuite;
  }
}

export function test(name: string, fn: Fn, options: TestOptions = {}): void {
  current.tests.push({ name, fn, options });
}

/** Runs once before the first test of the enclosing group (or of the whole run at top level). */
export function before(fn: Fn): void {
  current.before.push(fn);
}

/** Runs once after the last test of the enclosing group, even when tests failed. */
export function after(fn: Fn): void {
  current.after.push(fn);
}

/** Counts of one run. */
export interface RunSummary {
  passed: number;
  failed: number;
  skipped: number;
  /** Wall time of the run, in milliseconds. */
  durationMs: number;
}

function withTimeout(fn: Fn, ms: number, what: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    Promise.resolve()
      .then(fn)
      .then(() => resolve(), reject)
      .finally(() => clearTimeout(timer));
  });
}

function describeError(e: unknown): string {
  if (e instanceof Error) return (e.stack ?? `${e.name}: ${e.message}`).split('\n').map((l) => `    ${l}`).join('\n');
  return `    ${String(e)}`;
}

/**
 * Runs every registered test in registration order and prints TAP-like lines through `print`.
 * `grep` keeps only tests whose full name contains it. Never throws for a failing test.
 */
export async function runRegistered(print: (line: string) => void, grep?: string): Promise<RunSummary> {
  const started = Date.now();
  const summary: RunSummary = { passed: 0, failed: 0, skipped: 0, durationMs: 0 };
  for (const suite of [rootSuite, ...suites]) {
    const prefix = suite.name === '' ? '' : `${suite.name} › `;
    const tests = suite.tests.filter((t) => grep === undefined || `${prefix}${t.name}`.includes(grep));
    if (tests.length === 0) continue;
    if (suite.name !== '') print(`# ${suite.name}`);
    let hookError: unknown;
    for (const hook of suite.before) {
      try {
        await withTimeout(hook, 60_000, `before hook of '${suite.name}'`);
      } catch (e) {
        hookError = e;
        break;
      }
    }
    for (const t of tests) {
      const name = `${prefix}${t.name}`;
      if (t.options.skip !== undefined) {
        summary.skipped++;
        print(`ok - ${name} # SKIP ${t.options.skip}`);
        continue;
      }
      if (hookError !== undefined) {
        summary.failed++;
        print(`not ok - ${name} (before hook failed)\n${describeError(hookError)}`);
        continue;
      }
      const t0 = Date.now();
      try {
        await withTimeout(t.fn, t.options.timeout ?? 30_000, `test '${name}'`);
        summary.passed++;
        print(`ok - ${name} (${Date.now() - t0} ms)`);
      } catch (e) {
        summary.failed++;
        print(`not ok - ${name} (${Date.now() - t0} ms)\n${describeError(e)}`);
      }
    }
    for (const hook of suite.after) {
      try {
        await withTimeout(hook, 60_000, `after hook of '${suite.name}'`);
      } catch (e) {
        summary.failed++;
        print(`not ok - after hook of '${suite.name || 'root'}'\n${describeError(e)}`);
      }
    }
  }
  summary.durationMs = Date.now() - started;
  return summary;
}

/** The closing line, the same wording CI greps for in every stage. */
export function summaryLine(s: RunSummary): string {
  return `${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped (integration, ${(s.durationMs / 1000).toFixed(1)} s)`;
}
