/**
 * The panel in a real browser (Debian's Chromium driven by playwright-core) against a real
 * listening host on a temp config: what a person does, and what lands in the files.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { parse } from 'yaml';
import type { Page } from 'playwright-core';
import { ensureChromium, launch, shoot, textOf, until, type Browser } from './browser';
import { eventually, fixtureWith, harness, KEY, type Harness } from './helpers';

const HOST_ROWS = [
  {
    kind: 'scalar',
    path: '/usage-statistics-enabled',
    key: 'usage-statistics-enabled',
    schema: { type: 'boolean' },
    description: 'A row added by the host.',
  },
] as const;

let h: Harness;
let server: Server;
let browser: Browser;
let page: Page;
let base: string;

const onDisk = (): Record<string, unknown> => parse(h.read()) as Record<string, unknown>;

beforeAll(async () => {
  ensureChromium();
  h = harness(fixtureWith(), { panel: true, resources: [...HOST_ROWS] });
  // The host trusts a proxy on loopback, so a request can say it comes from a remote client.
  h.app.set('trust proxy', 'loopback');
  server = h.app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v0/management`;
  browser = await launch();
  page = browser.context.pages()[0] ?? (await browser.context.newPage());
  page.setDefaultTimeout(5000);
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => server?.close(resolve));
  await h?.close();
});

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
    const storage = await page.evaluate('({ session: Object.values(sessionStorage), local: localStorage.length })');
    expect(storage).toEqual({ session: [KEY], local: 0 });
    await shoot(page, 'settings');
  });
});

describe('scalar settings', () => {
  it('a switch writes the file', async () => {
    const sw = page.getByRole('switch', { name: 'debug', exact: true });
    await until(() => sw.isChecked(), false);
    expect(onDisk().debug).toBe(false);
    await sw.press('Space');
    await until(textOf(status()), 'Saved debug.');
    await until(() => sw.isChecked(), true);
    expect(onDisk().debug).toBe(true);
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
    await until(textOf(page.locator('[data-path="/request-retry"] [role="status"]')), 'Saved request-retry.');
    expect(onDisk()['request-retry']).toBe(5);
  });

  it('a text field saves and resets', async () => {
    const field = page.getByLabel('proxy-url', { exact: true });
    await field.fill('socks5://127.0.0.1:1080');
    await page.locator('[data-path="/proxy-url"]').getByRole('button', { name: 'Save' }).click();
    await until(textOf(page.locator('[data-path="/proxy-url"] [role="status"]')), 'Saved proxy-url.');
    expect(onDisk()['proxy-url']).toBe('socks5://127.0.0.1:1080');
    await page.locator('[data-path="/proxy-url"]').getByRole('button', { name: 'Reset' }).click();
    await until(textOf(page.locator('[data-path="/proxy-url"] [role="status"]')), 'Reset proxy-url.');
    await until(() => field.inputValue(), '');
    expect(onDisk()['proxy-url']).toBe('');
  });

  it('a row the host added appears and works', async () => {
    const sw = page.getByRole('switch', { name: 'usage-statistics-enabled' });
    await page.getByText('A row added by the host.').waitFor();
    await sw.click();
    await until(textOf(page.locator('[data-path="/usage-statistics-enabled"] [role="status"]')), 'Saved usage-statistics-enabled.');
    await until(() => sw.isChecked(), true);
    expect(onDisk()['usage-statistics-enabled']).toBe(true);
    expect(h.read()).toMatch(/^usage-statistics-enabled: true$/m);
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
    await until(textOf(alert()), 'too many failed attempts (try again in 30 min)');
    await shoot(page, 'locked-out');
  });
});
