/**
 * The retention job's batches on PostgreSQL (decision 047): each is one statement on the driver's pool, and the
 * delete inside it re-checks the row it deletes, so a delivery a merchant retried while the batch waited for its
 * row stays. The rows are real, on the test file's migrated schema.
 */
import pg from "pg";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { database, db, driverOf } from "~/db.server";
import { pruneExpiredLogs, type PruneBatch } from "~/delivery/retention.server";
import { deleteExpiredDeliveries } from "~/models/Retention.server";
import { ensureShop } from "~/models/Shop.server";
import { testPostgresUrl, testProvider } from "../support/test-database";

const SHOP = "retention-pg.myshopify.com";
const DAY = 86_400_000;

/** `count` webhooks received `daysAgo` days ago, each with one delivery in `status`; the shop keeps 7 days. */
async function seed(count: number, status: string, daysAgo = 30): Promise<string[]> {
  await ensureShop(db(), SHOP);
  await db().webhook.deleteMany({ where: { shop: SHOP } });
  await db().shop.update({ where: { domain: SHOP }, data: { logRetentionDays: 7 } });
  const at = new Date(Date.now() - daysAgo * DAY);
  const ids = Array.from({ length: count }, (_, i) => `rpg-${String(i).padStart(3, "0")}`);
  await db().webhook.createMany({
    data: ids.map((id, i) => ({
      id,
      shop: SHOP,
      topic: "orders/fulfilled",
      eventKey: `gid://shopify/Order/${80_000 + i}`,
      webhookId: `w-${id}`,
      apiVersion: "2026-10",
      receivedAt: new Date(at.getTime() + i),
      body: "{}",
    })),
  });
  await db().delivery.createMany({
    data: ids.map((id, i) => ({
      id: `d-${id}`,
      shop: SHOP,
      webhookRecordId: id,
      mappingId: "m",
      topic: "orders/fulfilled",
      eventType: "Order Fulfilled",
      externalEventId: `e-${id}`,
      status,
      createdAt: new Date(at.getTime() + i),
    })),
  });
  return ids;
}

describe.skipIf(testProvider() !== "postgresql")("the retention job on PostgreSQL", () => {
  let other: pg.Client;

  beforeAll(async () => {
    const target = database().target;
    if (target.provider !== "postgresql") throw new Error("PostgreSQL only");
    const schema = target.schema ?? "public";
    other = new pg.Client({ connectionString: testPostgresUrl, options: `-c search_path="${schema.replaceAll('"', '""')}"` });
    await other.connect();
  });
  afterAll(() => other.end());

  it("does each batch of each table in one statement on the driver's pool", async () => {
    await seed(45, "delivered");
    const driver = driverOf(db());
    if (driver.provider !== "postgresql") throw new Error("PostgreSQL only");
    const batches: PruneBatch[] = [];
    const query = vi.spyOn(driver.pool, "query");
    try {
      const pruned = await pruneExpiredLogs({
        prisma: db(),
        logger: pino({ level: "silent" }),
        batchSize: 10,
        sleep: () => Promise.resolve(),
        onBatch: (batch) => batches.push(batch),
      });
      expect(pruned).toEqual({ deliveries: 45, webhooks: 45 });
      // 45 rows in batches of 10: four full batches and one of five, for each table.
      expect(batches.map((batch) => [batch.table, batch.deleted])).toEqual([
        ...[10, 10, 10, 10, 5].map((deleted) => ["delivery", deleted]),
        ...[10, 10, 10, 10, 5].map((deleted) => ["webhook", deleted]),
      ]);
      expect(query).toHaveBeenCalledTimes(batches.length);
    } finally {
      query.mockRestore();
    }
    expect(await db().webhook.count({ where: { shop: SHOP } })).toBe(0);
    expect(await db().deliveryAttempt.count({ where: { delivery: { shop: SHOP } } })).toBe(0);
  });

  it("takes a delivery's attempts with it, and reads on from where the last batch ended", async () => {
    const ids = await seed(12, "failed");
    await db().deliveryAttempt.createMany({
      data: ids.map((id) => ({ deliveryId: `d-${id}`, number: 1, startedAt: new Date(), durationMs: 5, outcome: "failed" })),
    });
    const before = new Date(Date.now() - 7 * DAY);
    const first = await deleteExpiredDeliveries(db(), SHOP, before, 5);
    expect(first).toMatchObject({ found: 5, deleted: 5 });
    const kept = await db().delivery.findMany({ where: { shop: SHOP }, select: { id: true, createdAt: true }, orderBy: { createdAt: "asc" } });
    expect(kept.map((row) => row.id)).toEqual(ids.slice(5).map((id) => `d-${id}`));
    // The cursor is the batch's latest createdAt, the fifth delivery's (a millisecond before the sixth's), read as UTC.
    expect(first.from?.getTime()).toBe(kept[0]!.createdAt.getTime() - 1);
    const second = await deleteExpiredDeliveries(db(), SHOP, before, 5, first.from);
    expect(second).toMatchObject({ found: 5, deleted: 5 });
    const third = await deleteExpiredDeliveries(db(), SHOP, before, 5, second.from);
    expect(third).toMatchObject({ found: 2, deleted: 2 });
    expect(await db().deliveryAttempt.count({ where: { deliveryId: { in: ids.map((id) => `d-${id}`) } } })).toBe(0);
  });

  it("leaves a delivery that was retried while the batch waited for its row", async () => {
    const [id] = await seed(1, "failed");
    const deliveryId = `d-${id}`;
    // A merchant's Retry, committed after the batch has read the delivery as failed and while it waits to delete it.
    await other.query("BEGIN");
    await other.query(`UPDATE "Delivery" SET status = 'pending' WHERE id = $1`, [deliveryId]);
    const batch = deleteExpiredDeliveries(db(), SHOP, new Date(Date.now() - 7 * DAY), 10);
    try {
      await waitForLockWait();
    } finally {
      await other.query("COMMIT");
    }
    expect(await batch).toMatchObject({ found: 1, deleted: 0 });
    expect(await db().delivery.findUnique({ where: { id: deliveryId }, select: { status: true } })).toEqual({ status: "pending" });
  });

  /**
   * Until the batch's statement waits for a row lock (the test's transaction holds it). Asked on Prisma's connection:
   * inside the test's transaction, pg_stat_activity would answer from the snapshot of its first read.
   */
  async function waitForLockWait(): Promise<void> {
    for (let look = 0; look < 2_000; look++) {
      const rows = await db().$queryRawUnsafe<Array<{ waiting: number }>>(
        `SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%WITH batch AS MATERIALIZED%' AND pid <> pg_backend_pid()`,
      );
      if (rows[0]!.waiting > 0) return;
    }
    throw new Error("the batch never waited for the row the test's transaction holds");
  }
});
