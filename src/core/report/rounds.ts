import type { QxReport } from './report.js';
import { mulberry32 } from '../random.js';

/** The method label of a round's expansions with `template`: `query2doc-zs@r2`. */
export function roundMethod(template: string, round: number): string {
  return `${template}@r${round}`;
}

/** The template and round of a round method label, or null for any other method. */
export function parseRoundMethod(method: string): { template: string; round: number } | null {
  const m = /^(.+)@r(\d+)$/.exec(method);
  return m === null ? null : { template: m[1] as string, round: Number(m[2]) };
}

/** Win/tie/loss counts of per-query nDCG@10 against a reference. */
export interface Wtl {
  wins: number;
  ties: number;
  losses: number;
  /** Queries both cover. */
  queries: number;
}

/** One row of the rounds table: the original query, the teacher, a round, or a baseline. */
export interface RoundRow {
  kind: 'original' | 'teacher' | 'round' | 'baseline';
  /** The report's method key ("role/method/model"); null for the original query. */
  key: string | null;
  label: string;
  round: number | null;
  model: string;
  queries: number;
  meanNdcg10: number;
  /** 100 × mean / teacher's mean over the queries both cover; null for the teacher itself or without one. */
  percentOfTeacher: number | null;
  /** 95% percentile bootstrap interval of `percentOfTeacher` (resampled queries). */
  interval: [number, number] | null;
  /** Per-query wins against the teacher. */
  vsTeacher: Wtl | null;
  /** Per-query wins against the previous round of the same template (rounds ≥ 1 only). */
  vsPrevious: Wtl | null;
}

export interface RoundReport {
  dataset: string;
  createdAt: string;
  /** Key of the teacher every round is compared with; null when there is no teacher. */
  teacher: string | null;
  queries: number;
  rows: RoundRow[];
  bootstrap: { resamples: number; seed: number };
}

function quantile(sorted: readonly number[], p: number): number {
  const i = (sorted.length - 1) * p;
  const lo = Math.floor(i);
  const hi = Math.ceil(i);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (i - lo);
}

/**
 * Compares every student round (student methods named `<template>@r<N>`) with the teacher and the
 * baselines, from a workspace report:
 * - the teacher is `teacher` (a method key) or the report's best teacher method;
 * - % of teacher = 100 × round mean / teacher mean over the queries both cover, with a 95%
 *   percentile bootstrap interval (`resamples` query resamples, default 2000, seeded, default 7);
 * - per-query W/T/L against the teacher and against the previous round of the same template
 *   (|difference| ≤ the report's tie threshold is a tie).
 * Rows: original BM25, the teacher, rounds by template then round, baselines.
 */
