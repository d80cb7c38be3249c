/**
 * A small pool of worker threads that render mappings off the app's event loop, with a hard deadline per render
 * and fair turns between shops, so that one merchant's runaway template cannot stall webhooks or other shops'
 * deliveries (decision 009).
 *
 * - Deadline: a render that has used `deadlineMs` of its thread's CPU time (or, where Node cannot tell, of clock
 *   time; and at most 8 times that by the clock) is stopped by terminating the thread (V8 interrupts any synchronous
 *   code, even inside one filter call), its outcome is an error naming the template it was in, and a fresh thread
 *   replaces it. CPU time, so that a busy machine does not cut ordinary renders short. From then on that shop's renders run under a `vm` timeout
 *   inside the thread ("guarded"), which stops them without losing the thread; the thread is still terminated if
 *   one overruns by `graceMs` more.
 * - Fairness: each shop has its own queue, served round-robin. A shop may have at most ceil(threads / 2) renders
 *   in flight while another shop waits, and always at most that many once it has needed the deadline.
 * - Bounded: past `maxQueued` waiting renders, a render ends at once as a retryable error.
 * - Started when needed: threads start with the first render (or `warm`), and end once the pool has had nothing to
 *   do for `idleMs`. Each thread holds about 30 MB, and the delivery worker renders most mappings on its own thread
 *   (decision 024), so an app whose mappings all render there keeps no render thread at all (decision 033).
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { RenderJobMessage, RenderThreadData, RenderThreadMessage } from "./render-protocol";
import { RenderStep, deadlineReason, type RenderContextInput, type RenderOutcome } from "./renderer";
import type { MappingDefinition } from "./types";

export interface RenderPoolOptions {
  threads: number;
  /** The longest one mapping's render may take, in ms, counted from when a thread takes it. */
  deadlineMs: number;
  /** How long past the deadline a guarded render may overrun before its thread is terminated anyway. */
  graceMs?: number;
  /** Renders waiting for a thread, over all shops, before new ones are refused. */
  maxQueued?: number;
  /** How long a shop whose render hit the deadline keeps the strict cap and guarded renders. */
  suspectForMs?: number;
  /** Heap limit of each thread: a template that builds huge data ends its own render, not the process. */
  threadMemoryMb?: number;
  /** How long the pool stays idle (no render waiting or running) before its threads end; default 5 minutes. */
  idleMs?: number;
  /** Called each time idle threads were ended (tests wait for it). */
  onIdleEnd?: () => void;
  /** Lets tests end a thread mid-job (`hook: "exit"`). */
  testHooks?: boolean;
  /** The thread module; found next to this module or the build by default. */
  entry?: string;
  /** Called as each render is handed to a thread (tests observe the order of turns with it). */
  onDispatch?: (shop: string) => void;
}

/** A render's outcome, with the body's top-level `name` when the thread parsed the body's text (see renderDetailed). */
export interface RenderDetail {
  outcome: RenderOutcome;
  bodyName: string | null;
}

export interface RenderPoolStats {
  /** Threads started since the pool was made, replacements included. */
  started: number;
  /** Threads running now (0 after an idle spell, until the next render). */
  threads: number;
  /** Times the pool ended its threads after an idle spell. */
  idleEnds: number;
  /** Threads terminated because a render ran past its deadline. */
  stoppedAtDeadline: number;
  /** Threads that ended on their own while rendering. */
  crashed: number;
  waiting: number;
  inFlight: number;
}

interface Job {
  shop: string;
  message: RenderJobMessage;
  settle: (outcome: RenderOutcome, bodyName?: string | null) => void;
  fail: (error: Error) => void;
}

/** One shop's renders: those waiting for a thread and how many are running. Dropped when both are none. */
interface ShopTurns {
  waiting: Job[];
  running: number;
  lastTurn: number;
}

interface Slot {
  worker: Worker;
  progress: Int32Array;
  ready: boolean;
  job: Job | null;
  timer: NodeJS.Timeout | null;
  /** Set when the pool terminated the thread itself, so its exit is not a crash. */
  retired: boolean;
  lastError: Error | null;
  /** The thread's CPU time (µs) when it last went idle, as it reported; null when it cannot. */
  idleCpuUs: number | null;
  /** When the running job was handed over (ms, performance.now()). */
  startedAt: number;
}

