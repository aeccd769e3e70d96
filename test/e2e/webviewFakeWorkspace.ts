// An in-memory WorkspaceApi with synthetic, seeded data: what the Review panel tests, the browser
// benchmark and the 10k-query tree test run against. Test and benchmark code only.
import type { DocMove, ExpansionScore, PairRecord, PairState } from '../../src/core/curation/types.js';
import type { ExpansionRecord } from '../../src/core/expansion/types.js';
import type { CorpusDoc } from '../../src/core/dataset/types.js';
import type { QueryReview, QuerySummary, ScoredExpansion, UndoResult, WorkspaceApi } from '../../src/core/workspace/api.js';
import { mulberry32 } from '../../src/core/random.js';

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619) >>> 0;
  return h;
}

const words = ['rainfall', 'amazon', 'basin', 'protein', 'synthesis', 'cell', 'tax', 'credit', 'solar', 'panel', 'efficiency', 'roman', 'empire', 'decline', 'vitamin', 'deficiency', 'symptoms', 'neural', 'network', 'training'];

export const hostileText = 'Passage with <script>window.__xss = 1</script> and <img src=x onerror="window.__xss = 2"> markup.';

/** An in-memory WorkspaceApi: the calls the Review panel makes, with real state changes and undo. */
export class FakeWorkspace implements WorkspaceApi {
  readonly root = '/fake';
  readonly name: string;
  readonly defaultTemplate = 'query2doc-zs';
  protected readonly topics: { qid: string; text: string; base: number; judged: number; byGrade: Record<string, number> }[] = [];
  protected readonly expansions = new Map<string, ScoredExpansion[]>();
  protected readonly pairs = new Map<string, PairRecord[]>();
  private readonly docs = new Map<string, CorpusDoc>();
  private readonly undoStack: { description: string; qid: string; undo: () => void }[] = [];
  private editCount = 0;
  /** Every previewScore call, for tests that check the debounce. */
  previewCalls: string[] = [];

  constructor(n: number, seed = 7, name = 'synthetic') {
    this.name = name;
    const rand = mulberry32(seed);
    for (let i = 0; i < n; i++) {
      const qid = String(1000 + i);
      const text = Array.from({ length: 3 + Math.floor(rand() * 3) }, () => words[Math.floor(rand() * words.length)]).join(' ');
      const base = Math.round(rand() * 700) / 1000;
      this.topics.push({ qid, text, base, judged: 40 + Math.floor(rand() * 100), byGrade: { '3': 2 + Math.floor(rand() * 4), '2': 5, '1': 9, '0': 30 } });
      const list: ScoredExpansion[] = [];
      const specs: [string, ExpansionRecord['role'], string][] = [
        ['query2doc-zs', 'teacher', 'Qwen2.5-72B-Instruct'],
        ['query2doc-fs', 'teacher', 'Qwen2.5-72B-Instruct'],
        ['query2doc-zs', 'student', 'Qwen2.5-7B-Instruct'],
      ];
      for (const [method, role, model] of specs) {
        const generated = i === 0 && role === 'student' ? hostileText : `${text} refers to ${words[Math.floor(rand() * words.length)]} and ${words[Math.floor(rand() * words.length)]}; studies report how ${text} varies across regions and over time.`;
        const final = `${text} ${text} ${text} ${text} ${text} ${generated}`;
        const e: ExpansionRecord = { id: `${qid}-${method}-${role}`, qid, query: text, method, role, model, provider: 'import', sampleIndex: 0, generated, formulation: 'query2doc', final, createdAt: '2026-11-23T00:00:00Z' };
        const ndcg = Math.round(Math.min(1, Math.max(0, base + (rand() - 0.4) * 0.5)) * 1000) / 1000;
        list.push({ expansion: e, score: this.makeScore(e.id, qid, ndcg, base, rand) });
      }
      this.expansions.set(qid, list);
      const scored = [...list].sort((a, b) => (b.score?.ndcg10 ?? 0) - (a.score?.ndcg10 ?? 0));
      const best = scored[0];
      const worst = scored[scored.length - 1];
      const ps: PairRecord[] = [];
      if (best?.score && worst?.score && best.score.ndcg10 - worst.score.ndcg10 >= 0.05 && best.score.delta > 0) {
        ps.push({ id: `p-${qid}-1`, qid, chosenId: best.expansion.id, rejectedId: worst.expansion.id, margin: best.score.ndcg10 - worst.score.ndcg10, state: 'auto', origin: 'auto', createdAt: 't', updatedAt: 't' });
      }
      this.pairs.set(qid, ps);
    }
    this.docs.set('D1', { id: 'D1', title: 'A hostile passage', text: hostileText });
  }

