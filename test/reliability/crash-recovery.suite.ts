/**
 * Promise 2: the app is SIGKILLed at random moments (seeded) while webhooks arrive over HTTP
 * and the embedded worker sends, and restarted each time. Every webhook that got a 200 is
 * delivered in the end; an event reaches Attentive twice only when the process died after
 * sending it and before recording the answer, and then with the same externalEventId.
 * Runs on SQLite, and on PostgreSQL with TEST_DATABASE=postgresql.
 *
 * RELIABILITY_SEED, RELIABILITY_CRASH_WEBHOOKS (default 600), RELIABILITY_KILLS (default 5).
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { db } from "~/db.server";
import { connectAttentive } from "~/models/Shop.server";
import { secretBoxFromEnv } from "~/secrets/secret-box.server";
import { startAttentiveThread, type StandInThread } from "../stand-ins/attentive-thread";
import { freePort, postOverHttp, startAppProcess, type AppProcess } from "../support/app-process";
import { forEachConcurrently, loadOrderId, loadRefundId, orderBody, refundBody, reportFigures, waitUntil } from "../support/load";
import { envInteger, seededRandom } from "../support/seeded-random";
import { TEST_SECRET, WEBHOOK_PATH } from "../support/webhooks";
import { DEFAULT_CONCURRENCY } from "~/delivery/worker.server";

const SEED = envInteger("RELIABILITY_SEED", 20240501);
const WEBHOOKS = envInteger("RELIABILITY_CRASH_WEBHOOKS", 600);
const KILLS = envInteger("RELIABILITY_KILLS", 5);
const SHOP = "crash-test.myshopify.com";
const KEY = `attentive-crash-key-${randomUUID().slice(0, 8)}`;
/** The embedded worker's lanes: at most this many requests can be in flight when it dies. */
const WORKER_CONCURRENCY = DEFAULT_CONCURRENCY;

let standIn: StandInThread;

beforeAll(async () => {
  // Latency keeps requests in flight, so some kills land between "sent" and "recorded".
  standIn = await startAttentiveThread({ options: { apiKeys: [KEY], latencyMs: 15 } });
  await connectAttentive(db(), secretBoxFromEnv(), SHOP, KEY, "Crash Co");
});

afterAll(async () => {
  await standIn?.close();
});

function appEnv(): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    NODE_ENV: "production",
    DATABASE_URL: process.env.DATABASE_URL,
    SHOPIFY_API_KEY: "test-api-key",
    SHOPIFY_API_SECRET: TEST_SECRET,
    SHOPIFY_APP_URL: "https://app.example.test",
    SCOPES: "read_orders",
    APP_ENCRYPTION_KEY: process.env.APP_ENCRYPTION_KEY,
    ATTENTIVE_API_URL: standIn.graphqlUrl,
    ATTENTIVE_TIMEOUT_MS: "1000",
    DELIVERY_WORKER: "embedded",
    LOG_LEVEL: "info",
    // 3x the Attentive timeout, the rule the production lease follows (its 60 s floor would make each recovery wait a minute).
    RELIABILITY_LEASE_MS: "3000",
    RELIABILITY_RETRY_BASE_MS: "50",
  };
}

