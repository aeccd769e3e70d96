import type { ExternalRetrieverRef } from '../dataset/manifest.js';
import { QxError } from '../errors.js';
import type { RetryPolicy } from '../expansion/retry.js';
import type { Logger } from '../logger.js';
import { type ExpectedRetrieval, type IndexRetrieval, OpenSearchRetriever } from './openSearchRetriever.js';

/** What opening the manifest's external retriever needs besides the manifest field. */
export interface ManifestRetrieverOptions {
  /** The workspace's BM25 parameters and analyzer: the index must score with the same. */
  expected: ExpectedRetrieval;
  /** Environment to read `authEnv` from. */
  env: Readonly<Record<string, string | undefined>>;
  logger: Logger;
  /** Per-request timeout, ms. */
  requestTimeoutMs: number;
  retry: RetryPolicy;
  signal: AbortSignal;
}

/**
 * Basic auth from the environment variable `ref.authEnv` names (`user:password`); undefined when
 * the manifest names none. A named variable that is unset or has no `:` is an `auth` QxError.
 */
export function retrieverAuth(ref: ExternalRetrieverRef, env: Readonly<Record<string, string | undefined>>): { username: string; password: string } | undefined {
  if (ref.authEnv === undefined) return undefined;
  const v = env[ref.authEnv];
  const colon = v?.indexOf(':') ?? -1;
  if (v === undefined || v === '' || colon < 0) {
    throw new QxError('auth', `the manifest's retriever.authEnv names ${ref.authEnv}, which is ${v === undefined || v === '' ? 'not set' : 'not of the form user:password'}`, {
      hint: `Set ${ref.authEnv}=user:password in the environment of qx (or of VS Code), or remove "authEnv" for a cluster without auth.`,
    });
  }
  return { username: v.slice(0, colon), password: v.slice(colon + 1) };
}

/**
 * Connects to the index the manifest's `retriever` names and checks its BM25 parameters and
 * analyzer against the workspace's (GET _settings, _mapping); a mismatch is a `config` QxError
 * naming both values and the fix, and the client is closed.
 */
export async function openManifestRetriever(ref: ExternalRetrieverRef, options: ManifestRetrieverOptions): Promise<{ retriever: OpenSearchRetriever; index: IndexRetrieval }> {
  const auth = retrieverAuth(ref, options.env);
  const { expected } = options;
  const retriever = new OpenSearchRetriever({
    node: ref.url,
    index: ref.index,
    k1: expected.k1,
    b: expected.b,
    ...(expected.analyzer === 'english' || expected.analyzer === 'cjk' ? { analyzer: expected.analyzer } : {}),
    ...(auth === undefined ? {} : { auth }),
    requestTimeoutMs: options.requestTimeoutMs,
    retry: options.retry,
    logger: options.logger,
  });
  try {
    const index = await retriever.checkSettings(expected, options.signal);
    return { retriever, index };
  } catch (e) {
    await retriever.close();
    throw e;
  }
}
