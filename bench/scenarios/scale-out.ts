/**
 * Scenario 8: PostgreSQL, one app process (DELIVERY_WORKER=off) and one standalone worker, then two of each,
 * under the same load: ingest at max rate against the app(s) while the worker(s) drain a pre-loaded queue of
 * fifty shops (stand-in answering in 50 ms). Throughput ratio, and no event sent twice.
 */
import { log, sleep } from "../lib/common";
import { ENCRYPTION_KEY, startApp, startWorker } from "../lib/app";
import { createDatabase, preloadDeliveries, seedShops, shopsFor } from "../lib/db";
import { ORDER_BODY, orderWebhooks, runLoad } from "../lib/load";
import { goal, perSec, type ScenarioContext } from "../lib/report";
import { startStandIn } from "../lib/standin";
import { rateAfterFirstSecond } from "./delivery";

interface Topology {
  processes: number;
  ingestPerSec: number;
  deliveredPerSec: number;
  sent: number;
  duplicatesAtAttentive: number;
  deliveredTwiceInDb: number;
}

async function runTopology(ctx: ScenarioContext, processes: number): Promise<Topology> {
  const shops = shopsFor(50, `scale${processes}`);
  const standIn = await startStandIn({ keys: shops.map((s) => s.apiKey), rateLimitPerSecond: 150, latencyMs: 50 });
  const db = await createDatabase("postgresql", `scale${processes}`);
  try {
    const mappings = await seedShops(db, shops, ENCRYPTION_KEY);
    await preloadDeliveries(db, mappings, ctx.quick ? 60 : 200, ORDER_BODY);
    log(`scale-out: ${processes} app process(es) + ${processes} worker(s) on PostgreSQL`);
    const apps = await Promise.all(
      Array.from({ length: processes }, (_, i) => startApp({ databaseUrl: db.url, attentiveUrl: standIn.graphqlUrl, worker: "off", name: `app-scale${processes}-${i}` })),
    );
    const workers = Array.from({ length: processes }, (_, i) => startWorker({ databaseUrl: db.url, attentiveUrl: standIn.graphqlUrl, name: `worker-scale${processes}-${i}` }));
    let loads;
    try {
      for (let i = 0; i < 150 && (await standIn.stats()).requests === 0; i++) await sleep(100);
      loads = await Promise.all(
        apps.map((app) =>
          runLoad({ url: app.url, durationS: ctx.durationS, connections: Math.ceil(16 / processes), next: orderWebhooks(shops.map((s) => s.domain)), target: app.name }),
        ),
      );
    } finally {
      await Promise.all([...apps, ...workers].map((child) => child.stop()));
    }
    const stats = await standIn.stats();
    const end = Math.max(...stats.events.map(([, at]) => at), 0);
    const { count, windowS } = rateAfterFirstSecond(stats.events, end);
    const ids = stats.events.map(([id]) => id);
    const deliveredTwice = await db.count(
      `SELECT count(*) AS n FROM (SELECT "deliveryId" FROM "DeliveryAttempt" WHERE outcome = 'delivered' GROUP BY "deliveryId" HAVING count(*) > 1) AS twice`,
    );
    return {
      processes,
      ingestPerSec: loads.reduce((sum, load) => sum + load.acceptedPerSec, 0),
      deliveredPerSec: count / windowS,
      sent: stats.events.length,
      duplicatesAtAttentive: ids.length - new Set(ids).size,
      deliveredTwiceInDb: deliveredTwice,
    };
  } finally {
    await standIn.stop();
    await db.drop();
  }
}

export async function scaleOutScenario(ctx: ScenarioContext, postgres: boolean): Promise<void> {
  if (!postgres) return;
  const two = await runTopology(ctx, 2);
  if (ctx.quick) {
    // Smoke run: the two-of-each topology and its no-duplicates check only.
    ctx.raw.scaleOut = { two };
    const duplicates = two.duplicatesAtAttentive + two.deliveredTwiceInDb;
    goal(ctx, { scenario: "8 Scale out (PostgreSQL)", measure: "deliveries sent twice (2 apps + 2 workers)", ours: `${duplicates} (of ${two.sent} sent)`, reference: "", goal: "0", met: duplicates === 0 });
    return;
  }
  const one = await runTopology(ctx, 1);
  ctx.raw.scaleOut = { one, two };
  const ingestRatio = two.ingestPerSec / Math.max(1, one.ingestPerSec);
  const deliveryRatio = two.deliveredPerSec / Math.max(1, one.deliveredPerSec);
  goal(ctx, {
    scenario: "8 Scale out (PostgreSQL)",
    measure: "2 apps + 2 workers vs 1 + 1: ingest/s",
    ours: `${perSec(two.ingestPerSec)} (${ingestRatio.toFixed(2)}x)`,
    reference: `1 + 1: ${perSec(one.ingestPerSec)}`,
    goal: ">= 1.6x",
    met: ingestRatio >= 1.6,
  });
  goal(ctx, {
    scenario: "8 Scale out (PostgreSQL)",
    measure: "2 apps + 2 workers vs 1 + 1: delivered events/s (same time)",
    ours: `${perSec(two.deliveredPerSec)} (${deliveryRatio.toFixed(2)}x)`,
    reference: `1 + 1: ${perSec(one.deliveredPerSec)}`,
    goal: ">= 1.6x",
    met: deliveryRatio >= 1.6,
  });
  const duplicates = one.duplicatesAtAttentive + two.duplicatesAtAttentive + one.deliveredTwiceInDb + two.deliveredTwiceInDb;
  goal(ctx, {
    scenario: "8 Scale out (PostgreSQL)",
    measure: "deliveries sent twice",
    ours: `${duplicates} (of ${one.sent + two.sent} sent)`,
    reference: "",
    goal: "0",
    met: duplicates === 0,
  });
}
