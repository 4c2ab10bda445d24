import { call, describe } from './api';
import { h, Messages, uid } from './dom';
import type { PanelRow } from './meta';

type MapRow = Extract<PanelRow, { kind: 'map' }>;

/**
 * A map of names to lists (`oauth-excluded-models`): one form per name (its list, one item per
 * line for strings, JSON for objects; save or delete) and one to add a name. The server
 * normalises what it stores (names lower-cased, failing items dropped); the view re-reads it.
 */
export async function mapView(row: MapRow, root: HTMLElement): Promise<void> {
  const strings = row.itemSchema.type === 'string';
  const msg = new Messages();
  const list = h('div', { class: 'objects' });

  /** A list editor: its element, and a reader returning the items or a message. */
  const editor = (
    label: string,
    items: unknown[],
  ): { el: HTMLElement; read(): unknown[] | string } => {
    const id = uid('m');
    const hint = h(
      'p',
      { class: 'desc', id: uid('d') },
      strings ? 'One per line.' : 'A JSON array.',
    );
    const input = h('textarea', {
      id,
      rows: strings ? 4 : 6,
      class: strings ? undefined : 'code',
      spellcheck: 'false',
      'aria-describedby': hint.id,
    });
    input.value = strings
      ? items.map(String).join('\n')
      : items.length > 0
        ? JSON.stringify(items, null, 2)
        : '';
    const el = h('div', { class: 'field' }, h('label', { for: id }, label), input, hint);
    return {
      el,
      read() {
        if (strings)
          return input.value
            .split('\n')
            .map((l) => l.trim())
            .filter((l) => l !== '');
        if (input.value.trim() === '') return [];
        try {
          const parsed = JSON.parse(input.value) as unknown;
          return Array.isArray(parsed) ? parsed : `${label}: must be a JSON array`;
        } catch {
          return `${label}: not valid JSON`;
        }
      },
    };
  };

  const nameId = uid('n');
  const nameInput = h('input', {
    id: nameId,
    type: 'text',
    autocomplete: 'off',
    spellcheck: 'false',
    'aria-required': 'true',
  });
  const addList = editor(row.listField, []);
  const addForm = h(
    'form',
    { class: 'object add', novalidate: true },
    h(
      'fieldset',
      {},
      h('legend', {}, `New ${row.nameField}`),
      h('div', { class: 'field' }, h('label', { for: nameId }, row.nameField), nameInput),
      addList.el,
    ),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Add')),
  );
  root.append(
    h('h2', {}, row.field),
    row.description ? h('p', { class: 'desc' }, row.description) : '',
    addForm,
    msg.el,
    list,
  );

  const run = async (action: () => Promise<unknown>, done: string): Promise<void> => {
    msg.reset();
    try {
      await action();
      await load();
      msg.ok(done);
    } catch (err) {
      const { text, details } = describe(err);
      msg.error(text, details);
    }
  };
  const save = (name: string, items: unknown[]) =>
    call('PATCH', row.path, { body: { [row.nameField]: name, [row.listField]: items } });

  async function load(): Promise<void> {
    const body = (await call('GET', row.path)) as Record<string, unknown>;
    const map =
      body[row.field] && typeof body[row.field] === 'object'
        ? (body[row.field] as Record<string, unknown[]>)
        : {};
    const entries = Object.entries(map);
    list.replaceChildren(
      ...entries.map(([name, items]) => renderEntry(name, Array.isArray(items) ? items : [])),
    );
    if (entries.length === 0) list.append(h('p', { class: 'empty' }, 'Nothing yet.'));
  }

  function renderEntry(name: string, items: unknown[]): HTMLFormElement {
    const ed = editor(`${row.listField} of ${name}`, items);
    const del = h(
      'button',
      { type: 'button', class: 'danger', 'aria-label': `Delete ${name}` },
      'Delete',
    );
    del.addEventListener(
      'click',
      () =>
        void run(
          () => call('DELETE', row.path, { query: { [row.nameField]: name } }),
          `Deleted ${name}.`,
        ),
    );
    const form = h(
      'form',
      { class: 'object item', novalidate: true },
      h('fieldset', {}, h('legend', {}, name), ed.el),
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'submit', 'aria-label': `Save ${name}` }, 'Save'),
        del,
      ),
    );
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const value = ed.read();
      if (typeof value === 'string') return msg.error(value);
      void run(() => save(name, value), `Saved ${name}.`);
    });
    return form;
  }

  addForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const value = addList.read();
    if (typeof value === 'string') return msg.error(value);
    void run(async () => {
      await save(nameInput.value, value);
      addForm.reset();
    }, 'Added.');
  });
  await load();
}
