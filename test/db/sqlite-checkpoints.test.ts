/**
 * The WAL's checkpoints on a thread of their own (decision 032), on the test file's real database: the writer asks
 * for one every CHECKPOINT_EVERY_WRITES writes and never queues a second behind a running one; the checkpointer's
 * connection copies the committed pages back while the writer goes on; if it dies, the writer checkpoints for itself
 * again by SQLite's own rule, and no write is lost either way.
 */
import Sqlite from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { database, db, warmWrites } from "~/db.server";
import {
  catchesUp,
  CATCH_UP_PAGES,
  CHECKPOINT_EVERY_WRITES,
  checkpointWeight,
  INGEST_WRITE_WEIGHT,
  CheckpointSchedule,
  SQLITE_AUTOCHECKPOINT_PAGES,
  sqliteCheckpointsModeFromEnv,
  WRITER_BACKSTOP_PAGES,
} from "~/db/sqlite-checkpoints";
import { openSqliteConnection } from "~/db/sqlite-connection";
import { openSqliteWriter, type CheckpointEvent, type SqliteWriter } from "~/db/sqlite-writer.server";
import { ensureShop } from "~/models/Shop.server";
import { ingestRow } from "../support/ingest-rows";
import { threadNames } from "../../bench/lib/cpu";

const SHOP = "sqlite-checkpoints.myshopify.com";
const LOCK_WAIT_MS = 3_000;
const target = database().target;
const sqliteOnly = target.provider === "sqlite";
/** Four 4 KB pages of body each, as an order's webhook has. */
const BODY = JSON.stringify({ note: "x".repeat(14_000) });

function file(): string {
  if (target.provider !== "sqlite") throw new Error("SQLite only");
  return target.file;
}

describe("CheckpointSchedule", () => {
  it("asks for a checkpoint once enough writes were committed, and never while one is running", () => {
    const schedule = new CheckpointSchedule(10);
    expect(schedule.committed(4)).toBe(false);
    expect(schedule.committed(5)).toBe(false);
    expect(schedule.committed(1)).toBe(true);
    // Running: however many writes follow, no second checkpoint is queued behind it.
    expect(schedule.committed(50)).toBe(false);
    expect(schedule.committed(50)).toBe(false);
    schedule.answered();
    // The writes made while it ran count towards the next one: here enough to ask at the next commit.
    expect(schedule.committed(1)).toBe(true);
    schedule.answered();
    expect(schedule.committed(9)).toBe(false);
    expect(schedule.committed(1)).toBe(true);
  });

  it("has the writer catch up only after a checkpoint that met no lock, of a WAL past the mark, which is below the backstop", () => {
    const result = (walPages: number, busy = false) => ({ busy, walPages, checkpointedPages: busy ? 0 : walPages, ms: 10 });
    expect(CATCH_UP_PAGES).toBeLessThan(WRITER_BACKSTOP_PAGES);
    expect(catchesUp(result(CATCH_UP_PAGES - 1))).toBe(false);
    expect(catchesUp(result(CATCH_UP_PAGES))).toBe(true);
    expect(catchesUp(result(CATCH_UP_PAGES, true))).toBe(false);
    expect(catchesUp(result(600), 500)).toBe(true);
  });

  it("counts a webhook's write as several towards the next checkpoint, and an outcome or a claim as one", () => {
    expect(INGEST_WRITE_WEIGHT).toBeGreaterThan(1);
    expect(checkpointWeight([{ kind: "ingest" }, { kind: "ingest" }])).toBe(2 * INGEST_WRITE_WEIGHT);
    expect(checkpointWeight([{ kind: "outcome" }, { kind: "claim" }, { kind: "ingest" }])).toBe(2 + INGEST_WRITE_WEIGHT);
    expect(checkpointWeight([])).toBe(0);
  });

  it("reads SQLITE_CHECKPOINTS, refusing a value it does not know", () => {
    expect(sqliteCheckpointsModeFromEnv(undefined)).toBe("thread");
    expect(sqliteCheckpointsModeFromEnv("")).toBe("thread");
    expect(sqliteCheckpointsModeFromEnv("writer")).toBe("writer");
    expect(sqliteCheckpointsModeFromEnv("thread")).toBe("thread");
    expect(() => sqliteCheckpointsModeFromEnv("threads")).toThrow(/SQLITE_CHECKPOINTS must be "thread" or "writer"/);
  });
});

