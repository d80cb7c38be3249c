// Preloaded (`node --import`) by bench/micro/ingest-tail.ts: each collection of the app's main thread, as one line on
// stderr, `gc <epoch ms at its start> <kind> <duration ms>`, on the wall clock the bench reads too (unlike
// --trace-gc's, which counts from the isolate's start, and which NODE_OPTIONS refuses anyway).
import { PerformanceObserver, constants, performance } from "node:perf_hooks";

const KINDS = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: "minor",
  [constants.NODE_PERFORMANCE_GC_MAJOR]: "major",
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: "incremental",
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: "weak-callbacks",
};

new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const kind = KINDS[entry.detail?.kind] ?? "other";
    process.stderr.write(`gc ${(performance.timeOrigin + entry.startTime).toFixed(1)} ${kind} ${entry.duration.toFixed(2)}\n`);
  }
}).observe({ entryTypes: ["gc"] });
