/**
 * When the WAL's checkpoints run, and where (decision 032). SQLite's own rule (`wal_autocheckpoint`, 1,000 pages)
 * makes the connection whose commit crosses the mark copy the WAL's pages back into the database file and fsync
 * both, inside that commit: on the writer thread, every webhook and claim queued behind it waits. With
 * SQLITE_CHECKPOINTS=thread (the default) a thread of the writer's own does it on a connection of its own, in
 * PASSIVE mode, which never blocks the writer. The writer asks for one every CHECKPOINT_EVERY_WRITES writes (a webhook
 * counting as INGEST_WRITE_WEIGHT, decision 043), and keeps a backstop of its own, far above, in case the checkpointer
 * falls behind or is gone. Past CATCH_UP_PAGES the writer finishes a checkpoint the checkpointer started, so that the
 * WAL starts over (decision 042).
 *
 * Imported by the writer thread: this module must not import the rest of the app.
 */

/**
 * A checkpoint is asked for every this many writes, a webhook counting as INGEST_WRITE_WEIGHT (decision 043): 50
 * webhooks, about 750 WAL pages (an order webhook is about 15 pages with its rows and indexes), or 200 of the
 * worker's outcomes and claims, which are a few pages each.
 */
export const CHECKPOINT_EVERY_WRITES = 200;

/**
 * What a webhook's write counts for towards the next checkpoint (decision 043). Counted as one, 200 webhooks made
 * 3,000 pages, 12 MB, and each checkpoint's syncs stalled the commits that met them. Outcomes and claims stay at one:
 * more checkpoints of their few pages cost the worker CPU for no gain.
 */
export const INGEST_WRITE_WEIGHT = 4;

/** How much a committed group counts towards the next checkpoint. */
export function checkpointWeight(group: ReadonlyArray<{ kind: string }>): number {
  let weight = 0;
  for (const { kind } of group) weight += kind === "ingest" ? INGEST_WRITE_WEIGHT : 1;
  return weight;
}
/** SQLite's default `wal_autocheckpoint`: what the writer goes back to when it checkpoints for itself. */
export const SQLITE_AUTOCHECKPOINT_PAGES = 1_000;
/**
 * The writer's own mark while the checkpointer runs (40 MB of WAL with 4 KB pages). Under steady writes the WAL is
 * restarted only by a checkpoint that has caught up before the next commit, which a concurrent checkpointer rarely
 * has; at this mark the writer checkpoints what little is left and the WAL starts over.
 */
export const WRITER_BACKSTOP_PAGES = 10_000;

/**
 * When the checkpointer answers with a WAL of this many pages or more, the writer copies what was committed while it
 * ran, at once, on its own connection (decision 042): then the WAL is wholly copied back with no commit since, and
 * the next commit starts it over. Left to the backstop, the writer's catch-up came inside a commit and copied up to
 * 200 webhooks' pages (decision 043 has since made that 50), a stop of 17 to 38 ms every 0.6 s at 1,000 webhooks/s; at
 * this moment it is the few hundred pages of the checkpointer's own run. Below the backstop, so that one is rarely
 * reached.
 */
export const CATCH_UP_PAGES = 8_000;

/** Whether the writer catches up after the checkpointer's `result` (decision 042). */
export function catchesUp(result: CheckpointResult, mark: number = CATCH_UP_PAGES): boolean {
  return !result.busy && result.walPages >= mark;
}

export type CheckpointsMode = "thread" | "writer";

/**
 * SQLITE_CHECKPOINTS: "thread" (the default) or "writer" (SQLite's own rule, on the writer's connection). It was
 * "writer" for a while, when the backfill reliability suite's app went past its 300 MB bound with or without the
 * checkpointer; that memory was mostly the render threads', which now start only when needed (decision 033).
 */
export function sqliteCheckpointsModeFromEnv(value: string | undefined = process.env.SQLITE_CHECKPOINTS): CheckpointsMode {
  if (value === undefined || value === "" || value === "thread") return "thread";
  if (value === "writer") return "writer";
  throw new Error(`SQLITE_CHECKPOINTS must be "thread" or "writer" (got "${value}").`);
}

/** One PASSIVE checkpoint's answer: the WAL's pages, those now in the database file, and whether it met a lock. */
export interface CheckpointResult {
  busy: boolean;
  walPages: number;
  checkpointedPages: number;
  ms: number;
}

export interface CheckpointerData {
  file: string;
  /** better-sqlite3's entry, resolved by the writer thread. */
  driver: string;
}

/**
 * The checkpointer thread's whole program, started with `eval` rather than from a TypeScript file through tsx: it
 * needs only the driver, and tsx's loader would cost the thread about 8 MB more. On a connection of its own (no busy
 * wait and WAL, as openSqliteConnection; `synchronous` is left at SQLite's default, which syncs a checkpoint as
 * NORMAL does, and this connection commits nothing), it never checkpoints by SQLite's rule, since it writes
 * nothing, and runs a PASSIVE checkpoint each time the writer asks, answering a CheckpointerMessage. It names its
 * thread for `top -H` and the bench, as thread-name.ts does for the others.
 */
export const CHECKPOINTER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
try { require("node:fs").writeFileSync("/proc/thread-self/comm", "sqlite-ckpt"); } catch {}
const Sqlite = require(workerData.driver);
const db = new Sqlite(workerData.file, { timeout: 0 });
db.pragma("journal_mode = WAL");
db.pragma("wal_autocheckpoint = 0");
parentPort.on("message", () => {
  const started = performance.now();
  let reply;
  try {
    const row = db.pragma("wal_checkpoint(PASSIVE)")[0] || {};
    reply = { type: "checkpointed", result: { busy: row.busy === 1, walPages: row.log || 0, checkpointedPages: row.checkpointed || 0, ms: performance.now() - started } };
  } catch (error) {
    reply = { type: "failed", message: error instanceof Error ? error.message : String(error) };
  }
  parentPort.postMessage(reply);
});
`;

export type CheckpointerMessage = { type: "checkpointed"; result: CheckpointResult } | { type: "failed"; message: string };

/**
 * Counts the writes committed since the last checkpoint was asked for, and says when to ask for the next: every
 * `every` writes, never while one is still running (a slow disk gets one checkpoint at a time, not a queue).
 */
export class CheckpointSchedule {
  private since = 0;
  private running = false;

  constructor(private readonly every: number = CHECKPOINT_EVERY_WRITES) {}

  /** `count` writes were committed; true when a checkpoint should be asked for now (it is then counted as running). */
  committed(count: number): boolean {
    this.since += count;
    if (this.running || this.since < this.every) return false;
    this.since = 0;
    this.running = true;
    return true;
  }

  /** The checkpoint asked for has answered (done, busy or failed). */
  answered(): void {
    this.running = false;
  }
}
