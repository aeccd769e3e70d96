import { describeLengthStats } from '../curation/lengths.js';
import { COST_RULES, costPercentText, formatDuration, priceSourceText, tokenCells, usdCell } from './cost.js';
import { judgeFilledCells, judgeFilledRuleText } from './judgeFilled.js';
import { formatP, headlineStatsText, recallCell, recallHeader, recallNoteText, studentTeacherRule, unjudgedText } from './markdown.js';
import { queryCostHtml } from './queryCostSection.js';
import type { QxReport } from './report.js';

/** Escapes text for HTML element content and double-quoted attributes. */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

const f3 = (x: number): string => x.toFixed(3);
const palette = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
const colorOf = (i: number): string => palette[i % palette.length] as string;

function barChart(r: QxReport): string {
  const rows = [{ label: 'original query', value: r.original.meanNdcg10, color: '#888888' }, ...r.methods.map((m, i) => ({ label: m.key, value: m.meanNdcg10, color: colorOf(i) }))];
  const labelW = 330;
  const plotW = 480;
  const rowH = 24;
  const h = rows.length * rowH + 40;
  const max = Math.max(0.001, ...rows.map((x) => x.value));
  const scale = (v: number): number => (v / max) * plotW;
  const bars = rows
    .map(
      (row, i) =>
        `<text x="${labelW - 6}" y="${20 + i * rowH + 15}" text-anchor="end">${escapeHtml(row.label)}</text>` +
        `<rect x="${labelW}" y="${20 + i * rowH + 3}" width="${scale(row.value).toFixed(1)}" height="${rowH - 6}" fill="${row.color}"><title>${escapeHtml(row.label)}: ${f3(row.value)}</title></rect>` +
        `<text x="${(labelW + scale(row.value) + 4).toFixed(1)}" y="${20 + i * rowH + 15}">${f3(row.value)}</text>`,
    )
    .join('');
  return `<svg role="img" aria-label="Mean nDCG@10 per method" width="${labelW + plotW + 60}" height="${h}" viewBox="0 0 ${labelW + plotW + 60} ${h}" font-size="12">${bars}<line x1="${labelW}" y1="16" x2="${labelW}" y2="${h - 16}" stroke="#333"/></svg>`;
}

function histograms(r: QxReport): string {
  // An odd number of bins centred on 0, so ties (delta 0) get a bin of their own in the middle.
  const bins = 21;
  let maxAbs = 0.1;
  for (const q of r.perQuery) for (const v of Object.values(q.methods)) maxAbs = Math.max(maxAbs, Math.abs(v - q.original));
  maxAbs = Math.ceil(maxAbs * 10) / 10;
  const w = 300;
  const h = 150;
  const pad = 28;
  return r.methods
    .map((m, mi) => {
      const counts = new Array<number>(bins).fill(0);
      for (const q of r.perQuery) {
        const v = q.methods[m.key];
        if (v === undefined) continue;
        const d = v - q.original;
        const b = Math.min(bins - 1, Math.max(0, Math.round((d / (2 * maxAbs)) * (bins - 1)) + (bins - 1) / 2));
        counts[b] = (counts[b] ?? 0) + 1;
      }
      const top = Math.max(1, ...counts);
      const bw = (w - 2 * pad) / bins;
      const rects = counts
        .map((c, i) => {
          const bh = (c / top) * (h - 2 * pad);
          const step = (2 * maxAbs) / (bins - 1);
          const mid = (i - (bins - 1) / 2) * step;
          return `<rect x="${(pad + i * bw).toFixed(1)}" y="${(h - pad - bh).toFixed(1)}" width="${(bw - 1).toFixed(1)}" height="${bh.toFixed(1)}" fill="${colorOf(mi)}"><title>Δ ${(mid - step / 2).toFixed(2)}…${(mid + step / 2).toFixed(2)}: ${c}</title></rect>`;
        })
        .join('');
      const zeroX = pad + (w - 2 * pad) / 2;
      return (
        `<figure><svg role="img" aria-label="Histogram of per-query delta for ${escapeHtml(m.key)}" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-size="10">` +
        `${rects}<line x1="${zeroX}" y1="${pad - 6}" x2="${zeroX}" y2="${h - pad}" stroke="#333" stroke-dasharray="3,2"/>` +
        `<line x1="${pad}" y1="${h - pad}" x2="${w - pad}" y2="${h - pad}" stroke="#333"/>` +
        `<text x="${(pad + bw / 2).toFixed(1)}" y="${h - 10}" text-anchor="middle">${(-maxAbs).toFixed(1)}</text><text x="${zeroX}" y="${h - 10}" text-anchor="middle">0</text><text x="${(w - pad - bw / 2).toFixed(1)}" y="${h - 10}" text-anchor="middle">+${maxAbs.toFixed(1)}</text>` +
        `<text x="${pad}" y="14">max ${top}</text></svg><figcaption>${escapeHtml(m.key)}</figcaption></figure>`
      );
    })
    .join('');
}

