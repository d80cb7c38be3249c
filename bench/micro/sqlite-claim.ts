/**
 * What the SQLite writer thread spends per delivery on a claim and an outcome, in one thread with nothing else
 * running: the claim's statements one by one (candidates, the UPDATE … RETURNING, the bodies), the outcome's, and
 * the transactions' BEGIN and COMMIT, as CPU µs per delivery (process.cpuUsage, single-threaded here).
 *
 * node --import tsx bench/micro/sqlite-claim.ts [claimSize=32] [perShop=120] [shops=50]
 */
import { prepareSqliteClaim } from "~/delivery/claim-sql";
import { prepareSqliteOutcome } from "~/delivery/outcome-sql";
import { openSqliteConnection } from "~/db/sqlite-connection";
import { ENCRYPTION_KEY } from "../lib/app";
import { log } from "../lib/common";
import { createDatabase, preloadDeliveries, seedShops, shopsFor } from "../lib/db";
import { ORDER_BODY } from "../lib/load";

const claimSize = Number(process.argv[2] ?? 32);
const perShop = Number(process.argv[3] ?? 120);
const shopCount = Number(process.argv[4] ?? 50);

const cpuUs = () => {
  const { user, system } = process.cpuUsage();
  return user + system;
};

const bench = await createDatabase("sqlite", "micro-claim");
try {
  const mappings = await seedShops(bench, shopsFor(shopCount, "claim"), ENCRYPTION_KEY);
  const queued = await preloadDeliveries(bench, mappings, perShop, ORDER_BODY);
  const db = openSqliteConnection(bench.url.slice("file:".length));
  const claim = prepareSqliteClaim(db);
  const outcome = prepareSqliteOutcome(db);
  const claimTx = db.transaction((request: Parameters<typeof claim>[0]) => claim(request));
  const outcomeTx = db.transaction((writes: Parameters<typeof outcome>[0][]) => writes.map(outcome));
  let claimUs = 0;
  let outcomeUs = 0;
  let delivered = 0;
  let claims = 0;
  const groupOf = 6;
  for (;;) {
    const t0 = cpuUs();
    const taken = claimTx.immediate({ workerId: "micro", limit: claimSize, leaseMs: 60_000, now: new Date(), excludeShops: [], perShopLimit: Math.max(4, claimSize / 2) });
    claimUs += cpuUs() - t0;
    if (taken.length === 0) break;
    claims++;
    const at = new Date();
    for (let i = 0; i < taken.length; i += groupOf) {
      const writes = taken.slice(i, i + groupOf).map((delivery) => ({
        deliveryId: delivery.id,
        workerId: "micro",
        status: "delivered" as const,
        finishedAt: at,
        response: '{"data":{"createCustomEvent":{"__typename":"CreateCustomEventPayload"}}}',
        lastError: null,
        errorKind: null,
        sent: { request: "x".repeat(626), stale: false, orderName: "#1001", email: "jon@example.com", eventType: "Order Fulfilled" },
        at,
        attempt: { number: 1, startedAt: at, durationMs: 50, outcome: "delivered", httpStatus: 200, error: null, response: null },
      }));
      const t1 = cpuUs();
      outcomeTx.immediate(writes);
      outcomeUs += cpuUs() - t1;
    }
    delivered += taken.length;
  }
  log(`${queued} queued, ${delivered} claimed and delivered in ${claims} claims of up to ${claimSize}`);
  console.log(
    JSON.stringify({
      claimSize,
      claimUsPerDelivery: +(claimUs / delivered).toFixed(1),
      claimUsPerClaim: +(claimUs / claims).toFixed(0),
      outcomeUsPerDelivery: +(outcomeUs / delivered).toFixed(1),
      outcomeGroup: groupOf,
    }),
  );
  db.close();
} finally {
  await bench.drop();
}
