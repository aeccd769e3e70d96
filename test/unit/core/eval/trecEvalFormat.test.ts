import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatFixed4, formatTrecEvalLine } from '../../../../src/core/eval/trecEvalFormat.js';

test('formatFixed4 rounds exact ties half-to-even like printf %6.4f (trec_eval prints 0.0312 for 1/32)', () => {
  assert.equal(formatFixed4(1 / 32), '0.0312');
  assert.equal(formatFixed4(3 / 32), '0.0938');
  assert.equal(formatFixed4(5 / 32), '0.1562');
  assert.equal(formatFixed4(0.12355), '0.1235'); // stored just below the tie: not a real tie
  assert.equal(formatFixed4(0.30575), '0.3058'); // stored just above it
  assert.equal(formatFixed4(2 / 3), '0.6667');
  assert.equal(formatFixed4(1), '1.0000');
  assert.equal(formatFixed4(-287), '-287.0000');
  assert.equal(formatFixed4(0), '0.0000');
});

test('a trec_eval line: measure padded to 22, TABs, integers without decimals', () => {
  assert.equal(formatTrecEvalLine('ndcg_cut_10', 'all', 0.50576, false), 'ndcg_cut_10           \tall\t0.5058\n');
  assert.equal(formatTrecEvalLine('num_ret', '301', 500, true), 'num_ret               \t301\t500\n');
  assert.equal(formatTrecEvalLine('a_very_long_measure_name_x', '1', 0, false), 'a_very_long_measure_name_x\t1\t0.0000\n');
});
