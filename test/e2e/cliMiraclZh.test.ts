// A Chinese (MIRACL-zh dev) workspace made with `qx init`: the manifest's language picks the CJK
// analyzer and the Chinese query2doc template unless the user asks otherwise.
//
// Topics and qrels are the real MIRACL v1.0 zh dev files (test/fixtures/data/miracl-zh-dev-topics-qrels:
// 393 queries, qids such as "86616#0", TAB-separated `qid Q0 docid rel` qrels, binary relevance).
// The MIRACL corpus (4.9M Wikipedia passages) is not in the repository, so this test writes a corpus of
// 20 short passages: the docids are real judged docids of three queries (江苏省会是哪里？,
// 意大利首都是哪里？, 复旦大学在哪个城市？) plus four unjudged ones, and ALL THE TEXT IS INVENTED
// here; passages judged relevant are written to answer their query, judged non-relevant ones to
// be about something nearby.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DATA } from '../fixtures/dataPaths.js';
import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/io.js';
import { Bm25Index } from '../../src/core/bm25/bm25Index.js';
import { nullLogger } from '../../src/core/logger.js';
import { defaultSettings, withSettings } from '../../src/core/workspace/settings.js';
import { openWorkspace } from '../../src/core/workspace/workspace.js';

const repo = resolve(__dirname, '../..');
const miracl = join(DATA, 'miracl-zh-dev-topics-qrels');
const topicsFile = join(miracl, 'topics.miracl-v1.0-zh-dev.tsv');
const qrelsFile = join(miracl, 'qrels.miracl-v1.0-zh-dev.tsv');
const tmp = mkdtempSync(join(tmpdir(), 'qx-miracl-zh-e2e-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const JIANGSU = '86616#0';
const ITALY = '3965848#0';
const FUDAN = '6530715#0';

/** [docid, invented text]; the docids and their grades are the real qrels'. */
const corpus: Array<[string, string]> = [
  // 86616#0 江苏省会是哪里？ relevant: 2799973#4, 408460#40, 408460#42; judged non-relevant: 433#55, 25360#0, 7171293#0
  ['2799973#4', '江苏省会是南京市。南京位于长江下游，是江苏省的政治、经济和文化中心。'],
  ['408460#40', '南京市为江苏省省会，简称宁，古称金陵、建康，是六朝古都。'],
  ['408460#42', '明朝初年定都南京，今天的南京是江苏的省会城市和交通枢纽。'],
  ['433#55', '苏州以园林闻名，拙政园和留园都在这里。'],
  ['25360#0', '长江是中国第一长河，流经青海、四川、湖北、安徽等地后入海。'],
  ['7171293#0', '扬州炒饭是一道家常主食，用米饭、鸡蛋和火腿炒成。'],
  // 3965848#0 意大利首都是哪里？ relevant: 39129#0, 39129#26, 924273#0; judged non-relevant: 148096#0, 212189#3, 958786#0
  ['39129#0', '罗马是意大利的首都，也是拉齐奥大区的首府，人口约二百八十万。'],
  ['39129#26', '意大利首都罗马城内有梵蒂冈这个国中之国。'],
  ['924273#0', '一八七一年起，意大利王国的首都迁到罗马。'],
  ['148096#0', '米兰是时装与设计之城，每年举办时装周。'],
  ['212189#3', '都灵的汽车工业发达，菲亚特的总部设在这里。'],
  ['958786#0', '比萨斜塔因地基不均匀沉降而倾斜。'],
  // 6530715#0 复旦大学在哪个城市？ relevant: 7728216#0, 1259702#0; judged non-relevant: 1259702#1, 298093#0
  ['7728216#0', '复旦大学位于上海市杨浦区，创建于一九〇五年，是一所综合性研究型大学。'],
  ['1259702#0', '上海是中国的直辖市，复旦大学和上海交通大学都在这个城市。'],
  ['1259702#1', '上海港的货物吞吐量多年位居世界前列。'],
  ['298093#0', '北京大学位于北京市海淀区，校园里有未名湖。'],
  // unjudged passages
  ['zz-invented#1', '熊猫主要生活在四川的竹林里，以竹子为食。'],
  ['zz-invented#2', '黄山以奇松、怪石、云海和温泉著称。'],
  ['zz-invented#3', '端午节有吃粽子和赛龙舟的习俗。'],
  ['zz-invented#4', '茶叶起源于中国，绿茶和红茶的制法不同。'],
];
const relevant: Record<string, string[]> = {
  [JIANGSU]: ['2799973#4', '408460#40', '408460#42'],
  [ITALY]: ['39129#0', '39129#26', '924273#0'],
  [FUDAN]: ['7728216#0', '1259702#0'],
};

async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  let s = '';
  for await (const c of req) s += String(c);
  return JSON.parse(s) as Record<string, unknown>;
}

describe('a MIRACL-zh workspace (language "zh")', () => {
  const ws = join(tmp, 'ws');
  const prompts: string[] = [];
  let server: Server;
  let baseUrl = '';

  const qx = async (argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    const out = { s: '', e: '' };
    const io: CliIo = { stdout: (t) => void (out.s += t), stderr: (t) => void (out.e += t), isTTY: false, env: {}, cwd: tmp };
    const code = await main(argv, io, new AbortController().signal);
    return { code, stdout: out.s, stderr: out.e };
  };
  const indexAnalyzer = async (): Promise<unknown> => {
    const idx = await Bm25Index.open(join(ws, '.qx', 'index'));
    try {
      return idx.info().analyzer.name;
    } finally {
      await idx.close();
    }
  };
  const review = async (qid: string, settings = defaultSettings) => {
    const w = await openWorkspace(ws, { settings, logger: nullLogger, getApiKey: async () => undefined });
    try {
      return w.getQueryReview(qid);
    } finally {
      await w.close();
    }
  };

  before(async () => {
    const corpusFile = join(tmp, 'corpus.zh.jsonl');
    writeFileSync(corpusFile, corpus.map(([id, text]) => JSON.stringify({ id, contents: text })).join('\n') + '\n');
    const r = await qx(['init', '--workspace', ws, '--name', 'miracl-zh-dev', '--language', 'zh', '--split', 'eval', '--relevance-level', '1', '--topics', topicsFile, '--qrels', qrelsFile, '--corpus', corpusFile]);
    assert.equal(r.code, 0, r.stderr);
    server = createServer((req, res) => {
      void body(req).then((b) => {
        const messages = b.messages as { content: string }[];
        const user = messages[messages.length - 1]!.content;
        prompts.push(user);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: 'x', object: 'chat.completion', created: 0, model: b.model, choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: `一段回答：${user.slice(-20)}` } }], usage: { prompt_tokens: 30, completion_tokens: 12, total_tokens: 42 } }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });
  after(() => server?.close());

  test('with no analyzer setting, scoring builds and records the CJK analyzer, and a passage sharing Han bigrams with its query ranks first', async () => {
    const r = await qx(['score', '--workspace', ws, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const score = JSON.parse(r.stdout) as { originals: number; retrieval: { analyzer: string; relevanceLevel: number } };
    assert.equal(score.originals, 393, 'every MIRACL zh dev query is scored');
    assert.equal(score.retrieval.analyzer, 'cjk');
    assert.equal(score.retrieval.relevanceLevel, 1);
    assert.equal(await indexAnalyzer(), 'cjk', 'the index metadata names the analyzer it was built with');
    for (const qid of [JIANGSU, ITALY, FUDAN]) {
      const top = (await review(qid)).original?.top10 ?? [];
      assert.ok(relevant[qid]!.includes(top[0]!), `${qid}: top 1 is ${top[0]}, not one of its relevant passages ${relevant[qid]!.join(', ')}`);
    }
    const jiangsu = await review(JIANGSU);
    assert.equal(jiangsu.original?.ndcg10, 1, 'all three relevant passages (and no judged non-relevant one) ahead of the rest');
    assert.ok(!jiangsu.original?.top10.includes('433#55'), 'a passage sharing single characters (苏, 里) but no bigram with the query is not retrieved');
  });

  test('qx expand --role teacher without --template sends the Chinese query2doc prompt', async () => {
    const before = prompts.length;
    const r = await qx(['expand', '--workspace', ws, '--role', 'teacher', '--qids', `${JIANGSU},${FUDAN}`, '--base-url', baseUrl, '--model', 'fake-teacher', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /template query2doc-zh \(the default for dataset language "zh"\)/);
    assert.doesNotMatch(r.stderr, /\[warn\]/);
    const sent = prompts.slice(before);
    assert.equal(sent.length, 2);
    assert.ok(sent.some((p) => p.startsWith('请写一段文字来回答下面的查询') && p.includes('查询：江苏省会是哪里？')), sent.join('\n---\n'));
    assert.ok(sent.every((p) => !/Write a passage/.test(p)));
    const scored = JSON.parse((await qx(['score', '--workspace', ws, '--json'])).stdout) as { scored: number };
    assert.equal(scored.scored, 2);
    const report = await qx(['report', '--workspace', ws]);
    assert.match(report.stdout, /^query2doc-zh\s+teacher\s+fake-teacher\s+2\s/m);
  });

  test('an English template on the zh dataset is used with a warning naming both languages', async () => {
    const before = prompts.length;
    const r = await qx(['expand', '--workspace', ws, '--role', 'teacher', '--template', 'query2doc-zs', '--qids', ITALY, '--base-url', baseUrl, '--model', 'fake-teacher']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /\[warn\] Template query2doc-zs is written in "en" but dataset miracl-zh-dev is "zh"/);
    assert.match(prompts[before]!, /^Write a passage that answers the given query:\nQuery: 意大利首都是哪里？/);
  });

  test('an explicit --analyzer still wins: english rebuilds the index and scores under its own key', async () => {
    const r = await qx(['score', '--workspace', ws, '--analyzer', 'english', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const score = JSON.parse(r.stdout) as { scored: number; originals: number; retrieval: { analyzer: string } };
    assert.equal(score.retrieval.analyzer, 'english');
    assert.deepEqual([score.scored, score.originals], [3, 393], 'nothing was scored with english before');
    assert.equal(await indexAnalyzer(), 'english');
    const english = await review(JIANGSU, withSettings({ bm25: { analyzer: 'english' } }));
    assert.ok(english.original?.top10.includes('433#55'), 'the English analyzer splits Han text into single characters, so 苏 and 里 match');
    const back = JSON.parse((await qx(['score', '--workspace', ws, '--json'])).stdout) as { scored: number; originals: number; retrieval: { analyzer: string } };
    assert.deepEqual([back.retrieval.analyzer, back.scored], ['cjk', 1], 'back on auto: the cjk scores are still there; only the expansion added since is new');
    assert.equal(await indexAnalyzer(), 'cjk');
    assert.ok(readFileSync(join(ws, 'qx.dataset.json'), 'utf8').includes('"language": "zh"'));
  });
});
