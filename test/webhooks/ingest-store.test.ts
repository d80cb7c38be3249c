/**
 * The driver-level webhook write (decision 007) on the test file's real database
 * (SQLite by default, PostgreSQL with TEST_DATABASE=postgresql), read back through
 * Prisma as the rest of the app reads it.
 */
import Sqlite from "better-sqlite3";
import type pg from "pg";
import { afterAll, beforeEach, describe, expect, it, vi } from "vitest";
import { database, db } from "~/db.server";
import { externalEventId } from "~/delivery/external-event-id";
import { MAX_MAPPINGS_PER_SHOP } from "~/mapping/limits";
import { ensureShop } from "~/models/Shop.server";
import { closeDriver, openDriver } from "~/db/driver.server";
import { INGEST_GATHER_COUNT, INGEST_GATHER_MS, openIngestStore, PG_INGEST_GROUP, type IngestRow } from "~/webhooks/ingest-store.server";
import { ingestRow } from "../support/ingest-rows";

const SHOP = "ingest-store.myshopify.com";
const driver = openDriver(database().target);
const store = openIngestStore(driver);
afterAll(async () => {
  await store.drain();
  await closeDriver(driver);
});

function row(n: number, overrides: Partial<IngestRow> = {}): IngestRow {
  return ingestRow(SHOP, n, overrides);
}

beforeEach(async () => {
  await db().delivery.deleteMany();
  await db().webhook.deleteMany();
});

