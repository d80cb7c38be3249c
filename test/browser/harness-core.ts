/**
 * The browser harness without vitest: the production build served as `npm start` runs it, the stand-ins, and
 * playwright-core driving Debian's Chromium, offline. test/browser/harness.ts re-exports it with the vitest hooks
 * (`useBrowserHarness`, `describeBrowser`); the benchmark (bench/scenarios/admin-vitals.ts) imports it directly,
 * since importing vitest outside its runner throws. See test/browser/README.md.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { ElementContext as AxeContext, Result as AxeViolation, RuleObject as AxeRules } from "axe-core";
import { chromium, type Browser, type BrowserContext, type Page, type Response as PageResponse } from "playwright-core";
import { productionServerCommand } from "~/cli/serve-command";
import { closeDatabase, openDatabase, type Database } from "~/db.server";
import { DECLARED_OPTIONAL_SCOPES, REQUIRED_SCOPES } from "~/mapping/access-scopes";
import { FLOW_TRIGGER_OPERATION } from "~/flow/trigger-mutation";
import { markInstalled } from "~/models/Shop.server";
import { PrismaSessionStorage } from "@shopify/shopify-app-session-storage-prisma";
import { Session } from "@shopify/shopify-api";
import { startAttentiveStandIn, type AttentiveStandIn, type AttentiveStandInOptions } from "../stand-ins/attentive";
import { CDN_APP_BRIDGE_URL, startAppBridgeStandIn, type AppBridgeStandIn } from "../stand-ins/app-bridge/server";
import { ADMIN_ROUTE_PRELOAD, ADMIN_STAND_IN_URL_VARIABLE, startShopifyAdminStandIn, type ShopifyAdminStandIn } from "../stand-ins/shopify-admin-server";
import type { SessionTokenOptions } from "../stand-ins/app-bridge/session-token";
import { flowTriggerReceiveStandIn } from "../support/flow-trigger";
import { webhookHeaders, WEBHOOK_PATH, type SignedWebhookOptions } from "../support/webhooks";
import { prepareBuild, REPO_ROOT } from "./build";

export const VIEWPORTS = {
  desktop: { width: 1280, height: 800 },
  mobile: { width: 390, height: 844 },
  /** The narrowest phone the admin is used on (iPhone mini/SE class). */
  phone: { width: 375, height: 812 },
} as const;
export type ViewportName = keyof typeof VIEWPORTS;

export const BROWSER_SHOP = "test-shop.myshopify.com";
export const BROWSER_API_KEY = "test-api-key";
export const BROWSER_API_SECRET = "test-api-secret";
export const SCREENSHOT_DIR = join(REPO_ROOT, "test-output", "screenshots");
/**
 * Where the screenshots the README and docs show are written: docs/screenshots/ when a run is asked to refresh
 * them (`DOCS_SCREENSHOTS=1 npm run test:browser`), else beside the others, so an ordinary run leaves the tree clean.
 */
export const DOCS_SCREENSHOT_DIR = process.env.DOCS_SCREENSHOTS === "1" ? join(REPO_ROOT, "docs", "screenshots") : join(SCREENSHOT_DIR, "docs");
const LOG_DIR = join(REPO_ROOT, "test-output", "browser-logs");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export interface ToastRecord {
  id: string;
  message: string;
  isError: boolean;
  action: string | null;
  at: number;
}

export interface StandInLog {
  toasts: ToastRecord[];
  saveBar: { id: string | null; action: "show" | "hide"; at: number }[];
  modal: { id: string | null; action: "show" | "hide"; at: number }[];
  loading: boolean;
  authorizedFetches: number;
  retriedFetches: number;
  tokenRefreshes: number;
  reauthorize: string[];
  /** Each scopes.request: what it asked for and the merchant's answer (null while the dialog is open). */
  scopeRequests: { scopes: string[]; result: "granted-all" | "declined-all" | null; at: number }[];
}

/** WCAG 2.0 and 2.1, levels A and AA: what Built for Shopify asks of an app's pages. */
export const AXE_WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] as const;

export type { AxeViolation };

export interface AxeOptions {
  /** What to check (axe's context: a selector, or { include, exclude }); default the whole document. */
  context?: AxeContext;
  /** Rule tags to run; default AXE_WCAG_TAGS. */
  tags?: readonly string[];
  /** Rules switched on or off by id (e.g. { "color-contrast": { enabled: false } }); say why at the call site. */
  rules?: AxeRules;
}