  private makeScore(expansionId: string, qid: string, ndcg10: number, base: number, rand: () => number): ExpansionScore {
    const move = (k: number, entered: boolean): DocMove => {
      const g = rand();
      return { docid: `D${1 + Math.floor(rand() * 9000)}`, grade: g < 0.3 ? null : g < 0.6 ? 0 : Math.ceil(g * 3) - 1, rank: entered ? 1 + k * 3 : 2 + k * 2 };
    };
    const entered = Array.from({ length: Math.floor(rand() * 4) }, (_, k) => move(k, true));
    const left = Array.from({ length: Math.floor(rand() * 3) }, (_, k) => move(k, false));
    return { expansionId, qid, ndcg10, delta: Math.round((ndcg10 - base) * 1000) / 1000, recall: Math.round(rand() * 1000) / 1000, recallK: 1000, judged10: Math.round((0.6 + rand() * 0.4) * 10) / 10, entered, left, unjudgedFlag: entered.some((m) => m.grade === null), top10: [] };
  }

  private topic(qid: string) {
    const t = this.topics.find((x) => x.qid === qid);
    if (t === undefined) throw Object.assign(new Error(`Unknown query ${qid}.`), { code: 'dataset' });
    return t;
  }

  private findPair(pairId: string): PairRecord {
    for (const list of this.pairs.values()) {
      const p = list.find((x) => x.id === pairId);
      if (p !== undefined) return p;
    }
    throw Object.assign(new Error(`Pair ${pairId} does not exist.`), { code: 'store' });
  }

  listQueries(): QuerySummary[] {
    return this.topics.map((t) => {
      const exps = this.expansions.get(t.qid) ?? [];
      const best = exps.reduce<ScoredExpansion | undefined>((b, s) => (s.score !== null && (b?.score == null || s.score.delta > b.score.delta) ? s : b), undefined);
      const counts: Record<PairState, number> = { auto: 0, accepted: 0, rejected: 0, edited: 0 };
      for (const p of this.pairs.get(t.qid) ?? []) counts[p.state]++;
      return { qid: t.qid, text: t.text, judged: t.judged, relevant: 10, baseNdcg10: t.base, bestDelta: best?.score?.delta ?? null, bestMethod: best?.expansion.method ?? null, judged10: 0.8, expansions: exps.length, pairs: counts, noRelevant: false };
    });
  }

  getQueryReview(qid: string): QueryReview {
    const t = this.topic(qid);
    return {
      qid,
      text: t.text,
      qrels: { judged: t.judged, byGrade: t.byGrade },
      original: { ndcg10: t.base, recall: 0.61, judged10: 0.9, top10: [] },
      expansions: structuredClone(this.expansions.get(qid) ?? []),
      pairs: structuredClone(this.pairs.get(qid) ?? []),
    };
  }

  getDocument(docid: string): CorpusDoc | undefined {
    return this.docs.get(docid) ?? (/^D\d+$/.test(docid) ? { id: docid, text: `Text of ${docid}.` } : undefined);
  }

  async previewScore(qid: string, finalText: string): Promise<ExpansionScore> {
    this.previewCalls.push(finalText);
    const t = this.topic(qid);
    const ndcg10 = (hash(finalText) % 1000) / 1000;
    return { expansionId: 'preview', qid, ndcg10, delta: Math.round((ndcg10 - t.base) * 1000) / 1000, recall: 0.5, recallK: 1000, judged10: 0.9, entered: [], left: [], unjudgedFlag: false, top10: [] };
  }

