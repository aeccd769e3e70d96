// The qx CLI run in this process, as the e2e tests drive it: its output captured, no TTY.
import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/io.js';

export interface QxRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `qx argv` in `cwd` with `env` as its environment (default: empty). */
export async function runQx(argv: string[], opts: { cwd: string; env?: Record<string, string> }): Promise<QxRun> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), isTTY: false, env: opts.env ?? {}, cwd: opts.cwd };
  const code = await main(argv, io, new AbortController().signal);
  return { code, stdout, stderr };
}
