import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { TemplateRef } from '../expansion/types.js';
import { writeFileAtomic } from '../files/atomicWrite.js';
import type { Logger } from '../logger.js';
import type { JudgmentRecord } from './types.js';

/** Where a workspace keeps LLM judgments: one JSONL file per judge model × template, never in the qrels. */
export const JUDGMENTS_DIR = join('.qx', 'judgments');

/** The judgments file of one judge: `.qx/judgments/<model>.<template id>-<hash 8>.jsonl`. */
export function judgmentsFile(root: string, model: string, template: TemplateRef): string {
  const slug = model.replace(/[^\w.-]+/g, '_');
  return join(root, JUDGMENTS_DIR, `${slug}.${template.id}-${template.hash.slice(0, 8)}.jsonl`);
}

/**
 * The judgments of one judge, keyed by (qid, docid), loaded from and saved to a JSONL file (one
 * JudgmentRecord a line, sorted by qid then docid). Saving rewrites the file atomically, so a crash
 * leaves the previous file whole. Unreadable lines are skipped with a warning naming file and line.
 */
export class JudgmentStore {
  private readonly byKey = new Map<string, JudgmentRecord>();
  /** qid → docid → score, kept with `byKey` so `scoresFor` reads one query's judgments, not all. */
  private readonly byQid = new Map<string, Map<string, number>>();

  private constructor(readonly file: string) {}

  static open(file: string, logger?: Logger): JudgmentStore {
    const s = new JudgmentStore(file);
    if (!existsSync(file)) return s;
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, i) => {
      if (line.trim() === '') return;
      try {
        const r = JSON.parse(line) as JudgmentRecord;
        if (typeof r.qid !== 'string' || typeof r.docid !== 'string' || typeof r.score !== 'number') throw new Error('no qid, docid or score');
        s.put(r);
      } catch (e) {
        logger?.warn(`${file}:${i + 1}: skipped an unreadable judgment (${(e as Error).message}); rerun qx judge to judge it again`);
      }
    });
    return s;
  }

  get size(): number {
    return this.byKey.size;
  }

  get(qid: string, docid: string): JudgmentRecord | undefined {
    return this.byKey.get(key(qid, docid));
  }

  has(qid: string, docid: string): boolean {
    return this.byKey.has(key(qid, docid));
  }

  /** Every judgment, sorted by qid then docid. */
  all(): JudgmentRecord[] {
    return [...this.byKey.values()].sort((a, b) => (a.qid < b.qid ? -1 : a.qid > b.qid ? 1 : a.docid < b.docid ? -1 : a.docid > b.docid ? 1 : 0));
  }

  /** docid → score of one query (a copy). */
  scoresFor(qid: string): Map<string, number> {
    return new Map(this.byQid.get(qid));
  }

  /** Adds (or replaces) judgments and saves the file atomically. */
  add(records: readonly JudgmentRecord[]): void {
    if (records.length === 0) return;
    for (const r of records) this.put(r);
    mkdirSync(dirname(this.file), { recursive: true });
    writeFileAtomic(this.file, this.all().map((r) => JSON.stringify(r)).join('\n') + '\n');
  }

  private put(r: JudgmentRecord): void {
    this.byKey.set(key(r.qid, r.docid), r);
    let scores = this.byQid.get(r.qid);
    if (scores === undefined) this.byQid.set(r.qid, (scores = new Map()));
    scores.set(r.docid, r.score);
  }
}

function key(qid: string, docid: string): string {
  return `${qid}\t${docid}`;
}
