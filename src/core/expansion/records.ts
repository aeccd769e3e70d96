import { createHash } from 'node:crypto';
import type { ExpansionRecord } from './types.js';

/** The stable id of an expansion: sha256 (hex, first 16 chars) of qid, method, model, template hash, sample index and final string. */
export function expansionId(r: Pick<ExpansionRecord, 'qid' | 'method' | 'model' | 'sampleIndex' | 'final'> & { template?: { hash: string } | undefined }): string {
  return createHash('sha256')
    .update(JSON.stringify([r.qid, r.method, r.model, r.template?.hash ?? '', r.sampleIndex, r.final]))
    .digest('hex')
    .slice(0, 16);
}