const THREAD_FILE = "render-thread.ts";
const MAX_SUSPECTS = 10_000;
/** A render slowed by a busy machine may take this many times its CPU budget by the clock before it is stopped. */
const WALL_CLOCK_FACTOR = 8;
/** Shortest wait before looking at a render's CPU time again. */
const MIN_RECHECK_MS = 20;
/** How long an idle pool keeps its threads (RenderPoolOptions.idleMs). */
export const DEFAULT_IDLE_MS = 5 * 60_000;

/**
 * The thread is started from source with tsx. This module is either itself in app/mapping/ (tsx, vitest) or
 * bundled into build/server/index.js (npm start, the browser tests' and the benchmark's builds), so look beside
 * it, then up from it for app/mapping/, then under the working directory.
 */
export function findThreadEntry(from: string = import.meta.url, cwd: string = process.cwd()): string {
  const tried: string[] = [];
  let dir = dirname(fileURLToPath(from));
  for (let level = 0; level < 8; level++) {
    for (const candidate of [join(dir, THREAD_FILE), join(dir, "app", "mapping", THREAD_FILE)]) {
      if (existsSync(candidate)) return candidate;
      tried.push(candidate);
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  const fromCwd = join(cwd, "app", "mapping", THREAD_FILE);
  if (existsSync(fromCwd)) return fromCwd;
  throw new Error(
    `The mapping render thread (app/mapping/${THREAD_FILE}) was not found near ${fileURLToPath(from)} or in ${cwd}: ` +
      "start the app from its project folder, with app/ beside build/ (as `npm start` does).",
  );
}

export class RenderPool {
  private readonly threads: number;
  private readonly cap: number;
  private readonly deadlineMs: number;
  private readonly graceMs: number;
  private readonly maxQueued: number;
  private readonly suspectForMs: number;
  private readonly threadMemoryMb: number;
  private readonly testHooks: boolean;
  private readonly entry: string;
  private readonly onDispatch: ((shop: string) => void) | undefined;
  private readonly idleMs: number;
  private readonly onIdleEnd: (() => void) | undefined;
  private idleTimer: NodeJS.Timeout | null = null;
  private readonly slots: Slot[] = [];
  private readonly shops = new Map<string, ShopTurns>();
  /** Counts turns given; a shop's last turn orders who goes next. */
  private turn = 0;
  /** Shops whose render hit the deadline, until when (ms since the epoch). */
  private readonly suspects = new Map<string, number>();
  private waiting = 0;
  private running = 0;
  private nextId = 1;
  private referenced = false;
  private closed = false;
  private readonly counts = { started: 0, stoppedAtDeadline: 0, crashed: 0, idleEnds: 0 };
  private readyWaiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];

  constructor(options: RenderPoolOptions) {
    if (!Number.isInteger(options.threads) || options.threads < 1) throw new Error(`A render pool needs at least one thread (got ${options.threads}).`);
    this.threads = options.threads;
    this.cap = Math.max(1, Math.ceil(options.threads / 2));
    this.deadlineMs = options.deadlineMs;
    this.graceMs = options.graceMs ?? 1_000;
    this.maxQueued = options.maxQueued ?? 10_000;
    this.suspectForMs = options.suspectForMs ?? 10 * 60_000;
    this.threadMemoryMb = options.threadMemoryMb ?? 256;
    this.testHooks = options.testHooks ?? false;
    this.entry = options.entry ?? findThreadEntry();
    this.onDispatch = options.onDispatch;
    this.idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
    this.onIdleEnd = options.onIdleEnd;
  }

  /** Never rejects for template problems (those are `error` outcomes); rejects if the pool is closed or cannot start a thread. */
  render(mapping: MappingDefinition, input: RenderContextInput, hook?: "exit"): Promise<RenderOutcome> {
    return this.renderDetailed(mapping, input, hook).then((detail) => detail.outcome);
  }

  /**
   * `render`, with the body's top-level `name` as the thread read it when it parsed `bodyText` (null otherwise, or
   * when the render did not run), so that a caller holding only the text need not parse it for that.
   */
  renderDetailed(mapping: MappingDefinition, input: RenderContextInput, hook?: "exit"): Promise<RenderDetail> {
    if (this.closed) return Promise.reject(new Error("The mapping render pool is closed."));
    if (this.waiting >= this.maxQueued) {
      return Promise.resolve({
        outcome: {
          kind: "error",
          retryable: true,
          reason: `The app has ${this.waiting.toLocaleString("en-US")} mappings waiting to be rendered, so this one was not started: it will be tried again.`,
        },
        bodyName: null,
      });
    }
    const message: RenderJobMessage = {
      id: this.nextId++,
      mapping,
      topic: input.topic,
      shop: input.shop,
      order: input.order ?? null,
      fulfillment: input.fulfillment ?? null,
      guardMs: 0,
      ...(input.bodyText !== undefined ? { bodyText: input.bodyText } : { body: input.body }),
      ...(hook !== undefined ? { hook } : {}),
    };
    return new Promise<RenderDetail>((resolve, fail) => {
      const settle = (outcome: RenderOutcome, bodyName: string | null = null) => resolve({ outcome, bodyName });
      const job: Job = { shop: input.shop, message, settle, fail };
      const turns = this.shops.get(job.shop);
      if (turns) turns.waiting.push(job);
      else this.shops.set(job.shop, { waiting: [job], running: 0, lastTurn: 0 });
      this.waiting++;
      this.updateRef();
      while (this.slots.length < this.threads) this.spawn();
      this.dispatch();
    });
  }

  /** Starts the threads and resolves when all are ready (rejects if one cannot start). */
  warm(): Promise<void> {
    if (this.closed) return Promise.reject(new Error("The mapping render pool is closed."));
    while (this.slots.length < this.threads) this.spawn();
    if (this.allReady()) return Promise.resolve();
    // Kept alive until ready: a script that only awaits this must not exit first.
    this.slots.forEach((slot) => slot.worker.ref());
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  private allReady(): boolean {
    return this.slots.length >= this.threads && this.slots.every((slot) => slot.ready);
  }

  private settleReadyWaiters(error?: Error): void {
    if (error === undefined && !this.allReady()) return;
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    if (error === undefined && !this.referenced) this.slots.forEach((slot) => slot.worker.unref());
    if (error === undefined && !this.referenced) this.armIdleTimer();
    for (const waiter of waiters) {
      if (error === undefined) waiter.resolve();
      else waiter.reject(error);
    }
  }

  stats(): RenderPoolStats {
    return { ...this.counts, threads: this.slots.length, waiting: this.waiting, inFlight: this.running };
  }

  /** Ends every thread; renders still waiting or running are rejected. */
  async close(): Promise<void> {
    this.closed = true;
    this.clearIdleTimer();
    const closedError = () => new Error("The mapping render pool was closed before this render finished.");
    for (const turns of this.shops.values()) for (const job of turns.waiting) job.fail(closedError());
    this.shops.clear();
    this.waiting = 0;
    const slots = this.slots.splice(0);
    for (const slot of slots) {
      slot.retired = true;
      if (slot.timer) clearTimeout(slot.timer);
      if (slot.job) slot.job.fail(closedError());
      slot.job = null;
    }
    this.running = 0;
    this.settleReadyWaiters(new Error("The mapping render pool was closed."));
    await Promise.all(slots.map((slot) => slot.worker.terminate().catch(() => 0)));
  }

  private spawn(): void {
    const progress = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
    const workerData: RenderThreadData = { progress: progress.buffer as SharedArrayBuffer, testHooks: this.testHooks };
    const worker = new Worker(this.entry, {
      // tsx loads the thread's TypeScript and the tsconfig `~/` paths, as it does for `npm start` itself.
      execArgv: ["--import", "tsx"],
      workerData,
      resourceLimits: { maxOldGenerationSizeMb: this.threadMemoryMb },
    });
    const slot: Slot = { worker, progress, ready: false, job: null, timer: null, retired: false, lastError: null, idleCpuUs: null, startedAt: 0 };
    this.slots.push(slot);
    this.counts.started++;
    if (!this.referenced) worker.unref();
    worker.on("message", (message: RenderThreadMessage) => this.onMessage(slot, message));
    worker.on("error", (error) => {
      slot.lastError = error;
    });
    worker.on("exit", (code) => this.onExit(slot, code));
  }

  private onMessage(slot: Slot, message: RenderThreadMessage): void {
    if (slot.retired) return;
    slot.idleCpuUs = message.cpuUs ?? null;
    if (message.type === "ready") {
      slot.ready = true;
      this.settleReadyWaiters();
      this.dispatch();
      return;
    }
    const job = slot.job;
    if (job === null || job.message.id !== message.id) return;
    this.release(slot);
    if (message.type === "done") job.settle(message.outcome, message.bodyName ?? null);
    else job.fail(new Error(`Rendering the mapping "${job.message.mapping.eventType}" failed unexpectedly: ${message.message}`));
    this.dispatch();
  }

  /**
   * The render's time is up by the clock. Where Node can read the thread's CPU time, a render that has used less
   * CPU than its budget (the machine is busy, not the template) gets the rest, up to WALL_CLOCK_FACTOR times the
   * budget by the clock; otherwise it is stopped.
   */
  private onDeadline(slot: Slot, job: Job, budgetMs: number): void {
    if (slot.job !== job || slot.retired) return;
    const baseline = slot.idleCpuUs;
    const wallMs = performance.now() - slot.startedAt;
    if (baseline === null || typeof slot.worker.cpuUsage !== "function" || wallMs >= budgetMs * WALL_CLOCK_FACTOR) {
      this.stop(slot, job);
      return;
    }
    slot.worker.cpuUsage().then(
      (usage) => {
        if (slot.job !== job || slot.retired) return;
        const usedMs = (usage.user + usage.system - baseline) / 1000;
        if (usedMs >= budgetMs) this.stop(slot, job);
        else slot.timer = setTimeout(() => this.onDeadline(slot, job, budgetMs), Math.max(MIN_RECHECK_MS, budgetMs - usedMs));
      },
      (error: unknown) => {
        // A thread that is no longer running is ending on its own: its exit settles the job as a crash.
        const ended = typeof error === "object" && error !== null && "code" in error && error.code === "ERR_WORKER_NOT_RUNNING";
        if (!ended && slot.job === job && !slot.retired) this.stop(slot, job);
      },
    );
  }

  /** Stops a render for real: terminates its thread and puts a fresh one in its place. */
  private stop(slot: Slot, job: Job): void {
    const step = Atomics.load(slot.progress, 0);
    this.retire(slot);
    this.counts.stoppedAtDeadline++;
    this.markSuspect(job.shop);
    job.settle({ kind: "error", reason: deadlineReason(job.message.mapping, step, this.deadlineMs, job.message.topic) });
    if (!this.closed) this.spawn();
    this.dispatch();
  }

  private onExit(slot: Slot, code: number): void {
    if (slot.retired) return;
    const wasReady = slot.ready;
    const job = slot.job;
    const step = Atomics.load(slot.progress, 0);
    this.retire(slot);
    if (job !== null) {
      this.counts.crashed++;
      this.markSuspect(job.shop);
      job.settle({ kind: "error", retryable: true, reason: this.crashReason(job, step, slot.lastError, code) });
    }
    if (!wasReady) {
      // A thread that cannot start will not start on a retry either: fail what waits rather than loop. The next
      // render tries again, so a passing problem (a full disk, say) does not stop rendering for good.
      const startable = this.slots.some((other) => !other.retired);
      if (!startable) {
        const reason = slot.lastError?.message ?? `it exited with code ${code}`;
        const error = new Error(`Mappings cannot be rendered: the render thread did not start (${reason}).`);
        this.failWaiting(error);
        this.settleReadyWaiters(error);
      }
      return;
    }
    if (!this.closed) this.spawn();
    this.dispatch();
  }

  private crashReason(job: Job, step: number, error: Error | null, code: number): string {
    const outOfMemory = error !== null && "code" in error && error.code === "ERR_WORKER_OUT_OF_MEMORY";
    if (outOfMemory) {
      const where = step === RenderStep.none ? `The mapping "${job.message.mapping.eventType}"` : "This mapping";
      return `${where} used more than ${this.threadMemoryMb} MB while rendering, so it was stopped: loop over fewer items or build less text.`;
    }
    return (
      `The thread rendering the mapping "${job.message.mapping.eventType}" stopped unexpectedly (${error?.message ?? `exit code ${code}`}). ` +
      "It will be tried again; if this keeps happening, simplify the mapping's templates."
    );
  }

  private failWaiting(error: Error): void {
    for (const [shop, turns] of this.shops) {
      for (const job of turns.waiting) job.fail(error);
      turns.waiting = [];
      if (turns.running === 0) this.shops.delete(shop);
    }
    this.waiting = 0;
    this.updateRef();
  }

  /** Takes the slot out of the pool and terminates its thread (a no-op for one that already exited). */
  private retire(slot: Slot): void {
    slot.retired = true;
    if (slot.job) this.release(slot);
    const index = this.slots.indexOf(slot);
    if (index >= 0) this.slots.splice(index, 1);
    slot.worker.terminate().catch(() => 0);
  }

  private release(slot: Slot): void {
    const job = slot.job;
    if (job === null) return;
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = null;
    slot.job = null;
    this.running--;
    const turns = this.shops.get(job.shop);
    if (turns) {
      turns.running--;
      if (turns.running === 0 && turns.waiting.length === 0) this.shops.delete(job.shop);
    }
    this.updateRef();
  }

  private isSuspect(shop: string): boolean {
    const until = this.suspects.get(shop);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.suspects.delete(shop);
    return false;
  }

  private markSuspect(shop: string): void {
    this.suspects.delete(shop);
    this.suspects.set(shop, Date.now() + this.suspectForMs);
    if (this.suspects.size > MAX_SUSPECTS) {
      const oldest = this.suspects.keys().next();
      if (oldest.done !== true) this.suspects.delete(oldest.value);
    }
  }

  /** Past its cap a shop waits while any other shop has work, and always once it has needed the deadline. */
  private mayStart(shop: string, turns: ShopTurns, shopsWaiting: number): boolean {
    if (turns.running < this.cap) return true;
    return shopsWaiting === 1 && !this.isSuspect(shop);
  }

  /** Round-robin: of the shops allowed to start one more, the one whose last turn is oldest (never served first). */
  private nextJob(): Job | null {
    let shopsWaiting = 0;
    for (const turns of this.shops.values()) if (turns.waiting.length > 0) shopsWaiting++;
    let chosen: ShopTurns | null = null;
    for (const [shop, turns] of this.shops) {
      if (turns.waiting.length === 0 || !this.mayStart(shop, turns, shopsWaiting)) continue;
      if (chosen === null || turns.lastTurn < chosen.lastTurn) chosen = turns;
    }
    const job = chosen?.waiting.shift();
    if (chosen === null || job === undefined) return null;
    chosen.lastTurn = ++this.turn;
    chosen.running++;
    this.waiting--;
    return job;
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (!slot.ready || slot.job !== null || slot.retired) continue;
      const job = this.nextJob();
      if (job === null) return;
      this.start(slot, job);
    }
  }

  private start(slot: Slot, job: Job): void {
    slot.job = job;
    this.running++;
    const guarded = this.isSuspect(job.shop);
    job.message.guardMs = guarded ? this.deadlineMs : 0;
    const budgetMs = guarded ? this.deadlineMs + this.graceMs : this.deadlineMs;
    slot.startedAt = performance.now();
    slot.timer = setTimeout(() => this.onDeadline(slot, job, budgetMs), budgetMs);
    slot.worker.postMessage(job.message);
    this.onDispatch?.(job.shop);
  }

  /** Threads keep the process alive only while renders wait or run, so scripts and test files can exit. */
  private updateRef(): void {
    const busy = this.waiting + this.running > 0;
    if (busy === this.referenced) return;
    this.referenced = busy;
    for (const slot of this.slots) {
      if (busy) slot.worker.ref();
      else slot.worker.unref();
    }
    if (busy) this.clearIdleTimer();
    else this.armIdleTimer();
  }

  private clearIdleTimer(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }

  private armIdleTimer(): void {
    this.clearIdleTimer();
    if (this.closed || this.slots.length === 0) return;
    this.idleTimer = setTimeout(() => this.endIdleThreads(), this.idleMs);
    this.idleTimer.unref();
  }

  /** Nothing waited or ran for `idleMs`: the threads end, and the next render starts new ones. */
  private endIdleThreads(): void {
    this.idleTimer = null;
    // Still starting for a `warm` caller, or busy again: the next idle spell is counted from then.
    if (this.closed || this.waiting + this.running > 0 || this.readyWaiters.length > 0) return;
    const slots = [...this.slots];
    if (slots.length === 0) return;
    for (const slot of slots) this.retire(slot);
    this.counts.idleEnds++;
    this.onIdleEnd?.();
  }
}
