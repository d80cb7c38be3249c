/**
 * Promise 2, the database side: PostgreSQL goes away for a while (a TCP proxy between the app
 * process and the shared server is cut, then restored). Webhooks arriving meanwhile get a
 * non-2xx quickly, so Shopify delivers them again; nothing is half-written (every recorded
 * webhook has its delivery); the worker in the same, never restarted process recovers by
 * itself and every acknowledged event reaches Attentive, a repeat only for a send whose
 * outcome could not be recorded, with the same externalEventId.
 * PostgreSQL only (TEST_DATABASE=postgresql): SQLite is a file inside the app's own process.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { db } from "~/db.server";
import { connectAttentive } from "~/models/Shop.server";
import { secretBoxFromEnv } from "~/secrets/secret-box.server";
import { startAttentiveThread, type StandInThread } from "../stand-ins/attentive-thread";
import { freePort, postOverHttp, startAppProcess, type AppProcess } from "../support/app-process";
import { forEachConcurrently, loadOrderId, orderBody, reportFigures, waitUntil } from "../support/load";
import { envInteger } from "../support/seeded-random";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy";
import { testProvider } from "../support/test-database";
import { TEST_SECRET } from "../support/webhooks";

const SHOP = "outage-test.myshopify.com";
const KEY = `attentive-outage-key-${randomUUID().slice(0, 8)}`;
const OUTAGE_MS = envInteger("RELIABILITY_OUTAGE_MS", 4_000);
/** Shopify waits about 5 s for an answer. */
const SHOPIFY_TIMEOUT_MS = 5_000;

