// package.json's contributions, checked against the code and the core: what a user would notice as
// a command that does nothing, a setting whose default differs from the CLI's, or a broken walkthrough.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { defaultSettings } from '../../../src/core/workspace/settings.js';

const root = path.resolve(__dirname, '../../..');
interface Pkg {
  activationEvents: string[];
  contributes: {
    commands: { command: string; title: string; category?: string }[];
    configuration: { properties: Record<string, { default: unknown }> }[];
    keybindings: { command: string; key: string; when?: string }[];
    menus: Record<string, { command: string; when?: string }[]>;
    views: Record<string, { id: string; type?: string }[]>;
    walkthroughs: { steps: { media: { markdown?: string } }[] }[];
  };
}
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as Pkg;
const c = pkg.contributes;
const extensionSource = readdirSync(path.join(root, 'src/extension')).map((f) => readFileSync(path.join(root, 'src/extension', f), 'utf8')).join('\n');

test('every contributed command is qx.<verbNoun> in category QX and registered in src/extension', () => {
  for (const cmd of c.commands) {
    assert.match(cmd.command, /^qx\.[a-z]+[A-Za-z]*$/, cmd.command);
    assert.equal(cmd.category, 'QX', cmd.command);
    assert.ok(extensionSource.includes(`'${cmd.command}'`), `${cmd.command} is never registered`);
  }
});

test('menus and keybindings only name contributed commands (or the review view)', () => {
  const ids = new Set(c.commands.map((x) => x.command));
  for (const [menu, items] of Object.entries(c.menus)) for (const i of items) assert.ok(ids.has(i.command), `${menu}: ${i.command}`);
  for (const k of c.keybindings) {
    assert.ok(ids.has(k.command), k.command);
    assert.match(k.when ?? '', /qx\.reviewFocused|focusedView == qx\.review/, `${k.key} is scoped to the review`);
  }
});

test('context-only commands are hidden from the palette', () => {
  const hidden = new Set(c.menus.commandPalette?.filter((m) => m.when === 'false').map((m) => m.command));
  for (const id of ['qx.reviewQuery', 'qx.acceptAutoPairs', 'qx.rejectAutoPairs']) assert.ok(hidden.has(id), id);
});

test('the settings schema declares the same defaults as the core (extension and CLI agree)', () => {
  const props = Object.assign({}, ...c.configuration.map((s) => s.properties)) as Record<string, { default: unknown }>;
  const flat: Record<string, unknown> = {};
  const walk = (o: Record<string, unknown>, prefix: string) => {
    for (const [k, v] of Object.entries(o)) {
      if (v !== null && typeof v === 'object' && !Array.isArray(v) && k !== 'extraBody') walk(v as Record<string, unknown>, `${prefix}${k}.`);
      else flat[`${prefix}${k}`] = v;
    }
  };
  walk(defaultSettings as unknown as Record<string, unknown>, 'qx.');
  for (const [key, value] of Object.entries(flat)) {
    assert.ok(key in props, `${key} is a core setting but not in contributes.configuration`);
    assert.deepEqual(props[key]?.default, value, `default of ${key}`);
  }
  for (const key of Object.keys(props)) if (!key.endsWith('.seed')) assert.ok(key in flat, `${key} is declared but the core has no such setting`);
});

test('the Review is a webview view, activation is lazy, walkthrough media exist', () => {
  assert.equal(Object.values(c.views).flat().find((v) => v.id === 'qx.review')?.type, 'webview');
  assert.ok(!pkg.activationEvents.includes('*'));
  assert.ok(!pkg.activationEvents.includes('onStartupFinished'));
  for (const step of c.walkthroughs.flatMap((w) => w.steps)) {
    if (step.media.markdown !== undefined) assert.ok(existsSync(path.join(root, step.media.markdown)), step.media.markdown);
  }
});
