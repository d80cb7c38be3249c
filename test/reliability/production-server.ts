/**
 * The production server exactly as `npm start` runs it, for the reliability suites that attack it:
 * `node <heap flags> --import tsx app/serve.ts ./build/server/index.js` (app/cli/serve-command.ts) with NODE_ENV=production, in a snapshot build of
 * the sources (test/browser/build.ts: built once per source state, reused after). Whatever app/serve.ts
 * installs (Remix's fetch polyfill today) is what the embedded worker runs with, which is the point: the
 * older suites run the app's modules under Node's own fetch and never saw the crash of issue 8.
 *
 * Each server gets a fresh migrated database (an SQLite file, or a PostgreSQL schema), its own port and
 * encryption key, Attentive at `attentiveUrl`, and a short ATTENTIVE_TIMEOUT_MS. Shops are connected with
 * the operator CLI (`shops connect --skip-verify`), as an operator would. The suites read the database
 * with plain SQL (the tables are the contract, not the app's modules, which other branches reshape).
 *
 *   const app = await startProductionServer({ attentiveUrl: standIn.graphqlUrl });
 *   await app.connectShop("a.myshopify.com", "key");
 *   const { status, ms } = await app.postWebhook({ topic: "orders/fulfilled", shop, body });
 *   await app.whileAlive(waitFor(...));   // rejects with the process's output if it dies meanwhile
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import Sqlite from "better-sqlite3";
import pg from "pg";
import { productionServerCommand } from "~/cli/serve-command";
import { prepareBuild } from "../browser/build";
import { signSessionToken } from "../stand-ins/app-bridge/session-token";
import { freePort } from "../support/app-process";
import { createTestDatabase, type TestDatabase } from "../support/test-database";
import { TEST_SECRET, WEBHOOK_PATH, webhookHeaders, type SignedWebhookOptions } from "../support/webhooks";

export const APP_API_KEY = "prodsuite-api-key";
/**
 * For a suite's beforeAll: a build on first use, the server's start and a CLI run per shop. About 10-30 s on
 * a quiet machine; minutes when other work shares the 2 cores.
 */
export const SETUP_TIMEOUT_MS = 300_000;
/** How long postWebhook waits for an answer (Shopify gives up after 5 s; this only keeps a stalled test moving). */
const WEBHOOK_GIVE_UP_MS = 60_000;
const ADMIN_GIVE_UP_MS = 120_000;
/** What a browser sends: shopify-app-remix answers bots (isbot, which counts "node") with 410. */
const BROWSER_USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36";

