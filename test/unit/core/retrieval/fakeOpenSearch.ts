// A local stand-in for the OpenSearch REST endpoints qx calls, answering with the documented
// response shapes (OpenSearch 2.x REST API: indices create/delete/exists, _settings with string
// leaf values under "index", _mapping, _bulk items, _msearch "responses" with a per-item status,
// _doc). It keeps the documents it is sent and ranks with the `rank` function the test gives it.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: string;
  body: string;
  /** The Authorization header, when sent. */
  authorization?: string;
}

export interface FakeIndex {
  /** As OpenSearch returns them: nested under "index", every leaf a string. */
  settings: Record<string, unknown>;
  mappings: Record<string, unknown>;
  docs: Map<string, Record<string, unknown>>;
}

/** A canned answer that replaces the normal one (e.g. a 429). */
export interface FakeAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface FakeOpenSearchOptions {
  /** Ranks one match query: top `k` hits of the index. Default: no hits. */
  rank?: (index: FakeIndex, query: string, k: number) => { _id: string; _score: number }[];
  /** Called first for every request; an answer short-circuits it. */
  intercept?: (r: SeenRequest) => FakeAnswer | undefined;
  /** Delay before answering _msearch/_search/_bulk, ms (to let requests overlap). Default 0. */
  delayMs?: number;
}

export interface FakeOpenSearch {
  url: string;
  seen: SeenRequest[];
  indices: Map<string, FakeIndex>;
  /** Most _msearch/_search/_bulk requests in flight at once. */
  maxInFlight: () => number;
  close: () => Promise<void>;
}

/** Every leaf as a string, as OpenSearch's GET _settings shows them. */
function stringLeaves(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stringLeaves);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, stringLeaves(x)]));
  return String(v);
}