describe("crashes", () => {
  it(`delivers every acknowledged webhook through ${KILLS} SIGKILLs (seed ${SEED})`, async () => {
    const random = seededRandom(SEED);
    const port = await freePort();
    const logs: string[] = [];
    let app: AppProcess = await startAppProcess(appEnv(), port);
    const origin = app.origin;
    const startedAt = Date.now();

    // Shopify's side: every webhook is retried until it gets a 200.
    const orders = Math.ceil(WEBHOOKS / 1.25);
    const refunds = WEBHOOKS - orders;
    let acknowledged = 0;
    let refused = 0;
    const deliverUntil200 = async (topic: string, body: string) => {
      const webhookId = randomUUID();
      for (;;) {
        const status = await postOverHttp(origin, WEBHOOK_PATH[topic]!, { topic, shop: SHOP, body, webhookId, eventId: webhookId });
        if (status === 200) {
          acknowledged += 1;
          return;
        }
        refused += 1;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    const load = forEachConcurrently(
      Array.from({ length: orders }, (_, i) => i),
      8,
      async (i) => {
        const orderId = loadOrderId(i);
        await deliverUntil200("orders/fulfilled", orderBody(orderId));
        if (i < refunds) await deliverUntil200("refunds/create", refundBody(loadRefundId(i), orderId));
      },
    );

    const killedAtMs: number[] = [];
    for (let kill = 0; kill < KILLS; kill++) {
      await new Promise((resolve) => setTimeout(resolve, 200 + Math.floor(random() * 1300)));
      killedAtMs.push(Date.now() - startedAt);
      app.child.kill("SIGKILL");
      await app.exited;
      logs.push(app.output());
      app = await startAppProcess(appEnv(), port);
    }
    await load;
    await waitUntil(
      "every delivery to finish after the last restart",
      async () => (await db().delivery.count({ where: { status: { in: ["pending", "sending"] } } })) === 0,
      120_000,
      200,
    );
    const totalMs = Date.now() - startedAt;
    app.child.kill("SIGTERM");
    const graceful = await app.exited;
    logs.push(app.output());
    expect(graceful.code).toBe(0);

    expect(acknowledged).toBe(WEBHOOKS);
    expect(await db().webhook.count({ where: { shop: SHOP } })).toBe(WEBHOOKS);
    const deliveries = await db().delivery.findMany({
      where: { shop: SHOP },
      select: { id: true, externalEventId: true, status: true, attempts: true, _count: { select: { attemptLog: true } } },
    });
    expect(deliveries).toHaveLength(WEBHOOKS);
    expect(deliveries.filter((delivery) => delivery.status !== "delivered")).toEqual([]);

    const { received } = await standIn.stats();
    const sent = new Map<string, number>();
    for (const id of received) sent.set(id, (sent.get(id) ?? 0) + 1);
    const lost = deliveries.filter((delivery) => !sent.has(delivery.externalEventId));
    const known = new Set(deliveries.map((delivery) => delivery.externalEventId));
    const unknown = [...sent.keys()].filter((id) => !known.has(id));
    expect(lost).toEqual([]);
    expect(unknown).toEqual([]);

    // A repeat is only allowed for a send whose outcome a killed process never recorded:
    // its delivery was claimed more often than it has attempts in its log.
    const repeated = deliveries.filter((delivery) => (sent.get(delivery.externalEventId) ?? 0) > 1);
    const unrecordedAttempts = (delivery: (typeof deliveries)[number]) => delivery.attempts - delivery._count.attemptLog;
    const unexplained = repeated.filter((delivery) => (sent.get(delivery.externalEventId) ?? 0) - 1 > unrecordedAttempts(delivery));
    if (process.env.RELIABILITY_DEBUG) {
      console.log(repeated.map((d) => ({ sent: sent.get(d.externalEventId), attempts: d.attempts, logged: d._count.attemptLog })));
    }
    expect(unexplained).toEqual([]);
    const repeats = repeated.reduce((sum, delivery) => sum + (sent.get(delivery.externalEventId) ?? 1) - 1, 0);
    expect(repeats).toBeLessThanOrEqual(KILLS * WORKER_CONCURRENCY);

    // The logs of every run: no API key, no customer email or phone from the sample bodies.
    const allLogs = logs.join("\n");
    expect(allLogs).toContain("webhook received");
    for (const secret of [KEY, "jon@example.com", "john@example.com", "555-555-SHIP", "123-123-1234"]) {
      expect(allLogs.includes(secret), `logs contain ${secret}`).toBe(false);
    }

    reportFigures("crash-recovery", {
      seed: SEED,
      webhooksSent: WEBHOOKS,
      webhooksAcknowledged200: acknowledged,
      answersNot200WhileDown: refused,
      kills: KILLS,
      killedAtMs,
      eventsDelivered: received.length,
      distinctEventsDelivered: sent.size,
      repeatsFromCrashWindow: repeats,
      repeatedEvents: repeated.length,
      duplicatesOutsideCrashWindow: unexplained.length,
      lost: lost.length,
      totalMs,
    });
  });

  it("refuses to start in production without its secrets, saying which", async () => {
    const env = { ...appEnv(), SHOPIFY_API_SECRET: "", APP_ENCRYPTION_KEY: "" };
    await expect(startAppProcess(env, await freePort(), 30_000)).rejects.toThrow(
      /Refusing to start in production without SHOPIFY_API_SECRET, APP_ENCRYPTION_KEY/,
    );
  });
});