/** Impacts at or above `least` ("minor" < "moderate" < "serious" < "critical"). */
export function violationsAtLeast(violations: AxeViolation[], least: "minor" | "moderate" | "serious" | "critical"): AxeViolation[] {
  const order = ["minor", "moderate", "serious", "critical"];
  return violations.filter((violation) => order.indexOf(violation.impact ?? "minor") >= order.indexOf(least));
}

/** Violations as an assertion message: each rule with its impact and help, then each failing node's target and summary. */
export function formatViolations(violations: AxeViolation[]): string {
  if (violations.length === 0) return "no violations";
  return violations
    .map((violation) => {
      const nodes = violation.nodes.map((node) => {
        const target = node.target.map((part) => (Array.isArray(part) ? part.join(" >>> ") : String(part))).join(" | ");
        const summary = (node.failureSummary ?? "").replace(/\n\s*/g, "; ");
        return `    - ${target}\n      ${summary}`;
      });
      return `[${violation.impact ?? "?"}] ${violation.id}: ${violation.help} (${violation.helpUrl})\n${nodes.join("\n")}`;
    })
    .join("\n");
}

let axeSource: string | undefined;

export interface HarnessOptions {
  viewport?: ViewportName;
  /** Options for the local Attentive; its keys default to ["attentive-test-key"]. */
  attentive?: AttentiveStandInOptions;
  /** Extra environment for the app server. */
  env?: Record<string, string>;
  /** Stores the offline session and the shop row, as an install would. Default true. */
  installed?: boolean;
  /**
   * The production build to serve: `entry` (the server build's index.js, absolute or relative to `cwd`) run in
   * `cwd`. Default: the snapshot build of test/browser/build.ts (prepareBuild), served from its directory.
   */
  build?: { cwd: string; entry: string };
}

export interface OpenAppOptions {
  viewport?: ViewportName;
  /** The `id_token` to send; default a valid one. */
  idToken?: string;
  /** Default "networkidle"; then waits for React to hydrate unless `hydrate: false`. */
  waitUntil?: "load" | "domcontentloaded" | "networkidle" | "commit";
  hydrate?: boolean;
}

export interface BrowserHarness {
  page: Page;
  context: BrowserContext;
  browser: Browser;
  /** http://127.0.0.1:<port> — the app as SHOPIFY_APP_URL. */
  appUrl: string;
  /** The page's User-Agent; send it from Node too, or shopify-app-remix takes the request for a bot (410). */
  userAgent: string;
  shop: string;
  apiKey: string;
  apiSecret: string;
  /** The app server's environment (DATABASE_URL, APP_ENCRYPTION_KEY, …). */
  env: Record<string, string>;
  attentive: AttentiveStandIn;
  appBridge: AppBridgeStandIn;
  /** Shopify's Admin API as the app server reaches it (every https://<shop>/admin/... request lands here). */
  shopifyAdmin: ShopifyAdminStandIn;
  /** A Prisma client on the app's SQLite file. */
  db: Database;
  /** Uncaught exceptions in the page since the harness started (or since `clearPageErrors`). */
  pageErrors: string[];
  /** console.error messages in the page. */
  consoleErrors: string[];
  /** Requests the page tried to make off loopback, which were blocked. */
  blockedRequests: string[];
  clearPageErrors(): void;
  /** The URL Shopify admin loads in its iframe for `path`. */
  adminUrl(path?: string, idToken?: string): string;
  /** Navigates the page to `path` as Shopify admin would open it (embedded=1, shop, host, id_token). */
  openApp(path?: string, options?: OpenAppOptions): Promise<PageResponse | null>;
  waitForHydration(): Promise<void>;
  setViewport(name: ViewportName): Promise<void>;
  /** Saves test-output/screenshots/<name>.png (full page) and returns its path. */
  screenshot(name: string, options?: { fullPage?: boolean }): Promise<string>;
  /** Posts a webhook signed with the app secret to the running app. */
  signedWebhook(topic: string, body: string | object, options?: Partial<SignedWebhookOptions>): Promise<Response>;
  sessionToken(overrides?: Partial<SessionTokenOptions>): string;
  /** What the App Bridge stand-in recorded in the page (toasts, save bar, modals, fetches). */
  standInLog(): Promise<StandInLog>;
  toasts(): Promise<ToastRecord[]>;
  /** The page's (hidden) App Bridge title bar. */
  titleBar(): Promise<{ title: string; buttons: string[] } | null>;
  clickTitleBarButton(label: string): Promise<void>;
  /** Runs axe-core in the page (WCAG 2.0/2.1 A and AA by default) and returns its violations; see formatViolations. */
  axe(options?: AxeOptions): Promise<AxeViolation[]>;
  /** Runs the operator CLI (`tsx app/cli/main.ts …`) against the app's database. */
  cli(...args: string[]): { status: number | null; stdout: string; stderr: string };
  /** Everything the app server printed. */
  appLog(): string;
  close(): Promise<void>;
}

