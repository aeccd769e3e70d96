/**
 * Tiny DOM helpers. Every string goes in through textContent or an attribute: corpus text and
 * model output are never parsed as HTML, so a passage holding `<script>` shows literally.
 */
export interface ElOptions {
  className?: string;
  text?: string;
  title?: string;
  attrs?: Record<string, string>;
  on?: Partial<{ [K in keyof HTMLElementEventMap]: (e: HTMLElementEventMap[K]) => void }>;
}

export type Child = Node | string | null | undefined | false;

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, options?: ElOptions, children?: Child[]): HTMLElementTagNameMap[K];
export function el(tag: string, options?: ElOptions, children?: Child[]): HTMLElement;
export function el(tag: string, options: ElOptions = {}, children: Child[] = []): HTMLElement {
  const node = document.createElement(tag);
  if (options.className !== undefined) node.className = options.className;
  if (options.text !== undefined) node.textContent = options.text;
  if (options.title !== undefined) node.title = options.title;
  for (const [k, v] of Object.entries(options.attrs ?? {})) node.setAttribute(k, v);
  for (const [type, handler] of Object.entries(options.on ?? {})) node.addEventListener(type, handler as EventListener);
  append(node, children);
  return node;
}

export function append(parent: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    parent.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
  }
}

const svgNs = 'http://www.w3.org/2000/svg';

export function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {}, children: (SVGElement | null)[] = []): SVGElementTagNameMap[K] {
  const node = document.createElementNS(svgNs, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  for (const c of children) if (c !== null) node.appendChild(c);
  return node;
}

export function svgText(x: number, y: number, text: string, attrs: Record<string, string | number> = {}): SVGTextElement {
  const t = svg('text', { x, y, ...attrs });
  t.textContent = text;
  return t;
}
