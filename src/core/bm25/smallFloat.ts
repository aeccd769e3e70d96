/**
 * Lucene's one-byte document-length norm (`SmallFloat.intToByte4` / `byte4ToInt`): lengths 0–23
 * are exact, longer ones keep 4 significant bits (so 100 and 104 share a byte). Lucene 8's
 * BM25Similarity scores with the decoded length, which is why "lucene" length mode uses it.
 */

function longToInt4(i: number): number {
  const numBits = 32 - Math.clz32(i);
  if (numBits < 4) return i;
  const shift = numBits - 4;
  let encoded = Math.floor(i / 2 ** shift) & 0x07;
  encoded |= (shift + 1) << 3;
  return encoded;
}

function int4ToLong(i: number): number {
  const bits = i & 0x07;
  const shift = (i >>> 3) - 1;
  return shift === -1 ? bits : (bits | 0x08) * 2 ** shift;
}

const MAX_INT4 = longToInt4(0x7fffffff);
const NUM_FREE_VALUES = 255 - MAX_INT4;

/** Encodes a length (0 ≤ n < 2³¹) into Lucene's norm byte (0–255). */
export function intToByte4(n: number): number {
  if (n < NUM_FREE_VALUES) return n;
  return NUM_FREE_VALUES + longToInt4(n - NUM_FREE_VALUES);
}

/** Decodes a norm byte (0–255) to the length Lucene scores with. */
export function byte4ToInt(b: number): number {
  const i = b & 0xff;
  if (i < NUM_FREE_VALUES) return i;
  return NUM_FREE_VALUES + int4ToLong(i - NUM_FREE_VALUES);
}

/** `LENGTH_TABLE[b]` = decoded length of norm byte b, as BM25Similarity precomputes it. */
export const LENGTH_TABLE: Float32Array = Float32Array.from({ length: 256 }, (_, b) => byte4ToInt(b));
