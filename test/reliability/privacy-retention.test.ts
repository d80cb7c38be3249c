/**
 * Promise 5: privacy. A customer's data can be exported for a customers/data_request and is
 * gone after customers/redact; delivery logs older than the shop's retention are deleted by
 * the periodic job, in batches that do not stall ingest. Checked in the database itself.
 */
import pino from "pino";
import { describe, expect, it } from "vitest";
import { runCommand } from "~/cli/commands";
import { db } from "~/db.server";
import { pruneExpiredLogs, startRetentionJob } from "~/delivery/retention.server";
import { readEnv } from "~/env.server";
import { secretBoxFromEnv } from "~/secrets/secret-box.server";
import { orderBody } from "../support/load";
import { drain, postWebhook, usePipeline, workerOptions } from "../support/pipeline";
import { fixtureText, TEST_SHOP } from "../support/webhooks";

const pipeline = usePipeline();
const DAY = 86_400_000;

function orderFor(id: string, email: string) {
  const body = JSON.parse(orderBody(id)) as Record<string, unknown>;
  body.email = email;
  body.contact_email = email;
  // JSON.parse rounds the sample's customer id (beyond 2^53): give a safe one.
  Object.assign(body.customer as Record<string, unknown>, { email, id: 4242 });
  return JSON.stringify(body).replace(/"id":\s*"?\d+"?/, `"id": ${id}`);
}

async function everything(): Promise<string> {
  const [webhooks, deliveries, attempts] = await Promise.all([db().webhook.findMany(), db().delivery.findMany(), db().deliveryAttempt.findMany()]);
  return JSON.stringify({ webhooks, deliveries, attempts });
}

async function cli(...argv: string[]): Promise<string> {
  const lines: string[] = [];
  await runCommand(argv, {
    prisma: db(),
    env: readEnv(),
    secretBox: () => secretBoxFromEnv(),
    out: (line) => lines.push(line),
    runWorker: () => Promise.resolve(),
    startBackgroundJobs: () => ({ stop: () => Promise.resolve() }),
  });
  return lines.join("\n");
}

/** Makes everything recorded so far `days` old. */
async function age(days: number) {
  const then = new Date(Date.now() - days * DAY);
  await db().delivery.updateMany({ data: { createdAt: then } });
  await db().webhook.updateMany({ data: { receivedAt: then } });
}

describe("customers/data_request", () => {
  it("is recorded, and the CLI exports what the app holds about that customer, and only that", async () => {
    await postWebhook({ topic: "orders/fulfilled", body: orderFor("299938", "john@example.com") });
    await postWebhook({ topic: "orders/fulfilled", body: orderFor("777", "other@example.com") });
    await drain(workerOptions(pipeline.standIn));
    const request = fixtureText("customers_data_request.json").replace("{shop}.myshopify.com", TEST_SHOP);
    expect((await postWebhook({ topic: "customers/data_request", body: request })).status).toBe(200);

    const exported = JSON.parse(await cli("customers", "export", TEST_SHOP, "--email", "John@Example.com")) as {
      webhooks: Array<{ body: { id: number } }>;
      eventsSentToAttentive: Array<{ status: string; request: { variables: { input: { user: { email: string } } } } }>;
      dataRequests: unknown[];
    };
    expect(exported.webhooks.map((webhook) => webhook.body.id)).toEqual([299938]);
    expect(exported.eventsSentToAttentive).toHaveLength(1);
    expect(exported.eventsSentToAttentive[0]).toMatchObject({ status: "delivered", request: { variables: { input: { user: { email: "john@example.com" } } } } });
    expect(exported.dataRequests).toHaveLength(1);
    expect(JSON.stringify(exported)).not.toContain("other@example.com");

    const byId = JSON.parse(await cli("customers", "export", TEST_SHOP, "--customer-id", "4242")) as { webhooks: unknown[] };
    expect(byId.webhooks).toHaveLength(2); // orderFor gives both orders this customer id
    await expect(cli("customers", "export", TEST_SHOP)).rejects.toThrow(/--email/);
  });

  it("exports nothing of the customer's orders after customers/redact", async () => {
    await postWebhook({ topic: "orders/fulfilled", body: orderFor("299938", "john@example.com") });
    await drain(workerOptions(pipeline.standIn));
    const redact = fixtureText("customers_redact.json").replace("{shop}.myshopify.com", TEST_SHOP);
    expect((await postWebhook({ topic: "customers/redact", body: redact })).status).toBe(200);
    expect(await everything()).not.toContain("john@example.com");
    const exported = JSON.parse(await cli("customers", "export", TEST_SHOP, "--email", "john@example.com")) as { webhooks: unknown[]; eventsSentToAttentive: unknown[] };
    expect(exported).toMatchObject({ webhooks: [], eventsSentToAttentive: [] });
  });
});

