/**
 * The panel in a real browser (Debian's Chromium driven by playwright-core) against a real
 * listening host on a temp config: what a person does, and what lands in the files.
 */
import bcrypt from 'bcrypt';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import path from 'node:path';
import { DEEPSEEK_API_KEY } from '../examples/custom-resource';
import type { Page } from 'playwright-core';
import { haveChromium, launch, shoot, textOf, until, type Browser } from './browser';
import request from 'supertest';
import { api, auth } from './helpers';
import { eventually, fixtureWith, type Harness, harness, KEY, KEY_HASH } from './helpers';

const HOST_ROWS = [
  {
    kind: 'scalar',
    path: '/telemetry-enabled',
    key: 'telemetry-enabled',
    schema: { type: 'boolean' },
    description: 'A row added by the host.',
  },
  DEEPSEEK_API_KEY,
] as const;

let h: Harness;
let server: Server;
let browser: Browser;
let page: Page;
let base: string;
/** Uncaught script errors, CSP / Trusted Types reports and requests to other hosts, seen during the run. */
const problems: string[] = [];

/** Without a browser (outside CI) every test of this file is skipped; see `haveChromium`. */
const describe = haveChromium() ? global.describe : global.describe.skip;

beforeAll(async () => {
  h = harness(fixtureWith(), { panel: true, resources: [...HOST_ROWS] });
  // The host trusts a proxy on loopback, so a request can say it comes from a remote client.
  h.app.set('trust proxy', 'loopback');
  server = h.app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v0/management`;
  browser = await launch();
  page = browser.context.pages()[0] ?? (await browser.context.newPage());
  page.setDefaultTimeout(5000);
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('request', (r) => {
    if (!/^(data|blob):/.test(r.url()) && new URL(r.url()).origin !== new URL(base).origin)
      problems.push(`request to another host: ${r.url()}`);
  });
  page.on('console', (m) => {
    if (/Content Security Policy|Trusted(HTML|Script|Type)/i.test(m.text()))
      problems.push(`console: ${m.text()}`);
  });
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => server?.close(resolve));
  await h?.close();
});

type Item = Record<string, unknown>;
const list = (key: string): unknown[] => (h.onDisk()[key] as unknown[] | undefined) ?? [];
const jsonFiles = (): string[] =>
  existsSync(h.authDir)
    ? readdirSync(h.authDir)
        .filter((f) => f.endsWith('.json'))
        .sort()
    : [];
/** Open a screen from the navigation, as a person would. */
async function open(name: string, heading = name): Promise<void> {
  await page
    .getByRole('navigation', { name: 'Sections' })
    .getByRole('link', { name, exact: true })
    .click();
  await page.getByRole('heading', { name: heading, exact: true }).waitFor();
  await until(() => page.locator('section.screen').getAttribute('aria-busy'), 'false');
}

const alert = () => page.locator('main [role="alert"]').first();
const status = () => page.locator('main [role="status"]').first();

describe('login', () => {
  it('redirects /panel to the panel and shows the API message for a wrong key', async () => {
    const res = await page.goto(`${base}/panel`);
    expect(res?.status()).toBe(200);
    expect(page.url()).toBe(`${base}/panel/`);
    await shoot(page, 'login');
    await page.getByLabel('Management key').fill('not-the-key');
    await page.getByRole('button', { name: 'Log in' }).click();
    await until(textOf(alert()), 'invalid management key');
    expect(await page.evaluate<number>('sessionStorage.length')).toBe(0);
  });

  it('logs in with the key, kept in sessionStorage only', async () => {
    await page.getByLabel('Management key').fill(KEY);
    await page.getByLabel('Management key').press('Enter');
    await page.getByRole('heading', { name: 'Settings' }).waitFor();
    const storage = await page.evaluate(
      '({ session: Object.values(sessionStorage), local: localStorage.length })',
    );
    expect(storage).toEqual({ session: [KEY], local: 0 });
    await shoot(page, 'settings');
  });
});

describe('scalar settings', () => {
  it('a switch writes the file', async () => {
    const sw = page.getByRole('switch', { name: 'debug', exact: true });
    await until(() => sw.isChecked(), false);
    expect(h.onDisk().debug).toBe(false);
    await sw.press('Space');
    await until(textOf(status()), 'Saved debug.');
    await until(() => sw.isChecked(), true);
    expect(h.onDisk().debug).toBe(true);
  });

  it('a number field shows the 400 details and leaves the file alone', async () => {
    const before = h.read();
    const field = page.getByLabel('request-retry', { exact: true });
    await field.fill('-1');
    await field.press('Enter');
    const box = page.locator('[data-path="/request-retry"] [role="alert"]');
    await until(textOf(box.locator('p')), 'request-retry: invalid body');
    await until(textOf(box.locator('li')), '/value: must be >= 0');
    expect(h.read()).toBe(before);
    await field.fill('5');
    await field.press('Enter');
    await until(
      textOf(page.locator('[data-path="/request-retry"] [role="status"]')),
      'Saved request-retry.',
    );
    expect(h.onDisk()['request-retry']).toBe(5);
  });

  it('a text field saves and resets', async () => {
    const field = page.getByLabel('proxy-url', { exact: true });
    await field.fill('socks5://127.0.0.1:1080');
    await page.locator('[data-path="/proxy-url"]').getByRole('button', { name: 'Save' }).click();
    await until(
      textOf(page.locator('[data-path="/proxy-url"] [role="status"]')),
      'Saved proxy-url.',
    );
    expect(h.onDisk()['proxy-url']).toBe('socks5://127.0.0.1:1080');
    await page.locator('[data-path="/proxy-url"]').getByRole('button', { name: 'Reset' }).click();
    await until(
      textOf(page.locator('[data-path="/proxy-url"] [role="status"]')),
      'Reset proxy-url.',
    );
    await until(() => field.inputValue(), '');
    expect(h.onDisk()['proxy-url']).toBe('');
  });

  it('a row the host added appears and works', async () => {
    const sw = page.getByRole('switch', { name: 'telemetry-enabled' });
    await page.getByText('A row added by the host.').waitFor();
    await sw.click();
    await until(
      textOf(page.locator('[data-path="/telemetry-enabled"] [role="status"]')),
      'Saved telemetry-enabled.',
    );
    await until(() => sw.isChecked(), true);
    expect(h.onDisk()['telemetry-enabled']).toBe(true);
    expect(h.read()).toMatch(/^telemetry-enabled: true$/m);
  });

  it('an edit on disk shows on reload, and names from the file are text, not HTML', async () => {
    const evil = 'http://x.example/<img src=x onerror=alert(1)>';
    h.write(h.read().replace(/^proxy-url: .*$/m, `proxy-url: "${evil}"`));
    await eventually(() => h.router.getConfig()['proxy-url'] === evil);
    await page.reload();
    await until(() => page.getByLabel('proxy-url', { exact: true }).inputValue(), evil);
    expect(await page.locator('main img').count()).toBe(0);
  });
});

describe('string lists', () => {
  it('add, edit and delete an item; comments of other items stay', async () => {
    await open('api-keys');
    await until(
      () => page.getByLabel('api-keys item 2', { exact: true }).inputValue(),
      'your-api-key-2',
    );
    const input = page.getByLabel('New api-keys item');
    await input.fill('k-new');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await until(textOf(status()), 'Added.');
    expect(list('api-keys')).toEqual(['your-api-key-1', 'your-api-key-2', 'k-new']);
    await shoot(page, 'string-list');

    const third = page.getByLabel('api-keys item 3', { exact: true });
    await third.fill('k-edited');
    await page.getByRole('button', { name: 'Save item 3' }).click();
    await until(textOf(status()), 'Saved item 3.');
    expect(list('api-keys')).toEqual(['your-api-key-1', 'your-api-key-2', 'k-edited']);

    await page.getByRole('button', { name: 'Delete item 3' }).click();
    await until(textOf(status()), 'Deleted item 3.');
    expect(list('api-keys')).toEqual(['your-api-key-1', 'your-api-key-2']);
    expect(h.read()).toContain('- "your-api-key-1"   # laptop');
  });

  it('an empty item shows the API error and changes nothing', async () => {
    const before = h.read();
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await until(textOf(alert().locator('p')), 'invalid body');
    await until(textOf(alert().locator('li')), '/new: must be a non-empty string');
    expect(h.read()).toBe(before);
  });
});

describe('object lists', () => {
  it('a new item without its required field shows the error and changes nothing', async () => {
    await open('claude-api-key');
    const before = h.read();
    const form = page.locator('form.add');
    await form.getByLabel('base-url').fill('https://claude.example');
    await form.getByRole('button', { name: 'Add item' }).click();
    await until(textOf(alert().locator('p')), 'invalid body');
    expect(await alert().locator('li').allTextContents()).toEqual([
      expect.stringContaining("must have required property 'api-key'"),
    ]);
    expect(h.read()).toBe(before);
    // The required field is marked, for eyes and for screen readers.
    expect(await form.getByLabel('api-key').getAttribute('aria-required')).toBe('true');
    expect(await form.getByLabel('base-url').getAttribute('aria-required')).toBeNull();
  });

  it('adds, edits (unknown fields kept and editable as JSON) and deletes an item', async () => {
    const form = page.locator('form.add');
    await form.getByLabel('api-key').fill('sk-new');
    await form.getByRole('button', { name: 'Add item' }).click();
    await until(textOf(status()), 'Added.');
    expect(list('claude-api-key')).toEqual([
      { 'api-key': 'sk-atSM...', 'base-url': 'https://www.example.com' },
      { 'api-key': 'sk-atSM...2' },
      { 'api-key': 'sk-new', 'base-url': 'https://claude.example' },
    ]);
    expect(h.read()).toContain('# second account, official endpoint');

    const item = page.locator('form.item').filter({ hasText: 'Item 3: sk-new' });
    await item.getByLabel('Other fields').fill('{"test-model": "claude-haiku"}');
    await item.getByRole('button', { name: 'Save item 3' }).click();
    await until(textOf(status()), 'Saved item 3.');
    expect((list('claude-api-key')[2] as Item)['test-model']).toBe('claude-haiku');
    const again = page.locator('form.item').filter({ hasText: 'Item 3: sk-new' });
    expect(JSON.parse(await again.getByLabel('Other fields').inputValue())).toEqual({
      'test-model': 'claude-haiku',
    });
    await shoot(page, 'object-list');

    // Removing an unknown field sends it as null in the PATCH, which must not write the values
    // GET filled in (no proxy-url or models lines appear).
    await again.getByLabel('Other fields').fill('');
    await again.getByRole('button', { name: 'Save item 3' }).click();
    await until(textOf(status()), 'Saved item 3.');
    expect(list('claude-api-key')).toEqual([
      { 'api-key': 'sk-atSM...', 'base-url': 'https://www.example.com' },
      { 'api-key': 'sk-atSM...2' },
      { 'api-key': 'sk-new', 'base-url': 'https://claude.example' },
    ]);

    const last = page.locator('form.item').filter({ hasText: 'Item 3: sk-new' });
    await last.getByRole('button', { name: 'Delete item 3' }).click();
    await until(textOf(status()), 'Deleted item 3.');
    expect(list('claude-api-key')).toHaveLength(2);
  });

  it('draws string lists one per line and nested objects as JSON', async () => {
    await open('openai-compatibility');
    const item = page.locator('form.item').first();
    await until(
      () => item.getByLabel('api-keys').inputValue(),
      'sk-or-v1-...b780\nsk-or-v1-...b781',
    );
    expect(JSON.parse(await item.getByLabel('models').inputValue())).toEqual([
      { name: 'moonshotai/kimi-k2:free', alias: 'kimi-k2' },
    ]);
    await shoot(page, 'openai-compatibility');
  });

  it("a host's object row (deepseek-api-key) appears and works", async () => {
    await open('deepseek-api-key');
    await page.getByText(DEEPSEEK_API_KEY.description as string).waitFor();
    const form = page.locator('form.add');
    await form.getByLabel('api-key').fill('codex-1');
    await form.getByLabel('proxy-url').fill('http://127.0.0.1:3128');
    await form.getByRole('button', { name: 'Add item' }).click();
    await until(textOf(status()), 'Added.');
    expect(list('deepseek-api-key')).toEqual([
      { 'api-key': 'codex-1', 'proxy-url': 'http://127.0.0.1:3128' },
    ]);
  });
});

describe('map rows (section 10.6)', () => {
  it('adds a provider with its models (one per line), edits it and deletes it', async () => {
    await open('oauth-excluded-models');
    await page.getByText('Nothing yet.').waitFor();
    const form = page.locator('form.add');
    await form.getByLabel('provider').fill(' Codex ');
    await form.getByLabel('models').fill('GPT-5\n\no3\n');
    await form.getByRole('button', { name: 'Add' }).click();
    await until(textOf(status()), 'Added.');
    expect(h.onDisk()['oauth-excluded-models']).toEqual({ codex: ['gpt-5', 'o3'] });

    const entry = page.locator('form.item').filter({ hasText: 'codex' });
    await entry.getByLabel('models of codex').fill('o3');
    await entry.getByRole('button', { name: 'Save codex' }).click();
    await until(textOf(status()), 'Saved codex.');
    expect(h.onDisk()['oauth-excluded-models']).toEqual({ codex: ['o3'] });
    await shoot(page, 'map');

    await page.getByRole('button', { name: 'Delete codex' }).click();
    await until(textOf(status()), 'Deleted codex.');
    expect(h.onDisk()).not.toHaveProperty('oauth-excluded-models');
  });

  it('object lists are JSON; a bad one is refused in the page, a failing alias dropped by the server', async () => {
    await open('oauth-model-alias');
    const form = page.locator('form.add');
    await form.getByLabel('channel').fill('gemini-cli');
    await form.getByLabel('aliases').fill('{"name": "x"}');
    await form.getByRole('button', { name: 'Add' }).click();
    await until(textOf(alert().locator('p')), 'aliases: must be a JSON array');
    await form
      .getByLabel('aliases')
      .fill('[{"name": "gemini-2.5-pro", "alias": "pro"}, {"name": "same", "alias": "same"}]');
    await form.getByRole('button', { name: 'Add' }).click();
    await until(textOf(status()), 'Added.');
    expect(h.onDisk()['oauth-model-alias']).toEqual({
      'gemini-cli': [{ name: 'gemini-2.5-pro', alias: 'pro' }],
    });
  });
});

describe('auth files', () => {
  const token = (n: number): Buffer => Buffer.from(JSON.stringify({ type: 'gemini', n }));

  it('uploads two files at once, shows a refused one, downloads and deletes', async () => {
    await open('Auth files');
    await page.getByLabel('Upload auth files (.json)').setInputFiles([
      { name: 'acc1.json', mimeType: 'application/json', buffer: token(1) },
      { name: 'acc2.json', mimeType: 'application/json', buffer: token(2) },
    ]);
    await until(textOf(status()), 'Uploaded 2 files.');
    expect(jsonFiles()).toEqual(['acc1.json', 'acc2.json']);
    expect(await page.locator('.files .name').allTextContents()).toEqual([
      'acc1.json',
      'acc2.json',
    ]);

    await page
      .getByLabel('Upload auth files (.json)')
      .setInputFiles([{ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('{}') }]);
    await until(textOf(alert().locator('p')), 'Uploaded 0 of 1 files.');
    expect(await alert().locator('li').allTextContents()).toEqual([
      'notes.txt: file must be .json',
    ]);
    await shoot(page, 'auth-files');

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download acc1.json' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe('acc1.json');
    expect(readFileSync(await download.path(), 'utf8')).toBe(token(1).toString());

    expect(await page.locator('.files .meta').first().textContent()).toMatch(/^gemini · /);
    await page.getByRole('button', { name: 'Disable acc1.json' }).click();
    await until(textOf(status()), 'Disabled acc1.json.');
    expect(JSON.parse(readFileSync(path.join(h.authDir, 'acc1.json'), 'utf8'))).toEqual({
      type: 'gemini',
      n: 1,
      disabled: true,
    });
    expect(await page.locator('.files .badge').allTextContents()).toEqual(['disabled']);
    await page.getByRole('button', { name: 'Enable acc1.json' }).click();
    await until(textOf(status()), 'Enabled acc1.json.');
    expect(JSON.parse(readFileSync(path.join(h.authDir, 'acc1.json'), 'utf8')).disabled).toBe(
      false,
    );

    await page.getByRole('button', { name: 'Delete acc2.json' }).click();
    await until(textOf(status()), 'Deleted acc2.json.');
    expect(jsonFiles()).toEqual(['acc1.json']);
  });

  it('takes files dropped on the upload area', async () => {
    const dataTransfer = await page.evaluateHandle(`(() => {
      const dt = new DataTransfer();
      dt.items.add(new File(['{"dropped":1}'], 'dropped-a.json', { type: 'application/json' }));
      dt.items.add(new File(['{"dropped":2}'], 'dropped-b.json', { type: 'application/json' }));
      return dt;
    })()`);
    await page.locator('.drop').dispatchEvent('drop', { dataTransfer });
    await until(textOf(status()), 'Uploaded 2 files.');
    expect(jsonFiles()).toEqual(['acc1.json', 'dropped-a.json', 'dropped-b.json']);
    expect(JSON.parse(readFileSync(path.join(h.authDir, 'dropped-b.json'), 'utf8'))).toEqual({
      dropped: 2,
    });
  });

  it('deletes all files only after confirmation', async () => {
    await page.getByRole('button', { name: 'Delete all…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText('Delete all 3 auth files? This cannot be undone.').waitFor();
    await shoot(page, 'delete-all-dialog');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect(jsonFiles()).toHaveLength(3);

    await page.getByRole('button', { name: 'Delete all…' }).click();
    await page.keyboard.press('Tab'); // focus starts on Cancel; the keyboard reaches the other button
    await page.keyboard.press('Enter');
    await until(textOf(status()), 'Deleted 3 files.');
    expect(jsonFiles()).toEqual([]);
  });
});

/** axe-core's WCAG 2.x A/AA rules on the page as it is: the violations' ids and targets. */
async function axeViolations(): Promise<string[]> {
  const source = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  await page.evaluate(source);
  const found = await page.evaluate<{ id: string; nodes: { target: string[] }[] }[]>(
    `axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }).then((r) => r.violations.map((v) => ({ id: v.id, nodes: v.nodes.map((n) => ({ target: n.target })) })))`,
  );
  return found.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

describe('history', () => {
  it('lists the changes newest first and shows a diff with added and removed lines marked', async () => {
    await open('History');
    // The newest change of the config text (auth-file entries, newer, have no lines).
    const first = page.locator('table.history tbody tr').filter({ hasNotText: '+0 −0' }).first();
    await until(async () => (await first.locator('td').nth(2).textContent()) ?? '', 'api');
    await first.getByRole('button', { name: /^Show the diff of change \d+$/ }).click();
    const diff = page.locator('pre.diff');
    await diff.waitFor();
    expect(await diff.locator('ins').count()).toBeGreaterThan(0);
    expect((await diff.textContent()) ?? '').toMatch(/^--- config\.yaml\n\+\+\+ config\.yaml\n@@ /);
    expect(await diff.locator('ins .sr').first().textContent()).toBe('added: ');
    await shoot(page, 'history');
    expect(await axeViolations()).toEqual([]);
  });

  it('reverts a change after confirmation; a conflict shows its lines and changes nothing', async () => {
    const put = async (p: string, value: unknown) =>
      expect((await request(h.app).put(api(p)).set(auth).send({ value })).status).toBe(200);
    await put('/request-retry', 11);
    const id = (await request(h.app).get(api('/config/history?limit=1')).set(auth)).body.entries[0]
      .id as string;
    await open('Settings');
    await open('History');
    await page.getByRole('button', { name: `Revert change ${id}`, exact: true }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText(`Revert change ${id}?`, { exact: false }).waitFor();
    expect(await axeViolations()).toEqual([]);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect(h.onDisk()['request-retry']).toBe(11);
    await page.getByRole('button', { name: `Revert change ${id}`, exact: true }).click();
    const retry = (
      await request(h.app)
        .get(api(`/config/history/${id}`))
        .set(auth)
    ).body.diff.match(/^-request-retry: (\d+)/m)?.[1];
    await dialog.getByRole('button', { name: 'Revert' }).click();
    await until(
      async () => `${await textOf(status())()}${await textOf(alert())()}`,
      `Reverted change ${id} (new entry ${Number(id) + 1}).`,
    );
    expect(h.onDisk()['request-retry']).toBe(Number(retry));

    await put('/request-retry', 12);
    await put('/request-retry', 13);
    const conflicted = String(Number(id) + 2);
    const before = h.read();
    await open('Settings');
    await open('History');
    await page.getByRole('button', { name: `Revert change ${conflicted}`, exact: true }).click();
    await dialog.getByRole('button', { name: 'Revert' }).click();
    const line =
      h
        .read()
        .split('\n')
        .findIndex((l) => l.startsWith('request-retry:')) + 1;
    await until(
      textOf(alert()),
      `Cannot revert change ${conflicted}: its lines were changed since.changed since, around line ${line} of the config as it is now`,
    );
    expect(h.read()).toBe(before);
    expect(await axeViolations()).toEqual([]);
  });
});

describe('remote clients', () => {
  it('get 403 for the panel while remote management is off', async () => {
    const remote = await launch({ 'X-Forwarded-For': '203.0.113.9' });
    try {
      const p = remote.context.pages()[0] ?? (await remote.context.newPage());
      const res = await p.goto(`${base}/panel/`);
      expect(res?.status()).toBe(403);
      expect(await res?.json()).toEqual({ error: 'remote management disabled' });
    } finally {
      await remote.close();
    }
  });
});

describe('session', () => {
  it('a stored key that stops working brings back the login with the API message', async () => {
    const original = h.read();
    h.write(original.replace(KEY_HASH, bcrypt.hashSync('another-key', 4)));
    await eventually(() => !JSON.stringify(h.router.getConfig()).includes(KEY_HASH));
    // The screen's GET answers 401.
    await page
      .getByRole('navigation', { name: 'Sections' })
      .getByRole('link', { name: 'api-keys', exact: true })
      .click();
    await page.getByRole('heading', { name: 'Log in' }).waitFor();
    await until(textOf(alert()), 'invalid management key');
    expect(await page.evaluate<number>('sessionStorage.length')).toBe(0);
    expect(await page.getByRole('navigation', { name: 'Sections' }).isHidden()).toBe(true);

    h.write(original);
    await eventually(() => JSON.stringify(h.router.getConfig()).includes(KEY_HASH));
    await page.getByLabel('Management key').fill(KEY); // a success also clears the failure count
    await page.getByLabel('Management key').press('Enter');
    await page.getByRole('heading', { name: 'api-keys', exact: true }).waitFor();
  });
});

describe('lock-out', () => {
  it('shows 429 with its wait after too many wrong keys', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    expect(await page.evaluate<number>('sessionStorage.length')).toBe(0);
    const input = page.getByLabel('Management key');
    for (let i = 0; i < 5; i++) {
      await input.fill(`wrong-${i}`);
      await input.press('Enter');
      await until(textOf(alert()), 'invalid management key');
      await page.getByRole('button', { name: 'Log in' }).and(page.locator(':enabled')).waitFor();
    }
    await input.fill(KEY);
    await input.press('Enter');
    // The wait counts from the fifth guess's arrival: on a busy machine a second or more may pass
    // before this answer, so "29 min 59 s" is as right as "30 min".
    const lockedOut = async (): Promise<string | undefined> => {
      const text = await textOf(alert())();
      return text &&
        /^too many failed attempts \(try again in (30 min|29 min( [1-5]?\d s)?)\)$/.test(text)
        ? 'locked out, about 30 min'
        : text;
    };
    await until(lockedOut, 'locked out, about 30 min');
    await shoot(page, 'locked-out');
  });
});

describe('the whole run', () => {
  it('had no script error, no CSP or Trusted Types violation and no request beyond the host', () => {
    expect(problems).toEqual([]);
  });
});
