import type { ExpansionScore, PairRecord, PairState } from '../core/curation/types.js';
import type { QueryCostSection } from '../core/feedback/queryCost.js';
import type { QueryJudgeView } from '../core/judge/reviewJudge.js';
import type { QueryReview, ScoredExpansion, UndoResult } from '../core/workspace/api.js';

/** The data types that cross the protocol, re-exported so the webview imports only src/protocol. */
export type { QueryCostSection } from '../core/feedback/queryCost.js';
export type { DocMove, ExpansionScore, PairRecord, PairState } from '../core/curation/types.js';
export type { ExpansionRecord } from '../core/expansion/types.js';
export type { QueryJudgeView, ReviewJudgeInfo, ReviewJudgedDoc, ReviewPairFlip, ReviewRankingFill } from '../core/judge/reviewJudge.js';
export type { QueryReview, QuerySummary, ScoredExpansion, UndoResult } from '../core/workspace/api.js';

/**
 * The typed protocol between the extension host and the Review webview. Only plain JSON crosses:
 * no class instances, Maps or Uris. Renaming a method here breaks both sides at compile time.
 */

/** Where the shown query sits in the query browser's current order. */
export interface ReviewPosition {
  /** 0-based index in the browser's current filter/sort order, -1 when filtered out. */
  index: number;
  total: number;
}

/** Why the panel has nothing to show, with the commands that fix it. */
export interface EmptyState {
  title: string;
  hint: string;
  /** Commands the panel offers as buttons; only ids from `webviewCommands` are honoured. */
  actions: { label: string; command: WebviewCommand }[];
}

/** Commands the webview may ask the host to run (an allow-list: the webview cannot run arbitrary ids). */
export const webviewCommands = [
  'qx.openSample',
  'qx.openWorkspace',
  'qx.createWorkspace',
  'qx.buildIndex',
  'qx.score',
  'qx.buildPairs',
  'qx.exportDpo',
  'qx.showLog',
] as const;
export type WebviewCommand = (typeof webviewCommands)[number];

/** Deltas and per-query scores for the plots section. */
export interface PlotData {
  /** method → deltas of every scored expansion of that method. */
  deltasByMethod: Record<string, number[]>;
  /** Per query: best teacher and best student nDCG@10 (queries with both only). */
  teacherVsStudent: { qid: string; teacher: number; student: number }[];
  /** Mean gain beside the retrieval cost (postings walked, terms) per method; absent without an index. */
  queryCost?: QueryCostSection;
}

/** Keyboard actions the host forwards from VS Code keybindings to the panel. */
export type ReviewAction = 'accept' | 'reject' | 'swap' | 'undo' | 'next' | 'previous';

/** Webview → host requests: method → [params, result]. */
export interface RequestMap {
  'review/get': [{ qid: string }, { review: QueryReview; position: ReviewPosition; judge: QueryJudgeView | null }];
  'queries/select': [{ qid: string } | { direction: 'next' | 'previous' }, { qid: string } | null];
  'pairs/setState': [{ pairId: string; state: PairState }, PairRecord];
  'pairs/swap': [{ pairId: string }, PairRecord];
  'pairs/create': [{ qid: string; chosenId: string; rejectedId: string }, PairRecord];
  'pairs/note': [{ pairId: string; note: string }, PairRecord];
  'expansions/preview': [{ expansionId: string; generated: string }, { final: string; score: ExpansionScore }];
  'expansions/save': [{ expansionId: string; generated: string }, ScoredExpansion];
  'docs/open': [{ docid: string; qid: string }, { opened: boolean }];
  'edit/undo': [Record<string, never>, UndoResult];
  'plots/get': [Record<string, never>, PlotData];
  'commands/run': [{ command: WebviewCommand }, null];
  /** Keyboard focus entered or left the panel: drives the `qx.reviewFocused` context key. */
  'ui/focus': [{ focused: boolean }, null];
}

/** Host → webview notifications. */
export interface NotificationMap {
  /** `judge`: the LLM judge on this query when the workspace has judgments (`.qx/judgments/`), else null. */
  'review/show': { review: QueryReview; position: ReviewPosition; judge: QueryJudgeView | null };
  'review/empty': EmptyState;
  'review/action': { action: ReviewAction };
  'queries/changed': { reason: string };
  'theme/changed': { kind: 'light' | 'dark' | 'highContrast' | 'highContrastLight' };
  'status/busy': { message: string | null };
}

export type RequestMethod = keyof RequestMap;
export type NotificationMethod = keyof NotificationMap;
export type RequestParams<M extends RequestMethod> = RequestMap[M][0];
export type RequestResult<M extends RequestMethod> = RequestMap[M][1];

export const requestMethods: readonly RequestMethod[] = [
  'review/get',
  'queries/select',
  'pairs/setState',
  'pairs/swap',
  'pairs/create',
  'pairs/note',
  'expansions/preview',
  'expansions/save',
  'docs/open',
  'edit/undo',
  'plots/get',
  'commands/run',
  'ui/focus',
];

