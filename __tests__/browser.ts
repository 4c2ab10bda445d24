import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';

/**
 * The Chromium the browser tests drive: `CHROMIUM_PATH`, default Debian's `/usr/bin/chromium`
 * (Playwright's own download, `npx playwright install`, is not reachable here).
 */
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** CI (`CI=true`, as CI services and `.ci/run` set it) must run the browser tests. */
const IN_CI = /^(1|true|yes)$/i.test(process.env.CI ?? '');

/**
 * Whether the browser tests can run. With no browser at {@link CHROMIUM}: in CI, an error (the
 * tests must run there); elsewhere `false`, after one message saying how to run them. Nothing
 * is ever installed from here: `.ci/run` installs Chromium.
 */
export function haveChromium(): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (IN_CI)
    throw new Error(
      `CI=true and no Chromium at ${CHROMIUM}: install it (.ci/run does) or set CHROMIUM_PATH.`,
    );
  process.stderr.write(
    `\nSkipping the browser tests: no Chromium at ${CHROMIUM}. Install it (Debian/Ubuntu: apt-get install chromium) or set CHROMIUM_PATH.\n\n`,
  );
  return false;
}

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** A headless Chromium with a fresh profile folder (removed on close); `headers` go with every request. */
export async function launch(headers?: Record<string, string>): Promise<Browser> {
  const profile = mkdtempSync(path.join(tmpdir(), 'cpm-chromium-'));
  // Playwright passes the profile as --user-data-dir itself (it refuses that flag in `args`).
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: { width: 1280, height: 800 },
    acceptDownloads: true,
    ...(headers ? { extraHTTPHeaders: headers } : {}),
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export const SCREENSHOTS = path.join(__dirname, '..', 'screenshots');

/**
 * Full-page screenshots of the current screen at 1280 and 360 px wide, into `screenshots/`;
 * fails when the page is wider than the window (something would need sideways scrolling).
 */
export async function shoot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  for (const width of [1280, 360]) {
    await page.setViewportSize({ width, height: width === 360 ? 740 : 800 });
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(
      width,
    );
    await page.screenshot({
      path: path.join(SCREENSHOTS, `panel-${name}-${width}.png`),
      fullPage: true,
    });
  }
  await page.setViewportSize({ width: 1280, height: 800 });
}

/**
 * Wait until `read()` gives `want` (the page updates after a request answers); fails with the
 * last value seen. A bound on waiting, not a timing assertion.
 */
export async function until<T>(read: () => Promise<T>, want: T, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  let last: T | undefined;
  for (;;) {
    last = await read().catch(() => undefined);
    if (JSON.stringify(last) === JSON.stringify(want)) return;
    if (Date.now() > end) {
      expect(last).toEqual(want);
      return;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The trimmed text of the first element `locator` matches. */
export const textOf = (locator: Locator) => async (): Promise<string | undefined> =>
  (await locator.first().textContent({ timeout: 500 }))?.trim();
