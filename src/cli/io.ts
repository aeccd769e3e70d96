import type { Logger } from '../core/logger.js';
import type { ProgressReport } from '../core/progress.js';

/** The CLI's streams, passed in so tests can capture them. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** True when stderr is a terminal: progress bars redraw in place, else they print sparse lines. */
  isTTY: boolean;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export const processIo = (): CliIo => ({
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  isTTY: Boolean(process.stderr.isTTY),
  env: process.env,
  cwd: process.cwd(),
});

/** Logs to stderr; debug/trace only with QX_LOG=debug|trace. */
export function stderrLogger(io: CliIo): Logger {
  const level = io.env.QX_LOG ?? 'info';
  const order = ['trace', 'debug', 'info', 'warn', 'error'];
  const on = (l: string) => order.indexOf(l) >= order.indexOf(level);
  const w = (l: string) => (m: string | Error, ...args: unknown[]) => {
    if (!on(l)) return;
    const text = m instanceof Error ? (m.stack ?? m.message) : m;
    io.stderr(`[${l}] ${text}${args.length ? ' ' + args.map((a) => JSON.stringify(a)).join(' ') : ''}\n`);
  };
  return { trace: w('trace'), debug: w('debug'), info: w('info'), warn: w('warn'), error: w('error') };
}

/** A progress bar on stderr: redrawn in place on a terminal, one line per 10% otherwise. */
export function progressBar(io: CliIo, label: string): { update: (p: ProgressReport) => void; done: () => void } {
  let lastDecile = -1;
  let drawn = false;
  const started = Date.now();
  return {
    update(p) {
      const unit = p.unit ? ` ${p.unit}` : '';
      if (p.total !== undefined && p.total > 0) {
        const frac = Math.min(1, p.done / p.total);
        if (io.isTTY) {
          const width = 24;
          const fill = Math.round(frac * width);
          io.stderr(`\r${label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${p.done}/${p.total}${unit}${p.message ? ' ' + p.message : ''}\x1b[K`);
          drawn = true;
        } else {
          const decile = Math.floor(frac * 10);
          if (decile !== lastDecile) {
            lastDecile = decile;
            io.stderr(`${label}: ${p.done}/${p.total}${unit}\n`);
          }
        }
      } else if (io.isTTY) {
        io.stderr(`\r${label}: ${p.done}${unit}${p.message ? ' ' + p.message : ''}\x1b[K`);
        drawn = true;
      }
    },
    done() {
      if (drawn) io.stderr('\n');
      io.stderr(`${label}: done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    },
  };
}