export const notificationMethods: readonly NotificationMethod[] = [
  'review/show',
  'review/empty',
  'review/action',
  'queries/changed',
  'theme/changed',
  'status/busy',
];

/** The first message of the webview; the host queues notifications until it arrives. */
export const readyMethod = 'webview/ready';

export interface RequestEnvelope<M extends RequestMethod = RequestMethod> {
  id: number;
  method: M;
  params: RequestParams<M>;
}

export interface ErrorPayload {
  /** A core QxError code ("dataset", "auth", ...), "timeout" for a request the host never answered, or "internal". */
  code: string;
  message: string;
}

export type ReplyEnvelope<R = unknown> = { id: number; ok: true; result: R } | { id: number; ok: false; error: ErrorPayload };

export interface NotificationEnvelope<M extends NotificationMethod = NotificationMethod> {
  method: M;
  params: NotificationMap[M];
}

export interface ReadyEnvelope {
  method: typeof readyMethod;
}

/** Milliseconds the webview waits for a reply before rejecting the request. */
export const defaultRequestTimeoutMs = 15_000;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const requestMethodSet = new Set<string>(requestMethods);
const notificationMethodSet = new Set<string>(notificationMethods);

export function isRequestMethod(v: unknown): v is RequestMethod {
  return typeof v === 'string' && requestMethodSet.has(v);
}

export function isNotificationMethod(v: unknown): v is NotificationMethod {
  return typeof v === 'string' && notificationMethodSet.has(v);
}

/** A webview → host request envelope. `params` is checked per method by `paramsProblem`. */
export function isRequestEnvelope(v: unknown): v is RequestEnvelope {
  return isRecord(v) && typeof v.id === 'number' && Number.isInteger(v.id) && isRequestMethod(v.method) && 'params' in v;
}

export function isReadyEnvelope(v: unknown): v is ReadyEnvelope {
  return isRecord(v) && v.method === readyMethod && !('id' in v);
}

export function isReplyEnvelope(v: unknown): v is ReplyEnvelope {
  if (!isRecord(v) || typeof v.id !== 'number') return false;
  if (v.ok === true) return 'result' in v;
  return v.ok === false && isRecord(v.error) && typeof v.error.code === 'string' && typeof v.error.message === 'string';
}

export function isNotificationEnvelope(v: unknown): v is NotificationEnvelope {
  return isRecord(v) && !('id' in v) && isNotificationMethod(v.method) && isRecord(v.params);
}

const pairStates: readonly string[] = ['auto', 'accepted', 'rejected', 'edited'];

function str(o: Record<string, unknown>, k: string): string | null {
  const v = o[k];
  return typeof v === 'string' && v.length > 0 ? null : `"${k}" must be a non-empty string`;
}

/**
 * Checks a request's params against its method; returns a problem sentence, or null when valid.
 * The host calls this before any handler so a malformed message never reaches the core.
 */
export function paramsProblem(method: RequestMethod, params: unknown): string | null {
  if (!isRecord(params)) return 'params must be an object';
  switch (method) {
    case 'review/get':
      return str(params, 'qid');
    case 'queries/select':
      if ('direction' in params) return params.direction === 'next' || params.direction === 'previous' ? null : '"direction" must be "next" or "previous"';
      return str(params, 'qid');
    case 'pairs/setState':
      return str(params, 'pairId') ?? (typeof params.state === 'string' && pairStates.includes(params.state) ? null : `"state" must be one of ${pairStates.join(', ')}`);
    case 'pairs/swap':
      return str(params, 'pairId');
    case 'pairs/create':
      return str(params, 'qid') ?? str(params, 'chosenId') ?? str(params, 'rejectedId') ?? (params.chosenId === params.rejectedId ? 'chosen and rejected must be different expansions' : null);
    case 'pairs/note':
      return str(params, 'pairId') ?? (typeof params.note === 'string' ? null : '"note" must be a string');
    case 'expansions/preview':
    case 'expansions/save':
      return str(params, 'expansionId') ?? (typeof params.generated === 'string' && params.generated.trim().length > 0 ? null : '"generated" must be non-empty text');
    case 'docs/open':
      return str(params, 'docid') ?? str(params, 'qid');
    case 'edit/undo':
    case 'plots/get':
      return null;
    case 'ui/focus':
      return typeof params.focused === 'boolean' ? null : '"focused" must be true or false';
    case 'commands/run':
      return typeof params.command === 'string' && (webviewCommands as readonly string[]).includes(params.command) ? null : '"command" is not a command the panel may run';
  }
}

/** Handlers for every request method; the host implements this. */
export type RequestHandlers = { [M in RequestMethod]: (params: RequestParams<M>) => Promise<RequestResult<M>> | RequestResult<M> };
