/**
 * Shared plumbing for the benchmark suite: paths, ports, child processes, waiting, statistics.
 */
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { createWriteStream, mkdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

export { ROOT } from "./paths";
import { ROOT } from "./paths";
export const BIN = join(ROOT, "node_modules", ".bin");
export const RUN_ID = `${new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "").replace("T", "-")}-${process.pid}`;
/** Scratch space for this run (databases, logs); deleted at the end unless --keep. */
export const SCRATCH = join("/tmp", `attentive-bench-${RUN_ID}`);
mkdirSync(SCRATCH, { recursive: true });

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

export async function waitFor<T>(what: string, check: () => Promise<T | null>, timeoutMs: number, everyMs = 100, alive?: () => boolean): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (alive && !alive()) throw new Error(`gave up waiting for ${what}: the process exited`);
    const value = await check().catch(() => null);
    if (value !== null) return value;
    await sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Runs a command to completion; rejects with its log tail on failure. */
export function run(command: string, args: string[], env: NodeJS.ProcessEnv, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("error", reject);
    child.on("exit", (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`${what} failed (exit ${code ?? signal}): ${output.slice(-2000)}`)),
    );
  });
}

export interface Child {
  process: ChildProcess;
  pid: number;
  name: string;
  /** Highest VmHWM/VmRSS seen, in MB (sampled every 200 ms and at stop). */
  peakRssMb(): number;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

function readRssMb(pid: number): { rss: number; hwm: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
    return { rss: kb("VmRSS") / 1024, hwm: kb("VmHWM") / 1024 };
  } catch {
    return null;
  }
}

/** Starts a long-running child whose output goes to a log file in the scratch folder. */
export function startChild(name: string, command: string, args: string[], options: SpawnOptions & { env: NodeJS.ProcessEnv }): Child {
  const log = createWriteStream(join(SCRATCH, `${name}.log`), { flags: "a" });
  const child = spawn(command, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], ...options });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${name} did not start`);
  let peak = 0;
  const sampler = setInterval(() => {
    const mem = readRssMb(pid);
    if (mem) peak = Math.max(peak, mem.rss, mem.hwm);
  }, 200);
  sampler.unref();
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    process: child,
    pid,
    name,
    peakRssMb() {
      const mem = readRssMb(pid);
      if (mem) peak = Math.max(peak, mem.rss, mem.hwm);
      return peak;
    },
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      this.peakRssMb();
      clearInterval(sampler);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        await Promise.race([exited, sleep(8_000)]);
        if (child.exitCode === null && child.signalCode === null) {
          child.kill("SIGKILL");
          await exited;
        }
      }
      log.end();
    },
  };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

export function summarize(values: number[]): { n: number; p50: number; p95: number; p99: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.length > 0 ? sorted[sorted.length - 1]! : NaN,
  };
}

export const round = (value: number, digits = 1) => (Number.isFinite(value) ? Number(value.toFixed(digits)) : value);

export function log(message: string) {
  console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
}
