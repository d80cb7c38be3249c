import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { cpuWindow, processCpuMs } from "../../bench/lib/cpu";

/** Burns `ms` of the process's CPU time on a worker thread while the main thread only waits for its message. */
function burnOnThread(ms: number): Promise<void> {
  const worker = new Worker(
    `const { parentPort, workerData } = require("node:worker_threads");
     const start = process.cpuUsage();
     let spent = 0;
     while (spent < workerData * 1000) { const u = process.cpuUsage(start); spent = u.user + u.system; }
     parentPort.postMessage("done");`,
    { eval: true, workerData: ms },
  );
  return new Promise((resolve, reject) => {
    worker.once("message", () => void worker.terminate().then(() => resolve()));
    worker.once("error", reject);
  });
}

describe("processCpuMs", () => {
  it("counts every thread of the process, as getrusage does", async () => {
    const usageBefore = process.cpuUsage();
    const procBefore = processCpuMs(process.pid);
    await burnOnThread(300);
    const procMs = processCpuMs(process.pid) - procBefore;
    const usage = process.cpuUsage(usageBefore);
    const usageMs = (usage.user + usage.system) / 1000;
    expect(usageMs).toBeGreaterThanOrEqual(300);
    // Clock ticks are 10 ms; the two readings are taken a moment apart.
    expect(Math.abs(procMs - usageMs)).toBeLessThan(40);
  });

  it("is NaN for a process that does not exist", () => {
    expect(processCpuMs(2 ** 22 + 12345)).toBeNaN();
  });
});

describe("cpuWindow", () => {
  it("divides each process's CPU in the window by its own count", async () => {
    const window = cpuWindow({ self: process.pid });
    await burnOnThread(100);
    const { self } = window.end({ self: 50 });
    expect(self!.count).toBe(50);
    // 100 ms burnt, less up to a 10 ms tick at each end of the window.
    expect(self!.cpuMs).toBeGreaterThanOrEqual(80);
    expect(self!.msPerEvent).toBeCloseTo(self!.cpuMs / 50, 10);
    expect(window.end({}).self!.msPerEvent).toBeNaN();
  });
});
