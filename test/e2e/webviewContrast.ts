// WCAG contrast of text in a rendered page, as a reader meets it: the element's computed colour
// against the first opaque background behind it (semi-transparent layers composited on the way).
// Used on the Review panel in the fake-host themes and in the real VS Code workbench.
import type { Frame, Page } from 'playwright-core';

/** One text element: what it says, its colour and backdrop (as #rrggbb) and their contrast ratio. */
export interface TextContrast {
  selector: string;
  text: string;
  color: string;
  background: string;
  ratio: number;
}

/** WCAG 2.x AA for normal-size text. */
export const minTextContrast = 4.5;

/**
 * Contrast of every visible element matching each selector. A custom element with a shadow root
 * (vscode-badge) is measured on its `.root` part, where its colours are applied.
 */
export async function textContrasts(target: Page | Frame, selectors: string[]): Promise<TextContrast[]> {
  // Plain JavaScript in a string: the test's TypeScript transform would wrap inner functions in
  // helpers that do not exist in the page.
  return (await target.evaluate(`(${measureInPage})(${JSON.stringify(selectors)})`)) as TextContrast[];
}

const measureInPage = `function (sels) {
  const canvas = document.createElement('canvas');
  canvas.width = 1;
  canvas.height = 1;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  // Any CSS colour syntax (rgb(), color(srgb ...) from color-mix) -> straight RGBA 0-255.
  function rgba(css) {
    ctx.clearRect(0, 0, 1, 1);
    ctx.fillStyle = '#000';
    ctx.fillStyle = css;
    ctx.fillRect(0, 0, 1, 1);
    const d = ctx.getImageData(0, 0, 1, 1).data;
    return [d[0], d[1], d[2], d[3] / 255];
  }
  function over(top, below) {
    return [0, 1, 2].map((i) => top[i] * top[3] + below[i] * (1 - top[3]));
  }
  function parentOf(n) {
    return n.parentElement ?? n.getRootNode().host ?? null;
  }
  function backdrop(n) {
    const layers = [];
    for (let e = n; e !== null; e = parentOf(e)) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break;
    }
    // Under everything, the page canvas: white unless the theme painted html/body.
    let base = [255, 255, 255];
    for (const l of layers.reverse()) base = over(l, base);
    return base;
  }
  function lum(c) {
    const [r, g, b] = c.map((v) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  }
  function hex(c) {
    return '#' + c.map((v) => Math.round(v).toString(16).padStart(2, '0')).join('');
  }
  const out = [];
  for (const selector of sels) {
    for (const host of document.querySelectorAll(selector)) {
      const el = (host.shadowRoot && host.shadowRoot.querySelector('.root')) || host;
      const box = el.getBoundingClientRect();
      if (box.width === 0 || box.height === 0) continue;
      const bg = backdrop(el);
      const fg = over(rgba(getComputedStyle(el).color), bg);
      const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
      out.push({ selector, text: (host.textContent || '').trim().slice(0, 60), color: hex(fg), background: hex(bg), ratio: Math.round(((hi + 0.05) / (lo + 0.05)) * 100) / 100 });
    }
  }
  return out;
}`;

/** The Review panel's coloured text: deltas, warnings, error lines, pair-state badges. */
export const coloredTextSelectors = ['.delta.pos', '.delta.neg', '.delta.zero', '.warn', '.status.error', '.preview.error', 'vscode-badge.state', 'button.doc .hole', 'button.doc .judge-score'];

/** Readable summary of the measurements below the minimum, for an assertion message. */
export function belowMinimum(found: TextContrast[], min = minTextContrast): string[] {
  return found.filter((c) => c.ratio < min).map((c) => `${c.selector} "${c.text}": ${c.color} on ${c.background} = ${c.ratio}:1`);
}