export interface ProductionServerOptions {
  attentiveUrl: string;
  /** Default: TEST_DATABASE (sqlite unless "postgresql"). */
  provider?: "sqlite" | "postgresql";
  /** Default 1000: short, so a hang shows within a test. */
  attentiveTimeoutMs?: number;
  logLevel?: string;
  env?: Record<string, string>;
  /** Node flags before the app's (e.g. `--import` of the Admin API stand-in's route, shopify-admin-server.ts). */
  nodeArgs?: string[];
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface WebhookAnswer {
  status: number;
  ms: number;
  body: string;
}

export interface Sql {
  all<T = Record<string, unknown>>(sql: string, ...params: unknown[]): Promise<T[]>;
  /** The first column of the first row as a number. */
  count(sql: string, ...params: unknown[]): Promise<number>;
}

export interface ProductionServer {
  origin: string;
  pid: number;
  env: NodeJS.ProcessEnv & Record<string, string>;
  provider: "sqlite" | "postgresql";
  sql: Sql;
  /** Everything the process wrote to stdout and stderr. */
  output(): string;
  exited: Promise<Exit>;
  alive(): boolean;
  /** `work`, unless the process dies first: then a rejection carrying its exit and output. */
  whileAlive<T>(work: Promise<T>): Promise<T>;
  /** Throws with the output when the process is not running. */
  assertAlive(): void;
  connectShop(shop: string, apiKey: string): Promise<void>;
  postWebhook(options: SignedWebhookOptions, path?: string): Promise<WebhookAnswer>;
  /** An admin route called as the embedded app's fetches are: a session token for `shop` (offline session stored first). */
  /** `form` as fields, or already URL-encoded (a large one: encoding it here would stall the test's own clock). */
  admin(shop: string, path: string, form?: Record<string, string> | Uint8Array<ArrayBuffer>): Promise<{ status: number; body: string; ms: number }>;
  storeOfflineSession(shop: string): Promise<void>;
  /** Resident memory of the server process in kB (from /proc/<pid>/status). */
  rssKb(): number;
  /** The most resident memory the current process has had, in kB (VmHWM). */
  peakRssKb(): number;
  /** SIGKILLs the process (the database stays), for a crash test; `restart` starts it again. */
  kill(): Promise<Exit>;
  /** Starts the server again on the same database, port and environment, once the last one exited. */
  restart(): Promise<void>;
  /** Polls `check` every `pollMs` until true; the process dying or `timeoutMs` (a safety net) fails it. */
  waitFor(what: string, check: () => Promise<boolean>, timeoutMs?: number, pollMs?: number): Promise<void>;
  stop(): Promise<Exit>;
}

async function waitForBuild(): Promise<string> {
  const started = Date.now();
  const build = await prepareBuild();
  if (!build.reused) console.log(`[production-server] built the app in ${((Date.now() - started) / 1000).toFixed(1)} s: ${build.dir}`);
  return build.dir;
}

function sqlFor(database: TestDatabase): { sql: Sql; close(): Promise<void> } {
  if (database.provider === "sqlite") {
    const file = database.url.replace(/^file:/, "");
    const sqlite = new Sqlite(file, { fileMustExist: true });
    sqlite.pragma("busy_timeout = 10000");
    const prepare = (text: string) => sqlite.prepare(text.replace(/\$\d+/g, "?"));
    const sql: Sql = {
      async all<T>(text: string, ...params: unknown[]) {
        const statement = prepare(text);
        if (statement.reader) return statement.all(...params) as T[];
        statement.run(...params);
        return [];
      },
      async count(text: string, ...params: unknown[]) {
        const row = prepare(text).raw().get(...params) as unknown[] | undefined;
        return Number(row?.[0] ?? 0);
      },
    };
    return { sql, close: async () => void sqlite.close() };
  }
  const schema = new URL(database.url).searchParams.get("schema") ?? "public";
  const connection = new URL(database.url);
  connection.searchParams.delete("schema");
  const pool = new pg.Pool({ connectionString: connection.toString(), max: 2, options: `-c search_path="${schema}"` });
  const sql: Sql = {
    async all<T>(text: string, ...params: unknown[]) {
      return (await pool.query(text, params)).rows as T[];
    },
    async count(text: string, ...params: unknown[]) {
      const result = await pool.query({ text, values: params, rowMode: "array" });
      return Number((result.rows[0] as unknown[] | undefined)?.[0] ?? 0);
    },
  };
  return { sql, close: () => pool.end() };
}

export async function startProductionServer(options: ProductionServerOptions): Promise<ProductionServer> {
  const dir = await waitForBuild();
  const provider = options.provider ?? (process.env.TEST_DATABASE === "postgresql" ? "postgresql" : "sqlite");
  const database = await createTestDatabase(provider);
  const reader = sqlFor(database);
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv & Record<string, string> = {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? "/tmp",
    NODE_ENV: "production",
    PORT: String(port),
    HOST: "127.0.0.1",
    DATABASE_URL: database.url,
    SHOPIFY_API_KEY: APP_API_KEY,
    SHOPIFY_API_SECRET: TEST_SECRET,
    SHOPIFY_APP_URL: origin,
    SCOPES: "read_orders",
    APP_ENCRYPTION_KEY: randomBytes(32).toString("base64"),
    ATTENTIVE_API_URL: options.attentiveUrl,
    ATTENTIVE_TIMEOUT_MS: String(options.attentiveTimeoutMs ?? 1000),
    DELIVERY_WORKER: "embedded",
    LOG_LEVEL: options.logLevel ?? "info",
    // No Admin API here: the periodic jobs stay off so they neither call out nor add noise to the logs.
    RECONCILE_INTERVAL_MINUTES: "0",
    RETENTION_INTERVAL_MINUTES: "0",
    FLOW_TRIGGER_INTERVAL_SECONDS: "0",
    ...options.env,
  };

  // Exactly `npm start`'s command line, run by this Node (22) in the build's directory.
  let child!: ReturnType<typeof spawn>;
  let output = "";
  let exit: Exit | undefined;
  let exited!: Promise<Exit>;
  const killOnExit = () => child.kill("SIGKILL");
  const spawnChild = () => {
    exit = undefined;
    const start = productionServerCommand(dir, "./build/server/index.js", env);
    child = spawn(start.command, [...(options.nodeArgs ?? []), ...start.args], {
      cwd: dir,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    exited = new Promise<Exit>((resolve) =>
      child.once("exit", (code, signal) => {
        exit = { code, signal };
        resolve(exit);
      }),
    );
  };
  spawnChild();
  process.once("exit", killOnExit);

  const died = () => `the production server exited (code ${exit?.code}, signal ${exit?.signal}). Its output:\n${output}`;
  const alive = () => exit === undefined;
  const whileAlive = <T>(work: Promise<T>): Promise<T> =>
    Promise.race([work, exited.then((): never => { throw new Error(died()); })]);
  const waitFor = async (what: string, check: () => Promise<boolean>, timeoutMs = 60_000, pollMs = 100) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!alive()) throw new Error(`while waiting for ${what}: ${died()}`);
      if (await check()) return;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  };

  const stop = async (): Promise<Exit> => {
    if (alive()) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
    process.removeListener("exit", killOnExit);
    await reader.close();
    await database.drop();
    return exit!;
  };

  const healthy = () =>
    waitFor(
      "the server to answer /healthz",
      async () => {
        try {
          return (await fetch(`${origin}/healthz`, { signal: AbortSignal.timeout(2_000) })).ok;
        } catch {
          return false;
        }
      },
      // A few seconds on a quiet machine; over a minute was seen with other work on the 2 cores.
      180_000,
      100,
    );
  try {
    await healthy();
  } catch (error) {
    await stop();
    throw error;
  }

  let connecting: Promise<unknown> = Promise.resolve();
  const connectWithCli = (shop: string, apiKey: string) =>
    new Promise<void>((resolve, reject) => {
      const cli = spawn(process.execPath, ["--import", "tsx", "app/cli/main.ts", "shops", "connect", shop, "--api-key", apiKey, "--skip-verify"], {
        cwd: dir,
        env: { ...env, LOG_LEVEL: "silent" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let said = "";
      cli.stdout.on("data", (chunk: Buffer) => (said += chunk.toString()));
      cli.stderr.on("data", (chunk: Buffer) => (said += chunk.toString()));
      cli.on("error", reject);
      cli.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`shops connect ${shop} failed (${code}):\n${said}`))));
    });

