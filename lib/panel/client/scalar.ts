import { call, describe } from './api';
import { h, Messages, uid } from './dom';
import type { PanelRow } from './meta';

type ScalarRow = Extract<PanelRow, { kind: 'scalar' }>;
type Scalar = string | number | boolean;

/** Every scalar row on one screen: booleans as switches, numbers and strings as small forms. */
export async function scalarView(rows: readonly ScalarRow[], root: HTMLElement): Promise<void> {
  const list = h('div', { class: 'scalars' });
  root.append(h('h2', {}, 'Settings'), list);
  const values = await Promise.all(
    rows.map(async (row) => {
      const body = (await call('GET', row.path)) as Record<string, unknown>;
      return body[row.field] as Scalar;
    }),
  );
  rows.forEach((row, i) => list.append(scalarControl(row, values[i] as Scalar)));
}

function scalarControl(row: ScalarRow, value: Scalar): HTMLElement {
  const msg = new Messages();
  const type = String(row.schema.type);
  const descId = uid('d');
  const desc = row.description ? h('p', { class: 'desc', id: descId }, row.description) : undefined;
  const describedBy = desc ? descId : undefined;
  const id = uid('s');
  const save = async (v: unknown, what = 'Saved'): Promise<boolean> => {
    msg.reset();
    try {
      await call('PUT', row.path, { body: { value: v } });
      msg.ok(`${what} ${row.field}.`);
      return true;
    } catch (err) {
      const { text, details } = describe(err);
      msg.error(`${row.field}: ${text}`, details);
      return false;
    }
  };

  if (type === 'boolean') {
    const input = h('input', {
      type: 'checkbox',
      role: 'switch',
      id,
      class: 'switch',
      'aria-describedby': describedBy,
    });
    input.checked = value === true;
    input.addEventListener('change', async () => {
      const wanted = input.checked;
      input.disabled = true;
      if (!(await save(wanted))) input.checked = !wanted;
      input.disabled = false;
      input.focus();
    });
    return h(
      'div',
      { class: 'setting', 'data-path': row.path },
      h('div', { class: 'switch-line' }, input, h('label', { for: id }, row.field)),
      desc,
      msg.el,
    );
  }

  const numeric = type === 'integer' || type === 'number';
  const input = h('input', {
    id,
    type: numeric ? 'number' : 'text',
    inputmode: type === 'integer' ? 'numeric' : undefined,
    step: type === 'integer' ? 1 : numeric ? 'any' : undefined,
    autocomplete: 'off',
    spellcheck: 'false',
    'aria-describedby': describedBy,
  });
  input.value = String(value);
  const reset =
    row.resetValue === undefined
      ? undefined
      : h('button', { type: 'button', class: 'secondary' }, 'Reset');
  reset?.addEventListener('click', async () => {
    msg.reset();
    try {
      await call('DELETE', row.path);
      input.value = String(row.resetValue);
      msg.ok(`Reset ${row.field}.`);
    } catch (err) {
      const { text, details } = describe(err);
      msg.error(`${row.field}: ${text}`, details);
    }
  });
  const form = h(
    'form',
    { class: 'setting', 'data-path': row.path, novalidate: true },
    h('label', { for: id }, row.field),
    desc,
    h('div', { class: 'inline' }, input, h('button', { type: 'submit' }, 'Save'), reset),
    msg.el,
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    // A number field sends a number when it holds one, else the raw text: the API says what is wrong.
    const raw = input.value;
    const v = numeric && raw.trim() !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw;
    void save(v);
  });
  return form;
}
