import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';

/** Debian's Chromium; Playwright's own download (`npx playwright install`) is not reachable here. */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * Make sure Chromium is installed: `.ci/run` installs it before `npm test`; on a fresh developer
 * machine this installs it with apt when running as root, and otherwise fails saying what to do.
 */
export function ensureChromium(): void {
  if (existsSync(CHROMIUM)) return;
  if (process.platform !== 'linux' || process.getuid?.() !== 0) {
    throw new Error(
      `The browser tests need Chromium at ${CHROMIUM}. Install it (Debian/Ubuntu: sudo apt-get install -y chromium) and run npm test again.`,
    );
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update'], { stdio: 'ignore', env });
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { stdio: 'ignore', env });
  if (!existsSync(CHROMIUM)) throw new Error(`apt-get install chromium did not provide ${CHROMIUM}`);
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
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(width);
    await page.screenshot({ path: path.join(SCREENSHOTS, `panel-${name}-${width}.png`), fullPage: true });
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
export const textOf = (locator: Locator) => async (): Promise<string | undefined> => (await locator.first().textContent({ timeout: 500 }))?.trim();
