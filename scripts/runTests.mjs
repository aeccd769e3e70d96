// Runs every *.test.ts under the given folders with node's own test runner (through tsx),
// so CI reads node:test's closing lines. Usage: node scripts/runTests.mjs test/unit [test/e2e/x.test.ts ...]
// (folders are searched; a test file given by name runs alone).
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function find(dir) {
  if (!existsSync(dir)) return [];
  if (!statSync(dir).isDirectory()) return [dir];
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === 'fixtures' ? [] : find(p);
    return /\.test\.m?ts$/.test(name) ? [p] : [];
  });
}

const dirs = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const files = dirs.flatMap(find).sort();
if (files.length === 0) {
  console.error(`no test files under ${dirs.join(', ')}`);
  process.exit(1);
}
const concurrency = process.env.QX_TEST_CONCURRENCY ?? '2';
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
