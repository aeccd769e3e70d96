import { Agent as HttpAgent, type IncomingMessage, request as httpRequest } from 'node:http';

/** The subset of `fetch` the openai client calls. */
export type FetchLike = (url: string | URL | Request, init?: RequestInit) => Promise<Response>;

function abortError(): Error {
  const e = new Error('This operation was aborted');
  e.name = 'AbortError';
  return e;
}

/**
 * A `fetch` for plain-http endpoints (local vLLM, llama.cpp, Ollama) over node:http with a
 * keep-alive agent sized for `maxSockets` parallel requests; https URLs go to the global fetch.
 * The global fetch (undici) costs about 1.5× the CPU per request, which on a busy 2-core machine
 * caps a 32-way local batch below what the server could deliver. Supports what chat completions
 * need: method, headers, string/bytes body, AbortSignal. Network failures reject with a TypeError
 * like fetch does; aborts with an AbortError.
 */
export function createHttpFetch(maxSockets: number): FetchLike {
  const agent = new HttpAgent({ keepAlive: true, maxSockets });
  return (input, init = {}) => {
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    if (url.protocol !== 'http:') return fetch(input, init);
    return new Promise<Response>((resolve, reject) => {
      const signal = init.signal ?? undefined;
      if (signal?.aborted) {
        reject(abortError());
        return;
      }
      const headers: Record<string, string> = {};
      new Headers(init.headers).forEach((v, k) => {
        headers[k] = v;
      });
      const body = init.body;
      let payload: Buffer | undefined;
      if (typeof body === 'string') payload = Buffer.from(body);
      else if (body instanceof Uint8Array) payload = Buffer.from(body);
      else if (body instanceof ArrayBuffer) payload = Buffer.from(body);
      else if (body !== undefined && body !== null) {
        reject(new TypeError('createHttpFetch supports string and byte bodies only'));
        return;
      }
      if (payload !== undefined) headers['content-length'] = String(payload.length);
      const req = httpRequest(url, { method: init.method ?? 'GET', headers, agent });
      const onAbort = (): void => {
        req.destroy(abortError());
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = (): void => signal?.removeEventListener('abort', onAbort);
      req.on('error', (e) => {
        done();
        reject(e.name === 'AbortError' ? e : new TypeError('fetch failed', { cause: e }));
      });
      req.on('response', (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => {
          done();
          reject(e.name === 'AbortError' ? e : new TypeError('fetch failed', { cause: e }));
        });
        res.on('end', () => {
          done();
          const h = new Headers();
          for (const [k, v] of Object.entries(res.headers)) {
            if (Array.isArray(v)) for (const x of v) h.append(k, x);
            else if (v !== undefined) h.set(k, v);
          }
          const status = res.statusCode ?? 0;
          const nullBody = status === 204 || status === 205 || status === 304;
          resolve(new Response(nullBody ? null : Buffer.concat(chunks), { status, statusText: res.statusMessage ?? '', headers: h }));
        });
      });
      req.end(payload);
    });
  };
}
