/**
 * Headless Chromium for the console's browser tests: Debian's `chromium` package (CHROMIUM_PATH,
 * default /usr/bin/chromium), driven by playwright-core, which downloads no browser of its own.
 * When the browser cannot be had, `chromiumPath()` is null and the tests say so and skip.
 *
 * Each page is watched: console errors, uncaught exceptions and Content Security Policy violations
 * (the `securitypolicyviolation` event, listened to from a script Playwright adds through the
 * DevTools protocol, which the page's CSP does not govern) are collected for the test to assert on.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { REPO_ROOT } from "../../tools/workerd.ts";

export function chromiumPath(): string | null {
  const path = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
  return existsSync(path) ? path : null;
}

/** Flags for a quiet, self-contained run: no GPU, no network of its own, no first-run or sync. */
const ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

/** A fresh browser: playwright's launch() gives it a new, empty user-data-dir of its own in the temp folder. */
export async function launchChromium(executablePath: string): Promise<Browser> {
  return chromium.launch({ executablePath, args: ARGS, headless: true, timeout: 60_000 });
}

export interface WatchedPage {
  page: Page;
  /** Console errors (with the URL they are about) and uncaught exceptions, as text. */
  errors: string[];
  /** CSP violations seen by the page: `directive blocked-uri`. */
  violations(): Promise<string[]>;
}

export async function watchedPage(browser: Browser): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("console", (message) => { if (message.type() === "error") errors.push(`console: ${message.text()} (${message.location().url})`); });
  page.on("pageerror", (error) => { errors.push(`pageerror: ${error.message}`); });
  await page.addInitScript(() => {
    const seen: string[] = [];
    (globalThis as unknown as { __cspViolations: string[] }).__cspViolations = seen;
    document.addEventListener("securitypolicyviolation", (event) => { seen.push(`${event.violatedDirective} ${event.blockedURI}`); });
  });
  return {
    page,
    errors,
    violations: () => page.evaluate(() => [...((globalThis as unknown as { __cspViolations?: string[] }).__cspViolations ?? [])]),
  };
}

/** Saves a full-page screenshot as `.ci/out/console-<name>.png` (CI keeps .ci/out/ as artifacts). */
export async function screenshot(page: Page, name: string): Promise<string> {
  const dir = join(REPO_ROOT, ".ci/out");
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `console-${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
