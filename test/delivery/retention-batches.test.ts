/**
 * The retention job's batches follow a time budget (decision 046): a batch's time moves the next one's size by steps
 * (double, keep, or shrink), and the pause after a batch is at least as long as the batch. Time here is virtual: the test's clock says how long each
 * batch took, and the pauses are recorded, not slept. The rows are real, on the test file's database.
 */
import pino from "pino";
import { describe, expect, it } from "vitest";
import { db } from "~/db.server";
import { BatchSizer, pruneExpiredLogs, type PruneBatch, type PruneSteps } from "~/delivery/retention.server";
import { deleteExpiredDeliveries, deleteExpiredWebhooks } from "~/models/Retention.server";
import { ensureShop } from "~/models/Shop.server";

const DAY = 86_400_000;

describe("BatchSizer", () => {
  it("starts at 100 rows, at most the largest batch", () => {
    expect(new BatchSizer(10, 1_000).size).toBe(100);
    expect(new BatchSizer(10, 40).size).toBe(40);
  });

  it("shrinks after a batch over the budget, in proportion but at most by half", () => {
    const sizer = new BatchSizer(10, 1_000);
    sizer.observe(40); // four times the budget: halved, not quartered (one stall does not undo the rest)
    expect(sizer.size).toBe(50);
    sizer.observe(12.5);
    expect(sizer.size).toBe(40);
  });

  it("keeps its size within the budget, and doubles after a batch under half of it, up to the largest batch", () => {
    const sizer = new BatchSizer(10, 300);
    sizer.observe(7);
    expect(sizer.size).toBe(100);
    sizer.observe(10);
    expect(sizer.size).toBe(100);
    sizer.observe(5);
    expect(sizer.size).toBe(200);
    sizer.observe(0);
    expect(sizer.size).toBe(300);
    sizer.observe(1);
    expect(sizer.size).toBe(300);
  });

  it("keeps at least 10 rows however slow batches are, so a slow database still finishes", () => {
    const sizer = new BatchSizer(10, 1_000);
    for (let i = 0; i < 10; i++) sizer.observe(60_000);
    expect(sizer.size).toBe(10);
    expect(new BatchSizer(10, 4).size).toBe(4);
  });
});

const SHOP = "retention-batches.myshopify.com";

/** An expired webhook of the shop and, unless `status` is null, its one delivery in that status. */
interface LogRow {
  id: string;
  at: Date;
  status: string | null;
}

/** The shop with nothing left from an earlier test, keeping 7 days, and the given log rows. */
async function seedLog(rows: LogRow[]): Promise<void> {
  await ensureShop(db(), SHOP);
  await db().webhook.deleteMany({ where: { shop: SHOP } }); // its deliveries go with it (cascade)
  await db().shop.update({ where: { domain: SHOP }, data: { logRetentionDays: 7 } });
  await db().webhook.createMany({
    data: rows.map((row, i) => ({
      id: row.id,
      shop: SHOP,
      topic: "orders/fulfilled",
      eventKey: `gid://shopify/Order/${70_000 + i}`,
      webhookId: `w-${row.id}`,
      apiVersion: "2026-10",
      receivedAt: row.at,
      body: "{}",
    })),
  });
  await db().delivery.createMany({
    data: rows.flatMap((row) =>
      row.status === null
        ? []
        : [{ shop: SHOP, webhookRecordId: row.id, mappingId: "m", topic: "orders/fulfilled", eventType: "Order Fulfilled", externalEventId: `e-${row.id}`, status: row.status, createdAt: row.at }],
    ),
  });
}

/** `count` expired webhooks, each with a delivered delivery. */
async function seedExpired(count: number): Promise<void> {
  const old = new Date(Date.now() - 30 * DAY);
  await seedLog(Array.from({ length: count }, (_, i) => ({ id: `expired-${i}`, at: old, status: "delivered" })));
}

/**
 * Virtual time in which deleting a row takes `msPerRow` of its table: each batch, done for real on the test's
 * database, moves the clock by the rows it deleted. Pauses move the clock too, and are recorded.
 */
function virtualTime(msPerRow: (table: PruneBatch["table"]) => number) {
  let now = 0;
  const batches: PruneBatch[] = [];
  const pauses: number[] = [];
  const steps: PruneSteps = {
    deliveries: async (...args) => {
      const step = await deleteExpiredDeliveries(...args);
      now += step.deleted * msPerRow("delivery");
      return step;
    },
    webhooks: async (...args) => {
      const step = await deleteExpiredWebhooks(...args);
      now += step.deleted * msPerRow("webhook");
      return step;
    },
  };
  return {
    batches,
    pauses,
    options: {
      prisma: db(),
      logger: pino({ level: "silent" }),
      steps,
      clock: () => now,
      sleep: (ms: number) => {
        pauses.push(ms);
        now += ms;
        return Promise.resolve();
      },
      onBatch: (batch: PruneBatch) => batches.push(batch),
      batchMs: 10,
      pauseMs: 5,
    },
  };
}

const sizes = (batches: PruneBatch[], table: PruneBatch["table"]) => batches.filter((batch) => batch.table === table).map((batch) => batch.size);