export function buildRoundReport(report: QxReport, options: { teacher?: string; resamples?: number; seed?: number } = {}): RoundReport {
  const resamples = options.resamples ?? 2000;
  const seed = options.seed ?? 7;
  const tie = report.tieThreshold;
  const perMethod = new Map<string, Map<string, number>>();
  for (const q of report.perQuery) for (const [k, v] of Object.entries(q.methods)) {
    let m = perMethod.get(k);
    if (m === undefined) perMethod.set(k, (m = new Map()));
    m.set(q.qid, v);
  }
  const teacher = options.teacher !== undefined ? report.methods.find((m) => m.key === options.teacher) : report.methods.find((m) => m.role === 'teacher');
  if (options.teacher !== undefined && teacher === undefined) throw new Error(`no method ${options.teacher} in the report`);
  const tq = teacher === undefined ? undefined : perMethod.get(teacher.key);

  const wtl = (a: Map<string, number>, b: Map<string, number>): Wtl => {
    const common = [...a.keys()].filter((q) => b.has(q));
    const d = common.map((q) => (a.get(q) as number) - (b.get(q) as number));
    return { wins: d.filter((x) => x > tie).length, ties: d.filter((x) => Math.abs(x) <= tie).length, losses: d.filter((x) => x < -tie).length, queries: common.length };
  };
  const percent = (a: Map<string, number>): { p: number | null; interval: [number, number] | null } => {
    if (tq === undefined) return { p: null, interval: null };
    const common = [...a.keys()].filter((q) => tq.has(q)).sort();
    const xs = common.map((q) => a.get(q) as number);
    const ys = common.map((q) => tq.get(q) as number);
    const sum = (v: number[]): number => v.reduce((s, x) => s + x, 0);
    if (common.length === 0 || sum(ys) <= 0) return { p: null, interval: null };
    const next = mulberry32(seed);
    const ratios: number[] = [];
    for (let b = 0; b < resamples; b++) {
      let sx = 0;
      let sy = 0;
      for (let i = 0; i < common.length; i++) {
        const j = Math.floor(next() * common.length);
        sx += xs[j] as number;
        sy += ys[j] as number;
      }
      if (sy > 0) ratios.push((100 * sx) / sy);
    }
    ratios.sort((p, q) => p - q);
    return { p: (100 * sum(xs)) / sum(ys), interval: ratios.length === 0 ? null : [quantile(ratios, 0.025), quantile(ratios, 0.975)] };
  };

  const rows: RoundRow[] = [
    { kind: 'original', key: null, label: 'original BM25', round: null, model: '-', queries: report.queries.included, meanNdcg10: report.original.meanNdcg10, percentOfTeacher: null, interval: null, vsTeacher: null, vsPrevious: null },
  ];
  if (teacher !== undefined && tq !== undefined) {
    rows.push({ kind: 'teacher', key: teacher.key, label: `teacher ${teacher.method}`, round: null, model: teacher.model, queries: teacher.queries, meanNdcg10: teacher.meanNdcg10, percentOfTeacher: null, interval: null, vsTeacher: null, vsPrevious: null });
  }
  const rounds = report.methods
    .filter((m) => m.role === 'student')
    .flatMap((m) => {
      const p = parseRoundMethod(m.method);
      return p === null ? [] : [{ m, ...p }];
    })
    .sort((a, b) => (a.template < b.template ? -1 : a.template > b.template ? 1 : a.round - b.round));
  for (const [i, r] of rounds.entries()) {
    const mine = perMethod.get(r.m.key) ?? new Map<string, number>();
    const prev = i > 0 && rounds[i - 1]?.template === r.template ? rounds[i - 1] : undefined;
    const { p, interval } = percent(mine);
    rows.push({
      kind: 'round',
      key: r.m.key,
      label: `round ${r.round} ${r.template}`,
      round: r.round,
      model: r.m.model,
      queries: r.m.queries,
      meanNdcg10: r.m.meanNdcg10,
      percentOfTeacher: p,
      interval,
      vsTeacher: tq === undefined ? null : wtl(mine, tq),
      vsPrevious: prev === undefined ? null : wtl(mine, perMethod.get(prev.m.key) ?? new Map()),
    });
  }
  for (const m of report.methods.filter((x) => x.role === 'baseline')) {
    const mine = perMethod.get(m.key) ?? new Map<string, number>();
    const { p, interval } = percent(mine);
    rows.push({ kind: 'baseline', key: m.key, label: `baseline ${m.method}`, round: null, model: m.model, queries: m.queries, meanNdcg10: m.meanNdcg10, percentOfTeacher: p, interval, vsTeacher: tq === undefined ? null : wtl(mine, tq), vsPrevious: null });
  }
  return { dataset: report.dataset, createdAt: report.createdAt, teacher: teacher?.key ?? null, queries: report.queries.included, rows, bootstrap: { resamples, seed } };
}

const f4 = (x: number): string => x.toFixed(4);
const pct = (r: RoundRow): string => (r.percentOfTeacher === null ? '' : `${r.percentOfTeacher.toFixed(1)}%${r.interval === null ? '' : ` [${r.interval[0].toFixed(1)}, ${r.interval[1].toFixed(1)}]`}`);
const w = (x: Wtl | null): string => (x === null ? '' : `${x.wins}/${x.ties}/${x.losses}`);

/** The rounds table as fixed-width text (the CLI's output). */
export function renderRoundsText(r: RoundReport): string {
  const head = ['row', 'model', 'queries', 'nDCG@10', '% of teacher [95% CI]', 'W/T/L vs teacher', 'W/T/L vs previous'];
  const body = r.rows.map((x) => [x.label, x.model, String(x.queries), f4(x.meanNdcg10), pct(x), w(x.vsTeacher), w(x.vsPrevious)]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] as string).length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ').trimEnd();
  return [line(head), line(widths.map((n) => '-'.repeat(n))), ...body.map(line)].join('\n') + '\n';
}

