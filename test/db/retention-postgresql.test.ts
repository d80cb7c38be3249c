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
import { deleteExpiredDeliveries, deliveryBatchSql, webhookBatchSql } from "~/models/Retention.server";
import { pgTimestamp } from "~/db/sql-values";
import { ensureShop } from "~/models/Shop.server";
import { rowsRead, scansOf, type PlanNode } from "../support/pg-plan";
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
  /** The backend of `other`, whose transaction holds the row in the lock test. */
  let otherPid: number;

  beforeAll(async () => {
    const target = database().target;
    if (target.provider !== "postgresql") throw new Error("PostgreSQL only");
    const schema = target.schema ?? "public";
    other = new pg.Client({ connectionString: testPostgresUrl, options: `-c search_path="${schema.replaceAll('"', '""')}"` });
    await other.connect();
    otherPid = (await other.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
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
    expect(await db().delivery.count({ where: { shop: SHOP } })).toBe(0);
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

  it("reads a batch's rows, not the shop's expired day, even when the statistics say every webhook has a delivery", async () => {
    // The state the webhook pass meets: the delivery pass has just deleted the day's deliveries, and the statistics,
    // from before it, say nearly every webhook has one (decision 046: with the check inside the read, this plan read
    // the whole expired day and sorted it, for every batch of ten).
    const ids = await seed(3_000, "delivered");
    await other.query("ANALYZE");
    await db().delivery.deleteMany({ where: { shop: SHOP } });
    const before = pgTimestamp(new Date(Date.now() - 7 * DAY));
    const middle = await db().webhook.findUniqueOrThrow({ where: { id: ids[1_500]! }, select: { id: true, receivedAt: true } });
    const webhookPlan = await explain(webhookBatchSql(true), [SHOP, before, 10, pgTimestamp(middle.receivedAt), middle.id]);
    // The read's twelve (the cursor's own row, dropped by the filter, then ten and one past the tenth, whose ties by
    // time are sorted by id), and the delete's look-up of each of the ten by id. The whole expired day would be 1,500.
    expect(rowsRead(webhookPlan, "Webhook")).toBeLessThanOrEqual(2 * 10 + 2);
    // Whether a delivery refers to each: ten probes of an index, not a scan of the table.
    expect(scansOf(webhookPlan, "Delivery")).toEqual([{ type: "Index Scan", loops: 10 }]);

    await seed(3_000, "delivered");
    await other.query("ANALYZE");
    const from = await db().delivery.findUniqueOrThrow({ where: { id: `d-${ids[1_500]!}` }, select: { createdAt: true } });
    const deliveryPlan = await explain(deliveryBatchSql(true), [SHOP, before, 10, pgTimestamp(from.createdAt)]);
    // The ten deliveries of the batch, each read once more by the delete.
    expect(rowsRead(deliveryPlan, "Delivery")).toBeLessThanOrEqual(2 * 10 + 1);
  });

  /** The plan PostgreSQL ran for `sql`, with its counts; in a transaction rolled back, so nothing is deleted. */
  async function explain(sql: string, values: unknown[]): Promise<PlanNode> {
    await other.query("BEGIN");
    try {
      const { rows } = await other.query<{ "QUERY PLAN": Array<{ Plan: PlanNode }> }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`, values);
      return rows[0]!["QUERY PLAN"][0]!.Plan;
    } finally {
      await other.query("ROLLBACK");
    }
  }

  /**
   * Until a backend is blocked by the test's transaction: the batch's statement, waiting for the row it holds (no
   * other test file's connection can wait on it). Asked on Prisma's connection: inside the test's transaction,
   * pg_stat_activity would answer from the snapshot of its first read.
   */
  async function waitForLockWait(): Promise<void> {
    for (let look = 0; look < 2_000; look++) {
      const rows = await db().$queryRawUnsafe<Array<{ waiting: number }>>(
        `SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE $1::int = ANY(pg_blocking_pids(pid))`,
        otherPid,
      );
      if (rows[0]!.waiting > 0) return;
    }
    throw new Error("the batch never waited for the row the test's transaction holds");
  }
});
