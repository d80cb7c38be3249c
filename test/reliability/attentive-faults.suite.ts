/**
 * Promise 1: whatever Attentive does (refuses connections, hangs past the client timeout,
 * answers 500/502, rate-limits with and without Retry-After, says x-ratelimit-remaining: 0,
 * answers 200 with GraphQL errors or with malformed JSON), a load of thousands of webhooks
 * posted through the real route action ends with every event delivered exactly once, within
 * the retry budget, nothing left "sending".
 *
 * Faults come from a seeded plan spread over every request, on top of the stand-in's real
 * per-key rate limit; two workers run while the webhooks arrive. Sizes and seed:
 * RELIABILITY_WEBHOOKS (default 2000), RELIABILITY_SEED (default 20240501),
 * RELIABILITY_FAULT_PERCENT (default 30).
 */
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { db } from "~/db.server";
import type { RetryPolicy } from "~/delivery/retry-policy";
import { onWork } from "~/delivery/wake.server";
import { startDeliveryWorker, type DeliveryWorker } from "~/delivery/worker.server";
import { connectAttentive } from "~/models/Shop.server";
import { secretBoxFromEnv } from "~/secrets/secret-box.server";
import type { Fault } from "../stand-ins/attentive";
import { startAttentiveThread, type StandInThread } from "../stand-ins/attentive-thread";
import { forEachConcurrently, loadOrderId, loadRefundId, orderBody, refundBody, reportFigures, waitUntil } from "../support/load";
import { postWebhook, workerOptions } from "../support/pipeline";
import { envInteger, seededRandom } from "../support/seeded-random";

const SEED = envInteger("RELIABILITY_SEED", 20240501);
const WEBHOOKS = envInteger("RELIABILITY_WEBHOOKS", 2000);
const FAULT_PERCENT = envInteger("RELIABILITY_FAULT_PERCENT", 30);
const SHOPS = Array.from({ length: 4 }, (_, i) => `fault-load-${i}.myshopify.com`);
const KEYS = SHOPS.map((_, i) => `attentive-load-key-${i}`);
/**
 * Generous on purpose: this process also runs the ingest and both workers, and a busy event
 * loop can fire the timeout after Attentive already answered. That is a real, unavoidable
 * repeat (Attentive processed the event; we cannot know), not the faults under test.
 */
const TIMEOUT_MS = 3_000;
/** Fast, but the same shape as production: exponential with jitter, never sooner than Retry-After. */
const RETRY: RetryPolicy = { maxAttempts: 12, baseDelayMs: 20, maxDelayMs: 400 };

const FAULTS: Array<{ name: string; fault: Fault }> = [
  { name: "connection refused", fault: { kind: "refuse" } },
  { name: "hang past the client timeout", fault: { kind: "hang", ms: TIMEOUT_MS + 300 } },
  { name: "HTTP 500", fault: { kind: "status", status: 500 } },
  { name: "HTTP 502", fault: { kind: "status", status: 502 } },
  { name: "HTTP 429 with Retry-After", fault: { kind: "rate-limited", retryAfterSeconds: 1 } },
  { name: "HTTP 429 without Retry-After", fault: { kind: "rate-limited" } },
  { name: "HTTP 200 with a GraphQL error", fault: { kind: "graphql-error", code: "INTERNAL_SERVER_ERROR" } },
  { name: "HTTP 200 with malformed JSON", fault: { kind: "malformed" } },
];

let standIn: StandInThread;

beforeAll(async () => {
  standIn = await startAttentiveThread({
    // A per-key limit well under what two workers can push locally, so the real 429s and
    // x-ratelimit-remaining: 0 answers happen as well as the injected ones.
    options: { apiKeys: KEYS, rateLimitPerSecond: envInteger("RELIABILITY_RATE_LIMIT", 25) },
    plan: { seed: SEED, percent: FAULT_PERCENT, faults: FAULTS },
  });
  for (const [i, shop] of SHOPS.entries()) await connectAttentive(db(), secretBoxFromEnv(), shop, KEYS[i]!, "Load Co");
});

afterAll(async () => {
  await standIn?.close();
});

