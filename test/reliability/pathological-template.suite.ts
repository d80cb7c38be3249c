/**
 * Issue 8, break 2 and "Done when": one shop's template that runs for seconds inside a single filter call
 * (where_exp over a 20,000-item range with a long condition: liquidjs checks its renderLimit only between
 * nodes) must not stall another shop. While shop A's deliveries render it, shop B's webhooks must be
 * answered within Shopify's 5 s and B's events reach Attentive (goals: 1 s and 3 s; the bounds asserted
 * here are generous, the measured figures are reported for comparison).
 *
 * Also from break 2: a 64 MB mapping file imported through the admin route (on main it held the web process
 * 53 s at 2.45 GB) while B's webhooks arrive: they are answered within 5 s and memory stays bounded.
 *
 * The template is written straight into A's mapping row: it stands for a mapping saved before any
 * import-time limit existed, so the test exercises the renderer whatever the editor now accepts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAttentiveStandIn, type AttentiveStandIn } from "../stand-ins/attentive";
import { loadOrderId, orderBody, reportFigures } from "../support/load";
import { percentile, SETUP_TIMEOUT_MS, startProductionServer, type ProductionServer } from "./production-server";

const SLOW_SHOP = "template-a.myshopify.com";
const IMPORT_SHOP = "template-import.myshopify.com";
const IMPORT_MB = 64;
const OTHER_SHOP = "template-b.myshopify.com";
const KEYS = ["template-key-a-0001", "template-key-b-0002"];
const B_WEBHOOKS = 10;
const WEBHOOK_BOUND_MS = 5_000;
const EVENT_BOUND_MS = 10_000;

/** About 8-15 s of one where_exp call on this machine (measured with the engine alone). */
export function pathologicalTemplate(): string {
  const conditions = ["i > 5", "i < 100000"];
  for (let k = 7; k < 200; k += 2) conditions.push(`i != ${k}`);
  return `{% assign x = (1..20000) | where_exp: "i", "${conditions.join(" and ")}" %}{{ x | size }}`;
}

let standIn: AttentiveStandIn;
let app: ProductionServer | undefined;

beforeAll(async () => {
  standIn = await startAttentiveStandIn({ apiKeys: KEYS });
  app = await startProductionServer({ attentiveUrl: standIn.graphqlUrl, attentiveTimeoutMs: 2_000 });
  await Promise.all([app.connectShop(SLOW_SHOP, KEYS[0]!), app.connectShop(OTHER_SHOP, KEYS[1]!)]);
  const changed = await app.sql.count(
    `UPDATE "Mapping" SET "properties" = $1 WHERE "shop" = $2 AND "topic" = 'orders/fulfilled' RETURNING 1`,
    JSON.stringify({ orderName: "{{ name }}", slow: pathologicalTemplate() }),
    SLOW_SHOP,
  );
  expect(changed, "shop A has its orders/fulfilled mapping").toBe(1);
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await app?.stop();
  await standIn?.close();
});

