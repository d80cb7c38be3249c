/**
 * The SQLite writer's thread (decision 021) on the test file's real database: a write settles only after its
 * commit, a failing write is refused alone, a thread that dies refuses what it held and is replaced, and the
 * event loop keeps running while a large group commits.
 */
import Sqlite from "better-sqlite3";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { database, db } from "~/db.server";
import { WRITER_BACKSTOP_PAGES } from "~/db/sqlite-checkpoints";
import { openSqliteConnection } from "~/db/sqlite-connection";
import { findWriterThreadEntry, openSqliteWriter, sqliteWriterModeFromEnv, type SqliteWriter } from "~/db/sqlite-writer.server";
import { ensureShop } from "~/models/Shop.server";
import type { IngestRow } from "~/webhooks/ingest-sql";
import { ingestRow } from "../support/ingest-rows";
import { threadNames } from "../../bench/lib/cpu";

const SHOP = "sqlite-writer.myshopify.com";
const LOCK_WAIT_MS = 3_000;
const target = database().target;
const sqliteOnly = target.provider === "sqlite";

function file(): string {
  if (target.provider !== "sqlite") throw new Error("SQLite only");
  return target.file;
}

function row(n: number, overrides: Partial<IngestRow> = {}): IngestRow {
  return ingestRow(SHOP, n, { occurredAt: null, ...overrides });
}

/** Node 22 has it; the project's TypeScript lib (ES2022) does not declare it. */
interface AtomicsWithWaitAsync {
  waitAsync(array: Int32Array, index: number, value: number): { async: false; value: string } | { async: true; value: Promise<string> };
}

