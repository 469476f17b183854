import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { describe } from 'vitest';

/**
 * Browser tests drive the machine's Chromium (Debian's `chromium` package; `.ci/run` installs it)
 * through playwright-core, which downloads nothing. Without a Chromium they skip with one line,
 * except under CI=true, where they must run.
 */
export const CHROMIUM = process.env.QT_CHROMIUM_PATH ?? '/usr/bin/chromium';
const available = existsSync(CHROMIUM) || process.env.CI === 'true';

/** Screenshots kept after the run (gitignored). */
export const ARTIFACTS_DIR = path.resolve(import.meta.dirname, '..', 'artifacts');

/** `describe` that skips, saying how to enable it, when no Chromium is installed outside CI. */
export function describeInBrowser(name: string, fn: () => void): void {
  if (available) {
    describe(name, fn);
    return;
  }
  console.log(`browser tests skipped (${name}): no Chromium at ${CHROMIUM}; install it (apt-get install chromium) or set QT_CHROMIUM_PATH`);
  describe.skip(name, fn);
}

// Flags that work headless as root in a container, with no network chatter of the browser's own.
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface Browser {
  page: Page;
  screenshot(name: string): Promise<string>;
  close(): Promise<void>;
}

/** A fresh headless Chromium with its own profile directory and one page. */
export async function openBrowser(viewport = { width: 1400, height: 900 }): Promise<Browser> {
  const profile = mkdtempSync(path.join(os.tmpdir(), 'qt-chromium-'));
  const context: BrowserContext = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport });
  const page = context.pages()[0] ?? (await context.newPage());
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  return {
    page,
    async screenshot(name) {
      const file = path.join(ARTIFACTS_DIR, `${name}.png`);
      await page.screenshot({ path: file, fullPage: false });
      return file;
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