describe("the webhook write", () => {
  it("says a shop without its default mappings is unseeded, and writes nothing", async () => {
    expect(await store.record(row(1, { shop: "new-shop.myshopify.com" }))).toEqual({ kind: "unseeded" });
    expect(await db().webhook.count()).toBe(0);
  });

  it("makes at most MAX_MAPPINGS_PER_SHOP deliveries per webhook, the first by position, even when rows written before the limit exceed it", async () => {
    await ensureShop(db(), SHOP);
    await db().mapping.deleteMany({ where: { shop: SHOP } });
    // Written straight to the table, as a shop that saved 20,000 mappings before the limit existed would have them.
    await db().mapping.createMany({
      data: Array.from({ length: MAX_MAPPINGS_PER_SHOP + 25 }, (_, i) => ({
        shop: SHOP,
        position: i,
        topic: "orders/fulfilled",
        eventType: `Event ${i}`,
        properties: "{}",
      })),
    });
    const result = await store.record(row(70));
    expect(result).toMatchObject({ kind: "recorded", deliveries: MAX_MAPPINGS_PER_SHOP });
    const types = (await db().delivery.findMany({ select: { eventType: true } })).map((d) => d.eventType);
    expect(types).toHaveLength(MAX_MAPPINGS_PER_SHOP);
    expect(new Set(types)).toEqual(new Set(Array.from({ length: MAX_MAPPINGS_PER_SHOP }, (_, i) => `Event ${i}`)));
    await db().mapping.deleteMany({ where: { shop: SHOP } });
    await db().shop.deleteMany({ where: { domain: SHOP } });
  });

  it("records the webhook and one pending delivery per enabled mapping, in position order, as Prisma reads them", async () => {
    await ensureShop(db(), SHOP);
    const mappings = await db().mapping.findMany({ where: { shop: SHOP, topic: "orders/fulfilled" }, orderBy: { position: "asc" } });
    // A second, later mapping for the topic, and a disabled one that must get no delivery.
    const second = await db().mapping.create({
      data: { shop: SHOP, position: 50, topic: "orders/fulfilled", eventType: "Second", properties: "{}" },
    });
    await db().mapping.create({
      data: { shop: SHOP, position: 51, topic: "orders/fulfilled", eventType: "Off", enabled: false, properties: "{}" },
    });
    const result = await store.record(row(7));
    expect(result).toMatchObject({ kind: "recorded", deliveries: mappings.length + 1 });

    const webhook = await db().webhook.findFirstOrThrow({ include: { deliveries: true } });
    expect(webhook).toMatchObject({
      shop: SHOP,
      topic: "orders/fulfilled",
      eventKey: "gid://shopify/Order/7",
      webhookId: "webhook-7",
      eventId: "event-7",
      apiVersion: "2026-10",
      orderId: "7",
      body: '{"id":7}',
    });
    // Dates come back exactly: the same format (SQLite) and the same UTC wall time (PostgreSQL) as Prisma's.
    expect(webhook.triggeredAt?.toISOString()).toBe("2026-11-27T10:00:00.123Z");
    expect(webhook.receivedAt.toISOString()).toBe("2026-11-27T10:00:01.456Z");
    // Time-ordered ids (decision 027), so that a commit's rows share index pages.
    const timeOrdered = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    expect(webhook.id).toMatch(timeOrdered);
    for (const delivery of webhook.deliveries) expect(delivery.id).toMatch(timeOrdered);
    const eventTypes = webhook.deliveries.map((delivery) => delivery.eventType).sort();
    expect(eventTypes).toEqual([...mappings.map((mapping) => mapping.eventType), second.eventType].sort());
    for (const delivery of webhook.deliveries) {
      expect(delivery).toMatchObject({ status: "pending", attempts: 0, stale: false, shop: SHOP, topic: "orders/fulfilled" });
      expect(delivery.externalEventId).toBe(
        externalEventId({ shop: SHOP, topic: "orders/fulfilled", eventKey: "gid://shopify/Order/7", mappingId: delivery.mappingId }),
      );
      expect(delivery.occurredAt?.toISOString()).toBe("2026-11-27T09:59:59.789Z");
      expect(delivery.nextAttemptAt.toISOString()).toBe("2026-11-27T10:00:01.456Z");
    }
    // The worker's claim compares nextAttemptAt with now through Prisma: the delivery must be due.
    expect(await db().delivery.count({ where: { status: "pending", nextAttemptAt: { lte: new Date("2026-11-27T10:00:02Z") } } })).toBe(
      webhook.deliveries.length,
    );
    expect(await db().delivery.count({ where: { nextAttemptAt: { lte: new Date("2026-11-27T10:00:01Z") } } })).toBe(0);
  });

  it("records many at once, and the same event sent many times at once exactly once", async () => {
    await ensureShop(db(), SHOP);
    const results = await Promise.all([
      ...Array.from({ length: 60 }, (_, i) => store.record(row(1000 + i))),
      ...Array.from({ length: 20 }, (_, i) => store.record(row(5, { webhookId: `redelivery-${i}` }))),
    ]);
    expect(results.filter((result) => result.kind === "recorded")).toHaveLength(61);
    expect(results.filter((result) => result.kind === "duplicate")).toHaveLength(19);
    expect(await db().webhook.count()).toBe(61);
    expect(await db().webhook.count({ where: { eventKey: "gid://shopify/Order/5" } })).toBe(1);
  });

  it("gives each delivery its own externalEventId with no index on it: an event once per shop, topic and mapping, whatever comes again (decision 044)", async () => {
    const OTHER = "ingest-store-other.myshopify.com";
    await ensureShop(db(), SHOP);
    await ensureShop(db(), OTHER);
    await db().mapping.create({ data: { shop: SHOP, position: 50, topic: "orders/fulfilled", eventType: "Second", properties: "{}" } });
    await db().mapping.create({ data: { shop: SHOP, position: 51, topic: "orders/paid", eventType: "Paid", properties: "{}" } });
    // The same order: redelivered under new webhook ids, at once and later, in another shop, and under another topic.
    await Promise.all(Array.from({ length: 6 }, (_, i) => store.record(row(9, { webhookId: `again-${i}` }))));
    await store.record(row(9, { webhookId: "later" }));
    await store.record(ingestRow(OTHER, 9));
    await store.record(row(9, { topic: "orders/paid", webhookId: "paid" }));
    await store.record(row(10));

    const mapped = async (shop: string, topic: string) => db().mapping.count({ where: { shop, topic, enabled: true } });
    const events = [
      { shop: SHOP, topic: "orders/fulfilled", n: 9 },
      { shop: OTHER, topic: "orders/fulfilled", n: 9 },
      { shop: SHOP, topic: "orders/paid", n: 9 },
      { shop: SHOP, topic: "orders/fulfilled", n: 10 },
    ];
    let expected = 0;
    for (const event of events) expected += await mapped(event.shop, event.topic);
    const deliveries = await db().delivery.findMany({ include: { webhook: { select: { eventKey: true } } } });
    expect(deliveries).toHaveLength(expected);
    expect(new Set(deliveries.map((delivery) => delivery.externalEventId)).size).toBe(expected);
    for (const delivery of deliveries) {
      expect(delivery.externalEventId).toBe(externalEventId({ shop: delivery.shop, topic: delivery.topic, eventKey: delivery.webhook.eventKey, mappingId: delivery.mappingId }));
    }
  });

  it("keeps the two unique indexes that make externalEventId unique: the Webhook's event and the Delivery's mapping of it (decision 044)", async () => {
    const uniques = async (table: string): Promise<string[][]> => {
      if (driver.provider === "sqlite") {
        const indexes = driver.db.prepare(`SELECT name FROM pragma_index_list(?) WHERE "unique" = 1`).all(table) as Array<{ name: string }>;
        return indexes.map(({ name }) => (driver.db.prepare(`SELECT name FROM pragma_index_info(?) ORDER BY seqno`).all(name) as Array<{ name: string }>).map((column) => column.name));
      }
      const result = await driver.pool.query<{ columns: string[] }>(
        `SELECT array_agg(a.attname::text ORDER BY k.ord) AS columns
           FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
           CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
           JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
          WHERE t.relname = $1 AND t.relnamespace = to_regnamespace(current_schema()) AND i.indisunique AND NOT i.indisprimary
          GROUP BY i.indexrelid`,
        [table],
      );
      return result.rows.map((row) => row.columns);
    };
    const sets = (lists: string[][]) => lists.map((columns) => [...columns].sort().join(","));
    expect(sets(await uniques("Webhook"))).toContain("eventKey,shop,topic");
    expect(sets(await uniques("Delivery"))).toContain("mappingId,webhookRecordId");
  });

  it("refuses only the webhook whose row the database rejects, not the others written with it", async () => {
    await ensureShop(db(), SHOP);
    const results = await Promise.allSettled([
      store.record(row(21)),
      store.record(row(22, { body: null as unknown as string })),
      store.record(row(23)),
    ]);
    expect(results.map((result) => result.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect((await db().webhook.findMany({ select: { orderId: true }, orderBy: { orderId: "asc" } })).map((w) => w.orderId)).toEqual(["21", "23"]);
  });
});

describe.runIf(database().target.provider === "postgresql")("PostgreSQL: webhooks written together", () => {
  it("puts the webhooks of one turn in one statement, up to its limit, what is over it in another at once, and a redelivery after the first", async () => {
    if (driver.provider !== "postgresql") return;
    await ensureShop(db(), SHOP);
    const pool = driver.pool;
    const groups: number[] = [];
    const reads: number[] = [];
    let running = 0;
    let overlapped = false;
    const distinct = PG_INGEST_GROUP + 8;
    const rows = [...Array.from({ length: distinct }, (_, i) => row(3000 + i)), row(3000, { webhookId: "redelivery" })];
    // The mapping reads are answered in one turn, once every webhook's has been asked: the writes then all arrive in
    // that turn, as they do when webhooks come in faster than the writes commit.
    const lookups: Array<Promise<pg.QueryResult>> = [];
    let asked = 0;
    let answerLookups!: () => void;
    const allAsked = new Promise<void>((resolve) => (answerLookups = resolve));
    const counting = {
      query(config: pg.QueryConfig) {
        if (config.name === "ingest-mappings-group") {
          const size = (config.values?.[0] as unknown[]).length;
          reads.push(size);
          const index = lookups.push(pool.query(config)) - 1;
          asked += size;
          if (asked === rows.length) answerLookups();
          return allAsked.then(() => Promise.all(lookups)).then((answers) => answers[index]!);
        }
        // The write's statement is prepared per group size, which its name ends with.
        groups.push(Number(/^ingest-write-group-(\d+)$/.exec(config.name ?? "")?.[1]));
        if (++running > 1) overlapped = true;
        return pool.query(config).finally(() => running--);
      },
    } as unknown as pg.Pool;
    const grouped = openIngestStore({ ...driver, pool: counting });
    const results = await Promise.all(rows.map((r) => grouped.record(r)));
    expect(results.slice(0, distinct).every((result) => result.kind === "recorded")).toBe(true);
    expect(results[distinct]).toEqual({ kind: "duplicate" });
    // The reads went as the writes do: a full group, and the rest beside it at once (decision 053).
    expect(reads).toEqual([PG_INGEST_GROUP, distinct + 1 - PG_INGEST_GROUP]);
    // The redelivery's event is in the first statement: it waits for that one, then goes alone.
    expect(groups).toEqual([PG_INGEST_GROUP, 8, 1]);
    expect(overlapped).toBe(true);
    expect(await db().webhook.count()).toBe(distinct);
    expect(await db().webhook.findFirst({ where: { webhookId: "redelivery" } })).toBeNull();
  });

  it("reads each webhook's own shop and mappings when the webhooks of several shops are read in one statement", async () => {
    if (driver.provider !== "postgresql") return;
    const other = "ingest-store-other.myshopify.com";
    const bare = "ingest-store-bare.myshopify.com";
    await ensureShop(db(), SHOP);
    await ensureShop(db(), other);
    await ensureShop(db(), bare);
    // `other` has a second enabled mapping of the topic and a disabled one; `bare` has none of the topic enabled.
    await db().mapping.create({ data: { shop: other, position: 60, topic: "orders/fulfilled", eventType: "Other second", properties: "{}" } });
    await db().mapping.create({ data: { shop: other, position: 61, topic: "orders/fulfilled", eventType: "Other off", enabled: false, properties: "{}" } });
    await db().mapping.updateMany({ where: { shop: bare, topic: "orders/fulfilled" }, data: { enabled: false } });
    const enabled = async (shop: string) =>
      (await db().mapping.findMany({ where: { shop, topic: "orders/fulfilled", enabled: true }, orderBy: { position: "asc" } })).map((m) => m.eventType);
    const pool = driver.pool;
    const reads: number[] = [];
    const counting = {
      query(config: pg.QueryConfig) {
        if (config.name === "ingest-mappings-group") reads.push((config.values?.[0] as unknown[]).length);
        return pool.query(config);
      },
    } as unknown as pg.Pool;
    const grouped = openIngestStore({ ...driver, pool: counting });
    try {
      const results = await Promise.all([
        grouped.record(row(5001)),
        grouped.record(ingestRow(other, 5002)),
        grouped.record(ingestRow("ingest-store-unknown.myshopify.com", 5003)),
        grouped.record(ingestRow(bare, 5004)),
        grouped.record(ingestRow(other, 5005, { topic: "refunds/create", eventKey: "gid://shopify/Refund/5005" })),
      ]);
      expect(reads).toEqual([5]);
      // The deliveries' event types, in their mappings' order.
      const eventTypes = async (eventKey: string) => {
        const deliveries = await db().delivery.findMany({ where: { webhook: { eventKey } } });
        const positions = new Map((await db().mapping.findMany({ where: { id: { in: deliveries.map((d) => d.mappingId) } } })).map((m) => [m.id, m.position]));
        return deliveries.sort((a, b) => positions.get(a.mappingId)! - positions.get(b.mappingId)!).map((d) => d.eventType);
      };
      expect(results[0]).toMatchObject({ kind: "recorded", deliveries: (await enabled(SHOP)).length });
      expect(await eventTypes("gid://shopify/Order/5001")).toEqual(await enabled(SHOP));
      expect(results[1]).toMatchObject({ kind: "recorded", deliveries: (await enabled(other)).length });
      expect(await eventTypes("gid://shopify/Order/5002")).toEqual(await enabled(other));
      expect(await enabled(other)).toContain("Other second");
      expect(results[2]).toEqual({ kind: "unseeded" });
      expect(results[3]).toEqual({ kind: "recorded", webhookRecordId: expect.any(String), deliveries: 0 });
      const refundTypes = (await db().mapping.findMany({ where: { shop: other, topic: "refunds/create", enabled: true } })).length;
      expect(results[4]).toMatchObject({ kind: "recorded", deliveries: refundTypes });
    } finally {
      await grouped.drain();
      await db().mapping.deleteMany({ where: { shop: { in: [other, bare] } } });
      await db().shop.deleteMany({ where: { domain: { in: [other, bare] } } });
    }
  });
});

describe.runIf(database().target.provider === "postgresql")("PostgreSQL: the stored body", () => {
  it("is compressed with LZ4 (decision 029), and read back exactly", async () => {
    if (driver.provider !== "postgresql") return;
    await ensureShop(db(), SHOP);
    const body = JSON.stringify({ id: 4000, note: "x".repeat(4_000), lines: Array.from({ length: 100 }, (_, i) => ({ id: i, title: `Line ${i}` })) });
    expect(await store.record(row(4000, { body }))).toMatchObject({ kind: "recorded" });
    const { rows } = await driver.pool.query<{ compression: string | null; body: string }>(
      `SELECT pg_column_compression(body) AS compression, body FROM "Webhook" WHERE "orderId" = '4000'`,
    );
    expect(rows).toEqual([{ compression: "lz4", body }]);
  });
});

describe.runIf(database().target.provider === "sqlite")("the webhook write's commit on SQLite", () => {
  /**
   * Runs `check` with the writer's gather timer on virtual time (its thread's messages and setImmediate stay real),
   * given how many webhooks a second, read-only connection sees stored.
   */
  async function onVirtualTime(check: (stored: () => number) => Promise<void>) {
    await ensureShop(db(), SHOP);
    const target = database().target;
    if (target.provider !== "sqlite") throw new Error("SQLite only");
    const reader = new Sqlite(target.file, { readonly: true });
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    try {
      await check(() => (reader.prepare(`SELECT count(*) AS n FROM "Webhook"`).get() as { n: number }).n);
    } finally {
      vi.useRealTimers();
      reader.close();
    }
  }

  it("gathers webhooks for INGEST_GATHER_MS, so those within it share one commit, and answers none before it (decision 040)", async () => {
    await onVirtualTime(async (stored) => {
      const settled: number[] = [];
      const first = store.record(row(51)).then((result) => (settled.push(51), result));
      await vi.advanceTimersByTimeAsync(INGEST_GATHER_MS - 2);
      const second = store.record(row(52)).then((result) => (settled.push(52), result));
      await vi.advanceTimersByTimeAsync(1);
      expect(stored()).toBe(0);
      expect(settled).toEqual([]);
      // The first webhook's time is up: the second, 2 ms into its own, goes with it (alone it would wait for a timer
      // that never fires here, and the test would time out).
      await vi.advanceTimersByTimeAsync(1);
      await expect(Promise.all([first, second])).resolves.toMatchObject([{ kind: "recorded" }, { kind: "recorded" }]);
      expect(stored()).toBe(2);
    });
  });

  it("commits at once when INGEST_GATHER_COUNT webhooks wait: a sender that waits for its answers is not held for the window (decision 041)", async () => {
    await onVirtualTime(async (stored) => {
      // No virtual time passes: the window's timer never fires, so they are stored only if their count commits them.
      const recordings = Array.from({ length: INGEST_GATHER_COUNT }, (_, i) => store.record(row(60 + i)));
      const results = await Promise.all(recordings);
      expect(results.every((result) => result.kind === "recorded")).toBe(true);
      expect(stored()).toBe(INGEST_GATHER_COUNT);
    });
  });
});

describe.runIf(database().target.provider === "sqlite")("the webhook write while another connection holds SQLite's write lock", () => {
  function holdWriteLock() {
    const target = database().target;
    if (target.provider !== "sqlite") throw new Error("SQLite only");
    const other = new Sqlite(target.file);
    other.exec("BEGIN IMMEDIATE");
    return () => {
      other.exec("COMMIT");
      other.close();
    };
  }

  it("waits for the lock without blocking the event loop, then records", async () => {
    await ensureShop(db(), SHOP);
    const release = holdWriteLock();
    const recording = store.record(row(31));
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 10);
    await new Promise((resolve) => setTimeout(resolve, 200));
    clearInterval(ticker);
    expect(ticks).toBeGreaterThanOrEqual(10);
    expect(await db().webhook.count()).toBe(0);
    release();
    expect(await recording).toMatchObject({ kind: "recorded" });
  });

  it("refuses a webhook whose wait passes the limit, so it is answered 503 and Shopify retries", async () => {
    await ensureShop(db(), SHOP);
    const impatientDriver = openDriver(database().target);
    const impatient = openIngestStore(impatientDriver, { sqliteLockWaitMs: 100 });
    const release = holdWriteLock();
    try {
      await expect(impatient.record(row(41))).rejects.toMatchObject({ code: "SQLITE_BUSY" });
    } finally {
      release();
      await impatient.drain();
      await closeDriver(impatientDriver);
    }
    expect(await db().webhook.count()).toBe(0);
  });
});
