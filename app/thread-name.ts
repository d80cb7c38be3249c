/**
 * Names the calling thread for the operating system (Linux only; elsewhere nothing happens), so that `top -H`,
 * `ps -L` and the bench's per-thread CPU figures tell the SQLite writer and the render threads apart from V8's and
 * libuv's helpers (Node 22 leaves every thread it starts named "node"). The kernel keeps 15 bytes of it.
 */
import { writeFileSync } from "node:fs";

export function nameThisThread(name: string): void {
  if (process.platform !== "linux") return;
  try {
    writeFileSync("/proc/thread-self/comm", name.slice(0, 15));
  } catch {
    // A sandbox without /proc, or one that forbids the write: the name is only a convenience.
  }
}
