/**
 * Issue 8, "Done when": with Attentive hanging for RELIABILITY_HANG_MS (default 30 s) while webhooks keep
 * arriving, the production server answers every webhook 200 promptly and stays up; once Attentive recovers,
 * every event arrives exactly once (counted by externalEventId at the stand-in).
 *
 * During the outage every request to Attentive hangs until the client gives up (or the outage ends, when
 * the stand-in drops what it still holds, unprocessed). Webhooks are posted two at a time for the whole
 * outage: the outage's length is the scenario, not a guess at how long something takes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAttentiveStandIn, type AttentiveStandIn } from "../stand-ins/attentive";
import { loadOrderId, orderBody, reportFigures } from "../support/load";
import { envInteger } from "../support/seeded-random";
import { deliveries, percentile, SETUP_TIMEOUT_MS, startProductionServer, type ProductionServer } from "./production-server";

const HANG_MS = envInteger("RELIABILITY_HANG_MS", 30_000);
const SHOPS = ["outage-a.myshopify.com", "outage-b.myshopify.com"];
const KEYS = ["outage-key-a-0001", "outage-key-b-0002"];
/** Shopify's own deadline for a webhook answer. */
const WEBHOOK_DEADLINE_MS = 5_000;

let standIn: AttentiveStandIn;
let app: ProductionServer | undefined;

beforeAll(async () => {
  standIn = await startAttentiveStandIn({ apiKeys: KEYS });
  app = await startProductionServer({ attentiveUrl: standIn.graphqlUrl, attentiveTimeoutMs: 1_000 });
  await Promise.all(SHOPS.map((shop, i) => app!.connectShop(shop, KEYS[i]!)));
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await app?.stop();
  await standIn?.close();
});

describe("Attentive hanging while webhooks arrive", () => {
  it(`answers every webhook during a ${HANG_MS / 1000} s hang, stays up, and sends each event exactly once after`, async () => {
    const server = app!;
    standIn.setFaultPlan(() => ({ kind: "hang" }));
    const answers: Array<{ status: number; ms: number }> = [];
    const outageStarted = Date.now();
    let next = 0;
    const poster = async () => {
      while (Date.now() - outageStarted < HANG_MS && server.alive()) {
        const i = next++;
        try {
          const answer = await server.postWebhook({ topic: "orders/fulfilled", shop: SHOPS[i % SHOPS.length]!, body: orderBody(loadOrderId(10_000 + i)) });
          answers.push({ status: answer.status, ms: answer.ms });
        } catch {
          answers.push({ status: 0, ms: Number.NaN });
        }
        // About ten webhooks a second in all: a steady stream like a busy shop's, not a flood.
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    };
    await server.whileAlive(Promise.all([poster(), poster()]));
    const hungRequests = standIn.requests;
    // Recovery: what is still held is dropped unprocessed, and Attentive answers normally from now on.
    standIn.setFaultPlan(null);
    standIn.dropHanging();
    const recoveredAt = Date.now();

    expect(answers.filter((answer) => answer.status !== 200), "webhooks not answered 200").toEqual([]);
    const times = answers.map((answer) => answer.ms);
    expect(Math.max(...times)).toBeLessThan(WEBHOOK_DEADLINE_MS);
    expect(hungRequests, "Attentive saw requests during the outage").toBeGreaterThan(0);

    // Production backoff (5 s doubling) after a 30 s outage: the last retries come within about a minute.
    await server.waitFor(
      "every delivery to be delivered after the recovery",
      async () => (await server.sql.count(`SELECT COUNT(*) FROM "Delivery" WHERE "status" <> 'delivered'`)) === 0,
      180_000,
      250,
    );
    const recoveryMs = Date.now() - recoveredAt;
    const rows = await deliveries(server);
    expect(rows).toHaveLength(answers.length);
    const sent = new Map<string, number>();
    for (const event of standIn.received) sent.set(event.input.externalEventId ?? "", (sent.get(event.input.externalEventId ?? "") ?? 0) + 1);
    const repeated = [...sent].filter(([, n]) => n > 1);
    const lost = rows.filter((row) => !sent.has(row.externalEventId));
    expect({ repeated, lost: lost.length }).toEqual({ repeated: [], lost: 0 });
    server.assertAlive();

    reportFigures("prod-attentive-outage", {
      hangMs: HANG_MS,
      webhooks: answers.length,
      webhookAnswerP50Ms: Math.round(percentile(times, 50)),
      webhookAnswerMaxMs: Math.round(Math.max(...times)),
      attentiveRequestsDuringOutage: hungRequests,
      attentiveRequestsInAll: standIn.requests,
      eventsReceived: standIn.received.length,
      distinctEvents: sent.size,
      recoveryToAllDeliveredMs: recoveryMs,
    });
  });
});
