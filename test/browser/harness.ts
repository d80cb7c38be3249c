/**
 * Browser tests of the embedded admin UI: the production build served by remix-serve, driven by
 * playwright-core in Debian's Chromium, offline. See test/browser/README.md.
 *
 *   const app = useBrowserHarness();            // per test file: starts everything in beforeAll, stops it in afterAll
 *   test("home", async () => {
 *     await app.openApp("/app");
 *     await expect.poll(() => app.page.getByRole("heading", { name: "Attentive events" }).isVisible()).toBe(true);
 *   });
 *
 * The harness itself is in harness-core.ts (no vitest there, so the benchmark can use it); this file adds the
 * vitest hooks and the build provided by the browser test run's global setup.
 */
import { afterAll, beforeAll, describe, inject } from "vitest";
import { startBrowserHarness as startHarness, type BrowserHarness, type HarnessOptions } from "./harness-core";

export * from "./harness-core";

/** Browser test files run only under test/browser/vitest.config.ts (`npm run test:browser`), not `npm test`. */
export const describeBrowser = describe.skipIf(process.env.BROWSER_TESTS !== "1");

declare module "vitest" {
  export interface ProvidedContext {
    browserBuildDir: string;
  }
}

function providedBuild(): HarnessOptions["build"] {
  try {
    const provided = inject("browserBuildDir");
    if (provided) return { cwd: provided, entry: "build/server/index.js" };
  } catch {
    /* not under the browser vitest config */
  }
  return undefined;
}

/** harness-core's startBrowserHarness, serving the build global-setup.ts made for this run when there is one. */
export async function startBrowserHarness(options: HarnessOptions = {}): Promise<BrowserHarness> {
  const build = options.build ?? providedBuild();
  return startHarness({ ...options, ...(build ? { build } : {}) });
}

/**
 * Starts the harness in beforeAll and stops it in afterAll of the calling test file (or describe block).
 * Returns a getter: call it inside tests.
 */
export function useBrowserHarness(options: HarnessOptions = {}): () => BrowserHarness {
  let harness: BrowserHarness | undefined;
  beforeAll(async () => {
    harness = await startBrowserHarness(options);
  });
  afterAll(async () => {
    await harness?.close();
    harness = undefined;
  });
  return () => {
    if (!harness) throw new Error("the browser harness is not running (use it inside a test)");
    return harness;
  };
}
