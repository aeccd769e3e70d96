// Child process for the crash test: rebuilds the index in argv[2] from an endless slow corpus, so
// the parent can kill it with SIGKILL in the middle of writing.
import { Bm25Index } from '../../../../src/core/bm25/bm25Index.js';
import type { CorpusDoc } from '../../../../src/core/dataset/types.js';

async function* endless(): AsyncGenerator<CorpusDoc> {
  for (let i = 0; ; i++) {
    if (i % 500 === 0) await new Promise((r) => setTimeout(r, 5));
    yield { id: `n${i}`, text: `replacement document number ${i}` };
  }
}

void Bm25Index.build(endless(), { dir: process.argv[2]! });