describe("faults at Attentive under load", () => {
  it(`delivers each of ${WEBHOOKS} webhooks' events exactly once (seed ${SEED})`, async () => {
    const options = (i: number) =>
      workerOptions(standIn, {
        attentive: { apiUrl: standIn.graphqlUrl, timeoutMs: TIMEOUT_MS, propertiesEncoding: "object" },
        retry: RETRY,
        leaseMs: 60_000,
        idlePollMs: 50,
        random: seededRandom(SEED + i + 1),
        logger: pino({ level: "silent" }),
      });
    const workers: DeliveryWorker[] = [startDeliveryWorker(options(0)), startDeliveryWorker(options(1))];
    const unsubscribe = onWork(() => workers.forEach((worker) => worker.wake()));
    const startedAt = Date.now();

    // A fifth of the webhooks are refunds, each posted after its order webhook was acknowledged.
    const orders = Math.ceil(WEBHOOKS / 1.25);
    const refunds = WEBHOOKS - orders;
    const statuses = new Map<number, number>();
    const count = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1);
    try {
      await forEachConcurrently(
        Array.from({ length: orders }, (_, i) => i),
        8,
        async (i) => {
          const shop = SHOPS[i % SHOPS.length]!;
          const orderId = loadOrderId(i);
          count((await postWebhook({ topic: "orders/fulfilled", shop, body: orderBody(orderId) })).status);
          if (i < refunds) {
            count((await postWebhook({ topic: "refunds/create", shop, body: refundBody(loadRefundId(i), orderId) })).status);
          }
        },
      );
      const ingestMs = Date.now() - startedAt;
      await waitUntil(
        "every delivery to finish",
        async () => (await db().delivery.count({ where: { status: { in: ["pending", "sending"] } } })) === 0,
        300_000,
        250,
      );
      const totalMs = Date.now() - startedAt;
      await Promise.all(workers.map((worker) => worker.stop()));

      expect(Object.fromEntries(statuses)).toEqual({ 200: WEBHOOKS });
      const deliveries = await db().delivery.findMany({ select: { externalEventId: true, status: true, attempts: true, lastError: true } });
      expect(deliveries).toHaveLength(WEBHOOKS); // one default mapping per topic
      const byStatus = countBy(deliveries.map((delivery) => delivery.status));
      if (process.env.RELIABILITY_DEBUG && byStatus.failed) {
        const rows = await db().delivery.findMany({ where: { status: "failed" }, take: 2, include: { attemptLog: { orderBy: { startedAt: "asc" } } } });
        console.log(JSON.stringify(rows.map((r) => ({ a: r.attempts, shop: r.shop, log: r.attemptLog.map((l) => [l.number, l.startedAt.toISOString().slice(17), l.httpStatus, l.error?.slice(0, 50), l.durationMs]) })), null, 1));
      }
      expect(byStatus).toEqual({ delivered: WEBHOOKS });

      const stats = await standIn.stats();
      const injected = new Map(Object.entries(stats.injected));
      const sent = countBy(stats.received);
      const duplicates = Object.values(sent).filter((n) => n > 1).length;
      const expected = new Set(deliveries.map((delivery) => delivery.externalEventId));
      const lost = [...expected].filter((id) => !sent[id]).length;
      const unknown = Object.keys(sent).filter((id) => !expected.has(id)).length;
      if (duplicates > 0 && process.env.RELIABILITY_DEBUG) {
        const dupIds = Object.entries(sent).filter(([, n]) => n > 1).map(([id]) => id).slice(0, 5);
        const rows = await db().delivery.findMany({ where: { externalEventId: { in: dupIds } }, include: { attemptLog: true } });
        console.log(JSON.stringify(rows.map((r) => ({ a: r.attempts, log: r.attemptLog.map((l) => [l.number, l.outcome, l.httpStatus, l.error?.slice(0, 60), l.durationMs]) })), null, 1));
      }
      expect({ duplicates, lost, unknown }).toEqual({ duplicates: 0, lost: 0, unknown: 0 });

      const attempts = deliveries.map((delivery) => delivery.attempts);
      expect(Math.max(...attempts)).toBeLessThanOrEqual(RETRY.maxAttempts);
      const outcomes = await db().deliveryAttempt.groupBy({ by: ["outcome", "httpStatus"], _count: { _all: true } });
      const injectedTotal = [...injected.values()].reduce((a, b) => a + b, 0);
      expect(injectedTotal).toBeGreaterThan(0);
      for (const { name } of FAULTS) expect(injected.get(name) ?? 0, name).toBeGreaterThan(0);

      reportFigures("attentive-faults", {
        seed: SEED,
        webhooksSent: WEBHOOKS,
        webhooksAnswered200: statuses.get(200) ?? 0,
        attentiveRequests: stats.requests,
        faultsInjected: injectedTotal,
        faultsByKind: Object.fromEntries(injected),
        attemptOutcomes: outcomes.map((row) => ({ outcome: row.outcome, httpStatus: row.httpStatus, count: row._count._all })),
        eventsDelivered: stats.received.length,
        distinctEventsDelivered: Object.keys(sent).length,
        duplicates,
        lost,
        maxAttemptsUsed: Math.max(...attempts),
        retryBudget: RETRY.maxAttempts,
        ingestMs,
        totalMs,
      });
    } finally {
      unsubscribe();
      await Promise.all(workers.map((worker) => worker.stop()));
    }
  });
});

function countBy(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}
