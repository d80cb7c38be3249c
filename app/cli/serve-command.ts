import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

/**
 * The V8 heap the production server runs with: a young generation of 4 MB per semi-space (V8's default grows to 16)
 * and an old generation of APP_HEAP_MB (default 160). Left to its defaults, V8 lets the heap grow to hundreds of MB
 * of garbage under a sustained load before collecting it: a 10,000-order backfill peaked at 487 MB of resident
 * memory, against 257 MB with these limits at the same throughput (docs/performance.md). The live data stays well
 * under them; a shop whose orders are huge (Shopify allows 2 MB bodies) can raise APP_HEAP_MB.
 * package.json's `start` script passes the same flags (test/config/start-command.test.ts holds them together).
 */
export const DEFAULT_HEAP_MB = 160;
export const MIN_HEAP_MB = 64;

export function heapFlags(env: Readonly<Record<string, string | undefined>> = process.env): string[] {
  const raw = env.APP_HEAP_MB?.trim();
  const heapMb = raw ? Number(raw) : DEFAULT_HEAP_MB;
  if (!Number.isInteger(heapMb) || heapMb < MIN_HEAP_MB) {
    throw new Error(`APP_HEAP_MB must be a whole number of megabytes, at least ${MIN_HEAP_MB} (got "${raw}"): leave it unset for ${DEFAULT_HEAP_MB}.`);
  }
  return ["--max-semi-space-size=4", `--max-old-space-size=${heapMb}`];
}

/**
 * The node flags of `npm run cli` (package.json), and so of the standalone delivery worker (`npm run cli -- worker`):
 * V8 collects garbage on the thread that made it, with no helper threads (docs/decisions/039), in a young
 * generation of up to 32 MB per semi-space (docs/decisions/048). A worker's CPU per delivered event is what decides
 * how many machines a large install needs: with parallel and concurrent collection its helper threads cost more CPU
 * than they saved on the main thread, and with V8's 16 MB each collection copied the bodies of the deliveries still
 * in flight once more. The web process keeps V8's collector and its own small young generation (heapFlags): its
 * ingest measured no gain, and its main thread is where a webhook waits.
 */
export const CLI_NODE_FLAGS = ["--single-threaded-gc", "--max-semi-space-size=32"];

/**
 * How `npm run cli` runs `app/cli/main.ts` with `args`: one Node process with tsx's loader, as the script does.
 * `extraNodeFlags` come after the script's own, so a measurement can turn one off (`--no-single-threaded-gc`).
 */
export function cliCommand(root: string, args: readonly string[], extraNodeFlags: readonly string[] = []): { command: string; args: string[] } {
  return { command: process.execPath, args: [...CLI_NODE_FLAGS, ...extraNodeFlags, ...tsxImport(root), join(root, "app", "cli", "main.ts"), ...args] };
}

/** `--import` of the project's tsx loader, by its resolved path, so the command works from any working directory. */
function tsxImport(root: string): string[] {
  return ["--import", pathToFileURL(createRequire(join(root, "package.json")).resolve("tsx")).href];
}

/**
 * How `npm start` runs the production server (app/serve.ts), as one Node process (not
 * through npm or tsx's CLI, so that a signal sent to it reaches the server itself).
 */
export function productionServerCommand(root: string, buildEntry: string, env: Readonly<Record<string, string | undefined>> = process.env): { command: string; args: string[] } {
  return { command: process.execPath, args: [...heapFlags(env), ...tsxImport(root), join(root, "app", "serve.ts"), buildEntry] };
}
