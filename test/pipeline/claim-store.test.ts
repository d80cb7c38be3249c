/**
 * The driver-level claim on the test file's real database: what is due, in what
 * order, under whose lease, and that two claims at once never take the same delivery.
 */
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { database, db } from "~/db.server";
import { closeDriver, openDriver } from "~/db/driver.server";
import { openClaimStore } from "~/delivery/claim-store.server";
import { ensureShop } from "~/models/Shop.server";
import { queuedDelivery, type QueuedDeliveryFields } from "../support/queued-deliveries";

const SHOPS = ["claim-a.myshopify.com", "claim-b.myshopify.com"];
const driver = openDriver(database().target);
const store = openClaimStore(driver);
const otherDriver = openDriver(database().target);
const otherStore = openClaimStore(otherDriver);
afterAll(async () => {
  await Promise.all([store.drain(), otherStore.drain()]);
  await Promise.all([closeDriver(driver), closeDriver(otherDriver)]);
});

const now = new Date("2026-11-27T12:00:00.000Z");
const seconds = (n: number) => new Date(now.getTime() + n * 1000);

const delivery = (shop: string, fields: QueuedDeliveryFields & { status: string }) => queuedDelivery(shop, { occurredAt: seconds(-3600), ...fields });

beforeEach(async () => {
  await db().delivery.deleteMany();
  await db().webhook.deleteMany();
  for (const shop of SHOPS) await ensureShop(db(), shop);
});

describe("the claim", () => {
  it("takes what is due, earliest first, with its webhook, under this worker's lease, counting the attempt", async () => {
    const later = await delivery(SHOPS[0]!, { status: "pending", nextAttemptAt: seconds(-5) });
    const earlier = await delivery(SHOPS[0]!, { status: "pending", nextAttemptAt: seconds(-60) });
    const crashed = await delivery(SHOPS[1]!, { status: "sending", nextAttemptAt: seconds(-30), leaseOwner: "dead", leaseExpiresAt: seconds(-1), attempts: 3 });
    await delivery(SHOPS[0]!, { status: "pending", nextAttemptAt: seconds(30) }); // not due yet
    await delivery(SHOPS[1]!, { status: "sending", nextAttemptAt: seconds(-30), leaseOwner: "alive", leaseExpiresAt: seconds(10) });
    await delivery(SHOPS[0]!, { status: "delivered", nextAttemptAt: seconds(-90) });

    const claimed = await store.claim({ workerId: "w1", limit: 10, leaseMs: 60_000, now, excludeShops: [] });
    expect(claimed.map((row) => row.id)).toEqual([earlier.id, crashed.id, later.id]);
    expect(claimed[1]).toMatchObject({ shop: SHOPS[1], attempts: 4, leaseOwner: "w1", topic: "orders/fulfilled", mappingId: "m" });
    expect(claimed[1]!.leaseExpiresAt.toISOString()).toBe(seconds(60).toISOString());
    expect(claimed[1]!.occurredAt?.toISOString()).toBe(seconds(-3600).toISOString());
    const earlierRow = await db().delivery.findUniqueOrThrow({ where: { id: earlier.id }, select: { webhookRecordId: true } });
    expect(claimed[0]!.webhook).toEqual({ id: earlierRow.webhookRecordId, body: expect.stringMatching(/^\{"n":\d+\}$/), topic: "orders/fulfilled", shop: SHOPS[0] });

    const rows = await db().delivery.findMany({ where: { id: { in: claimed.map((row) => row.id) } } });
    for (const row of rows) {
      expect(row).toMatchObject({ status: "sending", leaseOwner: "w1" });
      expect(row.leaseExpiresAt?.toISOString()).toBe(seconds(60).toISOString());
    }
    expect(await store.claim({ workerId: "w1", limit: 10, leaseMs: 60_000, now, excludeShops: [] })).toEqual([]);
  });

  it("leaves a webhook's body unread when every claimed delivery of it has an event rendered ahead", async () => {
    const ahead = await delivery(SHOPS[0]!, { status: "pending", nextAttemptAt: seconds(-20), prerendered: '{"kind":"event"}' });
    const rendering = await delivery(SHOPS[0]!, { status: "pending", nextAttemptAt: seconds(-10) });
    // A second delivery of the first one's webhook, without an event ahead: that webhook's body is read for it.
    const aheadRow = await db().delivery.findUniqueOrThrow({ where: { id: ahead.id } });
    const sharing = await db().delivery.create({
      data: { shop: SHOPS[1]!, webhookRecordId: aheadRow.webhookRecordId, mappingId: "m2", topic: "orders/fulfilled", eventType: "E", externalEventId: "sharing", status: "pending", nextAttemptAt: seconds(-5) },
    });

    const claimed = await store.claim({ workerId: "w1", limit: 2, leaseMs: 60_000, now, excludeShops: [] });
    expect(claimed.map((row) => [row.id, row.prerendered, row.webhook.body])).toEqual([
      [ahead.id, '{"kind":"event"}', null],
      [rendering.id, null, expect.stringMatching(/^\{"n":\d+\}$/)],
    ]);
    const next = await store.claim({ workerId: "w1", limit: 10, leaseMs: 60_000, now, excludeShops: [] });
    expect(next.map((row) => [row.id, row.webhook.body])).toEqual([[sharing.id, expect.stringMatching(/^\{"n":\d+\}$/)]]);
  });

  it("takes no more than asked, and nothing of an excluded shop", async () => {
    for (let i = 0; i < 5; i++) await delivery(SHOPS[0]!, { status: "pending", nextAttemptAt: seconds(-i) });
    const kept = await delivery(SHOPS[1]!, { status: "pending", nextAttemptAt: seconds(-100) });
    const claimed = await store.claim({ workerId: "w1", limit: 3, leaseMs: 60_000, now, excludeShops: [SHOPS[1]!] });
    expect(claimed).toHaveLength(3);
    expect(claimed.every((row) => row.shop === SHOPS[0])).toBe(true);
    expect(await db().delivery.findUniqueOrThrow({ where: { id: kept.id } })).toMatchObject({ status: "pending", leaseOwner: null });
  });

  it("never gives one delivery to two claims made at the same time on two connections", async () => {
    for (let i = 0; i < 40; i++) await delivery(SHOPS[i % 2]!, { status: "pending", nextAttemptAt: seconds(-i) });
    const [first, second] = await Promise.all([
      store.claim({ workerId: "w1", limit: 25, leaseMs: 60_000, now, excludeShops: [] }),
      otherStore.claim({ workerId: "w2", limit: 25, leaseMs: 60_000, now, excludeShops: [] }),
    ]);
    const ids = [...first, ...second].map((row) => row.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(40);
    expect(await db().delivery.count({ where: { leaseOwner: "w1" } })).toBe(first.length);
    expect(await db().delivery.count({ where: { leaseOwner: "w2" } })).toBe(second.length);
  });
});
