/**
 * The claim's order between live traffic and a history backfill's deliveries (docs/decisions/016), on the test
 * file's real database (SQLite, or PostgreSQL with TEST_DATABASE=postgresql): live deliveries are claimed first even
 * when backfilled ones have been due longer, a paused backfill's deliveries are not claimed, and the worker's next
 * wake-up time ignores them.
 */
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { database, db } from "~/db.server";
import { closeDriver, openDriver } from "~/db/driver.server";
import { openClaimStore } from "~/delivery/claim-store.server";
import { heldBackfillIds } from "~/models/Backfill.server";
import { ensureShop } from "~/models/Shop.server";
import { queuedBackfill, queuedDelivery, type QueuedDeliveryFields } from "../support/queued-deliveries";

const SHOP = "claim-priority.myshopify.com";
const driver = openDriver(database().target);
const store = openClaimStore(driver);
afterAll(async () => {
  await store.drain();
  await closeDriver(driver);
});

const now = new Date("2026-11-27T12:00:00.000Z");
const seconds = (n: number) => new Date(now.getTime() + n * 1000);

const delivery = (fields: QueuedDeliveryFields) => queuedDelivery(SHOP, { topic: "fulfillments/create", ...fields });

const backfill = (status: string) => queuedBackfill(SHOP, status, now);

const claim = (limit: number, excludeBackfills: string[] = []) => store.claim({ workerId: "w", limit, leaseMs: 60_000, now, excludeShops: [], excludeBackfills });

beforeEach(async () => {
  await db().delivery.deleteMany();
  await db().webhook.deleteMany();
  await db().backfill.deleteMany();
  await ensureShop(db(), SHOP);
});

describe("the claim with backfilled deliveries", () => {
  it("returns live deliveries first, then backfilled ones, each earliest due first", async () => {
    const running = await backfill("sending");
    // Backfilled ones due long before the live ones.
    const old = [];
    for (let i = 0; i < 5; i++) old.push(await delivery({ nextAttemptAt: seconds(-3600 + i), backfillId: running.id }));
    const live = [];
    for (let i = 0; i < 3; i++) live.push(await delivery({ nextAttemptAt: seconds(-10 + i) }));
    // A live delivery whose worker died counts as live too.
    const crashed = await delivery({ status: "sending", nextAttemptAt: seconds(-5), leaseOwner: "dead", leaseExpiresAt: seconds(-1) });

    const first = await claim(3);
    expect(first.map((row) => row.id)).toEqual(live.map((row) => row.id));
    expect(first.every((row) => row.backfillId === null)).toBe(true);

    const second = await claim(3);
    expect(second.map((row) => row.id)).toEqual([crashed.id, old[0]!.id, old[1]!.id]);
    expect(second.slice(1).every((row) => row.backfillId === running.id)).toBe(true);

    const rest = await claim(10);
    expect(rest.map((row) => row.id)).toEqual(old.slice(2).map((row) => row.id));
  });

  it("with a claim of N among many, takes every due live delivery before any backfilled one", async () => {
    const running = await backfill("reading");
    for (let i = 0; i < 30; i++) await delivery({ nextAttemptAt: seconds(-1000 + i), backfillId: running.id });
    const live = new Set<string>();
    for (let i = 0; i < 7; i++) live.add((await delivery({ nextAttemptAt: seconds(-i) })).id);
    const claimed = await claim(10);
    expect(claimed).toHaveLength(10);
    expect(claimed.slice(0, 7).every((row) => live.has(row.id))).toBe(true);
    expect(claimed.slice(7).every((row) => row.backfillId === running.id)).toBe(true);
  });

  it("does not claim the deliveries of a backfill listed in excludeBackfills, and claims them once it is not", async () => {
    const paused = await backfill("paused");
    const other = await backfill("sending");
    const held = await delivery({ nextAttemptAt: seconds(-100), backfillId: paused.id });
    const heldCrashed = await delivery({ status: "sending", nextAttemptAt: seconds(-100), backfillId: paused.id, leaseOwner: "dead", leaseExpiresAt: seconds(-1) });
    const going = await delivery({ nextAttemptAt: seconds(-50), backfillId: other.id });
    const live = await delivery({ nextAttemptAt: seconds(-1) });

    const excluded = await heldBackfillIds(db());
    expect(excluded).toEqual([paused.id]);
    const claimed = await claim(10, excluded);
    expect(claimed.map((row) => row.id)).toEqual([live.id, going.id]);
    expect(await db().delivery.findUniqueOrThrow({ where: { id: held.id } })).toMatchObject({ status: "pending", leaseOwner: null, attempts: 0 });
    expect(await db().delivery.findUniqueOrThrow({ where: { id: heldCrashed.id } })).toMatchObject({ status: "sending", leaseOwner: "dead" });

    const afterResume = await claim(10, []);
    expect(afterResume.map((row) => row.id).sort()).toEqual([held.id, heldCrashed.id].sort());
  });
});

describe("the next due time", () => {
  it("ignores a paused backfill's deliveries, but not live ones or another backfill's", async () => {
    const paused = await backfill("paused");
    const other = await backfill("sending");
    await delivery({ nextAttemptAt: seconds(10), backfillId: paused.id });
    await delivery({ nextAttemptAt: seconds(60), backfillId: other.id });
    await delivery({ nextAttemptAt: seconds(120) });
    const held = await heldBackfillIds(db());

    expect((await store.nextDue([], held))?.toISOString()).toBe(seconds(60).toISOString());
    // Without the hold the paused one is the earliest.
    expect((await store.nextDue([], []))?.toISOString()).toBe(seconds(10).toISOString());

    await db().delivery.deleteMany({ where: { backfillId: other.id } });
    expect((await store.nextDue([], held))?.toISOString()).toBe(seconds(120).toISOString());
    await db().delivery.deleteMany({ where: { backfillId: null } });
    expect(await store.nextDue([], held)).toBeNull();
  });
});
