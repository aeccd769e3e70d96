import type { DocMove, QueryJudgeView, ReviewPairFlip, ReviewRankingFill } from '../src/protocol/messages.js';
import { type Child, el } from './dom.js';
import { formatDelta, formatScore } from './format.js';

/*
 * The LLM judge in the Review panel: what the host computed (src/core/judge/reviewJudge.ts), drawn.
 * Nothing here computes a metric; without judgments none of it is drawn.
 */

/** True when the judge scored some document of this query (else the panel only says it has not). */
export function judgedHere(view: QueryJudgeView | null): view is QueryJudgeView {
  return view !== null && Object.keys(view.docs).length > 0;
}

/** Which judge and how it fills holes, under the query. */
export function judgeInfo(view: QueryJudgeView): HTMLElement {
  const j = view.judge;
  const who = `${j.model} · ${j.template.id} v${j.template.version}`;
  if (!judgedHere(view)) {
    return el('p', { className: 'judge-info muted small', attrs: { 'data-testid': 'judge-info' }, text: `Judge ${who}: none of this query's documents is judged yet (qx judge).` });
  }
  const rule =
    j.mode === 'graded'
      ? 'a hole counts as the rounded expected grade'
      : `a hole scored ≥ ${formatScore(j.threshold)} counts as grade ${j.relevantGrade}${j.thresholdSource === 'calibrated' ? ' (calibrated threshold)' : ' (default threshold: too few judged documents to calibrate)'}`;
  const n = Object.keys(view.docs).length;
  const holes = Object.values(view.docs).filter((d) => d.grade === null).length;
  return el('p', { className: 'judge-info small', attrs: { 'data-testid': 'judge-info' }, title: `Judgments: ${j.file} (${j.judgments} in all), ${j.endpoint}` }, [
    el('span', { className: 'muted', text: 'Judge ' }),
    el('strong', { text: who }),
    el('span', { className: 'muted', text: ` · ${rule} · ${n} documents of this query judged, ${holes} of them unjudged by the qrels` }),
    view.flipped > 0 ? el('span', { className: 'warn', text: ` · ${view.flipped} pair${view.flipped === 1 ? '' : 's'} flip` }) : null,
  ]);
}

/** "nDCG@10 judged-only 0.412  judge-filled 0.455", side by side (they wrap together). */
export function ndcgPair(label: string, fill: ReviewRankingFill): HTMLElement {
  const title = `nDCG@10 with the judge filling the ${fill.unjudged10} unjudged documents of the top 10 (${fill.judgeFilled10} of them scored by the judge); judged-only counts them as not relevant.`;
  return el('span', { className: 'ndcg-pair' }, [
    el('span', { className: 'metric', attrs: { 'data-testid': 'judged-only' } }, [el('span', { className: 'muted', text: `${label} judged-only ` }), el('strong', { text: formatScore(fill.judgedOnly) })]),
    el('span', { className: 'metric judge-filled', title, attrs: { 'data-testid': 'judge-filled' } }, [
      el('span', { className: 'muted', text: 'judge-filled ' }),
      el('strong', { text: formatScore(fill.filled) }),
      fill.unjudged10 > 0 ? el('span', { className: 'muted small', text: ` (${fill.judgeFilled10}/${fill.unjudged10} holes)` }) : null,
    ]),
  ]);
}

/**
 * A moved document's qrels status and judge score, inside its chip: "unjudged · judge 0.82" (holes
 * marked; "judge –" for a hole the judge has not scored), "grade 2 · judge 0.91". Without a judge
 * view: "unjudged" / "grade 2" as before.
 */
export function docStatus(m: DocMove, view: QueryJudgeView | null): Child[] {
  if (!judgedHere(view)) return [m.grade === null ? 'unjudged' : `grade ${m.grade}`];
  const j = view.docs[m.docid];
  const status = m.grade === null ? el('span', { className: 'hole', text: 'unjudged' }) : `grade ${m.grade}`;
  // A hole the judge has not scored stays a hole in judge-filled nDCG too: say so; a judged document needs no mark.
  if (j === undefined) return m.grade === null ? [status, ' · ', el('span', { className: 'judge-score none', text: 'judge –', attrs: { 'data-testid': 'judge-score' } })] : [status];
  return [status, ' · ', el('span', { className: 'judge-score', text: `judge ${j.score.toFixed(2)}`, attrs: { 'data-testid': 'judge-score' } })];
}

/** The chip's tooltip with a judge: what the judge said and what judge-filled nDCG@10 makes of it. */
export function docTitle(m: DocMove, view: QueryJudgeView | null): string {
  const open = `Open document ${m.docid}`;
  if (!judgedHere(view)) return open;
  const j = view.docs[m.docid];
  if (j === undefined) return `${open}. ${m.grade === null ? 'Unjudged by the qrels and' : 'Judged by the qrels;'} not scored by the judge.`;
  const judge = `The judge scores it ${j.score.toFixed(3)}`;
  return m.grade === null ? `${open}. Unjudged by the qrels (a hole). ${judge}, so judge-filled nDCG@10 counts it as grade ${j.filledGrade}.` : `${open}. Qrels grade ${m.grade}. ${judge}; the qrels' grade is kept.`;
}

/** Under a pair's margin: its judge-filled margin, and a mark when the order flips. */
export function pairJudge(flip: ReviewPairFlip | undefined): HTMLElement | null {
  if (flip === undefined) return null;
  return el('div', { className: 'small pair-judge', attrs: { 'data-testid': 'pair-judge' }, title: `Margin with the judge filling the holes ${formatDelta(flip.filledMargin)} (judged-only ${formatDelta(flip.judgedMargin)})` }, [
    el('span', { className: 'muted', text: `filled ${formatDelta(flip.filledMargin)}` }),
    flip.flipped ? el('span', { className: 'warn flip', text: ' ⇄ flips', attrs: { 'data-testid': 'pair-flip' } }) : null,
  ]);
}
