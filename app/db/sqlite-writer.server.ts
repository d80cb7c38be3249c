/**
 * Writes to SQLite from the hot paths (webhook ingest, delivery claims and outcomes) in groups: every write asked
 * for while no group is being committed, at least those of one turn of the event loop, goes into one transaction,
 * so one commit covers them all, and each caller's promise settles after that commit (decision 021).
 *
 * The transaction runs on a worker thread that owns the write connection (same file, same pragmas and durability as
 * the main thread's connection), so a commit no longer stops the event loop; the WAL's checkpoints run on a thread
 * that one starts (decision 032). The connection does not busy-wait: when
 * another connection holds the lock, the group comes back as busy and is tried again a millisecond later, until a
 * write has waited its `lockWaitMs`, when it is refused with SQLITE_BUSY. If one write of a group fails, the others
 * are written one by one, so only that one is refused. If the thread dies, the writes it held are refused (never
 * reported written), and the next write starts a new thread.
 *
 * A write may also say it can wait a few milliseconds (`gatherMs`) for others to share its commit: a delivery's outcome,
 * which nothing waits on to send (decision 030, up to 10 ms), or a webhook (decision 040, up to 5 ms). Such writes are
 * committed when the oldest of them has waited its time, when GATHER_LIMIT are queued (or fewer, as a write's
 * `gatherCount` says), or at once with any write that cannot wait (a claim), whichever comes first (decision 035).
 *
 * SQLITE_WRITER=main runs the same transactions on the main thread instead (as before decision 021).
 */
import type Sqlite from "better-sqlite3";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { logger } from "~/logger.server";
import { CATCH_UP_PAGES, sqliteCheckpointsModeFromEnv, type CheckpointResult, type CheckpointsMode } from "./sqlite-checkpoints";
import { groupRunner, type GroupItem, type ItemOutcome, type SqliteWriteKind, type SqliteWriteKinds } from "./sqlite-write-kinds";
import type { PlainError, WriterReply, WriterRequest, WriterThreadData } from "./sqlite-writer-protocol";

export interface SqliteWriterOptions {
  /** "thread" (the default) commits on a worker thread; "main" on the caller's thread. */
  mode?: "thread" | "main";
  /** Lets tests hold or end the thread inside a transaction (the "test:" kinds). */
  testHooks?: boolean;
  /** The thread module; found next to this module or the build by default. */
  entry?: string;
  /** Where the WAL's checkpoints run (decision 032); SQLITE_CHECKPOINTS by default. Only with a thread. */
  checkpoints?: CheckpointsMode;
  /** The WAL's size past which the writer catches up after a checkpoint (decision 042): CATCH_UP_PAGES, lower in tests. */
  catchUpPages?: number;
}

/** What the writer's thread reports about its checkpointer (decision 032). */
export type CheckpointEvent =
  | { type: "checkpoint"; result: CheckpointResult }
  /** The writer's catch-up after a checkpoint of a large WAL (decision 042). */
  | { type: "catch-up"; result: CheckpointResult }
  | { type: "checkpointer-ended"; reason: string };

/** Writes that may wait for others (`gatherMs`) are committed at once when this many are queued. */
export const GATHER_LIMIT = 64;

export interface WriteOptions {
  /** How long this write may wait for others to share its commit; 0 (the default) commits as soon as it can. */
  gatherMs?: number;
  /**
   * With gatherMs: once this many writes are queued, this one waits no longer (GATHER_LIMIT by default). A sender
   * that waits for answers before it sends again (a few connections, each one request at a time) has no more to
   * send while its requests wait here: waiting out the time would only idle the writer.
   */
  gatherCount?: number;
}

interface Pending {
  kind: SqliteWriteKind;
  item: unknown;
  since: number;
  lockWaitMs: number;
  resolve: (result: unknown) => void;
  reject: (error: unknown) => void;
}

interface Executor {
  run(group: GroupItem[]): Promise<ItemOutcome[]>;
  listeners: Set<(event: CheckpointEvent) => void>;
  warm(): Promise<void>;
  close(): Promise<void>;
}

