import type { DocMove, EmptyState, ExpansionScore, PairRecord, PairState, PlotData, QueryJudgeView, QueryReview, ReviewAction, ReviewPosition, ScoredExpansion } from '../src/protocol/messages.js';
import { RemoteError, type WebviewEndpoint } from '../src/protocol/rpc.js';
import { type Child, el } from './dom.js';
import { deltaClass, formatDelta, formatLength, formatLengthRatio, formatPercent, formatScore } from './format.js';
import { docStatus, docTitle, judgeInfo, judgedHere, ndcgPair, pairJudge } from './judge.js';
import { costScatter, deltaHistogram, teacherStudentScatter } from './plots.js';

/** UI state kept across hide/show through the webview's getState/setState. Never data the host owns. */
export interface UiState {
  qid?: string;
  focusedPair?: string;
  plotsOpen: boolean;
  /** expansionId → text being edited. */
  drafts: Record<string, string>;
  /** Expansions picked for a new pair. */
  pick: { chosen?: string; rejected?: string };
}

export interface StateStore {
  get(): unknown;
  set(state: UiState): void;
}

export const previewDebounceMs = 250;

function isUiState(v: unknown): v is UiState {
  return typeof v === 'object' && v !== null && typeof (v as UiState).plotsOpen === 'boolean' && typeof (v as UiState).drafts === 'object' && typeof (v as UiState).pick === 'object';
}

function expansionLabel(e: ScoredExpansion['expansion']): string {
  const sample = e.sampleIndex > 0 ? ` #${e.sampleIndex + 1}` : '';
  return `${e.method}${sample} · ${e.model}`;
}

function isTyping(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  const tag = target.tagName.toLowerCase();
  return tag === 'input' || tag === 'textarea' || tag === 'select' || tag === 'vscode-textarea' || tag === 'vscode-textfield' || tag === 'vscode-single-select' || target.isContentEditable;
}

/** The Review panel. Renders what the host sends; every edit goes back as a protocol request. */
export class ReviewApp {
  private review: QueryReview | undefined;
  /** The LLM judge on the shown query; null without judgments. */
  private judge: QueryJudgeView | null = null;
  private position: ReviewPosition | undefined;
  private empty: EmptyState | undefined;
  private state: UiState;
  private plots: PlotData | undefined;
  private previewTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private previewSeq = new Map<string, number>();
  private statusEl: HTMLElement | undefined;
  private busyMessage: string | null = null;

  constructor(
    private readonly root: HTMLElement,
    private readonly rpc: WebviewEndpoint,
    private readonly store: StateStore,
  ) {
    const saved = store.get();
    this.state = isUiState(saved) ? saved : { plotsOpen: false, drafts: {}, pick: {} };
    rpc.on('review/show', ({ review, position, judge }) => this.show(review, position, judge));
    rpc.on('review/empty', (e) => this.showEmpty(e));
    rpc.on('review/action', ({ action }) => void this.act(action));
    rpc.on('queries/changed', () => {
      this.plots = undefined;
      if (this.state.plotsOpen) void this.loadPlots();
    });
    rpc.on('theme/changed', ({ kind }) => {
      document.body.dataset.theme = kind;
    });
    rpc.on('status/busy', ({ message }) => {
      this.busyMessage = message;
      this.setStatus(message ?? '');
    });
    document.addEventListener('keydown', (e) => this.onKey(e));
    window.addEventListener('focus', () => void this.rpc.request('ui/focus', { focused: true }).catch(() => undefined));
    window.addEventListener('blur', () => void this.rpc.request('ui/focus', { focused: false }).catch(() => undefined));
  }

  private save(): void {
    this.store.set(this.state);
  }

  // ---- incoming ---------------------------------------------------------------------------

  show(review: QueryReview, position: ReviewPosition, judge: QueryJudgeView | null = null): void {
    if (this.state.qid !== review.qid) {
      this.state.pick = {};
      this.state.focusedPair = undefined;
    }
    this.review = review;
    this.judge = judge;
    this.position = position;
    this.empty = undefined;
    this.state.qid = review.qid;
    const ids = new Set(review.expansions.map((s) => s.expansion.id));
    for (const id of Object.keys(this.state.drafts)) if (!ids.has(id)) delete this.state.drafts[id];
    if (this.state.focusedPair === undefined || !review.pairs.some((p) => p.id === this.state.focusedPair)) {
      this.state.focusedPair = (review.pairs.find((p) => p.state === 'auto') ?? review.pairs[0])?.id;
    }
    this.save();
    this.render();
  }

