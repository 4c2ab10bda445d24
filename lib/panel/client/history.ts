import { ApiError, call, describe } from './api';
import { confirmDialog, h, Messages } from './dom';

/** An entry as `GET /config/history` lists it. */
interface Entry {
  readonly id: string;
  readonly time: string;
  readonly source: string;
  readonly method?: string;
  readonly path?: string;
  readonly client?: string;
  readonly added: number;
  readonly removed: number;
  readonly 'revert-of'?: string;
  readonly files?: readonly string[];
}

/** One diff line, marked by its sign and by an element (`ins`, `del`) besides its colour. */
function diffLine(line: string): HTMLElement {
  if (line.startsWith('+') && !line.startsWith('+++'))
    return h('ins', {}, h('span', { class: 'sr' }, 'added: '), line);
  if (line.startsWith('-') && !line.startsWith('---'))
    return h('del', {}, h('span', { class: 'sr' }, 'removed: '), line);
  return h('span', { class: line.startsWith('@@') ? 'hunk' : undefined }, line);
}

/** The conflict's lines, as the user reads them. */
function conflictLines(details: unknown): string[] {
  if (!Array.isArray(details)) return [];
  return details.map(
    (d: unknown) =>
      `changed since, around line ${String((d as { line?: unknown }).line)} of the config as it is now`,
  );
}

/**
 * The config's history, newest first: who changed what and when; each entry's diff on demand;
 * a revert (with confirmation) that shows the conflict when the lines were changed since.
 */
export async function historyView(root: HTMLElement): Promise<void> {
  const msg = new Messages();
  const body = h('tbody');
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Older entries');
  const diffBox = h('section', { class: 'diff-view', 'aria-label': 'Diff', hidden: true });
  root.append(
    h('h2', {}, 'History'),
    h(
      'p',
      { class: 'desc' },
      'Every accepted change of the config. The management key is always shown as "<hidden>".',
    ),
    msg.el,
    h(
      'div',
      { class: 'scroll', tabindex: 0, role: 'region', 'aria-label': 'Changes' },
      h(
        'table',
        { class: 'history' },
        h('caption', { class: 'sr' }, 'Changes, newest first'),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ...['Id', 'Time', 'Source', 'Request', 'Client', 'Lines', 'Actions'].map((t) =>
              h('th', { scope: 'col' }, t),
            ),
          ),
        ),
        body,
      ),
    ),
    more,
    diffBox,
  );

  let next: string | null = null;
  const load = async (before?: string): Promise<void> => {
    const page = (await call('GET', '/config/history', {
      query: before ? { limit: '50', before } : { limit: '50' },
    })) as { entries: Entry[]; next: string | null };
    if (!before) body.replaceChildren();
    body.append(...page.entries.map(row));
    if (body.children.length === 0)
      body.append(h('tr', {}, h('td', { colspan: 7, class: 'empty' }, 'No changes recorded yet.')));
    next = page.next;
    more.hidden = next === null;
  };

  const show = async (entry: Entry): Promise<void> => {
    msg.reset();
    try {
      const full = (await call('GET', `/config/history/${entry.id}`)) as Entry & { diff: string };
      const lines = full.diff === '' ? [] : full.diff.replace(/\n$/, '').split('\n');
      const pre = h(
        'pre',
        { class: 'diff', tabindex: 0, 'aria-label': `Diff of change ${entry.id}` },
        ...lines.flatMap((l) => [diffLine(l), '\n']),
      );
      diffBox.replaceChildren(
        h('h3', {}, `Change ${entry.id}`),
        entry.files
          ? h('p', {}, `Auth files: ${entry.files.join(', ')} (contents are not kept)`)
          : '',
        pre,
      );
      diffBox.hidden = false;
      pre.focus();
    } catch (err) {
      const { text, details } = describe(err);
      msg.error(text, details);
    }
  };

  const revert = async (entry: Entry): Promise<void> => {
    msg.reset();
    if (
      !(await confirmDialog(
        `Revert change ${entry.id}? Changes made since are kept; the management key is never changed.`,
        'Revert',
      ))
    )
      return;
    try {
      const res = (await call('POST', `/config/history/${entry.id}/revert`)) as {
        id: string | null;
      };
      await load();
      msg.ok(`Reverted change ${entry.id} (new entry ${res.id ?? '-'}).`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 409 && err.error === 'revert conflict') {
        msg.error(
          `Cannot revert change ${entry.id}: its lines were changed since.`,
          conflictLines(err.details),
        );
        return;
      }
      const { text, details } = describe(err);
      msg.error(text, details);
    }
  };

  function row(entry: Entry): HTMLTableRowElement {
    const request = entry.method
      ? `${entry.method} ${entry.path ?? ''}`
      : entry['revert-of']
        ? `revert of ${entry['revert-of']}`
        : '';
    const when = new Date(entry.time);
    const revertible = !entry.files && entry.added + entry.removed > 0;
    return h(
      'tr',
      {},
      h('td', {}, entry.id),
      h(
        'td',
        {},
        h(
          'time',
          { datetime: entry.time },
          Number.isNaN(when.getTime()) ? entry.time : when.toLocaleString(),
        ),
      ),
      h('td', {}, entry.source),
      h('td', {}, request),
      h('td', {}, entry.client ?? ''),
      h('td', {}, `+${entry.added} −${entry.removed}`),
      h(
        'td',
        { class: 'actions' },
        h(
          'button',
          {
            type: 'button',
            class: 'secondary',
            'aria-label': `Show the diff of change ${entry.id}`,
            onclick: () => void show(entry),
          },
          'Diff',
        ),
        revertible
          ? h(
              'button',
              {
                type: 'button',
                class: 'danger',
                'aria-label': `Revert change ${entry.id}`,
                onclick: () => void revert(entry),
              },
              'Revert…',
            )
          : '',
      ),
    );
  }

  more.addEventListener('click', () => {
    if (next !== null) void load(next).catch((err: unknown) => msg.error(describe(err).text));
  });
  await load();
}
