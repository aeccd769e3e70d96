import type { QueryCostSection } from '../feedback/queryCost.js';

// Renders the query-cost section of the report (see feedback `methodQueryCosts`): nDCG@10 gain
// beside the retrieval cost (postings BM25 walks, analyzed terms) and generation tokens per method.

const f4 = (x: number): string => x.toFixed(4);
const signed = (x: number): string => (x >= 0 ? '+' : '') + x.toFixed(4);
const n1 = (x: number | null): string => (x === null ? 'n/a' : x.toFixed(1));
const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** How the section is computed, one sentence per rule (Markdown, HTML and CLI share them). */
export const QUERY_COST_RULES: readonly string[] = [
  'Terms: analyzed tokens of the retrieval string, repeats counted; postings: entries of the posting lists BM25 walks (the sum of the document frequencies of the distinct matched terms), a FLOPS proxy (SPLADE, Formal et al. 2021).',
  'Means over the scored expansions of the included queries; generation tokens are completion tokens where the server or file reported usage.',
  'Δ per 1k postings: mean nDCG@10 gain per 1,000 postings walked beyond the original query\'s; n/a when the method walks no more.',
];

function rows(s: QueryCostSection): string[][] {
  return [
    ['original query', '-', String(s.original.queries), '', n1(s.original.meanTerms), n1(s.original.meanPostings), '', ''],
    ...s.methods.map((m) => [m.key, m.role, String(m.expansions), signed(m.meanDelta), n1(m.meanTerms), n1(m.meanPostings), n1(m.meanCompletionTokens), m.deltaPerKPostings === null ? 'n/a' : f4(m.deltaPerKPostings)]),
  ];
}
const HEAD = ['method', 'role', 'expansions', 'Δ nDCG@10', 'terms', 'postings', 'gen. tokens', 'Δ per 1k postings'];

/** Plain-text table for the CLI (header, rule, one line per method, cheapest first). */
export function formatQueryCostTable(s: QueryCostSection): string {
  const table = [HEAD, ...rows(s)];
  const widths = HEAD.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
  const lines = table.map((r) => r.map((c, i) => (i <= 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd());
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  return `query cost (cheapest first)\n${lines.join('\n')}\n`;
}

/** The Markdown section: table and rules. */
export function queryCostMarkdown(s: QueryCostSection): string[] {
  const cell = (x: string): string => esc(x).replace(/\|/g, '\\|');
  return [
    '## Query cost',
    '',
    `| ${HEAD.join(' | ')} |`,
    '|---|---|---:|---:|---:|---:|---:|---:|',
    ...rows(s).map((r) => `| ${r.map((c, i) => (i === 0 ? cell(c) : c)).join(' | ')} |`),
    '',
    ...QUERY_COST_RULES.map((x) => `- ${x}`),
    '',
  ];
}

/**
 * An inline SVG scatter of mean nDCG@10 gain (y) against mean postings walked (x, log scale) per
 * method, the original query at Δ 0; one labelled dot per method. No script, no external resource.
 */
export function queryCostPlot(s: QueryCostSection): string {
  const w = 560;
  const h = 320;
  const pad = { l: 60, r: 20, t: 16, b: 40 };
  const pts = [{ label: 'original query', x: s.original.meanPostings, y: 0 }, ...s.methods.map((m) => ({ label: m.key, x: m.meanPostings, y: m.meanDelta }))].filter((p) => p.x > 0);
  if (pts.length === 0) return '<p>No costed expansion.</p>';
  const lx = pts.map((p) => Math.log10(p.x));
  let x0 = Math.floor(Math.min(...lx));
  let x1 = Math.ceil(Math.max(...lx));
  if (x1 === x0) {
    x0 -= 1;
    x1 += 1;
  }
  const ys = pts.map((p) => p.y);
  const yAbs = Math.max(0.01, ...ys.map(Math.abs));
  const X = (v: number): number => pad.l + ((Math.log10(v) - x0) / (x1 - x0)) * (w - pad.l - pad.r);
  const Y = (v: number): number => pad.t + ((yAbs - v) / (2 * yAbs)) * (h - pad.t - pad.b);
  const ticks = Array.from({ length: x1 - x0 + 1 }, (_, i) => x0 + i)
    .map((e) => `<line x1="${X(10 ** e).toFixed(1)}" y1="${h - pad.b}" x2="${X(10 ** e).toFixed(1)}" y2="${h - pad.b + 4}" stroke="#333"/><text x="${X(10 ** e).toFixed(1)}" y="${h - pad.b + 16}" text-anchor="middle">${(10 ** e).toLocaleString('en-US')}</text>`)
    .join('');
  const dots = pts
    .map((p, i) => {
      const cx = X(p.x).toFixed(1);
      const cy = Y(p.y).toFixed(1);
      const color = i === 0 ? '#999' : p.y >= 0 ? '#1a7f37' : '#b42318';
      return `<circle cx="${cx}" cy="${cy}" r="5" fill="${color}"><title>${esc(p.label)}: Δ ${signed(p.y)}, ${p.x.toFixed(1)} postings</title></circle><text x="${(Number(cx) + 7).toFixed(1)}" y="${(Number(cy) - 6).toFixed(1)}">${esc(p.label)}</text>`;
    })
    .join('');
  return (
    `<svg role="img" aria-label="Mean nDCG@10 gain against postings walked per method" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-size="11">` +
    `<rect x="${pad.l}" y="${pad.t}" width="${w - pad.l - pad.r}" height="${h - pad.t - pad.b}" fill="none" stroke="#333"/>` +
    `<line x1="${pad.l}" y1="${Y(0).toFixed(1)}" x2="${w - pad.r}" y2="${Y(0).toFixed(1)}" stroke="#999" stroke-dasharray="4,3"/>${ticks}${dots}` +
    `<text x="${(pad.l + w - pad.r) / 2}" y="${h - 6}" text-anchor="middle">mean postings walked per query (log scale)</text>` +
    `<text x="14" y="${(pad.t + h - pad.b) / 2}" text-anchor="middle" transform="rotate(-90 14 ${(pad.t + h - pad.b) / 2})">mean Δ nDCG@10</text>` +
    `<text x="${pad.l - 4}" y="${pad.t + 10}" text-anchor="end">${signed(yAbs)}</text><text x="${pad.l - 4}" y="${h - pad.b}" text-anchor="end">${signed(-yAbs)}</text></svg>`
  );
}

/** The HTML section: plot, table and rules. */
export function queryCostHtml(s: QueryCostSection): string {
  const body = rows(s)
    .map((r) => `<tr>${r.map((c, i) => `<td${i <= 1 ? ' class="l"' : ''}>${esc(c)}</td>`).join('')}</tr>`)
    .join('\n');
  return `<h2>Query cost: nDCG@10 gain against postings walked</h2>
${queryCostPlot(s)}
<div class="tw"><table><thead><tr>${HEAD.map((x) => `<th>${esc(x)}</th>`).join('')}</tr></thead><tbody>
${body}
</tbody></table></div>
<ul class="note">${QUERY_COST_RULES.map((x) => `<li>${esc(x)}</li>`).join('')}</ul>`;
}