  showEmpty(e: EmptyState): void {
    this.review = undefined;
    this.empty = e;
    this.render();
  }

  // ---- actions ----------------------------------------------------------------------------

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await fn();
    } catch (e) {
      this.showError(`${what}: ${e instanceof Error ? e.message : String(e)}`, e instanceof RemoteError ? e.code : 'internal');
      return undefined;
    }
  }

  private focusedPair(): PairRecord | undefined {
    return this.review?.pairs.find((p) => p.id === this.state.focusedPair);
  }

  async act(action: ReviewAction): Promise<void> {
    const pair = this.focusedPair();
    switch (action) {
      case 'accept':
      case 'reject':
        if (pair === undefined) return this.setStatus('No pair to ' + action + ': build pairs first, or pick two expansions below.');
        await this.setPairState(pair, action === 'accept' ? 'accepted' : 'rejected');
        return;
      case 'swap':
        if (pair === undefined) return this.setStatus('No pair to swap.');
        await this.call('Swap', () => this.rpc.request('pairs/swap', { pairId: pair.id }));
        this.setStatus('Swapped chosen and rejected.');
        return;
      case 'undo': {
        const r = await this.call('Undo', () => this.rpc.request('edit/undo', {}));
        if (r !== undefined) this.setStatus(r.description === null ? 'Nothing to undo.' : `Undid ${r.description}.`);
        return;
      }
      case 'next':
      case 'previous':
        await this.call('Navigate', () => this.rpc.request('queries/select', { direction: action }));
        return;
    }
  }

  private async setPairState(pair: PairRecord, state: PairState): Promise<void> {
    const r = await this.call('Update pair', () => this.rpc.request('pairs/setState', { pairId: pair.id, state }));
    if (r !== undefined) {
      this.setStatus(`Pair ${state}.`);
      const pairs = this.review?.pairs ?? [];
      const nextAuto = pairs.find((p) => p.id !== pair.id && p.state === 'auto');
      if (nextAuto !== undefined) {
        this.state.focusedPair = nextAuto.id;
        this.save();
      }
    }
  }

  private movePairFocus(step: 1 | -1): void {
    const pairs = this.review?.pairs ?? [];
    if (pairs.length === 0) return;
    const i = pairs.findIndex((p) => p.id === this.state.focusedPair);
    const next = pairs[Math.max(0, Math.min(pairs.length - 1, (i < 0 ? 0 : i) + step))];
    this.state.focusedPair = next?.id;
    this.save();
    this.render();
    this.root.querySelector<HTMLElement>('tr.pair.focused')?.focus();
  }

  private onKey(e: KeyboardEvent): void {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (isTyping(e.target) || isTyping(document.activeElement)) return;
    const map: Record<string, () => void> = {
      a: () => void this.act('accept'),
      r: () => void this.act('reject'),
      s: () => void this.act('swap'),
      u: () => void this.act('undo'),
      j: () => void this.act('next'),
      k: () => void this.act('previous'),
      ArrowDown: () => this.movePairFocus(1),
      ArrowUp: () => this.movePairFocus(-1),
      '?': () => this.root.querySelector('.keys')?.classList.toggle('open'),
    };
    const f = map[e.key];
    if (f === undefined || this.review === undefined) return;
    e.preventDefault();
    f();
  }

  private setStatus(message: string): void {
    if (this.statusEl === undefined) return;
    this.statusEl.className = 'status';
    this.statusEl.setAttribute('role', 'status');
    delete this.statusEl.dataset.code;
    this.statusEl.textContent = message;
  }

  private showError(message: string, code: string): void {
    if (this.statusEl === undefined) return;
    this.statusEl.className = 'status error';
    this.statusEl.setAttribute('role', 'alert');
    this.statusEl.dataset.code = code;
    this.statusEl.textContent = message;
  }

  // ---- rendering --------------------------------------------------------------------------

  render(): void {
    const started = performance.now();
    this.statusEl = el('div', { className: 'status', attrs: { role: 'status', 'aria-live': 'polite' }, text: this.busyMessage ?? '' });
    const body: Child[] = this.review !== undefined ? this.renderReview(this.review) : [this.renderEmpty(this.empty)];
    this.root.replaceChildren(...body.filter((c): c is Node => c instanceof Node));
    const qid = this.review?.qid ?? '';
    document.body.dataset.qid = qid;
    window.dispatchEvent(new CustomEvent('qx-rendered', { detail: { qid, ms: performance.now() - started } }));
  }

  private renderEmpty(e: EmptyState | undefined): HTMLElement {
    const state = e ?? { title: 'Loading…', hint: '', actions: [] };
    return el('section', { className: 'empty', attrs: { 'data-testid': 'empty' } }, [
      el('h2', { text: state.title }),
      el('p', { className: 'muted', text: state.hint }),
      el(
        'div',
        { className: 'actions' },
        state.actions.map((a, i) => {
          const b = el('vscode-button', { text: a.label, on: { click: () => void this.call(a.label, () => this.rpc.request('commands/run', { command: a.command })) } });
          if (i > 0) b.setAttribute('secondary', '');
          return b;
        }),
      ),
      this.statusEl ?? null,
    ]);
  }

  private button(label: string, title: string, onClick: () => void, options: { secondary?: boolean; disabled?: boolean; testid?: string } = {}): HTMLElement {
    const b = el('vscode-button', { text: label, title, attrs: { 'aria-label': title, ...(options.testid ? { 'data-testid': options.testid } : {}) }, on: { click: (e) => { e.stopPropagation(); onClick(); } } });
    if (options.secondary) b.setAttribute('secondary', '');
    if (options.disabled) b.setAttribute('disabled', '');
    return b;
  }

  private renderReview(r: QueryReview): Child[] {
    const pos = this.position;
    const posText = pos === undefined || pos.index < 0 ? (pos === undefined ? '' : `filtered out · ${pos.total}`) : `${pos.index + 1} / ${pos.total}`;
    const header = el('header', { className: 'bar' }, [
      el('div', { className: 'title' }, [el('span', { className: 'qid', text: `Query ${r.qid}` }), el('span', { className: 'muted', text: posText })]),
      this.statusEl ?? null,
      el('div', { className: 'nav' }, [
        this.button('‹ Prev', 'Previous query (k)', () => void this.act('previous'), { secondary: true, testid: 'prev' }),
        this.button('Next ›', 'Next query (j)', () => void this.act('next'), { secondary: true, testid: 'next' }),
        this.button('Undo', 'Undo the last edit (u)', () => void this.act('undo'), { secondary: true, testid: 'undo' }),
      ]),
    ]);
    const grades = Object.entries(r.qrels.byGrade)
      .sort(([a], [b]) => Number(b) - Number(a))
      .map(([g, n]) => `grade ${g}: ${n}`)
      .join(' · ');
    const query = el('section', { className: 'query' }, [
      el('h2', { className: 'query-text', text: r.text, attrs: { 'data-testid': 'query-text' } }),
      el('p', { className: 'muted', text: `${r.qrels.judged} judged${grades ? ` (${grades})` : ''}` }),
      r.original === null
        ? el('p', { className: 'muted', text: 'Not scored yet: run “QX: Score Expansions”.' })
        : el('p', { className: 'metrics' }, [
            judgedHere(this.judge) && this.judge.original !== null ? ndcgPair('Original nDCG@10', this.judge.original) : metric('Original nDCG@10', formatScore(r.original.ndcg10)),
            metric('Recall', formatScore(r.original.recall)),
            metric('Judged@10', formatPercent(r.original.judged10)),
          ]),
      this.judge === null ? null : judgeInfo(this.judge),
    ]);
    return [header, query, this.renderPairs(r), this.renderExpansions(r), this.renderPlots(), this.renderKeys()];
  }

  private renderPairs(r: QueryReview): HTMLElement {
    const byId = new Map(r.expansions.map((s) => [s.expansion.id, s]));
    const side = (id: string, kind: 'chosen' | 'rejected'): HTMLElement => {
      const s = byId.get(id);
      const label = kind === 'chosen' ? 'Chosen' : 'Rejected';
      if (s === undefined) return el('td', { className: `${kind} muted`, text: `(missing ${id})`, attrs: { 'data-label': label } });
      return el('td', { className: kind, attrs: { 'data-label': label } }, [
        el('span', { className: 'exp-label', text: expansionLabel(s.expansion) }),
        ' ',
        el('span', { className: `delta ${deltaClass(s.score?.delta)}`, text: formatDelta(s.score?.delta ?? null) }),
        ' ',
        el('span', { className: 'muted small', text: formatLength(s.expansion.generated), attrs: { 'data-testid': `${kind}-length` } }),
      ]);
    };
    // Chosen/rejected length ratio: pairs whose chosen side is much longer teach DPO "write longer".
    const ratio = (p: PairRecord): HTMLElement | null => {
      const c = byId.get(p.chosenId)?.expansion.generated;
      const rj = byId.get(p.rejectedId)?.expansion.generated;
      if (c === undefined || rj === undefined) return null;
      return el('div', { className: 'muted small', text: `length ${formatLengthRatio(c, rj)}`, title: 'Chosen length / rejected length, characters', attrs: { 'data-testid': 'length-ratio' } });
    };
    const rows = r.pairs.map((p) => {
      const focused = p.id === this.state.focusedPair;
      const note = el('vscode-textfield', { className: 'note', attrs: { placeholder: 'Add a note…', 'aria-label': 'Note for this pair', 'data-testid': 'pair-note' } }) as HTMLElement & { value: string };
      note.value = p.note ?? '';
      note.addEventListener('change', () => void this.call('Save note', () => this.rpc.request('pairs/note', { pairId: p.id, note: note.value })).then((res) => res && this.setStatus('Note saved.')));
      const flips = judgedHere(this.judge) && this.judge.pairs[p.id]?.flipped === true;
      const row = el('tr', { className: `pair ${p.state}${focused ? ' focused' : ''}${flips ? ' flipped' : ''}`, attrs: { tabindex: '0', 'data-pair': p.id, 'aria-selected': String(focused) }, on: { click: () => { this.state.focusedPair = p.id; this.save(); this.render(); } } }, [
        el('td', { className: 'pair-state' }, [el('vscode-badge', { className: `state ${p.state}`, text: p.state, attrs: { 'data-testid': 'pair-state' } }), p.origin === 'manual' ? el('span', { className: 'muted small', text: ' manual' }) : null]),
        side(p.chosenId, 'chosen'),
        side(p.rejectedId, 'rejected'),
        el('td', { className: 'num', attrs: { 'data-label': 'Margin' } }, [formatScore(p.margin), judgedHere(this.judge) ? pairJudge(this.judge.pairs[p.id]) : null, ratio(p)]),
        el('td', { className: 'pair-actions' }, [
          this.button('Accept', 'Accept this pair (a)', () => void this.setPairState(p, 'accepted'), { secondary: p.state === 'accepted', testid: 'accept' }),
          this.button('Reject', 'Reject this pair (r)', () => void this.setPairState(p, 'rejected'), { secondary: true, testid: 'reject' }),
          this.button('Swap', 'Swap chosen and rejected (s)', () => void this.call('Swap', () => this.rpc.request('pairs/swap', { pairId: p.id })), { secondary: true, testid: 'swap' }),
        ]),
        el('td', { className: 'pair-note' }, [note]),
      ]);
      return row;
    });
    const table =
      r.pairs.length === 0
        ? el('p', { className: 'muted', text: 'No pairs for this query. Run “QX: Build Pairs”, or pick a chosen and a rejected expansion below.' })
        : el('table', { className: 'pairs', attrs: { 'data-testid': 'pairs' } }, [
            el('thead', {}, [el('tr', {}, ['State', 'Chosen', 'Rejected', 'Margin', 'Actions', 'Note'].map((h) => el('th', { text: h })))]),
            el('tbody', {}, rows),
          ]);
    const { chosen, rejected } = this.state.pick;
    const pickLine =
      chosen !== undefined || rejected !== undefined
        ? el('div', { className: 'picker' }, [
            el('span', { text: `New pair — chosen: ${chosen ? expansionLabel(byId.get(chosen)?.expansion ?? ({ method: '?', model: '?', sampleIndex: 0 } as ScoredExpansion['expansion'])) : 'pick one below'} · rejected: ${rejected ? expansionLabel(byId.get(rejected)?.expansion ?? ({ method: '?', model: '?', sampleIndex: 0 } as ScoredExpansion['expansion'])) : 'pick one below'}` }),
            this.button('Create pair', 'Create a pair from the picked expansions', () => void this.createPair(r.qid), { disabled: chosen === undefined || rejected === undefined || chosen === rejected, testid: 'create-pair' }),
            this.button('Clear', 'Clear the picked expansions', () => { this.state.pick = {}; this.save(); this.render(); }, { secondary: true }),
          ])
        : null;
    return el('section', { className: 'pairs-section' }, [el('h3', { text: `Pairs (${r.pairs.length})` }), table, pickLine]);
  }

  private async createPair(qid: string): Promise<void> {
    const { chosen, rejected } = this.state.pick;
    if (chosen === undefined || rejected === undefined) return;
    const p = await this.call('Create pair', () => this.rpc.request('pairs/create', { qid, chosenId: chosen, rejectedId: rejected }));
    if (p !== undefined) {
      this.state.pick = {};
      this.state.focusedPair = p.id;
      this.save();
      this.setStatus('Pair created.');
    }
  }

  private renderExpansions(r: QueryReview): HTMLElement {
    const sorted = [...r.expansions].sort((a, b) => (b.score?.delta ?? -Infinity) - (a.score?.delta ?? -Infinity));
    return el('section', { className: 'expansions' }, [
      el('h3', { text: `Expansions (${r.expansions.length})` }),
      r.expansions.length === 0 ? el('p', { className: 'muted', text: 'No expansions yet: expand with the teacher or student, or import a file.' }) : null,
      ...sorted.map((s) => this.renderExpansion(r, s)),
    ]);
  }

  private renderExpansion(r: QueryReview, s: ScoredExpansion): HTMLElement {
    const e = s.expansion;
    const sc = s.score;
    const draft = this.state.drafts[e.id];
    const editing = draft !== undefined;
    const { chosen, rejected } = this.state.pick;
    const head = el('div', { className: 'exp-head' }, [
      el('vscode-badge', { className: `role ${e.role}`, text: e.role }),
      el('span', { className: 'exp-label', text: expansionLabel(e) }),
      e.template !== undefined ? el('span', { className: 'muted small', text: `${e.template.id} v${e.template.version}` }) : null,
      e.editedFrom !== undefined ? el('span', { className: 'muted small', text: 'edited' }) : null,
      el('span', { className: 'muted small', text: formatLength(e.generated), attrs: { 'data-testid': 'length' } }),
      e.outputKind !== undefined ? el('span', { className: 'muted small', text: e.outputKind + (e.conditioning === 'retrieval' ? ', retrieval-conditioned' : '') }) : null,
      el('span', { className: 'spacer' }),
      sc === null
        ? el('span', { className: 'muted', text: 'not scored' })
        : el('span', { className: 'metrics' }, [
            judgedHere(this.judge) && this.judge.expansions[e.id] !== undefined ? ndcgPair('nDCG@10', this.judge.expansions[e.id]!) : metric('nDCG@10', formatScore(sc.ndcg10)),
            el('span', { className: `delta big ${deltaClass(sc.delta)}`, text: `Δ ${formatDelta(sc.delta)}`, attrs: { 'data-testid': 'delta' } }),
            metric('Judged@10', formatPercent(sc.judged10)),
            sc.unjudgedFlag ? el('span', { className: 'warn', text: '⚠ rests on unjudged docs', title: 'An unjudged document entered the top 10: the delta may understate this expansion.' }) : null,
          ]),
    ]);
    const text = el('p', { className: 'generated', text: e.generated, attrs: { 'data-testid': 'generated' } });
    const final = el('details', { className: 'final' }, [el('summary', { text: `Final retrieval string (${e.formulation})` }), el('pre', { text: e.final })]);
    const moves = sc === null ? null : this.renderMoves(r.qid, sc);
    const actions = el('div', { className: 'exp-actions' }, [
      editing || e.role === 'baseline' ? null : this.button('Edit', 'Edit the generated text and see it re-scored', () => { this.state.drafts[e.id] = e.generated; this.save(); this.render(); this.root.querySelector<HTMLElement>(`[data-editor="${CSS.escape(e.id)}"]`)?.focus(); }, { secondary: true, testid: 'edit' }),
      this.button(chosen === e.id ? 'Chosen ✓' : 'Use as chosen', 'Pick as the chosen side of a new pair', () => { this.state.pick = { ...this.state.pick, chosen: e.id }; this.save(); this.render(); }, { secondary: chosen !== e.id, testid: 'pick-chosen' }),
      this.button(rejected === e.id ? 'Rejected ✓' : 'Use as rejected', 'Pick as the rejected side of a new pair', () => { this.state.pick = { ...this.state.pick, rejected: e.id }; this.save(); this.render(); }, { secondary: rejected !== e.id, testid: 'pick-rejected' }),
    ]);
    const card = el('article', { className: `expansion${editing ? ' editing' : ''}`, attrs: { 'data-expansion': e.id } }, [head, editing ? null : text, editing ? this.renderEditor(s, draft) : null, final, moves, actions]);
    return card;
  }

  private renderMoves(qid: string, sc: ExpansionScore): HTMLElement | null {
    if (sc.entered.length === 0 && sc.left.length === 0) return el('p', { className: 'muted small', text: 'Same top 10 as the original query.' });
    const chip = (m: DocMove, kind: 'in' | 'out') =>
      el(
        'button',
        {
          className: `doc ${kind} ${m.grade === null ? 'unjudged' : m.grade > 0 ? 'relevant' : 'nonrelevant'}`,
          title: docTitle(m, this.judge),
          attrs: { 'data-testid': 'doc', 'data-docid': m.docid },
          on: { click: () => void this.call('Open document', () => this.rpc.request('docs/open', { docid: m.docid, qid })) },
        },
        [`${m.docid} · `, ...docStatus(m, this.judge), ` · #${m.rank}`],
      );
    return el('div', { className: 'moves' }, [
      sc.entered.length > 0 ? el('div', {}, [el('span', { className: 'move-label', text: `Entered top 10 (${sc.entered.length})` }), ...sc.entered.map((m) => chip(m, 'in'))]) : null,
      sc.left.length > 0 ? el('div', {}, [el('span', { className: 'move-label', text: `Left top 10 (${sc.left.length})` }), ...sc.left.map((m) => chip(m, 'out'))]) : null,
    ]);
  }

  private renderEditor(s: ScoredExpansion, draft: string): HTMLElement {
    const e = s.expansion;
    const area = el('vscode-textarea', { attrs: { rows: '5', resize: 'vertical', 'aria-label': `Edit the generated text of ${expansionLabel(e)}`, 'data-editor': e.id, 'data-testid': 'editor' } }) as HTMLElement & { value: string };
    area.value = draft;
    const preview = el('div', { className: 'preview muted', attrs: { 'data-testid': 'preview', 'aria-live': 'polite' }, text: draft === e.generated ? 'Edit the text to see it re-scored.' : 'Scoring…' });
    const save = this.button('Save edit', 'Store the edited expansion (scored); pairs using it become "edited"', () => void this.saveEdit(e.id, area.value), { testid: 'save-edit' });
    const cancel = this.button('Cancel', 'Discard this edit', () => { delete this.state.drafts[e.id]; this.save(); this.render(); }, { secondary: true, testid: 'cancel-edit' });
    area.addEventListener('input', () => {
      this.state.drafts[e.id] = area.value;
      this.save();
      this.schedulePreview(e.id, area.value, preview, s.score);
    });
    area.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') cancel.click();
      if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) save.click();
    });
    if (draft !== e.generated) this.schedulePreview(e.id, draft, preview, s.score);
    return el('div', { className: 'editor' }, [area, preview, el('div', { className: 'exp-actions' }, [save, cancel, el('span', { className: 'muted small', text: 'Ctrl+Enter save · Esc cancel' })])]);
  }

  private schedulePreview(expansionId: string, text: string, out: HTMLElement, before: ExpansionScore | null): void {
    const old = this.previewTimers.get(expansionId);
    if (old !== undefined) clearTimeout(old);
    const seq = (this.previewSeq.get(expansionId) ?? 0) + 1;
    this.previewSeq.set(expansionId, seq);
    if (text.trim().length === 0) {
      out.textContent = 'Empty text cannot be scored.';
      return;
    }
    out.textContent = 'Scoring…';
    this.previewTimers.set(
      expansionId,
      setTimeout(() => {
        this.previewTimers.delete(expansionId);
        this.rpc.request('expansions/preview', { expansionId, generated: text }).then(
          ({ score }) => {
            if (this.previewSeq.get(expansionId) !== seq) return;
            const change = before === null ? '' : ` (was ${formatScore(before.ndcg10)})`;
            out.replaceChildren(
              el('span', { text: `Preview: nDCG@10 ${formatScore(score.ndcg10)}${change} · ` }),
              el('span', { className: `delta ${deltaClass(score.delta)}`, text: `Δ ${formatDelta(score.delta)}` }),
              el('span', { text: ` · Judged@10 ${formatPercent(score.judged10)} · ${score.entered.length} entered, ${score.left.length} left the top 10` }),
            );
            out.className = 'preview';
          },
          (err: unknown) => {
            if (this.previewSeq.get(expansionId) !== seq) return;
            out.className = 'preview error';
            out.textContent = `Preview failed: ${err instanceof Error ? err.message : String(err)}`;
          },
        );
      }, previewDebounceMs),
    );
  }

  private async saveEdit(expansionId: string, text: string): Promise<void> {
    if (text.trim().length === 0) return this.showError('The edited text is empty.', 'usage');
    const saved = await this.call('Save edit', () => this.rpc.request('expansions/save', { expansionId, generated: text }));
    if (saved !== undefined) {
      delete this.state.drafts[expansionId];
      this.save();
      this.render();
      this.setStatus(`Saved: nDCG@10 ${formatScore(saved.score?.ndcg10)} (Δ ${formatDelta(saved.score?.delta ?? null)}).`);
    }
  }

  private renderPlots(): HTMLElement {
    const box = el('vscode-collapsible', { className: 'plots', attrs: { heading: 'Plots', description: 'deltas per method · teacher vs student · gain vs cost' } }) as HTMLElement & { open: boolean };
    box.open = this.state.plotsOpen;
    box.addEventListener('vsc-collapsible-toggle', () => {
      this.state.plotsOpen = box.open;
      this.save();
      if (box.open) void this.loadPlots();
    });
    const content = el('div', { className: 'plot-grid', attrs: { 'data-testid': 'plots' } });
    if (this.plots !== undefined) {
      content.append(deltaHistogram(this.plots), teacherStudentScatter(this.plots, (qid) => void this.call('Open query', () => this.rpc.request('queries/select', { qid }))), costScatter(this.plots) ?? '');
    } else if (this.state.plotsOpen) {
      content.append(el('p', { className: 'muted', text: 'Loading plots…' }));
      queueMicrotask(() => void this.loadPlots());
    }
    box.append(content);
    return box;
  }

  private loading = false;

  private async loadPlots(): Promise<void> {
    if (this.loading || this.plots !== undefined) return;
    this.loading = true;
    try {
      const data = await this.call('Plots', () => this.rpc.request('plots/get', {}));
      if (data !== undefined) {
        this.plots = data;
        const grid = this.root.querySelector('.plot-grid');
        grid?.replaceChildren(deltaHistogram(data), teacherStudentScatter(data, (qid) => void this.call('Open query', () => this.rpc.request('queries/select', { qid }))), costScatter(data) ?? '');
      }
    } finally {
      this.loading = false;
    }
  }

  private renderKeys(): HTMLElement {
    const keys: [string, string][] = [
      ['a', 'accept pair'],
      ['r', 'reject pair'],
      ['s', 'swap'],
      ['↑ ↓', 'focus pair'],
      ['j / k', 'next / previous query'],
      ['u', 'undo'],
    ];
    return el('footer', { className: 'keys' }, keys.map(([k, what]) => el('span', {}, [el('kbd', { text: k }), ` ${what}`])));
  }
}

function metric(label: string, value: string): HTMLElement {
  return el('span', { className: 'metric' }, [el('span', { className: 'muted', text: `${label} ` }), el('strong', { text: value })]);
}