function ndjson(body: string): Record<string, unknown>[] {
  return body
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

function matchQuery(body: Record<string, unknown>): { query: string; k: number } {
  const match = (body['query'] as { match: Record<string, { query: string }> }).match;
  return { query: Object.values(match)[0]!.query, k: Number(body['size'] ?? 10) };
}

/** Starts the fake on 127.0.0.1 at a free port. */
export async function startFakeOpenSearch(options: FakeOpenSearchOptions = {}): Promise<FakeOpenSearch> {
  const seen: SeenRequest[] = [];
  const indices = new Map<string, FakeIndex>();
  let inFlight = 0;
  let maxInFlight = 0;
  const notFound = (index: string): FakeAnswer => ({ status: 404, body: { error: { type: 'index_not_found_exception', reason: `no such index [${index}]` }, status: 404 } });

  const answer = (r: SeenRequest): FakeAnswer => {
    const parts = r.path.split('/').filter((p) => p !== '');
    const [first, second, third] = parts;
    if (first === '_bulk') {
      const lines = ndjson(r.body);
      const items: unknown[] = [];
      for (let i = 0; i < lines.length; i += 2) {
        const action = lines[i]!['index'] as { _index: string; _id: string };
        const idx = indices.get(action._index);
        if (idx === undefined) {
          items.push({ index: { _index: action._index, _id: action._id, status: 404, error: { type: 'index_not_found_exception', reason: `no such index [${action._index}]` } } });
          continue;
        }
        const created = !idx.docs.has(action._id);
        idx.docs.set(action._id, lines[i + 1]!);
        items.push({ index: { _index: action._index, _id: action._id, _version: 1, result: created ? 'created' : 'updated', status: created ? 201 : 200 } });
      }
      return { status: 200, body: { took: 1, errors: items.some((it) => (it as { index: { error?: unknown } }).index.error !== undefined), items } };
    }
    if (first === '_msearch' || second === '_msearch') {
      const lines = ndjson(r.body);
      const responses: unknown[] = [];
      for (let i = 0; i < lines.length; i += 2) {
        const name = String(lines[i]!['index'] ?? first);
        const idx = indices.get(name);
        if (idx === undefined) {
          responses.push({ error: { type: 'index_not_found_exception', reason: `no such index [${name}]` }, status: 404 });
          continue;
        }
        const { query, k } = matchQuery(lines[i + 1]!);
        const hits = (options.rank?.(idx, query, k) ?? []).map((h) => ({ _index: name, _id: h._id, _score: h._score }));
        responses.push({ took: 1, timed_out: false, hits: { max_score: hits[0]?._score ?? null, hits }, status: 200 });
      }
      return { status: 200, body: { took: 1, responses } };
    }
    if (first === undefined) return { status: 200, body: { version: { distribution: 'opensearch', number: '2.11.0' } } };
    const idx = indices.get(first);
    if (second === undefined) {
      if (r.method === 'HEAD') return { status: idx === undefined ? 404 : 200, body: '' };
      if (r.method === 'DELETE') {
        if (idx === undefined) return notFound(first);
        indices.delete(first);
        return { status: 200, body: { acknowledged: true } };
      }
      if (r.method === 'PUT') {
        if (idx !== undefined) return { status: 400, body: { error: { type: 'resource_already_exists_exception', reason: `index [${first}] already exists` }, status: 400 } };
        const created = JSON.parse(r.body || '{}') as { settings?: Record<string, unknown>; mappings?: Record<string, unknown> };
        indices.set(first, { settings: { index: stringLeaves(created.settings ?? {}) }, mappings: created.mappings ?? {}, docs: new Map() });
        return { status: 200, body: { acknowledged: true, shards_acknowledged: true, index: first } };
      }
    }
    if (idx === undefined) return notFound(first);
    if (second === '_settings') {
      if (r.method === 'GET') return { status: 200, body: { [first]: { settings: idx.settings } } };
      const put = JSON.parse(r.body) as { index?: Record<string, unknown> };
      const cur = idx.settings['index'] as Record<string, unknown>;
      for (const [k, v] of Object.entries(put.index ?? {})) {
        if (v === null) delete cur[k];
        else cur[k] = stringLeaves(v);
      }
      return { status: 200, body: { acknowledged: true } };
    }
    if (second === '_mapping') {
      if (r.method === 'GET') return { status: 200, body: { [first]: { mappings: idx.mappings } } };
      Object.assign(idx.mappings, JSON.parse(r.body) as Record<string, unknown>);
      return { status: 200, body: { acknowledged: true } };
    }
    if (second === '_refresh') return { status: 200, body: { _shards: { total: 1, successful: 1, failed: 0 } } };
    if (second === '_search') {
      const { query, k } = matchQuery(JSON.parse(r.body) as Record<string, unknown>);
      const hits = (options.rank?.(idx, query, k) ?? []).map((h) => ({ _index: first, _id: h._id, _score: h._score }));
      return { status: 200, body: { took: 1, timed_out: false, hits: { max_score: hits[0]?._score ?? null, hits } } };
    }
    if (second === '_doc' && third !== undefined) {
      const id = decodeURIComponent(third);
      const src = idx.docs.get(id);
      return src === undefined ? { status: 404, body: { _index: first, _id: id, found: false } } : { status: 200, body: { _index: first, _id: id, found: true, _source: src } };
    }
    return { status: 400, body: { error: { type: 'illegal_argument_exception', reason: `fake: unsupported ${r.method} ${r.path}` } } };
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const [path = '', query = ''] = (req.url ?? '').split('?');
      const r: SeenRequest = { method: req.method ?? '', path, query, body: Buffer.concat(chunks).toString('utf8'), ...(req.headers.authorization === undefined ? {} : { authorization: req.headers.authorization }) };
      seen.push(r);
      const heavy = /_msearch|_search|_bulk/.test(path);
      if (heavy) maxInFlight = Math.max(maxInFlight, ++inFlight);
      const reply = (): void => {
        if (heavy) inFlight--;
        const a = options.intercept?.(r) ?? answer(r);
        res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers });
        res.end(typeof a.body === 'string' ? a.body : JSON.stringify(a.body));
      };
      if (heavy && (options.delayMs ?? 0) > 0) setTimeout(reply, options.delayMs);
      else reply();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    indices,
    maxInFlight: () => maxInFlight,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