function scatter(r: QxReport): string {
  const h = r.headline;
  if (h === null) return '<p>No teacher and student methods to compare.</p>';
  const size = 360;
  const pad = 40;
  const span = size - 2 * pad;
  const pts = r.perQuery
    .filter((q) => q.methods[h.teacher] !== undefined && q.methods[h.student] !== undefined)
    .map((q) => {
      const x = q.methods[h.teacher] as number;
      const y = q.methods[h.student] as number;
      return `<circle cx="${(pad + x * span).toFixed(1)}" cy="${(size - pad - y * span).toFixed(1)}" r="4" fill="#4e79a7" fill-opacity="0.7"><title>${escapeHtml(q.qid)}: teacher ${f3(x)}, student ${f3(y)}</title></circle>`;
    })
    .join('');
  return (
    `<svg role="img" aria-label="Teacher vs student nDCG@10 per query" width="${size}" height="${size}" viewBox="0 0 ${size} ${size}" font-size="11">` +
    `<rect x="${pad}" y="${pad}" width="${span}" height="${span}" fill="none" stroke="#333"/>` +
    `<line x1="${pad}" y1="${size - pad}" x2="${size - pad}" y2="${pad}" stroke="#999" stroke-dasharray="4,3"/>${pts}` +
    `<text x="${size / 2}" y="${size - 8}" text-anchor="middle">teacher nDCG@10 (${escapeHtml(h.teacher)})</text>` +
    `<text x="12" y="${size / 2}" text-anchor="middle" transform="rotate(-90 12 ${size / 2})">student nDCG@10</text>` +
    `<text x="${pad - 4}" y="${size - pad + 12}" text-anchor="end">0</text><text x="${size - pad}" y="${size - pad + 12}" text-anchor="end">1</text><text x="${pad - 4}" y="${pad + 4}" text-anchor="end">1</text></svg>`
  );
}

/**
 * The report as one self-contained HTML page: no scripts, no external resources, inline SVG
 * plots (mean nDCG@10 per method, per-query delta histograms, teacher-vs-student scatter).
 * Every piece of data-derived text is escaped.
 */