export class SqliteWriter {
  private queue: Pending[] = [];
  /** Queued writes that cannot wait for others. */
  private urgent = 0;
  /** When the oldest queued write that can wait must be committed. */
  private gatherDeadline = Infinity;
  /** The queue's length at which it is committed at once: the least gatherCount of the writes in it. */
  private gatherCount = GATHER_LIMIT;
  private gatherTimer: ReturnType<typeof setTimeout> | null = null;
  private scheduled = false;
  private inFlight = false;
  private closed = false;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly executor: Executor) {}

  /** Settles after the commit that holds `item`, with what its write returned, or with why it was refused. */
  write<K extends SqliteWriteKind>(kind: K, item: SqliteWriteKinds[K]["item"], lockWaitMs: number, options: WriteOptions = {}): Promise<SqliteWriteKinds[K]["result"]> {
    return new Promise((resolve, reject) => {
      if (this.closed) {
        reject(new Error("The SQLite writer is closed."));
        return;
      }
      const since = Date.now();
      const gatherMs = options.gatherMs ?? 0;
      if (gatherMs > 0) {
        this.gatherDeadline = Math.min(this.gatherDeadline, since + gatherMs);
        this.gatherCount = Math.min(this.gatherCount, options.gatherCount ?? GATHER_LIMIT);
      } else this.urgent++;
      this.queue.push({ kind, item, since, lockWaitMs, resolve: resolve as (result: unknown) => void, reject });
      this.plan();
    });
  }

  /** Resolves once nothing is queued, scheduled or being committed. What waits for others is committed now. */
  drain(): Promise<void> {
    if (this.idle()) return Promise.resolve();
    this.gatherDeadline = -Infinity;
    this.plan();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Starts the thread, if there is one, ahead of the first write: it takes a moment (tsx) on a busy machine. */
  warm(): Promise<void> {
    return this.executor.warm();
  }

  /** Drains, then stops the thread. Later writes are refused. */
  async close(): Promise<void> {
    await this.drain();
    this.closed = true;
    await this.executor.close();
  }

  /** Whether a checkpointer thread does this file's checkpoints (decision 032), rather than SQLite's rule on each connection. */
  get checkpointsOnThread(): boolean {
    return this.executor instanceof ThreadExecutor && this.executor.checkpoints === "thread";
  }

  /** Calls `listener` with each checkpoint the checkpointer thread reports, and if it ends; returns the unsubscribe. */
  onCheckpointEvent(listener: (event: CheckpointEvent) => void): () => void {
    this.executor.listeners.add(listener);
    return () => this.executor.listeners.delete(listener);
  }

  /** Tests: ends the thread as a crash would, whatever it is doing. */
  async terminateThreadForTests(): Promise<void> {
    if (!(this.executor instanceof ThreadExecutor)) throw new Error("This SQLite writer has no thread.");
    await this.executor.terminate();
  }

  private idle() {
    return this.queue.length === 0 && !this.scheduled && !this.inFlight;
  }

  /** Commits the queue as soon as it can, or when the writes in it have gathered long enough. */
  private plan() {
    if (this.inFlight || this.scheduled || this.queue.length === 0) return;
    const wait = this.gatherDeadline - Date.now();
    if (this.urgent > 0 || this.queue.length >= this.gatherCount || wait <= 0) {
      this.schedule(0);
      return;
    }
    // Set for the oldest waiting write, whose time is up first; the timer's own turn commits (flush waits for a
    // group still committing, which plans again when it ends).
    this.gatherTimer ??= setTimeout(() => {
      this.gatherTimer = null;
      this.flush();
    }, wait);
  }

  private schedule(delayMs: number) {
    if (this.scheduled) return;
    if (this.gatherTimer !== null) {
      clearTimeout(this.gatherTimer);
      this.gatherTimer = null;
    }
    this.scheduled = true;
    const run = () => {
      this.scheduled = false;
      this.flush();
    };
    if (delayMs > 0) setTimeout(run, delayMs);
    else setImmediate(run);
  }

  /** One group at a time: what is asked while it commits waits for it and goes into the next. */
  private flush() {
    if (this.inFlight) return;
    const group = this.queue;
    if (group.length === 0) {
      this.notifyIfIdle();
      return;
    }
    this.queue = [];
    this.urgent = 0;
    this.gatherDeadline = Infinity;
    this.gatherCount = GATHER_LIMIT;
    this.inFlight = true;
    this.executor
      .run(group.map((pending) => ({ kind: pending.kind, item: pending.item })))
      .then(
        (outcomes) => this.settle(group, outcomes),
        (error: unknown) => group.forEach((pending) => pending.reject(error)),
      )
      .finally(() => {
        this.inFlight = false;
        if (this.queue.length > 0) this.plan();
        else this.notifyIfIdle();
      });
  }

  private settle(group: Pending[], outcomes: ItemOutcome[]) {
    const now = Date.now();
    const waiting: Pending[] = [];
    group.forEach((pending, i) => {
      const outcome = outcomes[i];
      if (outcome === undefined) pending.reject(new Error("The SQLite writer returned no outcome for this write."));
      else if (outcome.ok) pending.resolve(outcome.value);
      else if (outcome.busy && now - pending.since < pending.lockWaitMs) waiting.push(pending);
      else pending.reject(outcome.error);
    });
    if (waiting.length > 0) {
      // Tried again a millisecond from now, with what came in meanwhile.
      this.urgent += waiting.length;
      this.queue = [...waiting, ...this.queue];
      this.schedule(1);
    }
  }

  private notifyIfIdle() {
    if (!this.idle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    waiters.forEach((resolve) => resolve());
  }
}

/** SQLITE_WRITER=main: the transaction on the caller's thread and connection. */
class MainThreadExecutor implements Executor {
  /** SQLite's own rule checkpoints on this connection: no events. */
  readonly listeners = new Set<(event: CheckpointEvent) => void>();
  private readonly runGroup: (group: readonly GroupItem[]) => ItemOutcome[];

  constructor(db: Sqlite.Database, testHooks: boolean) {
    this.runGroup = groupRunner(db, testHooks);
  }

  async run(group: GroupItem[]) {
    return this.runGroup(group);
  }

  async warm() {}

  async close() {}
}

interface Thread {
  worker: Worker;
  ready: Promise<void>;
  /** Groups sent and not answered, by id. */
  waiting: Map<number, { resolve: (outcomes: ItemOutcome[]) => void; reject: (error: Error) => void }>;
  lastError: Error | null;
  /** Why it ended, once it has. */
  ended: Error | null;
}

class ThreadExecutor implements Executor {
  readonly listeners = new Set<(event: CheckpointEvent) => void>();
  private thread: Thread | null = null;
  private nextId = 1;

  constructor(
    private readonly file: string,
    private readonly entry: string,
    private readonly testHooks: boolean,
    readonly checkpoints: CheckpointsMode,
    private readonly catchUpPages: number,
  ) {}

  async run(group: GroupItem[]): Promise<ItemOutcome[]> {
    const thread = this.thread ?? this.start();
    // Keeps the process alive while a write waits for the thread or its commit.
    thread.worker.ref();
    try {
      await thread.ready;
    } catch (error) {
      this.unrefIfIdle(thread);
      throw error;
    }
    if (thread.ended) throw thread.ended;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      thread.waiting.set(id, { resolve, reject });
      thread.worker.postMessage({ id, group } satisfies WriterRequest);
    });
  }

  async warm() {
    await (this.thread ?? this.start()).ready;
  }

  async close() {
    const thread = this.thread;
    this.thread = null;
    if (thread) await thread.worker.terminate();
  }

  async terminate() {
    await this.thread?.worker.terminate();
  }

  private unrefIfIdle(thread: Thread) {
    if (thread.waiting.size === 0) thread.worker.unref();
  }

  private start(): Thread {
    const worker = new Worker(this.entry, {
      // tsx loads the thread's TypeScript and the tsconfig `~/` paths, as it does for `npm start` itself.
      execArgv: ["--import", "tsx"],
      workerData: { file: this.file, testHooks: this.testHooks, checkpoints: this.checkpoints, catchUpPages: this.catchUpPages } satisfies WriterThreadData,
    });
    worker.unref();
    let markReady: () => void = () => {};
    let failReady: (error: Error) => void = () => {};
    const ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      failReady = reject;
    });
    // Awaited by run(); a thread that dies before anyone waits must not be an unhandled rejection.
    ready.catch(() => {});
    const thread: Thread = { worker, ready, waiting: new Map(), lastError: null, ended: null };
    this.thread = thread;
    worker.on("message", (reply: WriterReply) => {
      if (reply.type === "ready") {
        markReady();
        return;
      }
      if (reply.type === "checkpoint" || reply.type === "catch-up" || reply.type === "checkpointer-ended") {
        // For operators and bench/micro/ingest-tail.ts: when the WAL was copied back, and how long it took.
        if (reply.type !== "checkpointer-ended") logger.debug({ ...reply.result, kind: reply.type }, "SQLite WAL checkpoint");
        // The writer checkpoints for itself again, as before decision 032: nothing is at risk, but it is slower.
        if (reply.type === "checkpointer-ended") {
          logger.warn(
            { reason: reply.reason },
            "SQLite checkpointer thread ended: no write is affected, the writer thread checkpoints the WAL itself (slower ingest); restart the app to start it again",
          );
        }
        this.listeners.forEach((listener) => listener(reply));
        return;
      }
      const waiter = thread.waiting.get(reply.id);
      if (!waiter) return;
      thread.waiting.delete(reply.id);
      this.unrefIfIdle(thread);
      waiter.resolve(reply.outcomes.map((outcome) => (outcome.ok ? outcome : { ok: false, busy: outcome.busy, error: rebuild(outcome.error) })));
    });
    worker.on("error", (error) => {
      thread.lastError = error;
    });
    worker.on("exit", (code) => {
      const why = thread.lastError ? `: ${thread.lastError.message}` : "";
      const error = new Error(`The SQLite writer thread stopped (exit code ${code}${why}) before it confirmed these writes.`);
      thread.ended = error;
      if (this.thread === thread) this.thread = null;
      failReady(error);
      for (const waiter of thread.waiting.values()) waiter.reject(error);
      thread.waiting.clear();
    });
    return thread;
  }
}

