import type { PlotData } from '../src/protocol/messages.js';
import { el, svg, svgText } from './dom.js';
import { formatDelta } from './format.js';

const seriesClasses = ['s0', 's1', 's2', 's3', 's4', 's5'];

/** Histogram bins of width `step` covering [-range, range]. */
export function binDeltas(values: number[], range: number, step: number): number[] {
  const n = Math.round((2 * range) / step);
  const bins = new Array<number>(n).fill(0);
  for (const v of values) {
    const i = Math.min(n - 1, Math.max(0, Math.floor((v + range) / step)));
    bins[i] = (bins[i] ?? 0) + 1;
  }
  return bins;
}

/** One small histogram per method on a shared delta axis, so methods compare at a glance. */
export function deltaHistogram(data: PlotData): HTMLElement {
  const methods = Object.keys(data.deltasByMethod).sort();
  if (methods.length === 0) return el('p', { className: 'muted', text: 'No scored expansions yet: run “QX: Score Expansions”.' });
  const all = methods.flatMap((m) => data.deltasByMethod[m] ?? []);
  const range = Math.max(0.1, Math.ceil(Math.max(...all.map((v) => Math.abs(v))) * 10) / 10);
  const step = range / 10;
  const w = 380;
  const rowH = 46;
  const left = 150;
  const plotW = w - left - 8;
  const h = methods.length * rowH + 24;
  const root = svg('svg', { viewBox: `0 0 ${w} ${h}`, class: 'plot', role: 'img', 'aria-label': `Histogram of nDCG@10 deltas for ${methods.length} methods` });
  const x = (v: number) => left + ((v + range) / (2 * range)) * plotW;
  methods.forEach((m, row) => {
    const values = data.deltasByMethod[m] ?? [];
    const bins = binDeltas(values, range, step);
    const max = Math.max(1, ...bins);
    const top = row * rowH + 4;
    const base = top + rowH - 10;
    const mean = values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
    root.appendChild(svgText(left - 6, top + 16, m.length > 26 ? `${m.slice(0, 25)}…` : m, { class: 'label', 'text-anchor': 'end' }));
    root.appendChild(svgText(left - 6, top + 30, `n=${values.length} · mean ${formatDelta(mean)}`, { class: 'label small', 'text-anchor': 'end' }));
    bins.forEach((count, i) => {
      if (count === 0) return;
      const bh = (count / max) * (rowH - 14);
      const bar = svg('rect', { x: x(-range + i * step) + 0.5, y: base - bh, width: Math.max(1, plotW / bins.length - 1), height: bh, class: `bar ${seriesClasses[row % seriesClasses.length] ?? 's0'}` });
      const tip = svg('title');
      tip.textContent = `${m}: ${count} expansions with delta in [${formatDelta(-range + i * step)}, ${formatDelta(-range + (i + 1) * step)})`;
      bar.appendChild(tip);
      root.appendChild(bar);
    });
    root.appendChild(svg('line', { x1: left, x2: left + plotW, y1: base, y2: base, class: 'axis' }));
  });
  const zero = x(0);
  root.appendChild(svg('line', { x1: zero, x2: zero, y1: 0, y2: h - 20, class: 'zero' }));
  root.appendChild(svgText(left, h - 6, formatDelta(-range), { class: 'label small', 'text-anchor': 'start' }));
  root.appendChild(svgText(zero, h - 6, '0', { class: 'label small', 'text-anchor': 'middle' }));
  root.appendChild(svgText(left + plotW, h - 6, formatDelta(range), { class: 'label small', 'text-anchor': 'end' }));
  return el('figure', { className: 'figure' }, [root, el('figcaption', { text: 'Δ nDCG@10 per expansion, by method (expanded − original query)' })]);
}

/** Per query: best teacher nDCG@10 (x) against best student nDCG@10 (y); the diagonal is parity. */
export function teacherStudentScatter(data: PlotData, onPick: (qid: string) => void): HTMLElement {
  const pts = data.teacherVsStudent;
  if (pts.length === 0) return el('p', { className: 'muted', text: 'No query has both a scored teacher and a scored student expansion yet.' });
  const size = 240;
  const pad = 30;
  const inner = size - pad - 8;
  const root = svg('svg', { viewBox: `0 0 ${size} ${size}`, class: 'plot scatter', role: 'img', 'aria-label': `Teacher versus student nDCG@10 for ${pts.length} queries` });
  const px = (v: number) => pad + v * inner;
  const py = (v: number) => 8 + (1 - v) * inner;
  root.appendChild(svg('rect', { x: pad, y: 8, width: inner, height: inner, class: 'frame' }));
  root.appendChild(svg('line', { x1: px(0), y1: py(0), x2: px(1), y2: py(1), class: 'zero' }));
  const above = pts.filter((p) => p.student > p.teacher).length;
  for (const p of pts) {
    const dot = svg('circle', { cx: px(p.teacher), cy: py(p.student), r: 3.5, class: `dot ${p.student > p.teacher ? 'pos' : p.student < p.teacher ? 'neg' : 'zero'}`, tabindex: 0 });
    const tip = svg('title');
    tip.textContent = `Query ${p.qid}: teacher ${p.teacher.toFixed(3)}, student ${p.student.toFixed(3)}`;
    dot.appendChild(tip);
    dot.addEventListener('click', () => onPick(p.qid));
    dot.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') onPick(p.qid);
    });
    root.appendChild(dot);
  }
  root.appendChild(svgText(pad + inner / 2, size - 4, 'teacher nDCG@10', { class: 'label small', 'text-anchor': 'middle' }));
  root.appendChild(svgText(10, 8 + inner / 2, 'student', { class: 'label small', 'text-anchor': 'middle', transform: `rotate(-90 10 ${8 + inner / 2})` }));
  root.appendChild(svgText(pad - 3, py(0) + 3, '0', { class: 'label small', 'text-anchor': 'end' }));
  root.appendChild(svgText(pad - 3, py(1) + 8, '1', { class: 'label small', 'text-anchor': 'end' }));
  return el('figure', { className: 'figure scatter-figure' }, [
    root,
    el('figcaption', { text: `Best student vs best teacher per query (${pts.length} queries; student ahead on ${above}). Click a dot to open the query.` }),
  ]);
}