export function renderReportHtml(r: QxReport): string {
  const jf = r.judgeFilled ?? null;
  const rows = r.methods
    .map(
      (m) =>
        `<tr><td>${escapeHtml(m.role)}</td><td>${escapeHtml(m.method)}</td><td>${escapeHtml(m.model)}</td><td>${m.queries}</td><td>${f3(m.meanOriginalNdcg10)}</td><td>${f3(m.meanNdcg10)}</td>` +
        `${jf === null ? '' : `<td>${judgeFilledCells(jf, m.key, 3).filled}</td>`}` +
        `<td class="${m.meanDelta >= 0 ? 'pos' : 'neg'}">${m.meanDelta >= 0 ? '+' : ''}${f3(m.meanDelta)}</td><td>${f3(m.meanOriginalRecall)}</td><td>${recallCell(r, m, 3)}</td>` +
        `<td>${m.wins}/${m.ties}/${m.losses}</td><td>${formatP(m.tTest?.p)}</td><td>${formatP(m.permutation?.p)}</td><td>${unjudgedText(m)}</td>${jf === null ? '' : `<td>${judgeFilledCells(jf, m.key, 3).flipped}</td>`}</tr>`,
    )
    .join('\n');
  const cost = r.cost;
  const st = r.studentVsTeacher
    .map(
      (c) =>
        `<tr><td>${escapeHtml(c.student)}</td><td>${escapeHtml(c.teacher)}</td><td>${c.queries}</td><td>${f3(c.studentNdcg10)}</td><td>${f3(c.teacherNdcg10)}</td><td>${c.percent === null ? 'n/a' : c.percent.toFixed(1) + '%'}</td><td>${c.percentCI === null ? 'n/a' : `${c.percentCI.low.toFixed(1)}–${c.percentCI.high.toFixed(1)}%`}</td><td>${c.wins}/${c.ties}/${c.losses}</td><td>${formatP(c.permutation?.p)}</td><td>${formatP(c.tTest?.p)}</td><td>${c.gainRecoveredPercent === null ? 'n/a' : c.gainRecoveredPercent.toFixed(1) + '%'}</td>` +
        `${cost === null ? '' : `<td>${escapeHtml(costPercentText(cost.studentVsTeacher.find((x) => x.student === c.student && x.teacher === c.teacher)))}</td>`}</tr>`,
    )
    .join('\n');
  const costRows = (cost?.methods ?? [])
    .map((m) => {
      const t = tokenCells(m);
      return (
        `<tr><td>${escapeHtml(m.role)}</td><td>${escapeHtml(m.method)}</td><td>${escapeHtml(m.model)}</td><td class="l">${escapeHtml(m.providers.join(', '))}</td><td>${m.expansions}</td><td>${m.requests ?? 'n/a'}</td>` +
        `<td>${escapeHtml(t.input)}</td><td>${escapeHtml(t.output)}</td><td>${m.wallMs === null ? 'n/a' : formatDuration(m.wallMs)}</td><td>${m.meanLatencyMs === null ? 'n/a' : formatDuration(m.meanLatencyMs)}</td>` +
        `<td>${m.price === null ? 'n/a' : `${m.price.inputPerMTok} / ${m.price.outputPerMTok}`}</td><td>${escapeHtml(usdCell(m))}</td></tr>`
      );
    })
    .join('\n');
  const costSection =
    cost === null
      ? ''
      : `<h2>Inference cost</h2>
<p${cost.prices.kind === 'example' ? ' class="warn"' : ''}>${escapeHtml(priceSourceText(cost.prices))}</p>
${costRows === '' ? '<p>No generated expansions.</p>' : `<div class="tw"><table><thead><tr><th>Role</th><th>Method</th><th>Model</th><th>Provider</th><th>Expansions</th><th>Requests</th><th>Tokens in</th><th>Tokens out</th><th>Wall time</th><th>Per expansion</th><th>Rates in/out per 1M</th><th>Price (USD)</th></tr></thead><tbody>
${costRows}
</tbody></table></div>`}
<ul class="note">${COST_RULES.map((x) => `<li>${escapeHtml(x)}</li>`).join('')}</ul>`;
  const recallNote = recallNoteText(r);
  const h = r.headline;
  const headline =
    h === null
      ? ''
      : `<p class="headline"><b>${escapeHtml(h.student)}</b> reaches <b>${h.percent === null ? 'n/a' : h.percent.toFixed(1) + '%'}</b> of <b>${escapeHtml(h.teacher)}</b>'s nDCG@10 (${f3(h.studentNdcg10)} vs ${f3(h.teacherNdcg10)} over ${h.queries} queries; original ${f3(h.originalNdcg10)}).<br>${escapeHtml(headlineStatsText(h))}.</p>`;
  const excluded =
    r.queries.excluded.length === 0
      ? ''
      : `<h2>Excluded queries (${r.queries.excluded.length})</h2><ul>${r.queries.excluded.map((q) => `<li>${escapeHtml(q.qid)}: ${escapeHtml(q.text)} — ${escapeHtml(q.reason)}</li>`).join('')}</ul>`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>QX Studio report — ${escapeHtml(r.dataset)}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#222;max-width:1150px}
table{border-collapse:collapse;margin:8px 0 20px}th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}
td:nth-child(-n+3),th:nth-child(-n+3){text-align:left}th{background:#f2f2f2}
.pos{color:#1a7f37}.neg{color:#b42318}.headline{font-size:1.15em;background:#eef4fb;padding:8px 12px;border-left:4px solid #4e79a7}
.hists{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0}figcaption{font-size:12px;text-align:center;max-width:300px;overflow-wrap:anywhere}
.note{color:#555;font-size:.9em}.tw{overflow-x:auto}.l{text-align:left}.warn{background:#fff4e5;padding:6px 10px;border-left:4px solid #f28e2b}
</style></head><body>
<h1>QX Studio report — ${escapeHtml(r.dataset)}</h1>
<p>Created ${escapeHtml(r.createdAt)}. ${r.queries.included} of ${r.queries.total} queries included. Original queries: nDCG@10 ${f3(r.original.meanNdcg10)}${jf === null ? '' : ` (judge-filled ${f3(jf.original.filled)})`}, Recall@${r.recallK} ${f3(r.original.meanRecall)}.</p>${r.pairLengths !== undefined && r.pairLengths.pairs > 0 ? `\n<p>Pair lengths: ${escapeHtml(describeLengthStats(r.pairLengths))}.</p>` : ''}
${headline}
<h2>Methods vs the original query</h2>
<div class="tw"><table><thead><tr><th>Role</th><th>Method</th><th>Model</th><th>Queries</th><th>nDCG@10 orig</th><th>nDCG@10</th>${jf === null ? '' : '<th>nDCG@10 judge-filled</th>'}<th>Δ</th><th>${recallHeader(r)} orig</th><th>${recallHeader(r)}</th><th>W/T/L</th><th>p (t-test)</th><th>p (perm.)</th><th>Δ on unjudged</th>${jf === null ? '' : '<th>Flipped pairs</th>'}</tr></thead>
<tbody>
${rows}
</tbody></table></div>
${jf === null ? '' : `<p class="note">${escapeHtml(judgeFilledRuleText(jf))}</p>`}
${recallNote === null ? '' : `<p class="note">${escapeHtml(recallNote)}</p>`}
<h2>Mean nDCG@10</h2>
${barChart(r)}
<h2>Per-query Δ nDCG@10 vs the original</h2>
<div class="hists">${histograms(r)}</div>
${st === '' ? '' : `<h2>Student vs teacher</h2><div class="tw"><table><thead><tr><th>Student</th><th>Teacher</th><th>Queries</th><th>Student nDCG@10</th><th>Teacher nDCG@10</th><th>Student/Teacher</th><th>95% CI</th><th>W/T/L</th><th>p (perm.)</th><th>p (t-test)</th><th>Gain recovered</th>${cost === null ? '' : '<th>Cost/expansion student/teacher</th>'}</tr></thead><tbody>${st}</tbody></table></div>`}
<h2>Teacher vs student per query</h2>
${scatter(r)}
${costSection}
${r.queryCost === undefined || r.queryCost === null ? '' : queryCostHtml(r.queryCost)}
${excluded}
<p class="note">Queries with no positive judgment are excluded from every mean (trec_eval ignores those with no judgments at all too, and averages in as 0 those judged with no grade &gt; 0). A method's per-query score is the mean over its samples. W/T/L: above / within ${r.tieThreshold} of / below the original. p (t-test): paired two-sided t-test on per-query nDCG@10; p (perm.): paired sign-flip randomization test (exact for ≤ 16 queries, else 10,000 seeded flips). Δ on unjudged: expansions where an unjudged document entered the top 10 (the delta may come from missing judgments), and their share.${r.studentVsTeacher.length === 0 ? '' : ` ${escapeHtml(studentTeacherRule(r))}`}</p>
</body></html>
`;
}
