import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

/**
 * The entry file of worker thread `name` for a module in folder `dir` (its `__dirname`):
 * `<name>.js` beside the bundle (dist/), else `<name>.ts` beside the module (the sources).
 */
export function workerEntry(dir: string, name: string): string {
  const candidates = [join(dir, `${name}.js`), join(dir, `${name}.ts`)];
  return candidates.find((f) => existsSync(f)) ?? candidates[0]!;
}

/** Starts a worker thread on `file`; from the sources (tests, benches) it loads the TypeScript through tsx. */
export function startWorker(file: string, workerData: unknown): Worker {
  return file.endsWith('.ts') ? new Worker(`require('tsx/cjs'); require(${JSON.stringify(file)});`, { eval: true, workerData }) : new Worker(file, { workerData });
}
