/**
 * Summarises a log written under `--trace-gc-nvp` (BENCH_WORKER_FLAGS="--trace-gc-nvp" for the worker the delivery
 * micro-benchmark starts): for the young generation's collections (scavenges), how many, their pause on the main
 * thread and their helpers' time, and what survived and was promoted each time; the full collections' count and pause.
 * The first and last `--skip` share (default a third) of the scavenges are left out: start-up and the queue's end.
 *
 * tsx bench/gc-summary.ts <log> [--skip=0.33]
 */
import { readFileSync } from "node:fs";

const file = process.argv[2];
if (!file) throw new Error("usage: tsx bench/gc-summary.ts <log> [--skip=0.33]");
const skip = Number(process.argv.find((arg) => arg.startsWith("--skip="))?.slice("--skip=".length) ?? 1 / 3);

const entries = readFileSync(file, "utf8")
  .split("\n")
  .filter((line) => / gc=\S+ /.test(line))
  .map((line) => Object.fromEntries([...line.matchAll(/(\S+)=(\S+)/g)].map(([, key, value]) => [key!, value!])));
const scavenges = entries.filter((entry) => entry.gc === "s");
const full = entries.filter((entry) => entry.gc !== "s");
const from = Math.floor(scavenges.length * skip);
const middle = scavenges.slice(from, scavenges.length - from);
const mean = (key: string) => middle.reduce((sum, entry) => sum + Number.parseFloat(entry[key] ?? "0"), 0) / Math.max(1, middle.length);
const round = (value: number, digits = 2) => Number(value.toFixed(digits));
console.log(
  JSON.stringify({
    scavenges: scavenges.length,
    measured: middle.length,
    pauseMs: round(mean("pause")),
    helpersMs: round(mean("background.scavenge.parallel")),
    mutatorMsBetween: round(mean("mutator"), 1),
    survivedKb: round(mean("new_space_survived") / 1024, 0),
    promotedKb: round(mean("promoted") / 1024, 0),
    allocatedMbBetween: round(mean("allocated") / 1024 / 1024, 1),
    fullCollections: full.length,
    fullPauseMs: round(full.reduce((sum, entry) => sum + Number.parseFloat(entry.pause ?? "0"), 0), 0),
  }),
);