/**
 * Per method: mean Δ nDCG@10 (y) against the mean postings its BM25 retrieval walks (x, log
 * scale), the original query at Δ 0 as the reference; hover a dot for terms and generation tokens.
 */
export function costScatter(data: PlotData): HTMLElement | null {
  const qc = data.queryCost;
  if (qc === undefined || qc.methods.length === 0) return null;
  const pts = [{ label: 'original query', x: qc.original.meanPostings, y: 0, terms: qc.original.meanTerms, tokens: null as number | null }, ...qc.methods.map((m) => ({ label: m.key, x: m.meanPostings, y: m.meanDelta, terms: m.meanTerms, tokens: m.meanCompletionTokens }))].filter((p) => p.x > 0);
  if (pts.length === 0) return null;
  const w = 380;
  const h = 220;
  const left = 44;
  const top = 8;
  const plotW = w - left - 24;
  const plotH = h - top - 34;
  const lx = pts.map((p) => Math.log10(p.x));
  let x0 = Math.floor(Math.min(...lx));
  let x1 = Math.ceil(Math.max(...lx));
  if (x1 === x0) {
    x0 -= 1;
    x1 += 1;
  }
  // 20% headroom so no dot (or its label) sits on the frame.
  const yAbs = 1.2 * Math.max(0.01, ...pts.map((p) => Math.abs(p.y)));
  const px = (v: number) => left + ((Math.log10(v) - x0) / (x1 - x0)) * plotW;
  const py = (v: number) => top + ((yAbs - v) / (2 * yAbs)) * plotH;
  const root = svg('svg', { viewBox: `0 0 ${w} ${h}`, class: 'plot cost-scatter', role: 'img', 'aria-label': `Mean nDCG@10 gain against postings walked for ${qc.methods.length} methods` });
  root.appendChild(svg('rect', { x: left, y: top, width: plotW, height: plotH, class: 'frame' }));
  root.appendChild(svg('line', { x1: left, x2: left + plotW, y1: py(0), y2: py(0), class: 'zero' }));
  for (let e = x0; e <= x1; e++) root.appendChild(svgText(px(10 ** e), top + plotH + 12, (10 ** e).toLocaleString('en-US'), { class: 'label small', 'text-anchor': e === x1 ? 'end' : e === x0 ? 'start' : 'middle' }));
  pts.forEach((p, i) => {
    const dot = svg('circle', { cx: px(p.x), cy: py(p.y), r: 4, class: `dot ${i === 0 ? 'zero' : p.y > 0 ? 'pos' : p.y < 0 ? 'neg' : 'zero'}`, tabindex: 0 });
    const tip = svg('title');
    tip.textContent = `${p.label}: Δ ${formatDelta(p.y)}, ${p.x.toFixed(1)} postings, ${p.terms.toFixed(1)} terms${p.tokens === null ? '' : `, ${p.tokens.toFixed(1)} generation tokens`}`;
    dot.appendChild(tip);
    root.appendChild(dot);
    const label = p.label.length > 28 ? `${p.label.slice(0, 27)}…` : p.label;
    // Labels of dots in the right half go to their left, and below the dot near the top, so none is cut off.
    const right = px(p.x) > left + plotW / 2;
    const below = py(p.y) < top + 14;
    root.appendChild(svgText(px(p.x) + (right ? -6 : 6), py(p.y) + (below ? 13 : -5), label, { class: 'label small', 'text-anchor': right ? 'end' : 'start' }));
  });
  root.appendChild(svgText(left + plotW / 2, h - 4, 'mean postings walked per query (log)', { class: 'label small', 'text-anchor': 'middle' }));
  root.appendChild(svgText(left - 3, top + 8, formatDelta(yAbs), { class: 'label small', 'text-anchor': 'end' }));
  root.appendChild(svgText(left - 3, top + plotH, formatDelta(-yAbs), { class: 'label small', 'text-anchor': 'end' }));
  return el('figure', { className: 'figure cost-figure' }, [root, el('figcaption', { text: 'Gain against query cost per method: mean Δ nDCG@10 vs mean postings BM25 walks (a FLOPS proxy).' })]);
}
