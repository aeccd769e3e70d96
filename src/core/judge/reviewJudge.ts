import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Qrels } from '../dataset/types.js';
import type { TemplateRef } from '../expansion/types.js';
import type { Logger } from '../logger.js';
import type { QueryReview } from '../workspace/api.js';
import { calibrate } from './calibration.js';
import { type FillOptions, type FilledScore, type RankingsToFill, fillRankings, judgeGrade, pairFlips } from './fill.js';
import { JUDGMENTS_DIR, JudgmentStore } from './store.js';

/** Which judge the Review panel shows, and how its scores fill the holes. Plain JSON. */
export interface ReviewJudgeInfo {
  model: string;
  endpoint: string;
  template: TemplateRef;
  mode: 'binary' | 'graded';
  /** Binary: a score >= this counts as `relevantGrade`, else 0. Null for a graded judge (rounded expected grade). */
  threshold: number | null;
  /** "calibrated": chosen by Cohen's κ on the judged documents (as `qx judge --calibrate`); "default": 0.5, too few judged documents to calibrate. */
  thresholdSource: 'calibrated' | 'default' | null;
  /** The grade a binary judge's "relevant" stands for: the manifest's relevance level (default 1). */
  relevantGrade: number;
  /** The judgments file, relative to the workspace root (`.qx/judgments/….jsonl`). */
  file: string;
  /** Judgments in that file, all queries. */
  judgments: number;
}

/** The judge on one document of the query. */
export interface ReviewJudgedDoc {
  /** The judge's score: P(relevant) in [0, 1] (binary) or the expected grade (graded). */
  score: number;
  /** The qrels' grade; null for a hole (unjudged by the qrels). */
  grade: number | null;
  /** The grade judge-filled nDCG@10 uses: the qrels' when judged, else the judge's. */
  filledGrade: number;
}

/** One ranking's nDCG@10 judged-only (unjudged = not relevant) beside judge-filled. */
export interface ReviewRankingFill {
  judgedOnly: number;
  filled: number;
  /** Documents of its top 10 the qrels leave unjudged, and how many of those the judge scored. */
  unjudged10: number;
  judgeFilled10: number;
}

/** One pair's margin (chosen − rejected nDCG@10) judged-only and judge-filled. */
export interface ReviewPairFlip {
  judgedMargin: number;
  filledMargin: number;
  /** The judge-filled margin has the opposite sign: the judge would order the pair the other way. */
  flipped: boolean;
  agree: boolean;
}

/** Everything the Review panel shows of the judge for one query. Keyed by id: plain JSON, no Maps. */
export interface QueryJudgeView {
  judge: ReviewJudgeInfo;
  /** docid → the judge on it, for every document of this query the judge scored (none: the judge has not seen this query). */
  docs: Record<string, ReviewJudgedDoc>;
  /** The original query's ranking; null before scoring. */
  original: ReviewRankingFill | null;
  /** Scored expansion id → its ranking's two nDCG@10s. */
  expansions: Record<string, ReviewRankingFill>;
  /** Pair id → its margin judged-only and judge-filled. */
  pairs: Record<string, ReviewPairFlip>;
  /** Pairs of this query whose order flips. */
  flipped: number;
}

/** The fill options a judge's info stands for. */
export function fillOptionsOf(judge: ReviewJudgeInfo): FillOptions {
  return judge.mode === 'graded' ? { mode: 'graded' } : { mode: 'binary', threshold: judge.threshold ?? 0.5, relevantGrade: judge.relevantGrade };
}

/**
 * Assembles the judge's view of one query for the Review panel: the judge's score on each of its
 * documents (with the qrels' grade, null for a hole), judged-only and judge-filled nDCG@10 of the
 * original and of every scored expansion (`fillQuery`), and each pair's two margins with the flips
 * (`pairFlips`). `judgeScores` is docid → score of this query; the qrels are never changed.
 */
export function queryJudgeView(review: QueryReview, judged: ReadonlyMap<string, number> | undefined, judgeScores: ReadonlyMap<string, number>, judge: ReviewJudgeInfo): QueryJudgeView {
  const options = fillOptionsOf(judge);
  const expansions: Record<string, ReviewRankingFill> = {};
  const toFill: RankingsToFill['expansions'][number][] = [];
  for (const s of review.expansions) if (s.score !== null) toFill.push({ id: s.expansion.id, key: s.expansion.id, top10: s.score.top10 });
  const qrels: Qrels = new Map(judged === undefined ? [] : [[review.qid, new Map(judged)]]);
  const filled = fillRankings([{ qid: review.qid, original: review.original?.top10, expansions: toFill }], qrels, () => judgeScores, options);
  const fillOf = (s: FilledScore): ReviewRankingFill => ({ judgedOnly: s.judgedOnly, filled: s.filled, unjudged10: s.unjudged10, judgeFilled10: s.judgeFilled10 });
  const o = filled.originals[0];
  const original = o === undefined ? null : fillOf(o);
  for (const e of toFill) expansions[e.id] = fillOf(filled.byId.get(e.id)!);
  const pairs: Record<string, ReviewPairFlip> = {};
  let flipped = 0;
  for (const f of pairFlips(review.pairs, filled.byId)) {
    pairs[f.pairId] = { judgedMargin: f.judgedMargin, filledMargin: f.filledMargin, flipped: f.flipped, agree: f.agree };
    if (f.flipped) flipped++;
  }
  const docs: Record<string, ReviewJudgedDoc> = {};
  for (const [docid, score] of [...judgeScores].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const grade = judged?.get(docid);
    docs[docid] = { score, grade: grade ?? null, filledGrade: grade ?? judgeGrade(score, options) };
  }
  return { judge, docs, original, expansions, pairs, flipped };
}

