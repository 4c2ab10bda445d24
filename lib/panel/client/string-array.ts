import { call, describe } from './api';
import { h, Messages } from './dom';
import type { PanelRow } from './meta';

type ListRow = Extract<PanelRow, { kind: 'string-array' }>;

/** A list of strings: add, edit in place, delete; re-read from the API after every change. */
export async function stringArrayView(row: ListRow, root: HTMLElement): Promise<void> {
  const msg = new Messages();
  const list = h('ol', { class: 'items' });
  const newInput = h('input', {
    id: 'new-item',
    type: 'text',
    autocomplete: 'off',
    spellcheck: 'false',
  });
  const addForm = h(
    'form',
    { class: 'add', novalidate: true },
    h('label', { for: 'new-item' }, `New ${row.field} item`),
    h('div', { class: 'inline' }, newInput, h('button', { type: 'submit' }, 'Add')),
  );
  root.append(
    h('h2', {}, row.field),
    row.description ? h('p', { class: 'desc' }, row.description) : '',
    addForm,
    msg.el,
    list,
  );

  let items: string[] = [];
  const load = async (): Promise<void> => {
    const body = (await call('GET', row.path)) as Record<string, unknown>;
    items = Array.isArray(body[row.field]) ? (body[row.field] as string[]) : [];
    list.replaceChildren(...items.map(renderItem));
    if (items.length === 0) list.append(h('li', { class: 'empty' }, 'No items.'));
  };
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

  function renderItem(value: string, index: number): HTMLLIElement {
    const n = index + 1;
    const input = h('input', {
      type: 'text',
      autocomplete: 'off',
      spellcheck: 'false',
      'aria-label': `${row.field} item ${n}`,
    });
    input.value = value;
    const form = h(
      'form',
      { class: 'inline', novalidate: true },
      input,
      h('button', { type: 'submit', 'aria-label': `Save item ${n}` }, 'Save'),
      h(
        'button',
        {
          type: 'button',
          class: 'danger',
          'aria-label': `Delete item ${n}`,
          onclick: () =>
            void run(
              () => call('DELETE', row.path, { query: { index: String(index) } }),
              `Deleted item ${n}.`,
            ),
        },
        'Delete',
      ),
    );
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void run(
        () => call('PATCH', row.path, { body: { index, value: input.value } }),
        `Saved item ${n}.`,
      );
    });
    return h('li', {}, form);
  }

  addForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const value = newInput.value;
    if (items.includes(value.trim()) && value.trim() !== '') {
      msg.error('already in the list');
      return;
    }
    // The API's way to append: {"old", "new"} with an `old` that no item equals appends `new`.
    void run(async () => {
      await call('PATCH', row.path, { body: { old: value, new: value } });
      newInput.value = '';
    }, 'Added.');
  });
  await load();
}
