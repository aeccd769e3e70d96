import * as vscode from 'vscode';
import type { Logger } from '../core/logger.js';

/**
 * The core `Logger` over the 'QX Studio' LogOutputChannel. Known secrets are masked before
 * anything is written, as a second line of defence behind "never log a key".
 */
export class ChannelLogger implements Logger {
  private readonly secrets = new Set<string>();

  constructor(readonly channel: vscode.LogOutputChannel) {}

  /** Register a value that must never appear in the log (an API key once it is known). */
  mask(secret: string): void {
    if (secret.length >= 4) this.secrets.add(secret);
  }

  private clean(message: string): string {
    let m = message;
    for (const s of this.secrets) m = m.split(s).join('•••');
    return m;
  }

  private args(args: unknown[]): unknown[] {
    return args.map((a) => (typeof a === 'string' ? this.clean(a) : a instanceof Error ? this.clean(a.stack ?? a.message) : a));
  }

  trace(message: string, ...args: unknown[]): void {
    this.channel.trace(this.clean(message), ...this.args(args));
  }
  debug(message: string, ...args: unknown[]): void {
    this.channel.debug(this.clean(message), ...this.args(args));
  }
  info(message: string, ...args: unknown[]): void {
    this.channel.info(this.clean(message), ...this.args(args));
  }
  warn(message: string, ...args: unknown[]): void {
    this.channel.warn(this.clean(message), ...this.args(args));
  }
  error(message: string | Error, ...args: unknown[]): void {
    this.channel.error(typeof message === 'string' ? this.clean(message) : this.clean(message.stack ?? message.message), ...this.args(args));
  }
}
