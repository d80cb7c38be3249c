/**
 * A claim, and the worker's next wake-up, when a shop the claim leaves out (ahead of its pace, cooling down after a
 * 429, paused) fills the claim's window at the head of the queue (docs/decisions/037, 038), on the test file's real
 * database (SQLite, or PostgreSQL with TEST_DATABASE=postgresql). The claim then reads the queue shop by shop, a few
 * of each shop per claim: the other shops' deliveries are found, earliest first, backfills are read each apart, and
 * the backlog is not touched.
 */
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { database, db } from "~/db.server";
import { closeDriver, openDriver } from "~/db/driver.server";
import { CLAIM_SCAN_WINDOW } from "~/delivery/claim-sql";
import { openClaimStore } from "~/delivery/claim-store.server";
import { ensureShop } from "~/models/Shop.server";
import { queuedBackfill, queuedBacklog, queuedDelivery } from "../support/queued-deliveries";

const BIG = "backlog-big.myshopify.com";
const QUIET_A = "backlog-quiet-a.myshopify.com";
const QUIET_B = "backlog-quiet-b.myshopify.com";

const driver = openDriver(database().target);
const store = openClaimStore(driver);
afterAll(async () => {
  await store.drain();
  await closeDriver(driver);
});

const now = new Date("2026-12-03T12:00:00.000Z");
const seconds = (n: number) => new Date(now.getTime() + n * 1000);
const claim = (limit: number, perShopLimit: number, excludeShops: string[], excludeBackfills: string[] = []) =>
  store.claim({ workerId: "w", limit, perShopLimit, leaseMs: 60_000, now, excludeShops, excludeBackfills });

/** BIG's backlog: one more due delivery than the window, every one due before any other shop's. */
const bigBacklog = () => queuedBacklog(BIG, CLAIM_SCAN_WINDOW + 1, (i) => ({ nextAttemptAt: seconds(-10_000 + i) }));

const backfill = (shop: string, status = "sending") => queuedBackfill(shop, status, now);

beforeEach(async () => {
  await db().delivery.deleteMany();
  await db().webhook.deleteMany();
  await db().backfill.deleteMany();
  for (const shop of [BIG, QUIET_A, QUIET_B]) await ensureShop(db(), shop);
});

describe("a claim past a left-out shop's backlog", () => {
  it("takes the other shops' due deliveries earliest first, live before backfilled, and leaves the backlog pending", async () => {
    await bigBacklog();
    const a1 = await queuedDelivery(QUIET_A, { nextAttemptAt: seconds(-50) });
    const b1 = await queuedDelivery(QUIET_B, { nextAttemptAt: seconds(-45) });
    const a2 = await queuedDelivery(QUIET_A, { nextAttemptAt: seconds(-40) });
    await queuedDelivery(QUIET_A, { nextAttemptAt: seconds(30) }); // not due yet
    const running = await backfill(QUIET_B);
    const backfilled = await queuedDelivery(QUIET_B, { nextAttemptAt: seconds(-5_000), backfillId: running.id });

    const claimed = await claim(10, 5, [BIG]);
    expect(claimed.map((row) => row.id)).toEqual([a1.id, b1.id, a2.id, backfilled.id]);
    expect(await db().delivery.count({ where: { shop: BIG, status: "pending" } })).toBe(CLAIM_SCAN_WINDOW + 1);
    expect(await claim(10, 5, [BIG])).toEqual([]);
  });

  it("reads a few of each shop per claim, so one shop's long queue does not fill the claim, and the rest later", async () => {
    await bigBacklog();
    // All of A's are due before any of B's: read in queue order, a claim of 8 would be A's alone.
    const a = await queuedBacklog(QUIET_A, 12, (i) => ({ nextAttemptAt: seconds(-100 + i) }));
    const b = await queuedBacklog(QUIET_B, 12, (i) => ({ nextAttemptAt: seconds(-50 + i) }));

    const first = await claim(8, 8, [BIG]);
    // Candidates to read are the claim's 8, over two shops: 4 each (HEADS_AT_LEAST), each shop's earliest.
    expect(first.map((row) => row.id)).toEqual([...a.slice(0, 4), ...b.slice(0, 4)]);
    const second = await claim(8, 8, [BIG]);
    expect(second.map((row) => row.id)).toEqual([...a.slice(4, 8), ...b.slice(4, 8)]);
  });

  it("reads in queue order while the window holds enough of the other shops' deliveries", async () => {
    // The window's first CLAIM_SCAN_WINDOW due deliveries hold 16 of the quiet shops' after the backlog's: the claim
    // reads past the backlog, in queue order.
    await queuedBacklog(BIG, CLAIM_SCAN_WINDOW - 16, (i) => ({ nextAttemptAt: seconds(-10_000 + i) }));
    const a = await queuedBacklog(QUIET_A, 12, (i) => ({ nextAttemptAt: seconds(-100 + i) }));
    await queuedBacklog(QUIET_B, 12, (i) => ({ nextAttemptAt: seconds(-50 + i) }));

    const claimed = await claim(8, 8, [BIG]);
    expect(claimed.map((row) => row.id)).toEqual(a.slice(0, 8));
  });

  it("claims none of a backfill whose shop is left out, nor of a held one, and the others' in order", async () => {
    const big = await backfill(BIG);
    await queuedBacklog(BIG, 20, (i) => ({ nextAttemptAt: seconds(-9_000 + i), backfillId: big.id }));
    const held = await backfill(QUIET_A, "paused");
    await queuedBacklog(QUIET_A, 5, (i) => ({ nextAttemptAt: seconds(-8_000 + i), backfillId: held.id }));
    const running = await backfill(QUIET_B);
    const b = await queuedBacklog(QUIET_B, 5, (i) => ({ nextAttemptAt: seconds(-100 + i), backfillId: running.id }));

    const claimed = await claim(10, 10, [BIG], [held.id]);
    expect(claimed.map((row) => row.id)).toEqual(b);
    // Without BIG left out, its backfill's deliveries, due first, come first.
    const next = await claim(3, 3, [], [held.id]);
    expect(next.map((row) => row.shop)).toEqual([BIG, BIG, BIG]);
  });
});

describe("the next due time past a left-out shop's backlog", () => {
  it("is the earliest of the other shops and backfills, however long the backlog", async () => {
    await bigBacklog();
    await queuedDelivery(QUIET_A, { nextAttemptAt: seconds(90) });
    await queuedDelivery(QUIET_B, { nextAttemptAt: seconds(60) });
    const running = await backfill(QUIET_A);
    await queuedDelivery(QUIET_A, { nextAttemptAt: seconds(120), backfillId: running.id });

    expect((await store.nextDue([BIG], []))?.toISOString()).toBe(seconds(60).toISOString());
    expect((await store.nextDue([BIG, QUIET_B], []))?.toISOString()).toBe(seconds(90).toISOString());
    // A backfill counts with its shop: left out with it.
    await db().delivery.deleteMany({ where: { shop: QUIET_A, backfillId: null } });
    expect((await store.nextDue([BIG, QUIET_B], []))?.toISOString()).toBe(seconds(120).toISOString());
    expect(await store.nextDue([BIG, QUIET_B, QUIET_A], [])).toBeNull();
    // Not left out, the backlog's first is the earliest.
    expect((await store.nextDue([], []))?.toISOString()).toBe(seconds(-10_000).toISOString());
  });
});