describe("pruneExpiredLogs' batches", () => {
  it("shrinks its batches when rows are slow to delete, each table at its own pace, and pauses as long as each batch took", async () => {
    await seedExpired(600);
    const time = virtualTime((table) => (table === "webhook" ? 0.4 : 0.2));
    expect(await pruneExpiredLogs(time.options)).toEqual({ deliveries: 600, webhooks: 600 });

    // 0.2 ms a delivery: 100 rows took 20 ms, so 50, which take the 10 ms. 600 = 100 + 10 × 50, then one finds none.
    expect(sizes(time.batches, "delivery")).toEqual([100, ...Array<number>(11).fill(50)]);
    // 0.4 ms a webhook, its own pace rather than the deliveries': halved twice to 25. 600 = 100 + 50 + 18 × 25.
    expect(sizes(time.batches, "webhook")).toEqual([100, 50, ...Array<number>(19).fill(25)]);
    // Only the batches before each table's size settled went over the budget.
    expect(time.batches.filter((batch) => batch.ms > 10).map((batch) => batch.ms)).toEqual([20, 40, 20]);
    // A pause after every batch that was full, as long as that batch when it took longer than pauseMs.
    const full = time.batches.filter((batch) => batch.deleted === batch.size);
    expect(full).toHaveLength(time.batches.length - 2);
    expect(time.pauses).toEqual(full.map((batch) => Math.max(5, batch.ms)));
    expect(await db().delivery.count({ where: { shop: SHOP } })).toBe(0);
    expect(await db().webhook.count({ where: { shop: SHOP } })).toBe(0);
  });

  it("grows its batches when rows are quick, doubling at most, up to the largest batch", async () => {
    await seedExpired(1_500);
    const time = virtualTime(() => 0.01);
    expect(await pruneExpiredLogs({ ...time.options, batchSize: 600 })).toEqual({ deliveries: 1_500, webhooks: 1_500 });
    // 100 rows in 1 ms, under half the budget: 200, then 400, then the largest batch; the last finds 200.
    expect(sizes(time.batches, "delivery")).toEqual([100, 200, 400, 600, 600]);
    expect(time.batches.at(-1)).toMatchObject({ table: "webhook", size: 600, deleted: 200 });
    // Batches of 600 took 6 ms: the pause follows them; the smaller ones were under pauseMs.
    expect(time.pauses).toEqual(time.batches.filter((batch) => batch.deleted === batch.size).map((batch) => Math.max(5, batch.ms)));
    expect(time.pauses.filter((ms) => ms > 5).length).toBeGreaterThan(0);
  });

  it("reads on from where the last batch ended, past unfinished deliveries, and leaves none expired behind", async () => {
    const old = Date.now() - 30 * DAY;
    // 90 webhooks over 30 instants (3 share each), every third delivery still pending.
    const statuses = ["pending", "delivered", "failed"];
    await seedLog(Array.from({ length: 90 }, (_, i) => ({ id: `keyset-${i}`, at: new Date(old + Math.floor(i / 3) * 1_000), status: statuses[i % 3]! })));
    const time = virtualTime(() => 1);
    // Batches of 4 at most: a batch ends inside a second's three rows, and the next starts at that second again.
    expect(await pruneExpiredLogs({ ...time.options, batchSize: 4 })).toEqual({ deliveries: 60, webhooks: 60 });
    expect(sizes(time.batches, "delivery")).toEqual(Array<number>(16).fill(4));
    const left = await db().delivery.findMany({ where: { shop: SHOP }, select: { status: true, webhookRecordId: true } });
    expect(left).toHaveLength(30);
    expect(new Set(left.map((row) => row.status))).toEqual(new Set(["pending"]));
    expect((await db().webhook.findMany({ where: { shop: SHOP }, select: { id: true } })).map((row) => row.id).sort()).toEqual(
      left.map((row) => row.webhookRecordId).sort(),
    );
  });

  it("moves past webhooks that must stay, even more of them than a batch, all received at one instant", async () => {
    const instant = new Date(Date.now() - 30 * DAY);
    // A backfill's page: twelve webhooks recorded at once, each with a delivery not yet sent; then five expired
    // webhooks whose deliveries are gone.
    const staying = Array.from({ length: 12 }, (_, i) => ({ id: `page-${String(i).padStart(2, "0")}`, at: instant, status: "pending" }));
    const going = Array.from({ length: 5 }, (_, i) => ({ id: `gone-${i}`, at: new Date(instant.getTime() + 1_000 + i), status: null }));
    await seedLog([...staying, ...going]);
    const time = virtualTime(() => 1);
    expect(await pruneExpiredLogs({ ...time.options, batchSize: 4 })).toEqual({ deliveries: 0, webhooks: 5 });
    // Three batches read the twelve at the one instant (deleting none), two more the five; the last found one.
    expect(time.batches.filter((batch) => batch.table === "webhook").map((batch) => [batch.size, batch.deleted])).toEqual([
      [4, 0],
      [4, 0],
      [4, 0],
      [4, 4],
      [4, 1],
    ]);
    expect((await db().webhook.findMany({ where: { shop: SHOP }, select: { id: true }, orderBy: { id: "asc" } })).map((row) => row.id)).toEqual(
      staying.map((row) => row.id),
    );
  });
});