interface Loaded {
  key: string;
  info: ReviewJudgeInfo;
  byQid: Map<string, Map<string, number>>;
}

/**
 * The judgments a workspace's Review panel shows: the most recently written file in
 * `.qx/judgments/` (one file per judge model × template), reloaded when a file there changes.
 * The binary threshold is the calibrated one (`calibrate`, as `qx judge --fill` uses by default),
 * else 0.5.
 */
export class ReviewJudgments {
  private loaded: Loaded | null = null;
  /** The folder's mtime when it was last listed, and the newest file then. */
  private listed: { dirMtimeMs: number; file: string | null } | undefined;

  constructor(
    private readonly root: string,
    private readonly qrels: Qrels,
    private readonly relevanceLevel: number,
    private readonly logger?: Logger,
  ) {}

  /** The judge in use, or null when the workspace has no judgments. */
  current(): ReviewJudgeInfo | null {
    return this.load()?.info ?? null;
  }

  /** The judge in use and its scores of one query (docid → score); null when the workspace has no judgments. */
  judgments(): { info: ReviewJudgeInfo; scoresFor: (qid: string) => ReadonlyMap<string, number> } | null {
    const l = this.load();
    return l === null ? null : { info: l.info, scoresFor: (qid) => l.byQid.get(qid) ?? new Map<string, number>() };
  }

  /** The judge's view of one query; null when the workspace has no judgments. */
  forQuery(review: QueryReview): QueryJudgeView | null {
    const l = this.load();
    if (l === null) return null;
    return queryJudgeView(review, this.qrels.get(review.qid), l.byQid.get(review.qid) ?? new Map(), l.info);
  }

  /**
   * The newest judgments file, listing the folder only when its mtime changed (a file added,
   * removed or replaced by an atomic rewrite); otherwise the file found last is only stat'ed again,
   * so the Review panel costs two stats per query shown, not a listing.
   */
  private newest(): { file: string; mtimeMs: number; size: number } | null {
    const dir = join(this.root, JUDGMENTS_DIR);
    let dirMtimeMs: number;
    try {
      dirMtimeMs = statSync(dir).mtimeMs;
    } catch {
      this.listed = undefined;
      return null;
    }
    if (this.listed?.dirMtimeMs === dirMtimeMs) {
      const file = this.listed.file;
      if (file === null) return null;
      try {
        const st = statSync(file);
        if (st.isFile() && st.size > 0) return { file, mtimeMs: st.mtimeMs, size: st.size };
      } catch {
        // gone without the folder changing (clock granularity): list again
      }
    }
    const newest = newestJudgmentsFile(this.root);
    this.listed = { dirMtimeMs, file: newest?.file ?? null };
    return newest;
  }

  private load(): Loaded | null {
    const newest = this.newest();
    if (newest === null) return (this.loaded = null);
    const key = `${newest.file}\t${newest.mtimeMs}\t${newest.size}`;
    if (this.loaded?.key === key) return this.loaded;
    const store = JudgmentStore.open(newest.file, this.logger);
    const all = store.all();
    const first = all[0];
    if (first === undefined) return (this.loaded = null);
    const byQid = new Map<string, Map<string, number>>();
    for (const r of all) {
      let m = byQid.get(r.qid);
      if (m === undefined) byQid.set(r.qid, (m = new Map()));
      m.set(r.docid, r.score);
    }
    const calibrated = first.mode === 'binary' ? calibrate(all, this.qrels, { relevanceLevel: this.relevanceLevel }).threshold : null;
    const info: ReviewJudgeInfo = {
      model: first.model,
      endpoint: first.endpoint,
      template: { ...first.template },
      mode: first.mode,
      threshold: first.mode === 'graded' ? null : (calibrated ?? 0.5),
      thresholdSource: first.mode === 'graded' ? null : calibrated === null ? 'default' : 'calibrated',
      relevantGrade: this.relevanceLevel,
      file: relative(this.root, newest.file).split('\\').join('/'),
      judgments: all.length,
    };
    return (this.loaded = { key, info, byQid });
  }
}

/** The most recently modified non-empty `.jsonl` in `.qx/judgments/` (ties: the name sorting last), or null. */
export function newestJudgmentsFile(root: string): { file: string; mtimeMs: number; size: number } | null {
  const dir = join(root, JUDGMENTS_DIR);
  if (!existsSync(dir)) return null;
  let best: { file: string; mtimeMs: number; size: number } | null = null;
  for (const name of readdirSync(dir).sort()) {
    if (!name.endsWith('.jsonl')) continue;
    const file = join(dir, name);
    const st = statSync(file);
    if (!st.isFile() || st.size === 0) continue;
    if (best === null || st.mtimeMs >= best.mtimeMs) best = { file, mtimeMs: st.mtimeMs, size: st.size };
  }
  return best;
}