describe("shop/redact", () => {
  it("also forgets the shop's reconciliation state", async () => {
    await db().reconciliation.create({ data: { shop: TEST_SHOP, checkedUntil: new Date(), lastRunAt: new Date() } });
    const redact = fixtureText("shop_redact.json").replace("{shop}.myshopify.com", TEST_SHOP);
    expect((await postWebhook({ topic: "shop/redact", body: redact })).status).toBe(200);
    expect(await db().reconciliation.count()).toBe(0);
    expect(await db().shop.count()).toBe(0);
  });
});

describe("log retention", () => {
  it("deletes finished deliveries, their attempts and webhook bodies older than the shop's setting, and nothing else", async () => {
    await db().shop.update({ where: { domain: TEST_SHOP }, data: { logRetentionDays: 7 } });
    for (let i = 0; i < 5; i++) await postWebhook({ topic: "orders/fulfilled", body: orderFor(String(1000 + i), `old${i}@example.com`) });
    await drain(workerOptions(pipeline.standIn));
    // One old delivery is still waiting (Attentive down for a week): it must survive.
    await postWebhook({ topic: "orders/fulfilled", body: orderFor("1999", "waiting@example.com") });
    await age(8);
    await postWebhook({ topic: "orders/fulfilled", body: orderFor("2000", "new@example.com") });
    await drain(workerOptions(pipeline.standIn), 0).catch(() => undefined); // not run: keep 1999 pending
    expect(await db().deliveryAttempt.count()).toBeGreaterThanOrEqual(5);

    const pruned = await pruneExpiredLogs({ prisma: db(), logger: pino({ level: "silent" }), batchSize: 2, pauseMs: 1 });
    expect(pruned).toEqual({ deliveries: 5, webhooks: 5 });
    const left = await everything();
    for (let i = 0; i < 5; i++) expect(left).not.toContain(`old${i}@example.com`);
    expect(left).toContain("waiting@example.com");
    expect(left).toContain("new@example.com");
    expect(await db().deliveryAttempt.count({ where: { delivery: { webhook: { orderId: { startsWith: "100" } } } } })).toBe(0);
  });

  it("runs by itself as a periodic job", async () => {
    await db().shop.update({ where: { domain: TEST_SHOP }, data: { logRetentionDays: 1 } });
    await postWebhook({ topic: "orders/fulfilled", body: orderFor("3000", "periodic@example.com") });
    await drain(workerOptions(pipeline.standIn));
    await age(2);
    const job = startRetentionJob({ prisma: db(), logger: pino({ level: "silent" }), intervalMs: 50, firstDelayMs: 0 });
    try {
      const deadline = Date.now() + 5_000;
      while (Date.now() < deadline && (await db().webhook.count()) > 0) await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      await job.stop();
    }
    expect(await everything()).not.toContain("periodic@example.com");
  });

  it("does not stall ingest while it prunes a large backlog", async () => {
    await db().shop.update({ where: { domain: TEST_SHOP }, data: { logRetentionDays: 7 } });
    const webhooks = Array.from({ length: 1500 }, (_, i) => ({
      id: `old-${i}`,
      shop: TEST_SHOP,
      topic: "orders/fulfilled",
      eventKey: `gid://shopify/Order/${50_000 + i}`,
      webhookId: `w-${i}`,
      apiVersion: "2026-10",
      receivedAt: new Date(Date.now() - 30 * DAY),
      body: orderFor(String(50_000 + i), "bulk@example.com"),
    }));
    await db().webhook.createMany({ data: webhooks });
    await db().delivery.createMany({
      data: webhooks.map((webhook, i) => ({
        shop: TEST_SHOP,
        webhookRecordId: webhook.id,
        mappingId: "m",
        topic: "orders/fulfilled",
        eventType: "Order Fulfilled",
        externalEventId: `ext-${i}`,
        status: "delivered",
        createdAt: new Date(Date.now() - 30 * DAY),
      })),
    });
    const pruning = pruneExpiredLogs({ prisma: db(), logger: pino({ level: "silent" }), batchSize: 200, pauseMs: 5 });
    const latencies: number[] = [];
    for (let i = 0; i < 20; i++) {
      const startedAt = Date.now();
      expect((await postWebhook({ topic: "orders/fulfilled", body: orderFor(String(90_000 + i), "live@example.com") })).status).toBe(200);
      latencies.push(Date.now() - startedAt);
    }
    expect(await pruning).toEqual({ deliveries: 1500, webhooks: 1500 });
    expect(Math.max(...latencies)).toBeLessThan(1_000);
    expect(await db().webhook.count()).toBe(20);
  });
});
