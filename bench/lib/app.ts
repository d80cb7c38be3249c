/**
 * The app as production runs it: the Remix build served by remix-serve with the environment `npm run demo`
 * uses, and standalone workers started like `npm run cli -- worker`.
 */
import { createHmac, randomBytes } from "node:crypto";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { cliCommand, productionServerCommand } from "~/cli/serve-command";
import { type Child, freePort, ROOT, startChild, waitFor } from "./common";
import { BENCH_BUILD_DIRECTORY } from "./paths";

export const APP_SECRET = `bench-secret-${randomBytes(8).toString("hex")}`;
export const ENCRYPTION_KEY = randomBytes(32).toString("base64");

export function shopifyHmac(body: string, secret = APP_SECRET): string {
  return createHmac("sha256", secret).update(body, "utf8").digest("base64");
}

export interface AppOptions {
  databaseUrl: string;
  attentiveUrl: string;
  worker: "embedded" | "off";
  name: string;
  /** Extra node flags, e.g. --cpu-prof. */
  nodeOptions?: string;
  /** Extra environment (e.g. the backfill's intervals). */
  env?: Record<string, string>;
  /** Modules the server process loads first (`node --import`), e.g. the Admin API stand-in's route. */
  imports?: string[];
}

export function appEnv(options: Omit<AppOptions, "name">, port: number): NodeJS.ProcessEnv {
  const { NODE_ENV: _inherited, ...inherited } = process.env;
  return {
    ...inherited,
    NODE_ENV: "production",
    PORT: String(port),
    HOST: "127.0.0.1",
    DATABASE_URL: options.databaseUrl,
    SHOPIFY_API_KEY: "bench-api-key",
    SHOPIFY_API_SECRET: APP_SECRET,
    SHOPIFY_APP_URL: `http://127.0.0.1:${port}`,
    SCOPES: "read_orders",
    APP_ENCRYPTION_KEY: ENCRYPTION_KEY,
    ATTENTIVE_API_URL: options.attentiveUrl,
    DELIVERY_WORKER: options.worker,
    LOG_LEVEL: "warn",
    ...nodeOptions(options.nodeOptions),
    ...options.env,
  };
}

/** `--profile` (BENCH_PROFILE_DIR): every app and worker process writes a V8 CPU profile there when it exits. */
function nodeOptions(extra: string | undefined): Record<string, string> {
  const flags = [extra ?? "", process.env.BENCH_PROFILE_DIR ? `--cpu-prof --cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}` : ""].join(" ").trim();
  return flags ? { NODE_OPTIONS: flags } : {};
}

export interface AppHandle extends Child {
  url: string;
}

export async function startApp(options: AppOptions): Promise<AppHandle> {
  const port = await freePort();
  const server = productionServerCommand(ROOT, join(BENCH_BUILD_DIRECTORY, "server", "index.js"));
  const imports = (options.imports ?? []).flatMap((file) => ["--import", pathToFileURL(file).href]);
  const child = startChild(options.name, server.command, [...imports, ...server.args], { env: appEnv(options, port) });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    `${options.name} to answer`,
    async () => ((await fetch(`${url}/healthz`)).ok ? true : null),
    60_000,
    100,
    () => child.process.exitCode === null && child.process.signalCode === null,
  );
  return { ...child, url };
}

/** `npm run cli -- worker`, minus npm: the same node flags and tsx's loader running app/cli/main.ts worker. */
export function startWorker(options: Omit<AppOptions, "worker">): Child {
  const env = appEnv({ ...options, worker: "off" }, 0);
  // BENCH_WORKER_FLAGS: node flags NODE_OPTIONS refuses (`--trace-gc-nvp`: bench/gc-summary.ts reads the worker's log;
  // `--no-single-threaded-gc` measures the worker with V8's parallel collector, as before decision 039).
  const flags = process.env.BENCH_WORKER_FLAGS?.split(" ").filter(Boolean) ?? [];
  const worker = cliCommand(ROOT, ["worker"], flags);
  return startChild(options.name, worker.command, worker.args, { env });
}
