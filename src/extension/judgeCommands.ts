import * as vscode from 'vscode';
import * as path from 'node:path';
import { QxError, isCancellationError } from '../core/errors.js';
import { formatCalibration, formatFill } from '../core/judge/format.js';
import type { ProgressReport } from '../core/progress.js';
import type { WorkspaceApi } from '../core/workspace/api.js';
import { type CommandContext, allRequestsFailed, recordingLogger, requireWorkspace } from './commands.js';
import { readJudgeSettings } from './config.js';
import { withTask } from './progress.js';
import { runCommand, showWarning } from './runCommand.js';

type Judging = Required<Pick<WorkspaceApi, 'judge' | 'judgeFeedback'>>;

function judging(ws: WorkspaceApi): WorkspaceApi & Judging {
  if (ws.judge === undefined || ws.judgeFeedback === undefined) throw new QxError('config', 'This workspace cannot run a relevance judge.', { hint: 'Update QX Studio.' });
  return ws as WorkspaceApi & Judging;
}

/**
 * The relevance-judge commands: judge the unjudged documents of the expansions' top 10s (the
 * `qx judge` workflow) under a cancellable notification, and show the judge's calibration and
 * judge-filled feedback in the log. Endpoint, model and template come from `qx.judge.*`; the API
 * key from SecretStorage through the workspace, as for expansions.
 */
export function registerJudgeCommands(c: CommandContext): vscode.Disposable[] {
  const { session, logger } = c;
  const reg = (id: string, fn: (...args: unknown[]) => unknown) => runCommand(id, logger, fn);
  return [
    reg('qx.judgeUnjudged', async () => {
      const ws = judging(requireWorkspace(session));
      const req = readJudgeSettings(ws.root);
      if (req.baseUrl.length === 0 || req.model.length === 0) {
        throw new QxError('config', 'The relevance judge is not configured (qx.judge.baseUrl and qx.judge.model, or the teacher endpoint they default to).', { hint: 'Set them in Settings → QX Studio → Judge.' });
      }
      const run = recordingLogger(logger);
      let last: ProgressReport | undefined;
      let r;
      try {
        r = await withTask(`Judging unjudged documents (${req.model})`, run.logger, (o) => ws.judge(req, { ...o, onProgress: (p) => { last = p; o.onProgress?.(p); } }));
      } catch (e) {
        if (isCancellationError(e) && last !== undefined && last.done > 0) {
          // The core stores each batch of judgments before it counts it: what was counted is kept.
          session.changed('judging cancelled');
          void vscode.window.showInformationMessage(`QX: judging cancelled at ${last.done}/${last.total ?? '?'} ${last.unit ?? 'documents'}. The judgments made are stored; run the command again for the rest.`);
        }
        throw e;
      }
      session.changed('judged');
      logger.info(`Judge ${req.model} at ${req.baseUrl} (${req.template ?? 'judge-binary'}): ${r.pool} documents in the pool (${r.unjudgedInPool} unjudged), ${r.judged} judged now, ${r.cached} from the cache, ${r.failed} failed${r.missingText > 0 ? `, ${r.missingText} without text` : ''}; ${r.stored} judgments in ${r.file}`);
      for (const cost of r.cost) logger.info(`Judge cost: ${cost.expansions} calls, ${cost.promptTokens} tokens in, ${cost.completionTokens} out, ${cost.usd === null ? 'no price for this model' : `$${cost.usd.toFixed(4)}`}`);
      if (r.failed > 0 && r.judged + r.cached === 0) throw allRequestsFailed('judge', `endpoint ${req.baseUrl}`, r.failed, run.firstWarning());
      const summary = `QX: ${r.judged} documents judged, ${r.cached} from cache, ${r.failed} failed; ${r.stored} judgments in ${path.basename(r.file)}.`;
      if (r.failed > 0) showWarning(logger, 'qx.judgeUnjudged', `${summary} First failure: ${run.firstWarning() ?? 'see the log'}`);
      else {
        void vscode.window.showInformationMessage(summary, 'Show Feedback', 'Open File').then(async (choice) => {
          if (choice === 'Show Feedback') await vscode.commands.executeCommand('qx.showJudgeFeedback');
          if (choice === 'Open File') await vscode.window.showTextDocument(vscode.Uri.file(r.file));
        });
      }
      return r;
    }),
    reg('qx.showJudgeFeedback', async () => {
      const ws = judging(requireWorkspace(session));
      const req = readJudgeSettings(ws.root);
      const f = await ws.judgeFeedback(req);
      if (f === null) {
        void vscode.window.showInformationMessage(`QX: no judgments of ${req.model} with ${path.basename(req.template ?? 'judge-binary')} in this workspace yet. Run "QX: Judge Unjudged Documents" first.`);
        return null;
      }
      logger.info(`Judge ${req.model} (${req.template ?? 'judge-binary'}): ${f.judgments} judgments in ${f.file}`);
      for (const line of `${formatCalibration(f.calibration)}${formatFill(f.fill, f.calibration.relevanceLevel)}`.trimEnd().split('\n')) logger.info(line);
      logger.channel.show(true);
      return f;
    }),
  ];
}
