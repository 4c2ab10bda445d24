/**
 * The panel's entry point. It draws itself from `meta.json` (the resource table), so a row the
 * host adds to the table gets its screen with no panel code. Every string from the server goes
 * into the page as text (see dom.ts); the page runs under a CSP with no inline script or style.
 */
import { call, describe, session, setUnauthorizedHandler, type ApiError } from './api';
import { clear, h, Messages } from './dom';
import { filesView } from './files';
import { historyView } from './history';
import type { PanelMeta, PanelRow } from './meta';
import { mapView } from './map';
import { objectArrayView } from './object-array';
import { scalarView } from './scalar';
import { stringArrayView } from './string-array';

interface Screen {
  id: string;
  title: string;
  render(root: HTMLElement): Promise<void>;
}

const $ = (id: string): HTMLElement => document.getElementById(id) as HTMLElement;

function screensOf(meta: PanelMeta): Screen[] {
  const screens: Screen[] = [];
  const scalars = meta.rows.filter(
    (r): r is Extract<PanelRow, { kind: 'scalar' }> => r.kind === 'scalar',
  );
  if (scalars.length > 0)
    screens.push({
      id: 'settings',
      title: 'Settings',
      render: (root) => scalarView(scalars, root),
    });
  for (const row of meta.rows) {
    const id = row.path.slice(1).replace(/\//g, '.');
    if (row.kind === 'string-array')
      screens.push({ id, title: row.field, render: (root) => stringArrayView(row, root) });
    else if (row.kind === 'object-array')
      screens.push({ id, title: row.field, render: (root) => objectArrayView(row, root) });
    else if (row.kind === 'map')
      screens.push({ id, title: row.field, render: (root) => mapView(row, root) });
    else if (row.kind === 'files')
      screens.push({ id, title: 'Auth files', render: (root) => filesView(row, root) });
  }
  if (meta.history)
    screens.push({ id: 'history', title: 'History', render: (root) => historyView(root) });
  return screens;
}

function showLogin(meta: PanelMeta, message?: ApiError | string): void {
  const main = $('main');
  const nav = $('nav');
  nav.hidden = true;
  clear(nav);
  clear($('session'));
  clear(main);
  const msg = new Messages();
  const input = h('input', {
    type: 'password',
    id: 'key',
    name: 'key',
    autocomplete: 'current-password',
    required: true,
    spellcheck: 'false',
  });
  const button = h('button', { type: 'submit' }, 'Log in');
  const form = h(
    'form',
    { class: 'login', novalidate: true },
    h('h2', {}, 'Log in'),
    // For password managers: a key form without a user name field is not recognised as a login.
    h('input', {
      type: 'text',
      name: 'username',
      autocomplete: 'username',
      value: 'management',
      hidden: true,
      tabindex: -1,
      'aria-hidden': 'true',
    }),
    h('div', { class: 'field' }, h('label', { for: 'key' }, 'Management key'), input),
    h(
      'p',
      { class: 'desc' },
      'Kept in this tab only (session storage) and sent as a Bearer header.',
    ),
    button,
    msg.el,
  );
  main.append(form);
  if (typeof message === 'string') msg.error(message);
  else if (message) msg.error(describe(message).text);
  input.focus();
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const key = input.value.trim();
    if (key === '') return msg.error('missing management key');
    button.disabled = true;
    msg.reset();
    try {
      // Any row's GET checks the key; the API's own 401/403/429 text is what the user sees.
      const probe = meta.rows[0];
      if (probe) await call('GET', probe.path, { key });
      session.set(key);
      showMain(meta);
    } catch (err) {
      const { text, details } = describe(err);
      msg.error(text, details);
      button.disabled = false;
      input.select();
    }
  });
}

function showMain(meta: PanelMeta): void {
  const screens = screensOf(meta);
  const nav = $('nav');
  const logout = h('button', { type: 'button', class: 'secondary' }, 'Log out');
  logout.addEventListener('click', () => {
    session.clear();
    history.replaceState(null, '', location.pathname);
    showLogin(meta);
  });
  $('session').replaceChildren(logout);
  const links = screens.map((s) => h('a', { href: `#${s.id}`, 'data-screen': s.id }, s.title));
  nav.replaceChildren(h('ul', {}, ...links.map((a) => h('li', {}, a))));
  nav.hidden = false;

  let generation = 0;
  const route = async (): Promise<void> => {
    if (session.get() === null) return;
    const wanted = location.hash.slice(1);
    const screen = screens.find((s) => s.id === wanted) ?? screens[0];
    if (!screen) return;
    for (const a of links) {
      if (a.dataset.screen === screen.id) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    document.title = `${screen.title} · CLI Proxy API management`;
    const main = $('main');
    const section = h('section', {
      class: 'screen',
      'data-screen': screen.id,
      'aria-busy': 'true',
    });
    main.replaceChildren(section);
    const mine = ++generation;
    try {
      await screen.render(section);
    } catch (err) {
      if (mine !== generation || session.get() === null) return;
      const msg = new Messages();
      section.append(msg.el);
      const { text, details } = describe(err);
      msg.error(text, details);
    }
    section.setAttribute('aria-busy', 'false');
  };
  window.onhashchange = () => {
    void route().then(() => $('main').focus());
  };
  void route();
}

async function start(): Promise<void> {
  let meta: PanelMeta;
  try {
    const res = await fetch('meta.json', { cache: 'no-store' });
    if (!res.ok) throw new Error(`meta.json: HTTP ${res.status}`);
    meta = (await res.json()) as PanelMeta;
  } catch (err) {
    $('main').replaceChildren(
      h('p', { role: 'alert' }, `Cannot load the panel: ${(err as Error).message}`),
    );
    return;
  }
  // A stored key that stops working (changed in the file, or a lock-out) brings back the login.
  setUnauthorizedHandler((err) => {
    session.clear();
    window.onhashchange = null;
    showLogin(meta, err);
  });
  if (session.get() === null) showLogin(meta);
  else showMain(meta);
}

// A file dropped outside the upload area must not replace the panel with the file's contents.
for (const type of ['dragover', 'drop']) window.addEventListener(type, (ev) => ev.preventDefault());
document.addEventListener('DOMContentLoaded', () => void start());