  async editExpansion(expansionId: string, generated: string): Promise<ScoredExpansion> {
    const qid = expansionId.split('-')[0] ?? '';
    const list = this.expansions.get(qid) ?? [];
    const old = list.find((s) => s.expansion.id === expansionId);
    if (old === undefined) throw Object.assign(new Error(`Expansion ${expansionId} not found.`), { code: 'store' });
    const final = old.expansion.final.replace(old.expansion.generated, generated);
    const e: ExpansionRecord = { ...old.expansion, id: `${expansionId}-edit${++this.editCount}`, method: 'edited', provider: 'edit', generated, final, editedFrom: expansionId };
    const score = { ...(await this.previewScore(qid, final)), expansionId: e.id };
    const added: ScoredExpansion = { expansion: e, score };
    list.push(added);
    const before = structuredClone(this.pairs.get(qid) ?? []);
    for (const p of this.pairs.get(qid) ?? []) {
      if (p.chosenId === expansionId || p.rejectedId === expansionId) {
        if (p.chosenId === expansionId) p.chosenId = e.id;
        else p.rejectedId = e.id;
        p.state = 'edited';
      }
    }
    this.undoStack.push({ description: 'expansion edit', qid, undo: () => { list.splice(list.indexOf(added), 1); this.pairs.set(qid, before); } });
    return structuredClone(added);
  }

  private mutatePair(pairId: string, description: string, change: (p: PairRecord) => void): PairRecord {
    const p = this.findPair(pairId);
    const before = { ...p };
    change(p);
    p.updatedAt = new Date().toISOString();
    this.undoStack.push({ description, qid: p.qid, undo: () => Object.assign(p, before) });
    return { ...p };
  }

  setPairState(pairId: string, state: PairState): PairRecord {
    return this.mutatePair(pairId, `pair ${state}`, (p) => { p.state = state; });
  }

  setPairNote(pairId: string, note: string): PairRecord {
    return this.mutatePair(pairId, 'note', (p) => { p.note = note; });
  }

  swapPair(pairId: string): PairRecord {
    return this.mutatePair(pairId, 'swap', (p) => {
      [p.chosenId, p.rejectedId] = [p.rejectedId, p.chosenId];
      p.margin = -p.margin;
      p.state = 'edited';
    });
  }

  createPair(qid: string, chosenId: string, rejectedId: string): PairRecord {
    const list = this.pairs.get(qid) ?? [];
    const score = (id: string) => (this.expansions.get(qid) ?? []).find((s) => s.expansion.id === id)?.score?.ndcg10 ?? 0;
    const p: PairRecord = { id: `p-${qid}-m${list.length + 1}`, qid, chosenId, rejectedId, margin: score(chosenId) - score(rejectedId), state: 'accepted', origin: 'manual', createdAt: 't', updatedAt: 't' };
    list.push(p);
    this.pairs.set(qid, list);
    this.undoStack.push({ description: 'new pair', qid, undo: () => list.splice(list.indexOf(p), 1) });
    return { ...p };
  }

  undo(): UndoResult {
    const last = this.undoStack.pop();
    if (last === undefined) return { description: null, qid: null };
    last.undo();
    return { description: last.description, qid: last.qid };
  }

  pairsOf(qid: string): PairRecord[] {
    return structuredClone(this.pairs.get(qid) ?? []);
  }

  buildIndex(): Promise<void> {
    return Promise.reject(new Error('FakeWorkspace: the pipeline is not part of the Review panel tests.'));
  }
  importExpansions(): Promise<{ imported: number; skipped: number }> {
    return Promise.reject(new Error('FakeWorkspace: not used by the Review panel.'));
  }
  score(): Promise<{ scored: number }> {
    return Promise.reject(new Error('FakeWorkspace: not used by the Review panel.'));
  }
  buildPairs(): Promise<{ pairs: number }> {
    return Promise.reject(new Error('FakeWorkspace: not used by the Review panel.'));
  }
  exportData(): Promise<never> {
    return Promise.reject(new Error('FakeWorkspace: not used by the Review panel.'));
  }
  expand(): Promise<never> {
    return Promise.reject(new Error('FakeWorkspace: not used by the Review panel.'));
  }
  expandBaseline(): Promise<never> {
    return Promise.reject(new Error('FakeWorkspace: not used by the Review panel.'));
  }
  writeReport(): Promise<never> {
    return Promise.reject(new Error('FakeWorkspace: not used by the Review panel.'));
  }
  async close(): Promise<void> {}
}