/** The rounds table as Markdown, with how the figures are computed. */
export function renderRoundsMarkdown(r: RoundReport): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  return [
    `# Student rounds: ${esc(r.dataset)}`,
    '',
    `${r.queries} queries with a positive judgment; teacher ${r.teacher === null ? 'none' : `\`${esc(r.teacher)}\``}. % of teacher is 100 × mean nDCG@10 / the teacher's over the queries both cover, with a 95% percentile bootstrap interval (${r.bootstrap.resamples} resamples of the queries, seed ${r.bootstrap.seed}); W/T/L counts queries where the row's nDCG@10 is higher/equal/lower.`,
    '',
    '![mean nDCG@10 per round](rounds.svg)',
    '',
    '| row | model | queries | nDCG@10 | % of teacher [95% CI] | W/T/L vs teacher | W/T/L vs previous round |',
    '|---|---|---:|---:|---|---|---|',
    ...r.rows.map((x) => `| ${esc(x.label)} | ${esc(x.model)} | ${x.queries} | ${f4(x.meanNdcg10)} | ${pct(x)} | ${w(x.vsTeacher)} | ${w(x.vsPrevious)} |`),
    '',
  ].join('\n');
}

function xmlEscape(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

/**
 * A line plot of mean nDCG@10 per round (one line per template, bootstrap interval of the % of
 * teacher drawn as the matching nDCG@10 range), with the teacher, the original query and each
 * baseline as horizontal reference lines. Self-contained SVG (no script, no external resource).
 */
export function renderRoundsSvg(r: RoundReport): string {
  const W = 640;
  const H = 360;
  const m = { l: 56, r: 170, t: 24, b: 44 };
  const rounds = r.rows.filter((x) => x.kind === 'round');
  const teacher = r.rows.find((x) => x.kind === 'teacher');
  const refs = r.rows.filter((x) => x.kind !== 'round');
  const lows = rounds.map((x) => (x.interval !== null && teacher !== undefined ? (x.interval[0] / 100) * teacher.meanNdcg10 : x.meanNdcg10));
  const highs = rounds.map((x) => (x.interval !== null && teacher !== undefined ? (x.interval[1] / 100) * teacher.meanNdcg10 : x.meanNdcg10));
  const ys = [...refs.map((x) => x.meanNdcg10), ...rounds.map((x) => x.meanNdcg10), ...lows, ...highs];
  const yMin = Math.max(0, Math.floor((Math.min(...ys) - 0.02) * 20) / 20);
  const yMax = Math.min(1, Math.ceil((Math.max(...ys) + 0.02) * 20) / 20);
  const maxRound = Math.max(1, ...rounds.map((x) => x.round ?? 0));
  const px = (round: number): number => m.l + ((W - m.l - m.r) * round) / maxRound;
  const py = (v: number): number => m.t + ((H - m.t - m.b) * (yMax - v)) / Math.max(1e-9, yMax - yMin);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="mean nDCG@10 per student round">`,
    `<title>Mean nDCG@10 per student round, ${xmlEscape(r.dataset)}</title>`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<g font-family="sans-serif" font-size="11" fill="#333">`,
  ];
  const step = [0.01, 0.02, 0.05, 0.1, 0.2].find((x) => (yMax - yMin) / x <= 8) ?? 0.25;
  for (let v = Math.ceil(yMin / step - 1e-9) * step; v <= yMax + 1e-9; v += step) {
    out.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${py(v).toFixed(1)}" y2="${py(v).toFixed(1)}" stroke="#eee"/>`, `<text x="${m.l - 6}" y="${(py(v) + 4).toFixed(1)}" text-anchor="end">${v.toFixed(2)}</text>`);
  }
  for (let k = 0; k <= maxRound; k++) out.push(`<text x="${px(k).toFixed(1)}" y="${H - m.b + 16}" text-anchor="middle">${k}</text>`);
  out.push(`<text x="${m.l}" y="${m.t - 8}" fill="${'#2471a3'}">● student rounds; bars: 95% bootstrap interval of the % of teacher, as nDCG@10</text>`);
  out.push(`<text x="${((m.l + W - m.r) / 2).toFixed(1)}" y="${H - 8}" text-anchor="middle">round</text>`, `<text x="14" y="${((m.t + H - m.b) / 2).toFixed(1)}" text-anchor="middle" transform="rotate(-90 14 ${((m.t + H - m.b) / 2).toFixed(1)})">mean nDCG@10</text>`);
  const dash: Record<RoundRow['kind'], string> = { teacher: '', original: '6 4', baseline: '2 3', round: '' };
  const colour: Record<RoundRow['kind'], string> = { teacher: '#c0392b', original: '#7f8c8d', baseline: '#8e44ad', round: '#2471a3' };
  // Labels of reference lines at the right margin, pushed apart so close lines stay readable.
  const labelled = [...refs].sort((a, b) => b.meanNdcg10 - a.meanNdcg10).map((x) => ({ x, y: py(x.meanNdcg10) }));
  let last = -Infinity;
  for (const l of labelled) {
    const ly = Math.max(l.y + 4, last + 13);
    last = ly;
    const y = l.y.toFixed(1);
    out.push(
      `<line class="ref ${l.x.kind}" x1="${m.l}" x2="${W - m.r}" y1="${y}" y2="${y}" stroke="${colour[l.x.kind]}" stroke-width="1.5"${dash[l.x.kind] === '' ? '' : ` stroke-dasharray="${dash[l.x.kind]}"`}/>`,
      `<text x="${W - m.r + 6}" y="${ly.toFixed(1)}" fill="${colour[l.x.kind]}">${xmlEscape(l.x.label)} ${f4(l.x.meanNdcg10)}</text>`,
    );
  }
  const byTemplate = new Map<string, RoundRow[]>();
  for (const x of rounds) {
    const t = x.label.replace(/^round \d+ /, '');
    byTemplate.set(t, [...(byTemplate.get(t) ?? []), x]);
  }
  for (const [t, list] of byTemplate) {
    out.push(`<polyline class="rounds" fill="none" stroke="${colour.round}" stroke-width="2" points="${list.map((x) => `${px(x.round ?? 0).toFixed(1)},${py(x.meanNdcg10).toFixed(1)}`).join(' ')}"><title>${xmlEscape(t)}</title></polyline>`);
    for (const x of list) {
      const i = rounds.indexOf(x);
      const cx = px(x.round ?? 0).toFixed(1);
      out.push(
        `<line x1="${cx}" x2="${cx}" y1="${py(lows[i] as number).toFixed(1)}" y2="${py(highs[i] as number).toFixed(1)}" stroke="${colour.round}" stroke-opacity="0.5" stroke-width="3"/>`,
        `<circle class="round" cx="${cx}" cy="${py(x.meanNdcg10).toFixed(1)}" r="4" fill="${colour.round}"><title>${xmlEscape(x.label)}: ${f4(x.meanNdcg10)} (${pct(x)})</title></circle>`,
      );
    }
  }
  out.push('</g>', '</svg>');
  return out.join('\n') + '\n';
}

/** A self-contained HTML page: the plot and the table. */
export function renderRoundsHtml(r: RoundReport): string {
  const rows = r.rows
    .map((x) => `<tr><td>${xmlEscape(x.label)}</td><td>${xmlEscape(x.model)}</td><td>${x.queries}</td><td>${f4(x.meanNdcg10)}</td><td>${xmlEscape(pct(x))}</td><td>${w(x.vsTeacher)}</td><td>${w(x.vsPrevious)}</td></tr>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Student rounds: ${xmlEscape(r.dataset)}</title>
<style>body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}</style></head>
<body><h1>Student rounds: ${xmlEscape(r.dataset)}</h1>
<p>${r.queries} queries; teacher ${r.teacher === null ? 'none' : xmlEscape(r.teacher)}; % of teacher with a 95% bootstrap interval (${r.bootstrap.resamples} resamples, seed ${r.bootstrap.seed}).</p>
${renderRoundsSvg(r)}
<table><thead><tr><th>row</th><th>model</th><th>queries</th><th>nDCG@10</th><th>% of teacher [95% CI]</th><th>W/T/L vs teacher</th><th>W/T/L vs previous round</th></tr></thead>
<tbody>
${rows}
</tbody></table></body></html>
`;
}
