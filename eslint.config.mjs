// Lint rules that guard the architecture: the core, the CLI and the protocol never import `vscode`,
// and the webview imports nothing but the protocol and its UI libraries.
import tseslint from 'typescript-eslint';

const noVscode = {
  'no-restricted-imports': ['error', {
    paths: [{ name: 'vscode', message: 'src/core, src/cli and src/protocol must stay free of the editor: pass what differs in from src/extension.' }],
  }],
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.tools/**', 'bench/out/**', 'samples/**'] },
  {
    files: ['**/*.ts', '**/*.mts'],
    languageOptions: { parser: tseslint.parser },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      'no-debugger': 'error',
    },
  },
  { files: ['src/core/**/*.ts', 'src/cli/**/*.ts', 'src/protocol/**/*.ts'], rules: noVscode },
  {
    files: ['webview/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [{ name: 'vscode', message: 'The webview runs in a browser: talk to the host through src/protocol.' }],
        patterns: [{ group: ['**/src/core/**', '**/src/extension/**', 'node:*'], message: 'The webview imports only src/protocol.' }],
      }],
    },
  },
);