  const server: ProductionServer = {
    origin,
    get pid() {
      return child.pid!;
    },
    env,
    provider,
    sql: reader.sql,
    output: () => output,
    get exited() {
      return exited;
    },
    alive,
    whileAlive,
    assertAlive() {
      if (!alive()) throw new Error(died());
    },
    connectShop(shop, apiKey) {
      // The operator CLI from the same snapshot, against the same database and encryption key; one at a
      // time (two CLI processes writing one SQLite file beside the server time out on its lock).
      const connected = connecting.then(() => connectWithCli(shop, apiKey));
      connecting = connected.catch(() => undefined);
      return connected;
    },
    async postWebhook(webhook, path) {
      const started = performance.now();
      try {
        const response = await fetch(`${origin}${path ?? WEBHOOK_PATH[webhook.topic] ?? "/webhooks/commerce"}`, {
          method: "POST",
          headers: webhookHeaders(webhook),
          body: webhook.body,
          signal: AbortSignal.timeout(WEBHOOK_GIVE_UP_MS),
        });
        const body = await response.text();
        return { status: response.status, ms: performance.now() - started, body };
      } catch (error) {
        // No answer at all: status 0, so a test reports "expected 0 to be 200" with the time it waited.
        const reason = error instanceof Error && error.name === "TimeoutError" ? `no answer within ${WEBHOOK_GIVE_UP_MS} ms` : String(error);
        return { status: 0, ms: performance.now() - started, body: alive() ? reason : died() };
      }
    },
    async storeOfflineSession(shop) {
      const id = `offline_${shop}`;
      const token = `shpat_${randomBytes(8).toString("hex")}`;
      if ((await reader.sql.count(`SELECT COUNT(*) FROM "Session" WHERE "id" = $1`, id)) > 0) return;
      await reader.sql.all(
        `INSERT INTO "Session" ("id", "shop", "state", "isOnline", "scope", "accessToken") VALUES ($1, $2, $3, $4, $5, $6)`,
        id,
        shop,
        "",
        provider === "sqlite" ? 0 : false,
        "read_orders",
        token,
      );
    },
    async admin(shop, path, form) {
      await server.storeOfflineSession(shop);
      const token = signSessionToken({ shop, apiKey: APP_API_KEY, secret: TEST_SECRET });
      const started = performance.now();
      try {
        const response = await fetch(`${origin}${path}`, {
          method: form ? "POST" : "GET",
          headers: {
            authorization: `Bearer ${token}`,
            "user-agent": BROWSER_USER_AGENT,
            ...(form ? { "content-type": "application/x-www-form-urlencoded" } : {}),
          },
          ...(form ? { body: form instanceof Uint8Array ? form : new URLSearchParams(form).toString() } : {}),
          signal: AbortSignal.timeout(ADMIN_GIVE_UP_MS),
        });
        const body = await response.text();
        return { status: response.status, body, ms: performance.now() - started };
      } catch (error) {
        // As for webhooks: status 0 and the time waited, rather than a bare "fetch failed".
        const reason = error instanceof Error && error.name === "TimeoutError" ? `no answer within ${ADMIN_GIVE_UP_MS} ms` : String(error);
        return { status: 0, body: alive() ? reason : died(), ms: performance.now() - started };
      }
    },
    rssKb() {
      if (!alive()) throw new Error(died());
      const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
      const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
      if (!match) throw new Error(`no VmRSS in /proc/${child.pid}/status: the process is exiting. Its output:\n${output}`);
      return Number(match[1]);
    },
    peakRssKb() {
      if (!alive()) throw new Error(died());
      const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
      if (!match) throw new Error(`no VmHWM in /proc/${child.pid}/status`);
      return Number(match[1]);
    },
    async kill() {
      if (alive()) child.kill("SIGKILL");
      return exited;
    },
    async restart() {
      if (alive()) throw new Error("restart: the server is still running");
      spawnChild();
      await healthy();
    },
    waitFor,
    stop,
  };
  return server;
}

