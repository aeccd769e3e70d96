// The Review panel's script: talks to the extension host only through src/protocol messages.
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-textarea/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import '@vscode-elements/elements/dist/vscode-collapsible/index.js';
import { WebviewEndpoint } from '../src/protocol/rpc.js';
import { ReviewApp, type UiState } from './app.js';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

const api = acquireVsCodeApi();
const rpc = new WebviewEndpoint((m) => api.postMessage(m));
const root = document.getElementById('app');
if (root !== null) {
  new ReviewApp(root, rpc, { get: () => api.getState(), set: (s: UiState) => api.setState(s) });
  window.addEventListener('message', (e: MessageEvent<unknown>) => rpc.receive(e.data));
  rpc.ready();
}