describe.runIf(sqliteOnly)("the SQLite writer thread", () => {
  let main: Sqlite.Database;
  let reader: Sqlite.Database;
  let writer: SqliteWriter;
  /** Read on a connection of its own, synchronously, so it sees exactly what was committed at that moment. */
  const committed = (orderId: string) => reader.prepare(`SELECT count(*) AS n FROM "Webhook" WHERE "orderId" = ?`).get(orderId) as { n: number };

  beforeAll(async () => {
    await ensureShop(db(), SHOP);
    main = openSqliteConnection(file());
    reader = new Sqlite(file(), { readonly: true });
    writer = openSqliteWriter(main, { mode: "thread", testHooks: true });
  });
  afterAll(async () => {
    await writer.close();
    main.close();
    reader.close();
  });
  beforeEach(async () => {
    await db().delivery.deleteMany();
    await db().webhook.deleteMany();
  });

  /** Queues a write that holds the thread inside its transaction; `inside` resolves once it is there. */
  function hold() {
    const signal = new SharedArrayBuffer(4);
    const state = new Int32Array(signal);
    const held = writer.write("test:hold", { signal }, LOCK_WAIT_MS);
    const waited = (Atomics as unknown as AtomicsWithWaitAsync).waitAsync(state, 0, 0);
    const inside = waited.async ? waited.value.then(() => undefined) : Promise.resolve();
    const release = () => {
      Atomics.store(state, 0, 2);
      Atomics.notify(state, 0);
    };
    return { held, inside, release };
  }

  it("is the default, and finds its entry from the source tree", () => {
    expect(sqliteWriterModeFromEnv(undefined)).toBe("thread");
    expect(sqliteWriterModeFromEnv("main")).toBe("main");
    expect(() => sqliteWriterModeFromEnv("threads")).toThrow(/SQLITE_WRITER/);
    const threadFile = join(process.cwd(), "app", "db", "sqlite-writer-thread.ts");
    expect(findWriterThreadEntry()).toBe(threadFile);
    // Bundled into the production build (npm start, the reliability suites' and the benchmark's builds).
    expect(findWriterThreadEntry(pathToFileURL(join(process.cwd(), "build", "server", "index.js")).href, "/")).toBe(threadFile);
    expect(findWriterThreadEntry(pathToFileURL(join(process.cwd(), ".tools", "bench", "build", "server", "index.js")).href, "/")).toBe(threadFile);
    expect(main.pragma("journal_mode", { simple: true })).toBe("wal");
  });

  it.runIf(process.platform === "linux")("names its thread for the operating system (top -H, the bench's per-thread CPU)", async () => {
    await writer.warm();
    expect([...threadNames(process.pid).values()]).toContain("sqlite-writer");
  });

  it("opens the thread's connection with the same durability as the main thread's", async () => {
    // Whatever `synchronous` the main connection has (NORMAL on a file already in WAL mode, with better-sqlite3's
    // build), the thread's connection has the same: moving the commit must not lower durability.
    expect(await writer.write("test:pragmas", null, LOCK_WAIT_MS)).toEqual({
      synchronous: main.pragma("synchronous", { simple: true }),
      journalMode: "wal",
      busyTimeout: 0,
      // Its checkpoints run on the checkpointer thread by default; this is only its backstop (decision 032).
      walAutocheckpoint: WRITER_BACKSTOP_PAGES,
    });
  });

  it("settles a write only once its row is readable from another connection", async () => {
    const { held, inside, release } = hold();
    let seenAtSettle: number | undefined;
    const recording = writer.write("ingest", row(1), LOCK_WAIT_MS).then((result) => {
      seenAtSettle = committed("1").n;
      return result;
    });
    await inside;
    // The group is inside its transaction on the thread: not committed, not settled.
    expect(committed("1").n).toBe(0);
    expect(seenAtSettle).toBeUndefined();
    release();
    expect(await recording).toMatchObject({ kind: "recorded" });
    await held;
    expect(seenAtSettle).toBe(1);
  });

  it("refuses only the write the database rejects, and commits the others of its group", async () => {
    const results = await Promise.allSettled([
      writer.write("ingest", row(21), LOCK_WAIT_MS),
      writer.write("ingest", row(22, { body: null as unknown as string }), LOCK_WAIT_MS),
      writer.write("ingest", row(23), LOCK_WAIT_MS),
    ]);
    expect(results.map((result) => result.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    // The error keeps better-sqlite3's name and code across the thread.
    expect(results[1]).toMatchObject({ reason: { name: "SqliteError", code: "SQLITE_CONSTRAINT_NOTNULL" } });
    expect([committed("21").n, committed("22").n, committed("23").n]).toEqual([1, 0, 1]);
  });

  it("refuses the writes a killed thread held, never reporting them written, and the next write starts a new thread", async () => {
    const { held, inside } = hold();
    const inFlight = writer.write("ingest", row(31), LOCK_WAIT_MS);
    await inside;
    await writer.terminateThreadForTests();
    await expect(held).rejects.toThrow(/SQLite writer thread stopped/);
    await expect(inFlight).rejects.toThrow(/SQLite writer thread stopped/);
    expect(committed("31").n).toBe(0);
    // The dead thread's transaction did not keep the write lock: a new thread writes at once.
    expect(await writer.write("ingest", row(32), LOCK_WAIT_MS)).toMatchObject({ kind: "recorded" });
    expect(committed("32").n).toBe(1);
  });

  it("refuses the writes of a thread that exits in the middle of a transaction, and writes again after", async () => {
    const crashed = Promise.allSettled([writer.write("ingest", row(41), LOCK_WAIT_MS), writer.write("test:exit", null, LOCK_WAIT_MS)]);
    const results = await crashed;
    expect(results.map((result) => result.status)).toEqual(["rejected", "rejected"]);
    expect(committed("41").n).toBe(0);
    expect(await writer.write("ingest", row(42), LOCK_WAIT_MS)).toMatchObject({ kind: "recorded" });
    expect(committed("42").n).toBe(1);
  });

  it("waits for another connection's lock, then writes; drain() settles after that commit", async () => {
    const other = new Sqlite(file());
    other.exec("BEGIN IMMEDIATE");
    const recording = writer.write("ingest", row(51), LOCK_WAIT_MS);
    const drained = writer.drain().then(() => committed("51").n);
    // Several busy answers come back from the thread, each retried a millisecond later.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(committed("51").n).toBe(0);
    other.exec("COMMIT");
    other.close();
    expect(await recording).toMatchObject({ kind: "recorded" });
    expect(await drained).toBe(1);
  });

  /**
   * The event loop's largest delay while one large group (webhooks with 4 KB bodies) is written, against the time
   * the group took. On the main thread (as before decision 021) the loop is stopped for the whole transaction; on the
   * thread only for handing the group over and taking the answers.
   */
  async function loopDelayWhileWriting(target: SqliteWriter, first: number, count: number) {
    const histogram = monitorEventLoopDelay({ resolution: 1 });
    const body = JSON.stringify({ note: "x".repeat(4_000) });
    histogram.enable();
    // Lets the histogram's timer start before the group is asked for.
    await new Promise((resolve) => setImmediate(resolve));
    const started = performance.now();
    const results = await Promise.all(Array.from({ length: count }, (_, i) => target.write("ingest", row(first + i, { body }), LOCK_WAIT_MS)));
    const elapsedMs = performance.now() - started;
    // One timer turn after the write, so that the histogram's own timer records a loop stopped until now.
    await new Promise((resolve) => setTimeout(resolve, 2));
    histogram.disable();
    expect(results.every((result) => result.kind === "recorded")).toBe(true);
    return { elapsedMs, maxDelayMs: histogram.max / 1e6 };
  }

  it("keeps the event loop running while a large group commits", async () => {
    const onMain = openSqliteWriter(main, { mode: "main" });
    const before = await loopDelayWhileWriting(onMain, 100_000, 3_000);
    await onMain.close();
    // The measure can tell: on the main thread the loop stood still for most of the write.
    expect(before.maxDelayMs).toBeGreaterThan(before.elapsedMs / 2);

    const after = await loopDelayWhileWriting(writer, 200_000, 3_000);
    expect(after.maxDelayMs).toBeLessThan(after.elapsedMs / 4);
  });
});
