/** Starts the reference servers of bench/servers/ as child processes. */
import { join } from "node:path";
import { type Child, freePort, startChild, waitFor } from "./common";

export interface ServerHandle extends Child {
  url: string;
}

export async function startBenchServer(name: string, file: string, args: string[]): Promise<ServerHandle> {
  const port = await freePort();
  const child = startChild(name, process.execPath, ["--import", "tsx", join("bench", "servers", file), String(port), ...args], { env: process.env });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${name} to answer`, async () => ((await fetch(`${url}/healthz`)).ok ? true : null), 30_000, 100, () => child.process.exitCode === null);
  return { ...child, url };
}
