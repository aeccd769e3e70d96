/**
 * One error class for the whole core. `code` says what kind of failure it is so that adapters
 * (the extension, the CLI) can pick the right message, action and exit code without parsing text.
 */
export type QxErrorCode =
  | 'dataset' // a data file is malformed or missing (message names file, line, problem, fix)
  | 'config' // a manifest, setting or option is invalid
  | 'usage' // the CLI was called wrongly
  | 'auth' // an API key is missing or rejected
  | 'rateLimit' // the server kept answering 429 after all retries
  | 'network' // the endpoint is unreachable or failed after all retries
  | 'timeout' // a request took longer than its limit after all retries
  | 'badResponse' // the server answered something that is not a usable completion
  | 'modelLoad' // a local model folder is incomplete or cannot be loaded
  | 'template' // a prompt template is invalid (unknown placeholder, bad front matter)
  | 'index' // an index file is corrupt, of another version, or missing
  | 'store' // the curation store is locked, of a newer schema, or damaged
  | 'export' // an export would be empty, invalid or leak evaluation queries
  | 'internal';

export interface QxErrorOptions {
  cause?: unknown;
  /** File the problem is in, when there is one. */
  file?: string;
  /** 1-based line number within `file`. */
  line?: number;
  /** What the user can do about it, one sentence. */
  hint?: string;
}

export class QxError extends Error {
  readonly code: QxErrorCode;
  readonly file?: string;
  readonly line?: number;
  readonly hint?: string;

  constructor(code: QxErrorCode, message: string, options: QxErrorOptions = {}) {
    super(formatMessage(message, options), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'QxError';
    this.code = code;
    if (options.file !== undefined) this.file = options.file;
    if (options.line !== undefined) this.line = options.line;
    if (options.hint !== undefined) this.hint = options.hint;
  }

  /**
   * True for a QxError (of `code`, when given). Also recognises one thrown by another bundle of
   * this code (the extension loads the pipeline as a separate file), where `instanceof` fails.
   */
  static is(e: unknown, code?: QxErrorCode): e is QxError {
    const isQx = e instanceof QxError || (e instanceof Error && e.name === 'QxError' && typeof (e as { code?: unknown }).code === 'string');
    return isQx && (code === undefined || (e as QxError).code === code);
  }
}

function formatMessage(message: string, o: QxErrorOptions): string {
  const where = o.file === undefined ? '' : o.line === undefined ? `${o.file}: ` : `${o.file}:${o.line}: `;
  const hint = o.hint === undefined ? '' : `${/[.!?]$/.test(message) ? '' : '.'} ${o.hint}`;
  return `${where}${message}${hint}`;
}

/** A data-file problem at a known place: `file:line: problem. fix` */
export function datasetError(file: string, line: number | undefined, problem: string, hint?: string): QxError {
  return new QxError('dataset', problem, { file, ...(line === undefined ? {} : { line }), ...(hint === undefined ? {} : { hint }) });
}

/** The one cancellation error of the core. Never shown to the user as a failure. */
export class CancellationError extends Error {
  constructor(message = 'Cancelled') {
    super(message);
    this.name = 'CancellationError';
  }
}

/** True for our CancellationError and for the platform's AbortError (fetch, timers, openai). */
export function isCancellationError(e: unknown): boolean {
  if (e instanceof CancellationError) return true;
  if (e instanceof Error && e.name === 'CancellationError') return true;
  if (e instanceof Error) {
    if (e.name === 'AbortError' || e.name === 'APIUserAbortError') return true;
    if (e.cause !== undefined && e.cause !== e) return isCancellationError(e.cause);
  }
  return false;
}

/** Throws CancellationError when the signal has fired. Call it between units of work. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancellationError();
}

/** A readable one-liner for any thrown value. */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
