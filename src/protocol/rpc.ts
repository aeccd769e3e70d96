import {
  type ErrorPayload,
  type NotificationEnvelope,
  type NotificationMap,
  type NotificationMethod,
  type ReplyEnvelope,
  type RequestEnvelope,
  type RequestHandlers,
  type RequestMethod,
  type RequestParams,
  type RequestResult,
  defaultRequestTimeoutMs,
  isNotificationEnvelope,
  isReadyEnvelope,
  isReplyEnvelope,
  isRequestEnvelope,
  paramsProblem,
  readyMethod,
} from './messages.js';

/**
 * Transport-agnostic ends of the protocol. The extension wraps `Webview.postMessage`, the webview
 * wraps `acquireVsCodeApi().postMessage`, and tests wire two ends together directly.
 */
export type Post = (message: unknown) => unknown;

/** An error that crossed the protocol: keeps the host's error code. */
export class RemoteError extends Error {
  readonly code: string;
  constructor(payload: ErrorPayload) {
    super(payload.message);
    this.name = 'RemoteError';
    this.code = payload.code;
  }
}

/**
 * The host end: answers every request exactly once (a throwing handler still replies, with
 * `ok: false`) and queues notifications until the webview says `webview/ready`.
 */
export class HostEndpoint {
  private ready = false;
  private queue: NotificationEnvelope[] = [];
  private readonly readyListeners: (() => void)[] = [];

  constructor(
    private readonly post: Post,
    private readonly handlers: RequestHandlers,
    private readonly toError: (e: unknown) => ErrorPayload,
  ) {}

  get isReady(): boolean {
    return this.ready;
  }

  onReady(listener: () => void): void {
    this.readyListeners.push(listener);
  }

  /** The webview was disposed or reloaded: queue again until its next `webview/ready`. */
  reset(): void {
    this.ready = false;
  }

  notify<M extends NotificationMethod>(method: M, params: NotificationMap[M]): void {
    const envelope: NotificationEnvelope<M> = { method, params };
    if (!this.ready) {
      // Only the latest of a kind matters for state-like notifications; keep the queue short.
      this.queue = this.queue.filter((q) => q.method !== method || method === 'review/action');
      this.queue.push(envelope);
      return;
    }
    this.post(envelope);
  }

  async receive(message: unknown): Promise<void> {
    if (isReadyEnvelope(message)) {
      this.ready = true;
      const queued = this.queue;
      this.queue = [];
      for (const l of this.readyListeners) l();
      for (const q of queued) this.post(q);
      return;
    }
    if (!isRequestEnvelope(message)) {
      const id = typeof message === 'object' && message !== null && 'id' in message ? (message as { id: unknown }).id : undefined;
      if (typeof id === 'number') this.post({ id, ok: false, error: { code: 'protocol', message: 'Unknown request method.' } } satisfies ReplyEnvelope);
      return;
    }
    const problem = paramsProblem(message.method, message.params);
    if (problem !== null) {
      this.post({ id: message.id, ok: false, error: { code: 'protocol', message: `${message.method}: ${problem}` } } satisfies ReplyEnvelope);
      return;
    }
    let reply: ReplyEnvelope;
    try {
      const result = await this.dispatch(message);
      reply = { id: message.id, ok: true, result };
    } catch (e) {
      reply = { id: message.id, ok: false, error: this.toError(e) };
    }
    this.post(reply);
  }

  private dispatch(message: RequestEnvelope): Promise<unknown> | unknown {
    const handler = this.handlers[message.method] as (p: unknown) => unknown;
    return handler(message.params);
  }
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** The webview end: typed requests with a timeout, and typed notification listeners. */
export class WebviewEndpoint {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Map<NotificationMethod, ((params: never) => void)[]>();

  constructor(
    private readonly post: Post,
    private readonly timeoutMs: number = defaultRequestTimeoutMs,
  ) {}

  /** Tell the host the page is listening; call once, after `receive` is wired. */
  ready(): void {
    this.post({ method: readyMethod });
  }

  request<M extends RequestMethod>(method: M, params: RequestParams<M>): Promise<RequestResult<M>> {
    const id = this.nextId++;
    const envelope: RequestEnvelope<M> = { id, method, params };
    return new Promise<RequestResult<M>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new RemoteError({ code: 'timeout', message: `The extension did not answer "${method}" within ${Math.round(this.timeoutMs / 1000)} s.` }));
      }, this.timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.post(envelope);
    });
  }

  on<M extends NotificationMethod>(method: M, listener: (params: NotificationMap[M]) => void): void {
    const list = this.listeners.get(method) ?? [];
    list.push(listener as (params: never) => void);
    this.listeners.set(method, list);
  }

  /** Feed every incoming message here; anything that is not a known envelope is ignored. */
  receive(message: unknown): void {
    if (isReplyEnvelope(message)) {
      const p = this.pending.get(message.id);
      if (p === undefined) return;
      this.pending.delete(message.id);
      clearTimeout(p.timer);
      if (message.ok) p.resolve(message.result);
      else p.reject(new RemoteError(message.error));
      return;
    }
    if (isNotificationEnvelope(message)) {
      for (const l of this.listeners.get(message.method) ?? []) (l as (p: unknown) => void)(message.params);
    }
  }

  get pendingCount(): number {
    return this.pending.size;
  }
}
