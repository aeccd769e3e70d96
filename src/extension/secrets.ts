import * as vscode from 'vscode';
import type { ChannelLogger } from './logger.js';

/** The SecretStorage key of an endpoint's API key. */
export function secretKey(baseUrl: string): string {
  return `qx.apiKey:${baseUrl.trim().replace(/\/+$/, '')}`;
}

/** Local servers (vLLM, Ollama, llama.cpp) usually need no key: don't nag for one. */
export function isLocalEndpoint(baseUrl: string): boolean {
  try {
    const host = new URL(baseUrl).hostname;
    return host === 'localhost' || host === '127.0.0.1' || host === '::1' || host === '[::1]' || host.endsWith('.local');
  } catch {
    return false;
  }
}

/** API keys in `context.secrets` only, one per endpoint; never in settings, logs or the webview. */
export class ApiKeys {
  constructor(
    private readonly storage: vscode.SecretStorage,
    private readonly logger: ChannelLogger,
  ) {}

  async get(baseUrl: string): Promise<string | undefined> {
    const key = await this.storage.get(secretKey(baseUrl));
    if (key !== undefined) this.logger.mask(key);
    return key;
  }

  async set(baseUrl: string, key: string): Promise<void> {
    this.logger.mask(key);
    await this.storage.store(secretKey(baseUrl), key);
    this.logger.info(`API key stored for ${baseUrl}`);
  }

  async clear(baseUrl: string): Promise<void> {
    await this.storage.delete(secretKey(baseUrl));
    this.logger.info(`API key cleared for ${baseUrl}`);
  }

  /** Returns the stored key, or asks for one with a password box; undefined when the user declines. */
  async getOrPrompt(baseUrl: string): Promise<string | undefined> {
    const existing = await this.get(baseUrl);
    if (existing !== undefined || isLocalEndpoint(baseUrl)) return existing;
    return this.prompt(baseUrl);
  }

  async prompt(baseUrl: string): Promise<string | undefined> {
    this.logger.info(`Asking for the API key of ${baseUrl}`);
    const key = await vscode.window.showInputBox({
      title: 'QX Studio: API key',
      prompt: `API key for ${baseUrl} (stored in the OS keychain, never in settings)`,
      password: true,
      ignoreFocusOut: true,
      placeHolder: 'sk-…',
      validateInput: (v) => (/\s/.test(v.trim()) ? 'A key has no spaces.' : undefined),
    });
    if (key === undefined || key.trim().length === 0) {
      this.logger.info(`No API key entered for ${baseUrl}`);
      return undefined;
    }
    await this.set(baseUrl, key.trim());
    return key.trim();
  }
}
