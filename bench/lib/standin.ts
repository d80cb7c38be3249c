/** Starts the Attentive stand-in host (bench/servers/standin-host.ts) and talks to it over IPC. */
import { spawn } from "node:child_process";
import { join } from "node:path";
import type { HostStats } from "../servers/standin-host";
import { ROOT, SCRATCH } from "./common";
import { createWriteStream } from "node:fs";

export interface StandInHandle {
  graphqlUrl: string;
  pid: number;
  stats(): Promise<HostStats>;
  reset(): Promise<void>;
  setLatency(ms: number): Promise<void>;
  stop(): Promise<void>;
}

type Request = { kind: "stats" } | { kind: "reset" } | { kind: "latency"; ms: number };

export async function startStandIn(options: { keys: string[]; rateLimitPerSecond?: number; latencyMs?: number }): Promise<StandInHandle> {
  const args = JSON.stringify({ keys: options.keys, rateLimitPerSecond: options.rateLimitPerSecond ?? 150, latencyMs: options.latencyMs ?? 0 });
  const child = spawn(process.execPath, ["--import", "tsx", join("bench", "servers", "standin-host.ts"), args], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  const log = createWriteStream(join(SCRATCH, "standin.log"), { flags: "a" });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  let nextId = 1;
  const pending = new Map<number, (value: { stats?: HostStats }) => void>();
  const ready = new Promise<string>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`the Attentive stand-in exited (${code}); see ${SCRATCH}/standin.log`)));
    child.on("message", (message: { id?: number; ready?: boolean; graphqlUrl?: string; stats?: HostStats }) => {
      if (message.ready && message.graphqlUrl) resolve(message.graphqlUrl);
      else if (message.id !== undefined) {
        pending.get(message.id)?.(message);
        pending.delete(message.id);
      }
    });
  });
  const graphqlUrl = await ready;
  const ask = (request: Request) =>
    new Promise<{ stats?: HostStats }>((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      child.send({ ...request, id });
    });
  return {
    graphqlUrl,
    pid: child.pid ?? 0,
    async stats() {
      const answer = await ask({ kind: "stats" });
      return answer.stats ?? { requests: 0, events: [] };
    },
    async reset() {
      await ask({ kind: "reset" });
    },
    async setLatency(ms: number) {
      await ask({ kind: "latency", ms });
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
      if (child.exitCode === null) child.kill("SIGKILL");
      log.end();
    },
  };
}