/** A raw HTTP exchange for what fetch cannot do (a GET with a path of our choosing, a body sent slowly). */
export function rawRequest(
  origin: string,
  init: { method: string; path: string; headers?: Record<string, string | number>; body?: string },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(init.path, origin);
    const req = httpRequest(url, { method: init.method, headers: { "user-agent": BROWSER_USER_AGENT, ...init.headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(init.body);
  });
}

/** The Delivery rows, with what the suites look at. */
export interface DeliveryRow {
  id: string;
  shop: string;
  status: string;
  attempts: number;
  externalEventId: string;
  lastError: string | null;
  nextAttemptAt: unknown;
}

export function deliveries(server: ProductionServer, shop?: string): Promise<DeliveryRow[]> {
  return shop
    ? server.sql.all<DeliveryRow>(
        `SELECT "id", "shop", "status", "attempts", "externalEventId", "lastError", "nextAttemptAt" FROM "Delivery" WHERE "shop" = $1`,
        shop,
      )
    : server.sql.all<DeliveryRow>(`SELECT "id", "shop", "status", "attempts", "externalEventId", "lastError", "nextAttemptAt" FROM "Delivery"`);
}

/** A stored date as milliseconds, however the driver stored it (ISO text, epoch milliseconds, Date); NaN if invalid. */
export function storedTime(value: unknown): number {
  if (value instanceof Date) return value.getTime();
  if (typeof value === "number" || typeof value === "bigint") return Number(value);
  if (typeof value === "string") return /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  return Number.NaN;
}

/** Percentile (0-100) of `values`, nearest rank. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