describe.skipIf(testProvider() !== "postgresql")("PostgreSQL unavailable for a while", () => {
  let standIn: StandInThread;
  let proxy: TcpProxy;
  let app: AppProcess | undefined;

  beforeAll(async () => {
    // Slow enough that the worker is mid-send when the database goes.
    standIn = await startAttentiveThread({ options: { apiKeys: [KEY], latencyMs: 100 } });
    await connectAttentive(db(), secretBoxFromEnv(), SHOP, KEY, "Outage Co");
    proxy = await startTcpProxy({ host: "127.0.0.1", port: 5432 });
  });

  afterAll(async () => {
    if (app && app.child.exitCode === null) app.child.kill("SIGKILL");
    await proxy?.close();
    await standIn?.close();
  });

  it("answers non-2xx while it is down, writes nothing by halves, and recovers by itself", async () => {
    const direct = new URL(process.env.DATABASE_URL ?? "");
    if (direct.port !== "5432" && direct.port !== "") throw new Error(`expected the test server on 5432, got ${direct.host}`);
    const proxied = new URL(direct);
    proxied.port = String(proxy.port);
    app = await startAppProcess(
      {
        PATH: process.env.PATH,
        NODE_ENV: "production",
        DATABASE_URL: proxied.toString(),
        SHOPIFY_API_KEY: "test-api-key",
        SHOPIFY_API_SECRET: TEST_SECRET,
        SHOPIFY_APP_URL: "https://app.example.test",
        APP_ENCRYPTION_KEY: process.env.APP_ENCRYPTION_KEY,
        ATTENTIVE_API_URL: standIn.graphqlUrl,
        ATTENTIVE_TIMEOUT_MS: "1000",
        DELIVERY_WORKER: "embedded",
        LOG_LEVEL: "warn",
        RELIABILITY_LEASE_MS: "3000",
        RELIABILITY_RETRY_BASE_MS: "50",
      },
      await freePort(),
    );
    const origin = app.origin;
    const post = (i: number, webhookId: string) =>
      postOverHttp(origin, "/webhooks/commerce", { topic: "orders/fulfilled", shop: SHOP, body: orderBody(loadOrderId(i)), webhookId, eventId: webhookId });

    // Before: 100 webhooks, all recorded; the cut comes while the worker is still sending them.
    const before = Array.from({ length: 100 }, (_, i) => i);
    const beforeStatuses: number[] = [];
    await forEachConcurrently(before, 8, async (i) => void beforeStatuses.push(await post(i, randomUUID())));
    expect(beforeStatuses.every((status) => status === 200)).toBe(true);

    // During: the database is gone; every answer is a quick non-2xx.
    proxy.cut();
    const cutAt = Date.now();
    const during = Array.from({ length: 50 }, (_, i) => 100 + i);
    const duringAnswers: Array<{ i: number; status: number; ms: number; webhookId: string }> = [];
    while (Date.now() - cutAt < OUTAGE_MS || duringAnswers.length < during.length) {
      const i = during[duringAnswers.length % during.length]!;
      const webhookId = randomUUID();
      const startedAt = Date.now();
      const status = await post(i, webhookId);
      duringAnswers.push({ i, status, ms: Date.now() - startedAt, webhookId });
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    proxy.restore();
    expect(duringAnswers.filter((answer) => answer.status >= 200 && answer.status < 300)).toEqual([]);
    expect(new Set(duringAnswers.map((answer) => answer.status))).toEqual(new Set([503]));
    expect(Math.max(...duringAnswers.map((answer) => answer.ms))).toBeLessThan(SHOPIFY_TIMEOUT_MS);
    expect(app.child.exitCode).toBeNull(); // still running: nothing crashed

    // After: Shopify redelivers what was refused, and new webhooks arrive.
    const after = [...during, ...Array.from({ length: 100 }, (_, i) => 150 + i)];
    const afterStatuses: number[] = [];
    await waitUntil("the app to record again", async () => (await post(during[0]!, randomUUID())) === 200, 30_000, 200);
    await forEachConcurrently(after, 8, async (i) => void afterStatuses.push(await post(i, randomUUID())));
    expect(afterStatuses.every((status) => status === 200)).toBe(true);

    try {
      await waitUntil(
        "the worker to deliver everything, without a restart",
        async () => (await db().delivery.count({ where: { shop: SHOP, status: { not: "delivered" } } })) === 0,
        60_000,
        200,
      );
    } catch (error) {
      // What was left, and what the app said, to tell a stuck worker from a slow one.
      const left = await db().delivery.groupBy({ by: ["status"], where: { shop: SHOP, status: { not: "delivered" } }, _count: true });
      throw new Error(`${error instanceof Error ? error.message : String(error)}\nleft: ${JSON.stringify(left)}\napp output (end):\n${app.output().slice(-4_000)}`);
    }
    expect(app.child.exitCode).toBeNull();

    const webhooks = await db().webhook.findMany({ where: { shop: SHOP }, select: { id: true, _count: { select: { deliveries: true } } } });
    expect(webhooks).toHaveLength(250);
    expect(webhooks.filter((webhook) => webhook._count.deliveries !== 1)).toEqual([]); // nothing half-written
    const deliveries = await db().delivery.findMany({
      where: { shop: SHOP },
      select: { externalEventId: true, attempts: true, _count: { select: { attemptLog: true } } },
    });
    const { received } = await standIn.stats();
    const sent = new Map<string, number>();
    for (const id of received) sent.set(id, (sent.get(id) ?? 0) + 1);
    expect(deliveries.filter((delivery) => !sent.has(delivery.externalEventId))).toEqual([]);
    const repeated = deliveries.filter((delivery) => (sent.get(delivery.externalEventId) ?? 0) > 1);
    // A repeat only where an attempt's outcome could not be written (the database went away mid-send).
    expect(repeated.filter((d) => (sent.get(d.externalEventId) ?? 0) - 1 > d.attempts - d._count.attemptLog)).toEqual([]);

    app.child.kill("SIGTERM");
    expect((await app.exited).code).toBe(0);

    reportFigures("database-outage", {
      outageMs: OUTAGE_MS,
      webhooksDuringOutage: duringAnswers.length,
      answersDuringOutage: Object.fromEntries([...new Set(duringAnswers.map((a) => a.status))].map((s) => [s, duringAnswers.filter((a) => a.status === s).length])),
      slowestAnswerDuringOutageMs: Math.max(...duringAnswers.map((answer) => answer.ms)),
      webhooksRecorded: webhooks.length,
      eventsDelivered: received.length,
      distinctEventsDelivered: sent.size,
      repeatsFromUnrecordedSends: repeated.length,
      lost: 0,
    });
  });
});
