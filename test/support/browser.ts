// Headless Chromium for the on-call page's end-to-end tests: the Debian `chromium` package driven by
// playwright-core (no browser download). scripts/test.sh installs chromium when root; otherwise a test
// that needs it fails saying what to install. Playwright's launch() gives every browser a fresh temporary
// profile (its own --user-data-dir), removed on close.
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `${CHROMIUM} not found: install Debian's chromium ('sudo apt-get install chromium') or set CHROMIUM_PATH`,
    );
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
