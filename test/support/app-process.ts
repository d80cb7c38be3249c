/**
 * Starts test/reliability/app-process.ts (the real webhook action and embedded worker in a
 * process of its own) and posts signed webhooks to it over HTTP, retrying like Shopify does
 * until it answers 200.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { webhookHeaders, type SignedWebhookOptions } from "./webhooks";

const root = fileURLToPath(new URL("../../", import.meta.url));

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

export interface AppProcess {
  readonly child: ChildProcess;
  readonly origin: string;
  /** Everything the process wrote to stdout and stderr (its logs). */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export async function startAppProcess(env: NodeJS.ProcessEnv, port: number, readyTimeoutMs = 60_000): Promise<AppProcess> {
  // node itself with tsx's loader, not the tsx binary: that one runs node as a child of its own,
  // and a SIGKILL would kill the wrapper and leave the app running.
  const child = spawn(process.execPath, ["--import", "tsx", "test/reliability/app-process.ts"], {
    cwd: root,
    env: { ...env, PORT: String(port) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const deadline = Date.now() + readyTimeoutMs;
  while (!output.includes("ready on")) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the app process exited while starting:\n${output}`);
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`the app process did not start within ${readyTimeoutMs} ms:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return { child, origin: `http://127.0.0.1:${port}`, output: () => output, exited };
}

/** One attempt; the status, or 0 when the connection failed (the process is down). */
export async function postOverHttp(origin: string, path: string, options: SignedWebhookOptions): Promise<number> {
  try {
    const response = await fetch(`${origin}${path}`, {
      method: "POST",
      headers: webhookHeaders(options),
      body: options.body,
      signal: AbortSignal.timeout(10_000),
    });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}