describe("one shop's pathological template", () => {
  it("does not stall another shop's webhooks or events", async () => {
    const server = app!;
    for (const i of [0, 1]) {
      const answer = await server.postWebhook({ topic: "orders/fulfilled", shop: SLOW_SHOP, body: orderBody(loadOrderId(20_000 + i)) });
      expect(answer.status).toBe(200);
    }
    // B's webhooks go in once A's first delivery has been claimed, i.e. its render is under way.
    await server.waitFor(
      "shop A's delivery to be claimed",
      async () => (await server.sql.count(`SELECT COUNT(*) FROM "Delivery" WHERE "shop" = $1 AND ("status" <> 'pending' OR "attempts" > 0)`, SLOW_SHOP)) > 0,
      30_000,
      20,
    );
    // Shopify's clock starts when it sends: the webhook-to-Attentive latency counts from the post.
    const sentAt = new Map<string, number>();
    const webhookMs: number[] = [];
    await server.whileAlive(
      Promise.all(
        Array.from({ length: B_WEBHOOKS }, async (_, i) => {
          const orderId = loadOrderId(30_000 + i);
          sentAt.set(orderId, Date.now());
          const answer = await server.postWebhook({ topic: "orders/fulfilled", shop: OTHER_SHOP, body: orderBody(orderId) });
          expect(answer.status).toBe(200);
          webhookMs.push(answer.ms);
        }),
      ),
    );
    await server.waitFor(
      "shop B's events to reach Attentive",
      async () => standIn.received.filter((event) => event.apiKey === KEYS[1]).length >= B_WEBHOOKS,
      120_000,
      50,
    );
    // Webhook sent -> event at Attentive, per order (matched through the delivery's webhook body).
    const bEvents = standIn.received.filter((event) => event.apiKey === KEYS[1]);
    const bRows = await server.sql.all<{ externalEventId: string; body: string }>(
      `SELECT d."externalEventId", w."body" FROM "Delivery" d JOIN "Webhook" w ON w."id" = d."webhookRecordId" WHERE d."shop" = $1`,
      OTHER_SHOP,
    );
    const orderOfEvent = new Map(bRows.map((row) => [row.externalEventId, /"id":\s*(\d+)/.exec(row.body)?.[1] ?? ""]));
    const eventMs = bEvents.map((event) => event.receivedAt - (sentAt.get(orderOfEvent.get(event.input.externalEventId ?? "") ?? "") ?? Number.NaN));
    const slowRows = await server.sql.all<{ status: string; lastError: string | null }>(`SELECT "status", "lastError" FROM "Delivery" WHERE "shop" = $1`, SLOW_SHOP);

    reportFigures("prod-pathological-template", {
      otherShopWebhooks: B_WEBHOOKS,
      webhookAnswerP50Ms: Math.round(percentile(webhookMs, 50)),
      webhookAnswerMaxMs: Math.round(Math.max(...webhookMs)),
      webhookToAttentiveP50Ms: Math.round(percentile(eventMs, 50)),
      webhookToAttentiveMaxMs: Math.round(Math.max(...eventMs)),
      slowShopDeliveries: slowRows,
    });
    expect(eventMs.every((ms) => Number.isFinite(ms))).toBe(true);
    expect(Math.max(...webhookMs)).toBeLessThan(WEBHOOK_BOUND_MS);
    expect(Math.max(...eventMs)).toBeLessThan(EVENT_BOUND_MS);
    server.assertAlive();
  });

  it(`a ${IMPORT_MB} MB mapping import through the admin route does not stall webhooks`, async () => {
    const server = app!;
    // refunds/create mappings: whatever gets imported never fires in this suite.
    const mapping = (i: number) => ({
      topic: "refunds/create",
      eventType: `Imported ${i}`,
      enabled: true,
      properties: Object.fromEntries(Array.from({ length: 20 }, (_, k) => [`p${k}`, `{{ order.name }} {{ note | default: "${"x".repeat(100)}" }}`])),
    });
    const mappings: unknown[] = [];
    let size = 0;
    while (size < IMPORT_MB * 1024 * 1024) {
      const next = mapping(mappings.length);
      size += JSON.stringify(next).length + 1;
      mappings.push(next);
    }
    const file = JSON.stringify({ mappings });
    // Encoded to bytes up front: URL-encoding 64 MB takes seconds of this process's own event loop, which would be
    // counted against the webhooks timed below.
    const form = new TextEncoder().encode(new URLSearchParams({ intent: "import", file }).toString());
    const baselineKb = server.rssKb();
    let peakKb = baselineKb;
    const sampler = setInterval(() => {
      try {
        peakKb = Math.max(peakKb, server.rssKb());
      } catch {
        /* gone: whileAlive reports it */
      }
    }, 50);
    const webhookMs: number[] = [];
    let importDone = false;
    let importAnswer: { status: number; body: string; ms: number } | undefined;
    try {
      const importing = server
        .admin(IMPORT_SHOP, "/app/mappings?_data=routes%2Fapp.mappings._index", form)
        .finally(() => (importDone = true));
      // B's webhooks keep coming, one after another, until the import is answered.
      let i = 0;
      while (!importDone) {
        const answer = await server.whileAlive(
          server.postWebhook({ topic: "orders/fulfilled", shop: OTHER_SHOP, body: orderBody(loadOrderId(35_000 + i++)) }),
        );
        webhookMs.push(answer.ms);
        expect(answer.status, answer.body).toBe(200);
      }
      importAnswer = await server.whileAlive(importing);
    } finally {
      clearInterval(sampler);
      reportFigures("prod-large-import", {
        importMb: Math.round(file.length / 1024 / 1024),
        mappingsInFile: mappings.length,
        importStatus: importAnswer?.status ?? null,
        importMs: importAnswer ? Math.round(importAnswer.ms) : null,
        webhooksMeanwhile: webhookMs.length,
        webhookAnswerP50Ms: Math.round(percentile(webhookMs, 50)),
        webhookAnswerMaxMs: Math.round(Math.max(...webhookMs)),
        rssGrowthMb: Math.round((peakKb - baselineKb) / 1024),
      });
    }
    expect(importAnswer?.status, importAnswer?.body.slice(0, 500)).not.toBe(0);
    expect(Math.max(...webhookMs)).toBeLessThan(WEBHOOK_BOUND_MS);
    expect(Math.round((peakKb - baselineKb) / 1024)).toBeLessThan(1024);
    server.assertAlive();
  });
});