/** The thread's error as an Error with the same name, message and code (SQLITE_BUSY, SQLITE_CONSTRAINT_…). */
function rebuild(plain: PlainError): Error {
  const error = new Error(plain.message);
  error.name = plain.name;
  if (plain.code !== undefined) Object.assign(error, { code: plain.code });
  return error;
}

const THREAD_FILE = "sqlite-writer-thread.ts";

/**
 * The thread is started from source with tsx. This module is either itself in app/db/ (tsx, vitest) or bundled
 * into build/server/index.js (npm start, the browser tests' and the benchmark's builds), so look beside it, then up
 * from it for app/db/, then under the working directory.
 */
export function findWriterThreadEntry(from: string = import.meta.url, cwd: string = process.cwd()): string {
  let dir = dirname(fileURLToPath(from));
  for (let level = 0; level < 8; level++) {
    for (const candidate of [join(dir, THREAD_FILE), join(dir, "app", "db", THREAD_FILE)]) {
      if (existsSync(candidate)) return candidate;
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  const fromCwd = join(cwd, "app", "db", THREAD_FILE);
  if (existsSync(fromCwd)) return fromCwd;
  throw new Error(
    `The SQLite writer thread (app/db/${THREAD_FILE}) was not found near ${fileURLToPath(from)} or in ${cwd}: ` +
      "start the app from its project folder, with app/ beside build/ (as `npm start` does).",
  );
}

/** SQLITE_WRITER: "thread" (default) or "main". */
export function sqliteWriterModeFromEnv(value: string | undefined = process.env.SQLITE_WRITER): "thread" | "main" {
  if (value === undefined || value === "" || value === "thread") return "thread";
  if (value === "main") return "main";
  throw new Error(`SQLITE_WRITER must be "thread" or "main" (got "${value}").`);
}

export function openSqliteWriter(db: Sqlite.Database, options: SqliteWriterOptions = {}): SqliteWriter {
  const mode = options.mode ?? sqliteWriterModeFromEnv();
  const testHooks = options.testHooks ?? false;
  // An in-memory database is this connection's alone: no other thread can open it.
  if (mode === "main" || db.memory) return new SqliteWriter(new MainThreadExecutor(db, testHooks));
  const checkpoints = options.checkpoints ?? sqliteCheckpointsModeFromEnv();
  return new SqliteWriter(new ThreadExecutor(db.name, options.entry ?? findWriterThreadEntry(), testHooks, checkpoints, options.catchUpPages ?? CATCH_UP_PAGES));
}

const writers = new WeakMap<Sqlite.Database, SqliteWriter>();

/** The one writer of this driver connection's database file, shared by its stores. */
export function sqliteWriterOf(driver: { db: Sqlite.Database }): SqliteWriter {
  let writer = writers.get(driver.db);
  if (!writer) {
    writer = openSqliteWriter(driver.db);
    writers.set(driver.db, writer);
  }
  return writer;
}

/** Drains and stops the driver's writer, if it has one; before its connection closes. */
export async function closeSqliteWriterOf(driver: { db: Sqlite.Database }): Promise<void> {
  const writer = writers.get(driver.db);
  writers.delete(driver.db);
  await writer?.close();
}
