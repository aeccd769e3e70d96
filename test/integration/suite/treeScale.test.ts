// The query browser with 10,000 queries, in the real extension host: what VS Code calls to draw it
// (getChildren, then getTreeItem for every row) must give every row; the timings it prints are
// recorded in bench/RESULTS.md, not asserted (a busy CI machine must not fail the suite).
import * as assert from 'node:assert/strict';
import { QueryTreeProvider } from '../../../src/extension/queryTree.js';
import { parseFilter } from '../../../src/extension/queryFilter.js';
import { FakeWorkspace } from '../../e2e/webviewFakeWorkspace.js';
import { describe, test } from '../runner.js';

describe('query browser at scale', () => {
  test('10,000 queries: getChildren + getTreeItem for every row, sorted and filtered', () => {
    const ws = new FakeWorkspace(10_000, 11, 'synthetic-10k');
    const tree = new QueryTreeProvider();
    tree.setWorkspace(ws);
    const time = (what: string, fn: () => number): number => {
      const t = performance.now();
      const n = fn();
      const ms = performance.now() - t;
      console.log(`${process.env.QX_IT_MARK ?? ''}  tree 10k: ${what}: ${n} rows in ${ms.toFixed(1)} ms`);
      return n;
    };
    const draw = () => tree.getChildren().map((q) => tree.getTreeItem(q)).length;
    const cold = time('first draw (listQueries + sort + items)', draw);
    const warm = time('redraw (cached rows, new items)', draw);
    tree.setSort('deltaDesc');
    const sorted = time('re-sort by best delta + items', draw);
    const f = parseFilter('state:auto delta>0.05');
    assert.ok(typeof f !== 'string');
    tree.setFilter('state:auto delta>0.05', f);
    const filtered = time('filter state:auto delta>0.05 + items', draw);
    assert.equal(tree.getChildren().every((q) => q.pairs.auto > 0 && (q.bestDelta ?? 0) > 0.05), true);
    assert.deepEqual([cold, warm, sorted], [10_000, 10_000, 10_000]);
    assert.ok(filtered > 0 && filtered < 10_000, `the filter kept ${filtered} of 10,000 rows`);
  }, { timeout: 60_000 });
});
