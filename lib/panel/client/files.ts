import { ApiError, call, describe, request } from './api';
import { confirmDialog, h, Messages } from './dom';
import type { PanelRow } from './meta';

type FilesRow = Extract<PanelRow, { kind: 'files' }>;
interface FileInfo {
  name: string;
  size: number;
  modtime: string;
  /** From the file's contents (a router of the 2026 API); absent from older routers. */
  type?: string;
  email?: string;
  disabled?: boolean;
}

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** Auth files: upload (picker or drag and drop, several at once), download, enable/disable, delete, delete all. */
export async function filesView(row: FilesRow, root: HTMLElement): Promise<void> {
  const msg = new Messages();
  const picker = h('input', {
    type: 'file',
    id: 'upload',
    multiple: true,
    accept: '.json,application/json',
  });
  const drop = h(
    'div',
    { class: 'drop' },
    h('label', { for: 'upload' }, 'Upload auth files (.json)'),
    picker,
    h('p', { class: 'desc' }, 'Choose one or more files, or drop them here.'),
  );
  const deleteAll = h('button', { type: 'button', class: 'danger' }, 'Delete all…');
  const list = h('ul', { class: 'files' });
  root.append(
    h('h2', {}, 'Auth files'),
    row.description ? h('p', { class: 'desc' }, row.description) : '',
    drop,
    msg.el,
    h('div', { class: 'actions' }, deleteAll),
    list,
  );

  let files: FileInfo[] = [];
  const load = async (): Promise<void> => {
    const body = (await call('GET', row.path)) as { files?: FileInfo[] };
    files = Array.isArray(body.files) ? body.files : [];
    list.replaceChildren(...files.map(renderFile));
    if (files.length === 0) list.append(h('li', { class: 'empty' }, 'No auth files.'));
    deleteAll.disabled = files.length === 0;
  };
  const fail = (err: unknown, prefix = ''): void => {
    const { text, details } = describe(err);
    msg.error(prefix + text, details);
  };

  function renderFile(f: FileInfo): HTMLLIElement {
    const download = h(
      'button',
      { type: 'button', 'aria-label': `Download ${f.name}` },
      'Download',
    );
    const del = h(
      'button',
      { type: 'button', class: 'danger', 'aria-label': `Delete ${f.name}` },
      'Delete',
    );
    download.addEventListener('click', async () => {
      msg.reset();
      try {
        const res = await request('GET', `${row.path}/download`, { query: { name: f.name } });
        const url = URL.createObjectURL(await res.blob());
        const a = h('a', { href: url, download: f.name, hidden: true });
        document.body.append(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10_000);
      } catch (err) {
        fail(err);
      }
    });
    del.addEventListener('click', async () => {
      msg.reset();
      try {
        await call('DELETE', row.path, { query: { name: f.name } });
        await load();
        msg.ok(`Deleted ${f.name}.`);
      } catch (err) {
        fail(err);
      }
    });
    const when = new Date(f.modtime);
    const about = [f.type, f.email].filter((v) => typeof v === 'string' && v !== '').join(' · ');
    const actions = h('span', { class: 'actions' }, download);
    if (typeof f.disabled === 'boolean') {
      const disabled = f.disabled;
      const toggle = h(
        'button',
        { type: 'button', 'aria-label': `${disabled ? 'Enable' : 'Disable'} ${f.name}` },
        disabled ? 'Enable' : 'Disable',
      );
      toggle.addEventListener('click', async () => {
        msg.reset();
        try {
          await call('PATCH', `${row.path}/status`, {
            body: { name: f.name, disabled: !disabled },
          });
          await load();
          msg.ok(`${disabled ? 'Enabled' : 'Disabled'} ${f.name}.`);
        } catch (err) {
          fail(err);
        }
      });
      actions.append(toggle);
    }
    actions.append(del);
    return h(
      'li',
      f.disabled ? { class: 'off' } : {},
      h(
        'span',
        { class: 'name' },
        f.name,
        f.disabled ? h('span', { class: 'badge' }, 'disabled') : '',
      ),
      h(
        'span',
        { class: 'meta' },
        about ? `${about} · ` : '',
        `${formatSize(f.size)} · `,
        h(
          'time',
          { datetime: f.modtime },
          Number.isNaN(when.getTime()) ? f.modtime : when.toLocaleString(),
        ),
      ),
      actions,
    );
  }

  async function upload(chosen: readonly File[]): Promise<void> {
    if (chosen.length === 0) return;
    msg.reset();
    const errors: string[] = [];
    let done = 0;
    for (const file of chosen) {
      const form = new FormData();
      form.append('file', file, file.name);
      try {
        await call('POST', row.path, { body: form });
        done++;
      } catch (err) {
        const { text, details } = describe(err);
        errors.push([`${file.name}: ${text}`, ...details].join(' — '));
        if (err instanceof ApiError && (err.status === 401 || err.status === 429)) break;
      }
    }
    picker.value = '';
    try {
      await load();
    } catch (err) {
      fail(err);
      return;
    }
    if (errors.length > 0) msg.error(`Uploaded ${done} of ${chosen.length} files.`, errors);
    else msg.ok(`Uploaded ${done} file${done === 1 ? '' : 's'}.`);
  }

  picker.addEventListener('change', () => void upload([...(picker.files ?? [])]));
  drop.addEventListener('dragover', (ev) => {
    ev.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (ev) => {
    ev.preventDefault();
    drop.classList.remove('over');
    void upload([...(ev.dataTransfer?.files ?? [])]);
  });
  deleteAll.addEventListener('click', async () => {
    const n = files.length;
    if (
      !(await confirmDialog(
        `Delete all ${n} auth file${n === 1 ? '' : 's'}? This cannot be undone.`,
        'Delete all',
      ))
    ) {
      deleteAll.focus();
      return;
    }
    msg.reset();
    try {
      const body = (await call('DELETE', row.path, { query: { all: 'true' } })) as {
        deleted?: number;
      };
      await load();
      const n = body.deleted ?? 0;
      msg.ok(`Deleted ${n} file${n === 1 ? '' : 's'}.`);
    } catch (err) {
      fail(err);
    }
    deleteAll.focus();
  });
  await load();
}
