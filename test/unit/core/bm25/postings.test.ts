import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ByteWriter, DocIdTable, NumberList, POSTINGS_BLOCK, PostingsWriter, UniqueStrings, decodeBlock, decodePostings, encodePostings, sortedDocNos } from '../../../../src/core/bm25/postings.js';

// Doc-number gaps and tfs of every packed bit width (0 to 31; doc numbers stay below 2^31), in
// lists of 1 to 3 blocks.
const gap = fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 63 }), fc.integer({ min: 64, max: 1 << 20 }), fc.integer({ min: 1 << 20, max: 1 << 22 }));
const tf = fc.oneof(fc.constant(1), fc.integer({ min: 2, max: 127 }), fc.integer({ min: 128, max: 2 ** 31 }));
const list = fc.array(fc.tuple(gap, tf), { minLength: 1, maxLength: 3 * POSTINGS_BLOCK + 5 });

/** Doc numbers (from the first gap counted from −1) and tfs of (gap, tf) pairs. */
function toDocs(pairs: readonly (readonly [number, number])[]): { docs: number[]; tfs: number[] } {
  const docs: number[] = [];
  const tfs: number[] = [];
  let d = -1;
  for (const [g, t] of pairs) {
    d += g;
    docs.push(d);
    tfs.push(t);
  }
  return { docs, tfs };
}

test('postings codec: decode(encode(list)) is the list; one skip entry per block of 128 (last doc, end offset) for lists of more than one block', () => {
  fc.assert(
    fc.property(list, (pairs) => {
      const { docs, tfs } = toDocs(pairs);
      const out = new ByteWriter(16);
      out.varint(300); // bytes before the list: skip offsets are relative to the list's start
      const skips = new NumberList();
      encodePostings(docs, tfs, 0, docs.length, out, skips);
      const bytes = out.view().subarray(2);
      const gotDocs = new Int32Array(docs.length + 1);
      const gotTfs = new Uint32Array(docs.length + 1);
      assert.equal(decodePostings(bytes, gotDocs, gotTfs, 1), docs.length);
      assert.deepEqual([...gotDocs.subarray(1)], docs);
      assert.deepEqual([...gotTfs.subarray(1)], tfs);
      const entries = skips.to((n) => new Float64Array(n));
      const blocks = Math.ceil(docs.length / POSTINGS_BLOCK);
      assert.equal(entries.length, docs.length > POSTINGS_BLOCK ? 2 * blocks : 0);
      for (let b = 0; b < entries.length / 2; b++) assert.equal(entries[2 * b], docs[Math.min(docs.length, (b + 1) * POSTINGS_BLOCK) - 1]);
      if (entries.length > 0) assert.equal(entries[entries.length - 1], bytes.length);
      // Any block decodes alone from its skip entry: the previous block's last doc and end offset.
      for (let b = 1; b < entries.length / 2; b++) {
        const one = new Int32Array(POSTINGS_BLOCK);
        const oneTfs = new Uint32Array(POSTINGS_BLOCK);
        const after = decodeBlock(bytes, entries[2 * b - 1]!, one, oneTfs, 0, entries[2 * b - 2]!);
        assert.equal(after, entries[2 * b + 1]);
        const n = Math.min(POSTINGS_BLOCK, docs.length - b * POSTINGS_BLOCK);
        assert.deepEqual([...one.subarray(0, n)], docs.slice(b * POSTINGS_BLOCK, b * POSTINGS_BLOCK + n));
        assert.deepEqual([...oneTfs.subarray(0, n)], tfs.slice(b * POSTINGS_BLOCK, b * POSTINGS_BLOCK + n));
      }
    }),
    { seed: 11, numRuns: 300 },
  );
});

