/**
 * The SQLite writer thread: owns the driver's write connection and commits each group the writer
 * (sqlite-writer.server.ts) sends, so the commit waits here rather than on the app's event loop (decision 021).
 * The WAL's checkpoints run on a thread of its own that this one starts (decision 032). Started with
 * `--import tsx`, from source, as the render threads are (decision 009).
 */
import { createRequire } from "node:module";
import { parentPort, Worker, workerData } from "node:worker_threads";
import { nameThisThread } from "../thread-name";
import {
  catchesUp,
  CHECKPOINTER_SOURCE,
  checkpointWeight,
  CheckpointSchedule,
  SQLITE_AUTOCHECKPOINT_PAGES,
  WRITER_BACKSTOP_PAGES,
  type CheckpointerData,
  type CheckpointerMessage,
} from "./sqlite-checkpoints";
import { openSqliteConnection } from "./sqlite-connection";
import { groupRunner } from "./sqlite-write-kinds";
import type { WriterReply, WriterRequest, WriterThreadData } from "./sqlite-writer-protocol";

const port = parentPort;
if (port === null) throw new Error("sqlite-writer-thread.ts runs only as a worker thread started by the SQLite writer");
nameThisThread("sqlite-writer");
const data = workerData as WriterThreadData;
const db = openSqliteConnection(data.file);

/**
 * The checkpointer thread and when to ask it. If it fails to start or dies, the writer's connection goes back to
 * SQLite's own rule, so the WAL is checkpointed as before decision 032 and never grows without bound.
 */
function startCheckpointer(): { schedule: CheckpointSchedule; worker: Worker } {
  const schedule = new CheckpointSchedule();
  const worker = new Worker(CHECKPOINTER_SOURCE, {
    eval: true,
    workerData: { file: data.file, driver: createRequire(import.meta.url).resolve("better-sqlite3") } satisfies CheckpointerData,
  });
  // It never keeps the writer thread alive; the writer's own life decides (and ends it).
  worker.unref();
  let ended = false;
  const end = (reason: string) => {
    if (ended) return;
    ended = true;
    checkpointer = null;
    db.pragma(`wal_autocheckpoint = ${SQLITE_AUTOCHECKPOINT_PAGES}`);
    send({ type: "checkpointer-ended", reason });
  };
  worker.on("message", (message: CheckpointerMessage) => {
    schedule.answered();
    if (message.type === "checkpointed") {
      send({ type: "checkpoint", result: message.result });
      if (catchesUp(message.result, data.catchUpPages)) catchUp();
      return;
    }
    end(`a checkpoint failed: ${message.message}`);
    // Not asked again, so not left running either.
    void worker.terminate();
  });
  worker.on("error", (error) => end(error.message));
  worker.on("exit", (code) => end(`it exited with code ${code}`));
  db.pragma(`wal_autocheckpoint = ${WRITER_BACKSTOP_PAGES}`);
  return { schedule, worker };
}

/**
 * Copies back what was committed while the checkpointer ran, before any other commit (decision 042): the WAL is then
 * wholly in the database file, and the next commit starts it over from its beginning instead of growing it to the
 * backstop. A catch-up that fails or meets a lock costs nothing but the wait for the next one, or the backstop.
 */
function catchUp() {
  const started = performance.now();
  try {
    const row = (db.pragma("wal_checkpoint(PASSIVE)") as Array<{ busy?: number; log?: number; checkpointed?: number }>)[0] ?? {};
    send({ type: "catch-up", result: { busy: row.busy === 1, walPages: row.log ?? 0, checkpointedPages: row.checkpointed ?? 0, ms: performance.now() - started } });
  } catch {
    // Nothing was at risk: a checkpoint only copies committed pages.
  }
}

function send(reply: WriterReply) {
  port!.postMessage(reply);
}

let checkpointer = data.checkpoints === "thread" ? startCheckpointer() : null;
const runGroup = groupRunner(db, data.testHooks, { endCheckpointer: () => void checkpointer?.worker.terminate() });

/** Errors cross to the main thread as plain data; name and code are what callers look at. */
function plain(error: unknown) {
  if (error instanceof Error) {
    const code = "code" in error && typeof error.code === "string" ? error.code : undefined;
    return { name: error.name, message: error.message, ...(code !== undefined ? { code } : {}) };
  }
  return { name: "Error", message: String(error) };
}

port.on("message", (request: WriterRequest) => {
  const outcomes = runGroup(request.group).map((outcome) => (outcome.ok ? outcome : { ok: false as const, busy: outcome.busy, error: plain(outcome.error) }));
  send({ type: "done", id: request.id, outcomes });
  if (checkpointer?.schedule.committed(checkpointWeight(request.group))) checkpointer.worker.postMessage(null);
});
send({ type: "ready" });
