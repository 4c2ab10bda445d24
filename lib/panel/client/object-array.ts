import { call, describe } from './api';
import { h, Messages, uid } from './dom';
import type { JsonSchema, PanelRow } from './meta';

type ObjectRow = Extract<PanelRow, { kind: 'object-array' }>;
type Item = Record<string, unknown>;

/** How one property of the item schema is edited. */
type Editor = 'string' | 'number' | 'boolean' | 'lines' | 'json';

interface Prop {
  name: string;
  schema: JsonSchema;
  required: boolean;
  editor: Editor;
}

function editorOf(schema: JsonSchema): Editor {
  const type = schema.type;
  if (type === 'string') return 'string';
  if (type === 'integer' || type === 'number') return 'number';
  if (type === 'boolean') return 'boolean';
  const items = schema.items as JsonSchema | undefined;
  if (type === 'array' && items && items.type === 'string') return 'lines';
  return 'json';
}

/** The item schema's properties, in schema order, with their editors. */
export function propsOf(itemSchema: JsonSchema): Prop[] {
  const properties = (itemSchema.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set(
    Array.isArray(itemSchema.required) ? (itemSchema.required as string[]) : [],
  );
  return Object.entries(properties).map(([name, schema]) => ({
    name,
    schema,
    required: required.has(name),
    editor: editorOf(schema),
  }));
}

interface ItemForm {
  fieldset: HTMLFieldSetElement;
  /** The item to send, or a message for a field the browser can already tell is unreadable. */
  read(): Item | string;
}

/**
 * A form for one item, its fields drawn from the item's JSON Schema. Fields the schema does not
 * know are kept: shown as JSON in "Other fields" and sent back as they are.
 */
function itemForm(props: readonly Prop[], item: Item | undefined, legend: string): ItemForm {
  const readers: Array<(out: Item) => string | undefined> = [];
  const fieldset = h('fieldset', {}, h('legend', {}, legend));
  for (const p of props) {
    const id = uid('o');
    const value = item?.[p.name];
    const label = h(
      'label',
      { for: id },
      p.name,
      p.required
        ? h('span', { class: 'req' }, ' *', h('span', { class: 'sr' }, ' (required)'))
        : '',
    );
    const desc =
      typeof p.schema.description === 'string'
        ? h('p', { class: 'desc', id: uid('d') }, p.schema.description)
        : undefined;
    const common = {
      id,
      'aria-required': p.required ? 'true' : undefined,
      'aria-describedby': desc?.id,
      autocomplete: 'off',
      spellcheck: 'false',
    };
    if (p.editor === 'boolean') {
      const input = h('input', { ...common, type: 'checkbox' });
      input.checked = value === true;
      fieldset.append(h('div', { class: 'field check' }, input, label, desc));
      readers.push((out) => {
        // An unchecked box of a field the item did not have stays absent (a new item gets no
        // `false` lines it never asked for).
        if (input.checked || value !== undefined) out[p.name] = input.checked;
        return undefined;
      });
    } else if (p.editor === 'string' || p.editor === 'number') {
      const input = h('input', {
        ...common,
        type: p.editor === 'number' ? 'number' : 'text',
        step: p.schema.type === 'integer' ? 1 : undefined,
      });
      input.value = value === undefined || value === null ? '' : String(value);
      fieldset.append(h('div', { class: 'field' }, label, input, desc));
      readers.push((out) => {
        const raw = input.value;
        // An empty field is left out: the API then names a missing required property, and an
        // optional one reads back as "" (absent and "" mean the same), so the file gets no
        // `key: ""` line.
        if (raw === '') return undefined;
        if (p.editor === 'number')
          out[p.name] = raw.trim() !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw;
        else out[p.name] = raw;
        return undefined;
      });
    } else if (p.editor === 'lines') {
      const hint = h('p', { class: 'desc', id: uid('d') }, 'One per line.');
      const input = h('textarea', {
        ...common,
        rows: 3,
        'aria-describedby': [desc?.id, hint.id].filter(Boolean).join(' '),
      });
      input.value = Array.isArray(value) ? value.map(String).join('\n') : '';
      fieldset.append(h('div', { class: 'field' }, label, input, hint, desc));
      readers.push((out) => {
        const lines = input.value
          .split('\n')
          .map((l) => l.trim())
          .filter((l) => l !== '');
        if (lines.length > 0) out[p.name] = lines;
        return undefined;
      });
    } else {
      const hint = h('p', { class: 'desc', id: uid('d') }, 'JSON.');
      const input = h('textarea', {
        ...common,
        rows: 4,
        class: 'code',
        'aria-describedby': [desc?.id, hint.id].filter(Boolean).join(' '),
      });
      const empty = value === undefined || (Array.isArray(value) && value.length === 0);
      input.value = empty ? '' : JSON.stringify(value, null, 2);
      fieldset.append(h('div', { class: 'field' }, label, input, hint, desc));
      readers.push((out) => {
        if (input.value.trim() === '') return undefined;
        try {
          out[p.name] = JSON.parse(input.value) as unknown;
          return undefined;
        } catch {
          return `${p.name}: not valid JSON`;
        }
      });
    }
  }
  // Fields the schema does not describe: kept, and editable as one JSON object.
  const known = new Set(props.map((p) => p.name));
  const extra = Object.fromEntries(Object.entries(item ?? {}).filter(([k]) => !known.has(k)));
  const extraId = uid('x');
  const extraInput = h('textarea', {
    id: extraId,
    rows: 3,
    class: 'code',
    spellcheck: 'false',
    'aria-describedby': `${extraId}-d`,
  });
  extraInput.value = Object.keys(extra).length > 0 ? JSON.stringify(extra, null, 2) : '';
  fieldset.append(
    h(
      'div',
      { class: 'field' },
      h('label', { for: extraId }, 'Other fields'),
      extraInput,
      h(
        'p',
        { class: 'desc', id: `${extraId}-d` },
        'Fields not listed above, as a JSON object: kept as they are, editable here.',
      ),
    ),
  );
  readers.push((out) => {
    if (extraInput.value.trim() === '') return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(extraInput.value);
    } catch {
      return 'Other fields: not valid JSON';
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
      return 'Other fields: must be a JSON object';
    for (const [k, v] of Object.entries(parsed as Item)) if (!known.has(k)) out[k] = v;
    return undefined;
  });
  return {
    fieldset,
    read() {
      const out: Item = {};
      for (const r of readers) {
        const problem = r(out);
        if (problem) return problem;
      }
      return out;
    },
  };
}

/** A list of objects: a form per item (save, delete) and one to add an item. */
export async function objectArrayView(row: ObjectRow, root: HTMLElement): Promise<void> {
  const props = propsOf(row.itemSchema);
  const msg = new Messages();
  const list = h('div', { class: 'objects' });
  const add = itemForm(props, undefined, 'New item');
  const addForm = h(
    'form',
    { class: 'object add', novalidate: true },
    add.fieldset,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Add item')),
  );
  root.append(
    h('h2', {}, row.field),
    row.description ? h('p', { class: 'desc' }, row.description) : '',
    h('p', { class: 'desc' }, 'Fields marked * are required.'),
    addForm,
    msg.el,
    list,
  );

  const run = async (action: () => Promise<unknown>, done: string): Promise<boolean> => {
    msg.reset();
    try {
      await action();
      await load();
      msg.ok(done);
      return true;
    } catch (err) {
      const { text, details } = describe(err);
      msg.error(text, details);
      return false;
    }
  };
  const read = async (path: string): Promise<Item[]> => {
    const body = (await call('GET', path)) as Record<string, unknown>;
    return Array.isArray(body[row.field]) ? (body[row.field] as Item[]) : [];
  };

  async function load(): Promise<void> {
    const items = await read(row.path);
    list.replaceChildren(...items.map(renderItem));
    if (items.length === 0) list.append(h('p', { class: 'empty' }, 'No items.'));
  }

  function renderItem(item: Item, index: number): HTMLFormElement {
    const n = index + 1;
    const id = item[row.matchField];
    const form = itemForm(
      props,
      item,
      `Item ${n}${typeof id === 'string' && id !== '' ? `: ${id}` : ''}`,
    );
    const del = h(
      'button',
      { type: 'button', class: 'danger', 'aria-label': `Delete item ${n}` },
      'Delete',
    );
    del.addEventListener(
      'click',
      () =>
        void run(
          () => call('DELETE', row.path, { query: { index: String(index) } }),
          `Deleted item ${n}.`,
        ),
    );
    const el = h(
      'form',
      { class: 'object item', novalidate: true },
      form.fieldset,
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'submit', 'aria-label': `Save item ${n}` }, 'Save'),
        del,
      ),
    );
    el.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const value = form.read();
      if (typeof value === 'string') return msg.error(value);
      // PATCH merges field by field: only what changed is sent (a value GET filled in and the
      // user left alone is never written), and a field the form no longer holds as null (removed).
      const patch: Item = {};
      for (const [k, v] of Object.entries(value))
        if (JSON.stringify(v) !== JSON.stringify(item[k])) patch[k] = v;
      for (const k of Object.keys(item))
        if (!Object.prototype.hasOwnProperty.call(value, k)) patch[k] = null;
      void run(
        () => call('PATCH', row.path, { body: { index, value: patch } }),
        `Saved item ${n}.`,
      );
    });
    return el;
  }

  addForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const value = add.read();
    if (typeof value === 'string') return msg.error(value);
    // POST appends one item on the server, so two people adding at once cannot lose an add.
    void run(async () => {
      await call('POST', row.path, { body: value });
      addForm.reset();
    }, 'Added.');
  });
  await load();
}
