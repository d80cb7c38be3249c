/**
 * The SQLite checkpointer (decision 032): started by the writer thread, on a connection of its own to the same
 * file, it copies the WAL's committed pages back into the database file when the writer asks, in PASSIVE mode, so
 * the writer's commits go on meanwhile. It never checkpoints on its own (`wal_autocheckpoint = 0`): its
 * connection writes nothing.
 */
import { parentPort, workerData } from "node:worker_threads";
import { nameThisThread } from "../thread-name";
import { openSqliteConnection } from "./sqlite-connection";
import type { CheckpointerMessage } from "./sqlite-checkpoints";

const port = parentPort;
if (port === null) throw new Error("sqlite-checkpointer-thread.ts runs only as a worker thread started by the SQLite writer thread");
nameThisThread("sqlite-ckpt");
const db = openSqliteConnection((workerData as { file: string }).file);
db.pragma("wal_autocheckpoint = 0");

port.on("message", () => {
  let reply: CheckpointerMessage;
  const started = performance.now();
  try {
    const [row] = db.pragma("wal_checkpoint(PASSIVE)") as Array<{ busy: number; log: number; checkpointed: number }>;
    reply = {
      type: "checkpointed",
      result: { busy: row?.busy === 1, walPages: row?.log ?? 0, checkpointedPages: row?.checkpointed ?? 0, ms: performance.now() - started },
    };
  } catch (error) {
    reply = { type: "failed", message: error instanceof Error ? error.message : String(error) };
  }
  port.postMessage(reply);
});
