/**
 * Issue 8, break 1 (memory): three concurrent 300 MB answers from Attentive must not exhaust the
 * production server's memory. The stand-in streams each answer as the client reads and records how much
 * it managed to write before the client hung up. The client timeout is long here (20 s) so that what is
 * measured is the answer size cap, not the timeout.
 *
 * RELIABILITY_HUGE_MB (default 300) sets each answer's size.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAttentiveStandIn, type AttentiveStandIn } from "../stand-ins/attentive";
import { loadOrderId, orderBody, reportFigures } from "../support/load";
import { envInteger } from "../support/seeded-random";
import { SETUP_TIMEOUT_MS, startProductionServer, type ProductionServer } from "./production-server";

const SHOP = "huge-test.myshopify.com";
const KEY = "huge-test-key-0001";
const HUGE_MB = envInteger("RELIABILITY_HUGE_MB", 300);
const CONCURRENT = 3;
/** Generous: a capped client reads at most a few MB per answer; an uncapped one holds 3 x 300 MB, twice over. */
const RSS_GROWTH_BOUND_MB = 256;
const WRITTEN_BOUND_MB = 64;

let standIn: AttentiveStandIn;
let app: ProductionServer | undefined;

beforeAll(async () => {
  standIn = await startAttentiveStandIn({ apiKeys: [KEY] });
  app = await startProductionServer({ attentiveUrl: standIn.graphqlUrl, attentiveTimeoutMs: 20_000 });
  await app.connectShop(SHOP, KEY);
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await app?.stop();
  await standIn?.close();
});

describe("huge answers from Attentive", () => {
  it(`${CONCURRENT} concurrent ${HUGE_MB} MB answers: memory stays bounded and each read stops early`, async () => {
    const server = app!;
    // Warm up (first delivery loads the worker's code paths), then take the baseline.
    expect((await server.postWebhook({ topic: "orders/fulfilled", shop: SHOP, body: orderBody(loadOrderId(80_000)) })).status).toBe(200);
    await server.waitFor("the warm-up event", async () => standIn.received.length === 1, 30_000);
    const baselineKb = server.rssKb();

    standIn.injectFaults(...Array.from({ length: CONCURRENT }, () => ({ kind: "huge-body" as const, bytes: HUGE_MB * 1024 * 1024 })));
    let peakKb = baselineKb;
    const sampler = setInterval(() => {
      try {
        peakKb = Math.max(peakKb, server.rssKb());
      } catch {
        /* the process is gone; whileAlive reports it */
      }
    }, 50);
    try {
      await Promise.all(
        Array.from({ length: CONCURRENT }, async (_, i) => {
          expect((await server.postWebhook({ topic: "orders/fulfilled", shop: SHOP, body: orderBody(loadOrderId(80_001 + i)) })).status).toBe(200);
        }),
      );
      await server.whileAlive(server.waitFor("the huge answers to start", async () => standIn.hugeAnswers.length === CONCURRENT, 30_000, 20));
      await server.whileAlive(Promise.all(standIn.hugeAnswers.map((answer) => answer.finished)));
      await server.waitFor(
        "an attempt recorded for each huge answer",
        async () => (await server.sql.count(`SELECT COUNT(*) FROM "DeliveryAttempt"`)) >= 1 + CONCURRENT,
        60_000,
      );
    } finally {
      clearInterval(sampler);
      // Reported whatever happened: a failed run's peak is the evidence.
      reportFigures("prod-huge-answers", {
        answers: CONCURRENT,
        answerMb: HUGE_MB,
        writtenMbBeforeHangUp: standIn.hugeAnswers.map((answer) => Math.round(answer.bytesWritten / 1024 / 1024)),
        rssBaselineMb: Math.round(baselineKb / 1024),
        rssPeakMb: Math.round(peakKb / 1024),
        processAlive: server.alive(),
      });
    }
    server.assertAlive();
    const written = standIn.hugeAnswers.map((answer) => Math.round(answer.bytesWritten / 1024 / 1024));
    const growthMb = Math.round((peakKb - baselineKb) / 1024);
    const longest = await server.sql.count(`SELECT MAX(LENGTH(COALESCE("response", ''))) FROM "DeliveryAttempt"`);
    expect(growthMb).toBeLessThan(RSS_GROWTH_BOUND_MB);
    expect(Math.max(...written)).toBeLessThan(WRITTEN_BOUND_MB);
    expect(longest).toBeLessThanOrEqual(16 * 1024);
  });
});
