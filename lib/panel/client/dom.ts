/**
 * Building DOM without markup: every string goes in as a text node or an attribute value, never
 * through `innerHTML`, so nothing the API returns (key names, file names) can become HTML.
 */
export type Child = Node | string | null | undefined | false;
type AttrValue = string | number | boolean | undefined;
export type Attrs = { [name: string]: AttrValue | ((ev: Event) => void) };

let counter = 0;
/** A fresh element id, for `for`/`aria-describedby` links. */
export const uid = (prefix: string): string => `${prefix}-${++counter}`;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (typeof value === 'function') el.addEventListener(name.slice(2).toLowerCase(), value);
    else if (value === true) el.setAttribute(name, '');
    else if (value !== undefined && value !== false) el.setAttribute(name, String(value));
  }
  append(el, ...children);
  return el;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
  }
}

export function clear(el: Node): void {
  while (el.firstChild) el.removeChild(el.firstChild);
}

/**
 * A message area of a view: `role="alert"` for errors (read at once), `role="status"` for
 * confirmations. Shows the API's error text as it came, with its details as a list.
 */
export class Messages {
  readonly alert = h('div', { class: 'alert', role: 'alert' });
  readonly status = h('div', { class: 'status', role: 'status' });
  readonly el = h('div', { class: 'messages' }, this.alert, this.status);

  error(text: string, details: readonly string[] = []): void {
    clear(this.status);
    clear(this.alert);
    append(this.alert, h('p', {}, text));
    if (details.length > 0) append(this.alert, h('ul', {}, ...details.map((d) => h('li', {}, d))));
  }

  ok(text: string): void {
    clear(this.alert);
    clear(this.status);
    append(this.status, h('p', {}, text));
  }

  reset(): void {
    clear(this.alert);
    clear(this.status);
  }
}

/** A labelled text-like input with an optional description; returns the wrapper and the input. */
export function field(
  label: Child,
  input: HTMLInputElement | HTMLTextAreaElement,
  description?: string,
): HTMLDivElement {
  const id = input.id || uid('f');
  input.id = id;
  let desc: HTMLElement | undefined;
  if (description) {
    desc = h('p', { class: 'desc', id: uid('d') }, description);
    input.setAttribute('aria-describedby', desc.id);
  }
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, desc);
}

/** Ask a yes/no question in a modal `<dialog>` (focus trapped, Escape cancels). */
export function confirmDialog(question: string, yes: string): Promise<boolean> {
  return new Promise((resolve) => {
    const text = h('p', { id: uid('q') }, question);
    const cancel = h('button', { type: 'button' }, 'Cancel');
    const confirm = h('button', { type: 'button', class: 'danger' }, yes);
    const dialog = h(
      'dialog',
      { 'aria-describedby': text.id, 'aria-label': yes },
      text,
      h('div', { class: 'actions' }, cancel, confirm),
    );
    const done = (answer: boolean) => () => dialog.close(answer ? 'yes' : 'no');
    cancel.addEventListener('click', done(false));
    confirm.addEventListener('click', done(true));
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(dialog.returnValue === 'yes');
    });
    document.body.appendChild(dialog);
    dialog.showModal();
    cancel.focus();
  });
}
