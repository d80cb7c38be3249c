/**
 * CPU time per process, for the bench's headline figure: CPU milliseconds per webhook ingested and per event
 * delivered. Read from /proc/<pid>/stat (user + system time of every thread of the process, so a SQLite writer
 * thread counts), at a window's start and end, and divided by what the process did in the window. The kernel
 * counts in clock ticks (10 ms at the usual 100 Hz): over a window of a few seconds and thousands of events the
 * rounding is well under 1%.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** User + system CPU time of a live process, in ms; NaN when it has gone (or this is not Linux). */
export function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: fields are counted after its closing one.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) * 1000) / clockTicks();
  } catch {
    return NaN;
  }
}

/** User and system CPU time of a live process, apart, in ms; NaN when it has gone. */
export function processUserSystemMs(pid: number): { user: number; system: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { user: (Number(fields[11]) * 1000) / clockTicks(), system: (Number(fields[12]) * 1000) / clockTicks() };
  } catch {
    return { user: NaN, system: NaN };
  }
}

/**
 * User + system CPU time of each live thread of a process, in ms, by thread id (a thread that ends between
 * the listing and its read is left out). Node's threads are not named: the main thread is the one whose id is the
 * process's; of the rest, worker threads (the SQLite writer, the render threads) are the busy ones and V8's helper
 * threads (garbage collection, compilation) the others.
 */
export function threadCpuMs(pid: number): Map<number, number> {
  const threads = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      threads.set(Number(tid), ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks());
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return threads;
}

/**
 * Each live thread's name (`/proc/<pid>/task/<tid>/comm`), by thread id. Node names the threads it starts: V8's
 * platform helpers (garbage collection, compilation) "V8 DefaultWorke", libuv's pool "libuv-worker", and worker
 * threads (the SQLite writer, the render threads) whatever `new Worker({ name })` chose, cut to 15 bytes.
 */
export function threadNames(pid: number): Map<number, string> {
  const names = new Map<number, string>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      names.set(Number(tid), readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim());
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return names;
}

export interface CpuFigure {
  /** CPU ms the process used in the window. */
  cpuMs: number;
  wallMs: number;
  /** What it did in the window (webhooks answered 200, events delivered, requests answered). */
  count: number;
  /** cpuMs / count. */
  msPerEvent: number;
  /** cpuMs / wallMs: 1 is one core busy all the time. */
  cores: number;
}

/** Starts a window on some processes; `end(counts)` reads them again and divides by each one's count. */
export function cpuWindow(pids: Record<string, number>): { end(counts: Record<string, number>): Record<string, CpuFigure> } {
  const startedAt = Date.now();
  const before = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, processCpuMs(pid)]));
  return {
    end(counts) {
      const wallMs = Date.now() - startedAt;
      const figures: Record<string, CpuFigure> = {};
      for (const [name, pid] of Object.entries(pids)) {
        const cpuMs = processCpuMs(pid) - (before[name] ?? NaN);
        const count = counts[name] ?? 0;
        figures[name] = { cpuMs, wallMs, count, msPerEvent: count > 0 ? cpuMs / count : NaN, cores: cpuMs / Math.max(1, wallMs) };
      }
      return figures;
    },
  };
}

/** "0.42 ms" with enough digits for figures around the goals (0.3 and 0.5 ms). */
export const cpuMsText = (value: number) => (Number.isFinite(value) ? `${value < 1 ? value.toFixed(3) : value.toFixed(2)} ms` : "—");

/**
 * The CPU of every `postgres` process on this machine, in ms (the server must be local, and carry no other load).
 * A backend that exits in between takes its CPU with it: measure over connections that stay open.
 */
export function localPostgresCpuMs(): number {
  let cpuMs = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, "utf8").trim() === "postgres") cpuMs += processCpuMs(Number(entry)) || 0;
    } catch {
      // The process went away.
    }
  }
  return cpuMs;
}
