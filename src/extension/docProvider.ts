import * as vscode from 'vscode';
import { QxError } from '../core/errors.js';
import type { Session } from './session.js';

export const docScheme = 'qx-doc';

/** `qx-doc:/<docid>.txt?qid=<qid>&grade=<grade>`: a corpus document as a read-only text editor. */
export function docUri(docid: string, qid: string, grade: number | null): vscode.Uri {
  const query = new URLSearchParams({ qid, grade: grade === null ? 'unjudged' : String(grade) }).toString();
  return vscode.Uri.from({ scheme: docScheme, path: `/${docid}.txt`, query });
}

export class DocumentProvider implements vscode.TextDocumentContentProvider {
  constructor(private readonly session: Session) {}

  provideTextDocumentContent(uri: vscode.Uri): string {
    const docid = decodeURIComponent(uri.path.replace(/^\//, '').replace(/\.txt$/, ''));
    const params = new URLSearchParams(uri.query);
    const ws = this.session.workspace;
    if (ws === undefined) return `No QX workspace is open, so document ${docid} cannot be shown.\nRun "QX: Open Workspace…" and click the document again.`;
    let doc;
    try {
      doc = ws.getDocument(docid);
    } catch (e) {
      // A pointer store whose corpus file moved or changed: say so in the editor, with the fix.
      if (e instanceof QxError) return `Document ${docid} cannot be shown.\n\n${e.message}\n`;
      throw e;
    }
    if (doc === undefined) return `Document ${docid} is not in the corpus of ${ws.name}.`;
    const grade = params.get('grade') ?? 'unjudged';
    const header = [
      doc.title !== undefined && doc.title.length > 0 ? doc.title : `Document ${doc.id}`,
      `docid ${doc.id} · query ${params.get('qid') ?? '?'} · ${grade === 'unjudged' ? 'unjudged' : `grade ${grade}`}`,
      '',
    ];
    return header.join('\n') + '\n' + doc.text + '\n';
  }
}
