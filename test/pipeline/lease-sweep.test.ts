/**
 * Deliveries left `sending` by a worker that died are taken over once their lease runs out, and a worker's loop looks
 * for them a few times per lease rather than on every claim (docs/decisions/038), on the test file's real database
 * (SQLite, or PostgreSQL with TEST_DATABASE=postgresql).
 */
import { afterAll, describe, expect, it } from "vitest";
import { database, db } from "~/db.server";
import { closeDriver, openDriver } from "~/db/driver.server";
import { openClaimStore } from "~/delivery/claim-store.server";
import { LEASE_SWEEP_MS, leaseSweeper, startDeliveryWorker } from "~/delivery/worker.server";
import { ensureShop } from "~/models/Shop.server";
import { postWebhook, usePipeline, workerOptions } from "../support/pipeline";
import { queuedDelivery } from "../support/queued-deliveries";
import { fixtureWith } from "../support/webhooks";

const pipeline = usePipeline({ latencyMs: 0 });
const driver = openDriver(database().target);
const store = openClaimStore(driver);
afterAll(async () => {
  await store.drain();
  await closeDriver(driver);
});

describe("a claim and deliveries whose lease ran out", () => {
  const SHOP = "lease-sweep.myshopify.com";
  const now = new Date("2026-12-03T12:00:00.000Z");
  const seconds = (n: number) => new Date(now.getTime() + n * 1000);
  const claim = (expiredLeases?: boolean) =>
    store.claim({ workerId: "w", limit: 10, leaseMs: 60_000, now, excludeShops: [], ...(expiredLeases === undefined ? {} : { expiredLeases }) });

  it("takes them unless told not to look, and takes pending ones either way", async () => {
    await ensureShop(db(), SHOP);
    const orphan = await queuedDelivery(SHOP, { status: "sending", nextAttemptAt: seconds(-30), leaseOwner: "dead", leaseExpiresAt: seconds(-1) });
    const pending = await queuedDelivery(SHOP, { nextAttemptAt: seconds(-10) });

    const without = await claim(false);
    expect(without.map((row) => row.id)).toEqual([pending.id]);
    expect((await db().delivery.findUniqueOrThrow({ where: { id: orphan.id } })).leaseOwner).toBe("dead");

    const looking = await claim();
    expect(looking.map((row) => row.id)).toEqual([orphan.id]);
    expect((await db().delivery.findUniqueOrThrow({ where: { id: orphan.id } })).leaseOwner).toBe("w");
  });
});

describe("a worker's sweep for expired leases", () => {
  it("looks on its first claim, then once per interval of its clock, and again when its clock goes back", () => {
    const sweep = leaseSweeper(60_000);
    expect(sweep(10_000)).toBe(true);
    expect(sweep(10_000)).toBe(false);
    expect(sweep(10_000 + LEASE_SWEEP_MS - 1)).toBe(false);
    expect(sweep(10_000 + LEASE_SWEEP_MS)).toBe(true);
    expect(sweep(10_000 + LEASE_SWEEP_MS + 1)).toBe(false);
    expect(sweep(5_000)).toBe(true);
  });

  it("looks at least four times per lease when the lease is short", () => {
    const sweep = leaseSweeper(400);
    expect(sweep(0)).toBe(true);
    expect(sweep(99)).toBe(false);
    expect(sweep(100)).toBe(true);
  });

  it("lets a running worker take over a delivery whose lease runs out while it runs", async () => {
    for (const id of [7001, 7002]) {
      const body = fixtureWith("orders_fulfilled.derived.json", (order) => {
        order.id = id;
        order.admin_graphql_api_id = `gid://shopify/Order/${id}`;
      });
      expect((await postWebhook({ topic: "orders/fulfilled", body })).status).toBe(200);
    }
    // Virtual time: the worker's clock moves only when the test moves it.
    let virtualMs = Date.now();
    const [orphan, first] = await db().delivery.findMany({ orderBy: { createdAt: "asc" } });
    await db().delivery.update({
      where: { id: orphan!.id },
      data: { status: "sending", leaseOwner: "worker-that-crashed", leaseExpiresAt: new Date(virtualMs + 5_000), attempts: 1 },
    });
    const statusOf = async (id: string) => (await db().delivery.findUniqueOrThrow({ where: { id } })).status;
    const until = async (id: string) => {
      const deadline = Date.now() + 15_000;
      while ((await statusOf(id)) !== "delivered" && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    };
    const worker = startDeliveryWorker(workerOptions(pipeline.standIn, { now: () => new Date(virtualMs), idlePollMs: 10 }));
    try {
      // The worker's first claim, which looks for expired leases, took the other delivery while the orphan's lease held.
      await until(first!.id);
      expect(await statusOf(first!.id)).toBe("delivered");
      expect(await statusOf(orphan!.id)).toBe("sending");
      // The lease runs out, and more than a sweep's interval passes on the worker's clock.
      virtualMs += 5_000 + LEASE_SWEEP_MS;
      await until(orphan!.id);
    } finally {
      await worker.stop();
    }
    const taken = await db().delivery.findUniqueOrThrow({ where: { id: orphan!.id } });
    expect(taken.status).toBe("delivered");
    expect(taken.attempts).toBe(2);
    expect(pipeline.standIn.received.map((event) => event.input.externalEventId)).toEqual([first!.externalEventId, orphan!.externalEventId]);
  });
});