test('PostingsWriter.addEncoded (a segment record copied as it is) writes the same bytes, skip table and counts as add with the decoded postings', () => {
  fc.assert(
    fc.property(fc.array(list, { minLength: 1, maxLength: 4 }), (lists) => {
      const viaAdd = new PostingsWriter();
      const viaCopy = new PostingsWriter();
      lists.forEach((pairs, i) => {
        const { docs, tfs } = toDocs(pairs);
        const term = `t${String(i).padStart(2, '0')}`;
        viaAdd.add(term, docs, tfs, 0, docs.length);
        const seg = new ByteWriter(16);
        encodePostings(docs, tfs, 0, docs.length, seg, new NumberList());
        viaCopy.addEncoded(term, seg.view(), docs.length);
      });
      assert.deepEqual(viaCopy.finish(), viaAdd.finish());
    }),
    { seed: 12, numRuns: 200 },
  );
  const { docs, tfs } = toDocs(Array.from({ length: 300 }, (_, i) => [1 + (i % 7), 1 + (i % 3)] as [number, number]));
  const seg = new ByteWriter(16);
  encodePostings(docs, tfs, 0, docs.length, seg, new NumberList());
  assert.throws(() => new PostingsWriter().addEncoded('t', seg.view(), 299), /hold 300 postings, not 299/);
  assert.throws(() => new PostingsWriter().addEncoded('t', seg.view().subarray(0, 50), 128), /not one block/);
});

test('postings codec: every bit width 0–31 of gaps and tfs round-trips, in full and partial blocks', () => {
  for (let w = 0; w <= 31; w++) {
    // Gaps of 2^w (a width-w value gap − 1 = 2^w − 1 where it fits below 2^31 doc numbers) and tfs of 2^w.
    const n = w >= 24 ? 2 : 130;
    const docs: number[] = [];
    let d = -1;
    for (let i = 0; i < n; i++) docs.push((d = Math.min(2 ** 31 - 1 - (n - 1 - i), d + 2 ** Math.min(w, 30))));
    const tfs = docs.map((_, i) => (i % 2 === 0 ? 2 ** w : 1));
    const out = new ByteWriter(16);
    encodePostings(docs, tfs, 0, n, out, new NumberList());
    const gotDocs = new Int32Array(n);
    const gotTfs = new Uint32Array(n);
    assert.equal(decodePostings(out.view(), gotDocs, gotTfs, 0), n, `width ${w}`);
    assert.deepEqual([...gotDocs], docs, `width ${w}`);
    assert.deepEqual([...gotTfs], tfs, `width ${w}`);
  }
});

test('postings codec: the widest values (doc 2^31 − 1, tf 2^31) round-trip; doc numbers out of order or a tf of 0 are refused', () => {
  const out = new ByteWriter(16);
  const skips = new NumberList();
  encodePostings([0, 2 ** 31 - 1], [2 ** 31, 1], 0, 2, out, skips);
  const docs = new Int32Array(2);
  const tfs = new Uint32Array(2);
  assert.equal(decodePostings(out.view(), docs, tfs, 0), 2);
  assert.deepEqual([...docs], [0, 2 ** 31 - 1]);
  assert.deepEqual([...tfs], [2 ** 31, 1]);
  assert.throws(() => encodePostings([5, 5], [1, 1], 0, 2, new ByteWriter(16), skips), /out of order/);
  assert.throws(() => encodePostings([1, 2], [1, 0], 0, 2, new ByteWriter(16), skips), /tf < 1/);
});

test('docids: duplicates found by the hash index (first kept), every id found again by doc number and by id; unknown ids are not', () => {
  const id = fc.oneof(fc.string({ maxLength: 6 }), fc.integer({ min: 0, max: 3000 }).map(String), fc.string({ unit: 'grapheme', maxLength: 3 }));
  fc.assert(
    fc.property(fc.array(id, { maxLength: 4000 }), fc.array(id, { maxLength: 20 }), (ids, probes) => {
      const unique = new UniqueStrings(4);
      const kept: string[] = [];
      for (const s of ids) if (unique.add(s)) kept.push(s);
      assert.deepEqual(kept, [...new Set(ids)]);
      const packed = unique.finish();
      const table = new DocIdTable(kept.length, () => packed, () => sortedDocNos(packed.hashes));
      assert.deepEqual(table.toArray(), kept);
      kept.forEach((s, i) => assert.equal(table.docNo(s), i));
      for (const p of probes) assert.equal(table.docNo(p), kept.includes(p) ? kept.indexOf(p) : undefined);
    }),
    { seed: 12, numRuns: 100 },
  );
});
