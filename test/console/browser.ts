/**
 * The console's end-to-end harness: Debian's Chromium driven by playwright-core, the console built
 * from ui/ into a fresh folder (so a test never serves a stale build), and screenshots written to
 * the git-ignored .console-screenshots/.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";
export const chromiumMissing = !existsSync(CHROMIUM);
export const SKIP_REASON = `${CHROMIUM} is absent (apt-get install chromium; .ci/run installs it)`;

const SCREENSHOTS = path.resolve(".console-screenshots");

/** Bundles ui/ with the build script into a temporary folder; returns that folder. */
export function buildConsole(): string {
  const outdir = mkdtempSync(path.join(tmpdir(), "eventail-console-"));
  execFileSync(process.execPath, ["scripts/build-ui.mjs", "--outdir", outdir], {
    stdio: "inherit",
  });
  return outdir;
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu"],
  });
}

/** A page whose script errors fail the test that reads `errors`. */
export async function openPage(
  browser: Browser,
  viewport = { width: 1280, height: 800 },
): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport });
  // Fail within a test's time, naming the step, rather than at vitest's timeout.
  page.setDefaultTimeout(10_000);
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  return { page, errors };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });
}