export function browserUserAgent(version: string): string {
  const major = version.split(".")[0] ?? "130";
  return `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${major}.0.0.0 Safari/537.36`;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no free port"))));
    });
  });
}

function runOrFail(command: string, args: string[], env: NodeJS.ProcessEnv, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: REPO_ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${what} failed (exit ${code}):\n${output}`))));
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, alive?: () => string | null) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const dead = alive?.();
    if (dead) throw new Error(`${what}: ${dead}`);
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Stops a detached child and everything it started (its process group). */
async function stopProcessGroup(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, name);
    } catch {
      /* already gone */
    }
  };
  signal("SIGTERM");
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
  if (child.exitCode === null && child.signalCode === null) {
    signal("SIGKILL");
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 2_000))]);
  }
}

/** Before anything starts: without the browser, playwright's own error comes only after the build and servers. */
export function checkChromium(path: string = CHROMIUM): void {
  if (existsSync(path)) return;
  throw new Error(
    `No Chromium at ${path}: the browser tests and the bench's admin-vitals scenario drive Debian's chromium. ` +
      "Install it (`apt-get update && apt-get install -y chromium`), or set CHROMIUM_PATH to a Chromium of your own.",
  );
}

export async function startBrowserHarness(options: HarnessOptions = {}): Promise<BrowserHarness> {
  checkChromium();
  const cleanups: (() => Promise<void> | void)[] = [];
  const cleanup = async () => {
    for (const step of cleanups.splice(0).reverse()) {
      try {
        await step();
      } catch (error) {
        console.warn(`browser harness cleanup: ${(error as Error).message}`);
      }
    }
  };
  try {
    const build = options.build ?? { cwd: (await prepareBuild()).dir, entry: "build/server/index.js" };
    const workDir = mkdtempSync(join(tmpdir(), "attentive-browser-"));
    cleanups.push(() => rmSync(workDir, { recursive: true, force: true }));
    const databaseUrl = `file:${join(workDir, "app.sqlite")}`;

    const attentive = await startAttentiveStandIn({ apiKeys: ["attentive-test-key"], ...options.attentive });
    cleanups.push(() => attentive.close());
    const appBridge = await startAppBridgeStandIn({
      apiKey: BROWSER_API_KEY,
      apiSecret: BROWSER_API_SECRET,
      shop: BROWSER_SHOP,
      scopes: REQUIRED_SCOPES.join(","),
      requiredScopes: REQUIRED_SCOPES,
      optionalScopes: DECLARED_OPTIONAL_SCOPES,
    });
    cleanups.push(() => appBridge.close());
    const shopifyAdmin = await startShopifyAdminStandIn();
    cleanups.push(() => shopifyAdmin.close());
    // What Shopify knows of the installation: the scopes granted in the page's permission dialog.
    shopifyAdmin.answer({
      FetchAccessScopes: () => ({
        body: {
          data: {
            app: {
              requestedAccessScopes: appBridge.requiredScopes.map((handle) => ({ handle })),
              optionalAccessScopes: appBridge.optionalScopes.map((handle) => ({ handle })),
              installation: { accessScopes: appBridge.grantedScopes.map((handle) => ({ handle })) },
            },
          },
        },
      }),
      // A delivery that ends failed (the retry test makes one) is announced to Flow, as strictly checked as Shopify does.
      [FLOW_TRIGGER_OPERATION]: flowTriggerReceiveStandIn().handler,
    });

    const port = await freePort();
    const appUrl = `http://127.0.0.1:${port}`;
    const env: Record<string, string> = {
      NODE_ENV: "production",
      PORT: String(port),
      HOST: "127.0.0.1",
      DATABASE_URL: databaseUrl,
      SHOPIFY_API_KEY: BROWSER_API_KEY,
      SHOPIFY_API_SECRET: BROWSER_API_SECRET,
      SHOPIFY_APP_URL: appUrl,
      SCOPES: "read_orders",
      APP_ENCRYPTION_KEY: randomBytes(32).toString("base64"),
      ATTENTIVE_API_URL: attentive.graphqlUrl,
      APP_BRIDGE_URL: appBridge.scriptUrl,
      DELIVERY_WORKER: "embedded",
      [ADMIN_STAND_IN_URL_VARIABLE]: shopifyAdmin.origin,
      LOG_LEVEL: "warn",
      ...options.env,
    };
    const childEnv = { ...process.env, ...env };

    await runOrFail("npm", ["run", "--silent", "setup"], childEnv, "npm run setup");
    const { prisma: db } = openDatabase(databaseUrl);
    cleanups.push(() => closeDatabase(db));

    if (options.installed !== false) {
      // What token exchange and the afterAuth hook would leave behind, so authenticate.admin never calls Shopify.
      const storage = new PrismaSessionStorage(db);
      await storage.storeSession(
        new Session({
          id: `offline_${BROWSER_SHOP}`,
          shop: BROWSER_SHOP,
          state: "",
          isOnline: false,
          scope: appBridge.grantedScopes.join(","),
          accessToken: "shpat_browser_test_token",
        }),
      );
      await markInstalled(db, BROWSER_SHOP);
    }

    let appOutput = "";
    // The production server as `npm start` runs it, detached: its process group is stopped as a whole.
    const serverCommand = productionServerCommand(REPO_ROOT, build.entry);
    // The preload sends the app's Admin API requests to the stand-in: nothing reaches Shopify.
    const server = spawn(serverCommand.command, ["--import", pathToFileURL(ADMIN_ROUTE_PRELOAD).href, ...serverCommand.args], {
      cwd: build.cwd,
      env: childEnv,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    server.stdout!.on("data", (chunk: Buffer) => (appOutput += chunk.toString()));
    server.stderr!.on("data", (chunk: Buffer) => (appOutput += chunk.toString()));
    const killOnExit = () => {
      try {
        if (server.pid) process.kill(-server.pid, "SIGKILL");
      } catch {
        /* gone */
      }
    };
    process.once("exit", killOnExit);
    cleanups.push(async () => {
      await stopProcessGroup(server);
      process.removeListener("exit", killOnExit);
      mkdirSync(LOG_DIR, { recursive: true });
      writeFileSync(join(LOG_DIR, `app-${port}.log`), appOutput);
    });
    await waitFor(
      "the app to answer /healthz",
      async () => (await fetch(`${appUrl}/healthz`)).ok,
      60_000,
      () => (server.exitCode !== null ? `the app exited (${server.exitCode}):\n${appOutput}` : null),
    );

    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // launch() gives the browser a fresh temporary profile (user-data-dir) and removes it on close.
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    cleanups.push(() => browser.close());
    // shopify-app-remix answers bots (isbot) with 410 Gone, and "HeadlessChrome" is one: look like Chrome.
    const userAgent = browserUserAgent(browser.version());
    const context = await browser.newContext({ viewport: VIEWPORTS[options.viewport ?? "desktop"], locale: "en-US", userAgent });
    const blockedRequests: string[] = [];
    await context.route("**/*", async (route) => {
      const url = new URL(route.request().url());
      if (url.hostname === "127.0.0.1" || url.hostname === "localhost") return route.continue();
      if (`${url.origin}${url.pathname}` === CDN_APP_BRIDGE_URL) {
        return route.fulfill({ status: 200, contentType: "text/javascript; charset=utf-8", body: appBridge.script() });
      }
      // root.tsx links the Inter font CSS from Shopify's CDN; offline it is empty (the system font is used).
      if (url.hostname === "cdn.shopify.com" && url.pathname.endsWith(".css")) {
        return route.fulfill({ status: 200, contentType: "text/css", body: "" });
      }
      blockedRequests.push(url.toString());
      return route.abort("blockedbyclient");
    });
    const page = await context.newPage();
    const pageErrors: string[] = [];
    const consoleErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(error.stack ?? error.message));
    page.on("console", (message) => {
      if (message.type() === "error") consoleErrors.push(message.text());
    });

    const adminUrl = (path = "/app", idToken = appBridge.sessionToken()) => {
      const url = new URL(path, appUrl);
      url.searchParams.set("embedded", "1");
      url.searchParams.set("host", appBridge.host);
      url.searchParams.set("id_token", idToken);
      url.searchParams.set("locale", "en");
      url.searchParams.set("shop", BROWSER_SHOP);
      return url.toString();
    };

    const waitForHydration = async () => {
      // React marks the nodes it hydrated with __reactFiber$… properties.
      await page.waitForFunction(() => Object.keys(document.body).some((key) => key.startsWith("__reactFiber$")), undefined, {
        timeout: 15_000,
      });
      await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => resolve(null))));
    };

    const harness: BrowserHarness = {
      page,
      context,
      browser,
      appUrl,
      userAgent,
      shop: BROWSER_SHOP,
      apiKey: BROWSER_API_KEY,
      apiSecret: BROWSER_API_SECRET,
      env,
      attentive,
      appBridge,
      shopifyAdmin,
      db,
      pageErrors,
      consoleErrors,
      blockedRequests,
      clearPageErrors() {
        pageErrors.length = 0;
        consoleErrors.length = 0;
      },
      adminUrl,
      async openApp(path = "/app", openOptions = {}) {
        if (openOptions.viewport) await page.setViewportSize(VIEWPORTS[openOptions.viewport]);
        const response = await page.goto(adminUrl(path, openOptions.idToken), { waitUntil: openOptions.waitUntil ?? "networkidle" });
        if (openOptions.hydrate !== false) await waitForHydration();
        return response;
      },
      waitForHydration,
      async setViewport(name) {
        await page.setViewportSize(VIEWPORTS[name]);
      },
      async screenshot(name, screenshotOptions = {}) {
        mkdirSync(SCREENSHOT_DIR, { recursive: true });
        const path = join(SCREENSHOT_DIR, `${name.replace(/[^\w.-]+/g, "-")}.png`);
        await page.screenshot({ path, fullPage: screenshotOptions.fullPage ?? true, animations: "disabled" });
        return path;
      },
      async signedWebhook(topic, body, webhookOptions = {}) {
        const text = typeof body === "string" ? body : JSON.stringify(body);
        const headers = webhookHeaders({ topic, body: text, shop: BROWSER_SHOP, secret: BROWSER_API_SECRET, ...webhookOptions });
        return fetch(`${appUrl}${WEBHOOK_PATH[topic] ?? "/webhooks/commerce"}`, { method: "POST", headers, body: text });
      },
      sessionToken: (overrides) => appBridge.sessionToken(overrides),
      standInLog: () => page.evaluate(() => (window as unknown as { __appBridgeStandIn: { log: StandInLog } }).__appBridgeStandIn.log),
      toasts: async () => (await harness.standInLog()).toasts,
      titleBar: () =>
        page.evaluate(() =>
          (window as unknown as { __appBridgeStandIn: { titleBar(): { title: string; buttons: string[] } | null } }).__appBridgeStandIn.titleBar(),
        ),
      clickTitleBarButton: (label) =>
        page.evaluate(
          (text) => (window as unknown as { __appBridgeStandIn: { clickTitleBarButton(l: string): void } }).__appBridgeStandIn.clickTitleBarButton(text),
          label,
        ),
      async axe(axeOptions = {}) {
        axeSource ??= readFileSync(join(REPO_ROOT, "node_modules", "axe-core", "axe.min.js"), "utf8");
        // Evaluated rather than added as a <script>: the page's DOM stays as the app rendered it.
        if (!(await page.evaluate(() => "axe" in window))) await page.evaluate(axeSource);
        // In and out as JSON: axe's option and result types are too deep for playwright's serializable-argument types.
        const found = await page.evaluate(async (request: string) => {
          const { context, tags, rules } = JSON.parse(request) as { context?: AxeContext; tags: string[]; rules?: AxeRules };
          const axe = (window as unknown as { axe: typeof import("axe-core") }).axe;
          const results = await axe.run(context ?? document, { runOnly: { type: "tag", values: tags }, rules, resultTypes: ["violations"] });
          // The nodes' element references do not cross into Node; their selectors and summaries do.
          return JSON.stringify(results.violations.map((violation) => ({ ...violation, nodes: violation.nodes.map(({ element: _element, ...node }) => node) })));
        }, JSON.stringify({ context: axeOptions.context, tags: [...(axeOptions.tags ?? AXE_WCAG_TAGS)], rules: axeOptions.rules }));
        return JSON.parse(found) as AxeViolation[];
      },
      cli(...args) {
        const result = spawnSync(join(REPO_ROOT, "node_modules", ".bin", "tsx"), ["app/cli/main.ts", ...args], {
          cwd: REPO_ROOT,
          env: { ...childEnv, LOG_LEVEL: "silent" },
          encoding: "utf8",
        });
        return { status: result.status, stdout: result.stdout, stderr: result.stderr };
      },
      appLog: () => appOutput,
      close: cleanup,
    };
    return harness;
  } catch (error) {
    await cleanup();
    throw error;
  }
}
