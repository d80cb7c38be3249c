/**
 * The SQLite writer thread: owns the driver's write connection and commits each group the writer
 * (sqlite-writer.server.ts) sends, so the commit's fsync waits here rather than on the app's event loop
 * (decision 021). Started with `--import tsx`, from source, as the render threads are (decision 009).
 */
import { parentPort, workerData } from "node:worker_threads";
import { nameThisThread } from "../thread-name";
import { openSqliteConnection } from "./sqlite-connection";
import { groupRunner } from "./sqlite-write-kinds";
import type { WriterReply, WriterRequest, WriterThreadData } from "./sqlite-writer-protocol";

const port = parentPort;
if (port === null) throw new Error("sqlite-writer-thread.ts runs only as a worker thread started by the SQLite writer");
nameThisThread("sqlite-writer");
const data = workerData as WriterThreadData;
const db = openSqliteConnection(data.file);
const runGroup = groupRunner(db, data.testHooks);

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
  const reply: WriterReply = { type: "done", id: request.id, outcomes };
  port.postMessage(reply);
});
port.postMessage({ type: "ready" } satisfies WriterReply);
