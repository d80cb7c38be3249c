/**
 * Where an ingest request's time goes, measured in one process without HTTP: the database work of
 * recordWebhook() and its Prisma queries one by one, beside the same statements through better-sqlite3.
 *
 * node --import tsx bench/micro/ingest-parts.ts [sqlite|postgresql] [seconds per part]
 */
import Sqlite from "better-sqlite3";
import { randomUUID } from "node:crypto";
import { recordWebhook } from "~/webhooks/receive.server";
import { enabledMappingsFor } from "~/models/Mapping.server";
import { ensureShop } from "~/models/Shop.server";
import { parseShopifyJson } from "~/shopify/json";
import { log } from "../lib/common";
import { ENCRYPTION_KEY } from "../lib/app";
import { createDatabase, seedShops, shopsFor, withPrisma, type Provider } from "../lib/db";
import { ORDER_BODY } from "../lib/load";

const provider = (process.argv[2] ?? "sqlite") as Provider;
const seconds = Number(process.argv[3] ?? 2);

async function rate(name: string, work: (i: number) => Promise<unknown>): Promise<void> {
  let i = 0;
  for (const end = performance.now() + 300; performance.now() < end; ) await work(i++);
  const start = performance.now();
  let n = 0;
  while (performance.now() - start < seconds * 1000) {
    await work(i++);
    n++;
  }
  const perOp = (performance.now() - start) / n;
  console.log(`${name.padEnd(58)} ${(1000 / perOp).toFixed(0).padStart(7)}/s  ${perOp.toFixed(3)} ms`);
}

const db = await createDatabase(provider, "micro");
try {
  const [shop] = shopsFor(1, "micro");
  await seedShops(db, [shop!], ENCRYPTION_KEY);
  const domain = shop!.domain;
  await withPrisma(db, async (prisma) => {
    const body = parseShopifyJson(ORDER_BODY);
    const options = { prisma, authenticate: () => Promise.reject(new Error("not used")) };
    await rate("recordWebhook (whole DB path, 1 mapping)", (i) =>
      recordWebhook(options, {
        shop: domain,
        topic: "orders/fulfilled",
        webhookId: randomUUID(),
        apiVersion: "2026-10",
        text: ORDER_BODY.replace("gid://shopify/Order/820982911946154508", `gid://shopify/Order/7${i}`),
        body: { ...(body as object), admin_graphql_api_id: `gid://shopify/Order/7${i}` },
      }),
    );
    await rate("  ensureShop (findUnique)", () => ensureShop(prisma, domain));
    await rate("  enabledMappingsFor (findMany)", () => enabledMappingsFor(prisma, domain, "orders/fulfilled"));
    await rate("  prisma.shop.findUnique, tiny", () => prisma.shop.findUnique({ where: { domain }, select: { mappingsSeeded: true } }));
    await rate("  $transaction([webhook.create 15 KB, delivery.createMany])", (i) => {
      const id = randomUUID();
      return prisma.$transaction([
        prisma.webhook.create({ data: { id, shop: domain, topic: "orders/fulfilled", eventKey: `k${i}-${id}`, webhookId: id, apiVersion: "2026-10", body: ORDER_BODY } }),
        prisma.delivery.createMany({ data: [{ shop: domain, webhookRecordId: id, mappingId: "m", topic: "orders/fulfilled", eventType: "E", externalEventId: id, status: "pending" }] }),
      ]);
    });
    await rate("  webhook.create 15 KB body, no transaction", (i) => {
      const id = randomUUID();
      return prisma.webhook.create({ data: { id, shop: domain, topic: "orders/fulfilled", eventKey: `n${i}-${id}`, webhookId: id, apiVersion: "2026-10", body: ORDER_BODY }, select: { id: true } });
    });
    await rate("  webhook.create 15 KB body differing per call, no transaction", (i) => {
      const id = randomUUID();
      return prisma.webhook.create({ data: { id, shop: domain, topic: "orders/fulfilled", eventKey: `v${i}-${id}`, webhookId: id, apiVersion: "2026-10", body: ORDER_BODY.replace("820982911946154508", `8${i}`) }, select: { id: true } });
    });
    await rate("  webhook.create 100 B body, no transaction", (i) => {
      const id = randomUUID();
      return prisma.webhook.create({ data: { id, shop: domain, topic: "orders/fulfilled", eventKey: `s${i}-${id}`, webhookId: id, apiVersion: "2026-10", body: "{}" }, select: { id: true } });
    });
  });
  if (db.provider === "sqlite") {
    const file = db.url.slice("file:".length);
    const raw = new Sqlite(file);
    const find = raw.prepare(`SELECT "mappingsSeeded" FROM "Shop" WHERE domain = ?`);
    const insertWebhook = raw.prepare(`INSERT INTO "Webhook" (id, shop, topic, "eventKey", "webhookId", "apiVersion", "receivedAt", body) VALUES (?, ?, 'orders/fulfilled', ?, ?, '2026-10', ?, ?)`);
    const insertDelivery = raw.prepare(`INSERT INTO "Delivery" (id, shop, "webhookRecordId", "mappingId", topic, "eventType", "externalEventId", status, "updatedAt") VALUES (?, ?, ?, 'm', 'orders/fulfilled', 'E', ?, 'pending', ?)`);
    const both = raw.transaction((id: string, i: number) => {
      insertWebhook.run(id, domain, `r${i}-${id}`, id, new Date().toISOString(), ORDER_BODY);
      insertDelivery.run(id, domain, id, id, new Date().toISOString());
    });
    await rate("better-sqlite3: SELECT shop", async () => find.get(domain));
    await rate("better-sqlite3: INSERT webhook 15 KB + delivery, 1 transaction", async (i) => both(randomUUID(), i));
    raw.close();
  }
} finally {
  await db.close();
  await db.drop();
}
log("done");