describe.runIf(sqliteOnly)("the SQLite checkpointer thread", () => {
  let main: Sqlite.Database;
  let reader: Sqlite.Database;
  let next = 1_000_000;
  const stored = (from: number, to: number) =>
    (reader.prepare(`SELECT count(*) AS n FROM "Webhook" WHERE shop = ? AND CAST("orderId" AS INTEGER) BETWEEN ? AND ?`).get(SHOP, from, to) as { n: number }).n;

  beforeAll(async () => {
    await ensureShop(db(), SHOP);
    main = openSqliteConnection(file());
    reader = new Sqlite(file(), { readonly: true });
  });
  afterAll(() => {
    main.close();
    reader.close();
  });

  /** Writes `count` webhooks in groups of 25, as concurrent requests would; returns the first and last order ids. */
  async function writeWebhooks(writer: SqliteWriter, count: number): Promise<[number, number]> {
    const first = next;
    for (let done = 0; done < count; done += 25) {
      const results = await Promise.all(
        Array.from({ length: 25 }, () => writer.write("ingest", ingestRow(SHOP, next++, { body: BODY }), LOCK_WAIT_MS)),
      );
      expect(results.every((result) => result.kind === "recorded")).toBe(true);
    }
    return [first, next - 1];
  }

  /** A writer thread of its own for one test, closed after it whatever happens. */
  async function withWriter(checkpoints: "thread" | "writer", test: (writer: SqliteWriter) => Promise<void>, catchUpPages?: number): Promise<void> {
    const writer = openSqliteWriter(main, { mode: "thread", checkpoints, testHooks: true, ...(catchUpPages === undefined ? {} : { catchUpPages }) });
    try {
      await test(writer);
    } finally {
      await writer.close();
    }
  }

  function nextEvent(writer: SqliteWriter, type: CheckpointEvent["type"]): Promise<CheckpointEvent> {
    return new Promise((resolve) => {
      const stop = writer.onCheckpointEvent((event) => {
        if (event.type !== type) return;
        stop();
        resolve(event);
      });
    });
  }

  it("copies the WAL back on its own connection every so many writes, while the writer keeps only a backstop", () =>
    withWriter("thread", async (writer) => {
      const checkpointed = nextEvent(writer, "checkpoint");
      const [first, last] = await writeWebhooks(writer, CHECKPOINT_EVERY_WRITES / INGEST_WRITE_WEIGHT + 50);
      const event = await checkpointed;
      if (event.type !== "checkpoint") throw new Error("not a checkpoint");
      // The first checkpoint was asked for after CHECKPOINT_EVERY_WRITES / INGEST_WRITE_WEIGHT webhooks of four or more
      // pages each.
      expect(event.result.busy).toBe(false);
      expect(event.result.checkpointedPages).toBeGreaterThan((CHECKPOINT_EVERY_WRITES / INGEST_WRITE_WEIGHT) * 4);
      expect(event.result.checkpointedPages).toBeLessThanOrEqual(event.result.walPages);
      // Below the backstop, so this WAL was not one the writer would have checkpointed itself.
      expect(event.result.walPages).toBeLessThan(WRITER_BACKSTOP_PAGES);
      expect(stored(first, last)).toBe(last - first + 1);
      if (process.platform === "linux") expect([...threadNames(process.pid).values()]).toContain("sqlite-ckpt");
    }));

  it("catches up on the writer's connection after a checkpoint of a WAL past the mark, so the next commit starts the WAL over", () =>
    withWriter(
      "thread",
      async (writer) => {
        const events: CheckpointEvent[] = [];
        let changed: () => void = () => {};
        const stop = writer.onCheckpointEvent((event) => {
          events.push(event);
          changed();
        });
        /** Resolves once the events so far satisfy `done`: each event arrives from the writer thread, in its order. */
        const until = (done: () => boolean) =>
          new Promise<void>((resolve) => {
            changed = () => {
              if (done()) resolve();
            };
            changed();
          });
        const catchUpAt = () => events.findIndex((event) => event.type === "catch-up");
        // Webhooks (four pages or more each) until the WAL has passed the mark of 1,000 pages at a checkpoint and the
        // writer has caught up: however full the WAL was when the test began, within a few hundred.
        let first = 0;
        let last = 0;
        for (let written = 0; catchUpAt() === -1 && written < 2_000; written += 25) {
          const [from, to] = await writeWebhooks(writer, 25);
          first ||= from;
          last = to;
        }
        await until(() => catchUpAt() !== -1);
        // Then enough for another checkpoint to be asked for after it (50 webhooks a checkpoint).
        last = (await writeWebhooks(writer, 100))[1];
        await until(() => events.slice(catchUpAt() + 1).some((event) => event.type === "checkpoint"));
        stop();
        const catchUp = events[catchUpAt()];
        if (catchUp?.type !== "catch-up") throw new Error("no catch-up");
        // What the checkpointer had not copied, copied before any other commit: the whole WAL is in the database file.
        expect(catchUp.result.busy).toBe(false);
        expect(catchUp.result.walPages).toBeGreaterThanOrEqual(1_000);
        expect(catchUp.result.checkpointedPages).toBe(catchUp.result.walPages);
        // The next checkpoint, asked for 50 webhooks after the last, is of a WAL started over since the catch-up: fewer
        // pages than it. Without the restart the WAL only grows, so it would hold more.
        const next = events.slice(catchUpAt() + 1).find((event) => event.type === "checkpoint");
        if (next?.type !== "checkpoint") throw new Error("no checkpoint after the catch-up");
        expect(next.result.walPages).toBeLessThan(catchUp.result.walPages);
        expect(stored(first, last)).toBe(last - first + 1);
      },
      1_000,
    ));

  it("hands checkpoints back to the writer's connection when the checkpointer dies, losing no write", () =>
    withWriter("thread", async (writer) => {
      expect(await writer.write("test:pragmas", null, LOCK_WAIT_MS)).toMatchObject({ walAutocheckpoint: WRITER_BACKSTOP_PAGES });
      const ended = nextEvent(writer, "checkpointer-ended");
      await writer.write("test:end-checkpointer", null, LOCK_WAIT_MS);
      expect(await ended).toMatchObject({ type: "checkpointer-ended", reason: expect.stringMatching(/exited/) });
      // SQLite's own rule again, on the writer's connection: the WAL cannot grow past it unchecked.
      expect(await writer.write("test:pragmas", null, LOCK_WAIT_MS)).toMatchObject({ walAutocheckpoint: SQLITE_AUTOCHECKPOINT_PAGES });
      const [first, last] = await writeWebhooks(writer, 100);
      expect(stored(first, last)).toBe(100);
    }));

  it("leaves checkpoints to SQLite's own rule on the writer's connection with SQLITE_CHECKPOINTS=writer", () =>
    withWriter("writer", async (writer) => {
      expect(await writer.write("test:pragmas", null, LOCK_WAIT_MS)).toMatchObject({ walAutocheckpoint: SQLITE_AUTOCHECKPOINT_PAGES });
    }));

  it.runIf(process.platform === "linux")("ends with the writer thread that started it", async () => {
    const checkpointers = () => [...threadNames(process.pid).values()].filter((name) => name === "sqlite-ckpt").length;
    const before = checkpointers();
    const writer = openSqliteWriter(main, { mode: "thread", checkpoints: "thread" });
    const checkpointed = nextEvent(writer, "checkpoint");
    await writeWebhooks(writer, CHECKPOINT_EVERY_WRITES / INGEST_WRITE_WEIGHT);
    await checkpointed;
    expect(checkpointers()).toBe(before + 1);
    await writer.close();
    expect(checkpointers()).toBe(before);
  });

  // Last: it starts db()'s own writer thread and checkpointer, which the thread count above must not see.
  it("gives the Prisma client's own connection the writer's backstop once the writer is warm, so its commits do not checkpoint on the event loop", async () => {
    const autocheckpoint = async () => {
      const [row] = await db().$queryRawUnsafe<Array<{ wal_autocheckpoint: bigint | number }>>("PRAGMA wal_autocheckpoint");
      return Number(row?.wal_autocheckpoint);
    };
    expect(await autocheckpoint()).toBe(SQLITE_AUTOCHECKPOINT_PAGES);
    // db()'s writer reads SQLITE_CHECKPOINTS when warmWrites creates it.
    process.env.SQLITE_CHECKPOINTS = "thread";
    try {
      await warmWrites(db());
    } finally {
      delete process.env.SQLITE_CHECKPOINTS;
    }
    expect(await autocheckpoint()).toBe(WRITER_BACKSTOP_PAGES);
  });
});
