import type { CalibrationReport } from './calibration.js';
import type { FillReport } from './workflow.js';

const f3 = (x: number | null): string => (x === null ? 'n/a' : x.toFixed(3));

/** The calibration figures as plain text. */
export function formatCalibration(c: CalibrationReport): string {
  const both = Object.values(c.auc.perQuery).filter((v) => v !== null).length;
  const grades = Object.entries(c.meanScoreByGrade)
    .map(([g, v]) => `${g}: ${v.mean.toFixed(3)} (n=${v.n})`)
    .join('  ');
  return [
    `calibration on ${c.documents} judged documents of ${c.queries} queries (relevant = grade >= ${c.relevanceLevel}; ${c.unjudged} unjudged documents not counted)`,
    `  AUC pooled ${f3(c.auc.pooled)}, mean per query ${f3(c.auc.meanPerQuery)} (${both} queries with relevant and non-relevant documents)`,
    `  mean score by grade: ${grades === '' ? 'n/a' : grades}`,
    `  threshold ${f3(c.threshold)} chosen on ${c.split.tune.length} queries (kappa ${f3(c.tuneKappa)}); held out ${c.split.test.length} queries, ${c.test.documents} documents: kappa ${f3(c.test.kappa)}, accuracy ${f3(c.test.accuracy)}, Kendall tau-b ${f3(c.test.kendallTauB)}`,
    '',
  ].join('\n');
}

/** The judge-filled table as plain text. */
export function formatFill(f: FillReport, relevanceLevel: number): string {
  const width = Math.max(6, ...f.methods.map((m) => m.key.length));
  const rule = f.mode === 'binary' ? `binary judge, score >= ${f3(f.threshold)} counts as grade ${relevanceLevel}` : 'graded judge, rounded expected grade';
  const out = [`judge-filled nDCG@10 (${rule}; the qrels are never changed)`, `${'method'.padEnd(width)}  ${'n'.padStart(4)}  judged-only  judge-filled  unjudged@10  judge-filled@10`];
  for (const m of f.methods) {
    out.push(`${m.key.padEnd(width)}  ${String(m.expansions).padStart(4)}  ${m.judgedOnly.toFixed(4).padStart(11)}  ${m.filled.toFixed(4).padStart(12)}  ${m.unjudged10.toFixed(2).padStart(11)}  ${m.judgeFilled10.toFixed(2).padStart(15)}`);
  }
  out.push(`pairs: ${f.pairs.length}, flipped by the judge: ${f.flipped}, agreeing: ${f.agreeing}`);
  return out.join('\n') + '\n';
}
