import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { QueryCostSection } from '../../../../src/core/feedback/queryCost.js';
import { formatQueryCostTable, queryCostHtml, queryCostMarkdown, queryCostPlot } from '../../../../src/core/report/queryCostSection.js';

const m = (key: string, meanPostings: number, meanDelta: number, tokens: number | null) => ({
  key, role: 'teacher' as const, method: key.split('/')[1]!, model: key.split('/')[2]!, expansions: 3, meanDelta, meanTerms: 12.5, meanPostings, meanCompletionTokens: tokens, meanPromptTokens: null, deltaPerKPostings: meanPostings > 40 ? (meanDelta * 1000) / (meanPostings - 40) : null,
});
const section: QueryCostSection = {
  original: { queries: 3, meanTerms: 2, meanPostings: 40 },
  methods: [m('teacher/rw|1/<m>', 55, -0.02, null), m('teacher/q2d/big', 4000, 0.12, 128)],
};

test('the query-cost table: original first, then methods cheapest first, with gain per 1k extra postings', () => {
  const text = formatQueryCostTable(section);
  const lines = text.trim().split('\n');
  assert.equal(lines[0], 'query cost (cheapest first)');
  assert.match(lines[3]!, /^original query\s+-\s+3\s+2\.0\s+40\.0$/);
  assert.match(lines[5]!, /^teacher\/q2d\/big\s+teacher\s+3\s+\+0\.1200\s+12\.5\s+4000\.0\s+128\.0\s+0\.0303$/);
  const md = queryCostMarkdown(section).join('\n');
  assert.ok(md.includes('| teacher/rw\\|1/&lt;m&gt; | teacher | 3 | -0.0200 | 12.5 | 55.0 | n/a | -1.3333 |'), md);
});

test('the plot: one dot per method and the original, on a log x axis; labels escaped', () => {
  const svg = queryCostPlot(section);
  assert.equal((svg.match(/<circle /g) ?? []).length, 3);
  const cx = [...svg.matchAll(/<circle cx="([\d.]+)"/g)].map((x) => Number(x[1]));
  assert.ok(cx[0]! < cx[1]! && cx[1]! < cx[2]!, 'x grows with postings');
  // log scale: 40 → 55 is a short step, 55 → 4000 a long one.
  assert.ok(cx[2]! - cx[1]! > 10 * (cx[1]! - cx[0]!));
  assert.ok(!svg.includes('<m>') && svg.includes('&lt;m&gt;'));
  assert.match(queryCostHtml(section), /<h2>Query cost: nDCG@10 gain against postings walked<\/h2>/);
});
