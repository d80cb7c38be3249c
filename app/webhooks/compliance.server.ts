/**
 * Shopify's mandatory privacy webhooks. customers/redact erases what we hold about
 * the customer's orders (webhook bodies, the requests we sent, log fields);
 * shop/redact, sent 48 h after uninstall, erases everything of the shop;
 * customers/data_request is kept so the merchant can answer it.
 */
import { randomUUID } from "node:crypto";
import type { Database } from "~/db.server";
import { flowRunIdsOf } from "~/flow/privacy.server";
import { isJsonObject, type JsonValue } from "~/shopify/json";

export const COMPLIANCE_TOPICS = ["customers/data_request", "customers/redact", "shop/redact"] as const;
export type ComplianceTopic = (typeof COMPLIANCE_TOPICS)[number];

export function isComplianceTopic(topic: string): topic is ComplianceTopic {
  return (COMPLIANCE_TOPICS as readonly string[]).includes(topic);
}

export const REDACTED_BODY = '{"redacted":true}';

function idStrings(value: JsonValue | undefined): string[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((id) => (typeof id === "number" ? [String(id)] : typeof id === "string" && /^\d+$/.test(id) ? [id] : []));
}

export async function handleComplianceWebhook(
  prisma: Database,
  shop: string,
  topic: ComplianceTopic,
  body: JsonValue,
  now: Date,
): Promise<void> {
  if (topic === "shop/redact") {
    await redactShop(prisma, shop);
    return;
  }
  if (topic === "customers/redact") {
    const customer = isJsonObject(body) && isJsonObject(body.customer) ? body.customer : {};
    await redactCustomer(prisma, shop, {
      orderIds: isJsonObject(body) ? idStrings(body.orders_to_redact) : [],
      email: typeof customer.email === "string" ? customer.email : null,
      customerId: idStrings([customer.id ?? null])[0] ?? null,
    });
    return;
  }
  await prisma.webhook.create({
    data: {
      shop,
      topic,
      eventKey: `data_request:${randomUUID()}`,
      webhookId: "",
      apiVersion: "",
      receivedAt: now,
      body: JSON.stringify(body),
    },
  });
}

/**
 * Ids per statement. SQLite refuses a statement with more than 999 parameters (32,766 in newer
 * builds) and PostgreSQL more than 65,535; a customers/redact can name any number of orders
 * (one of 997 failed forever), so every `IN` list is cut to this size.
 */
export const REDACT_CHUNK = 200;

function chunks<T>(items: readonly T[], size = REDACT_CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export async function redactCustomer(
  prisma: Database,
  shop: string,
  customer: { orderIds: string[]; email: string | null; customerId?: string | null },
): Promise<void> {
  // Reads first, a bounded list of ids at a time; then every write in one transaction, so the
  // customer is erased entirely or (the webhook answers 503, Shopify sends it again) not at all.
  const webhookIds: string[] = [];
  for (const orderIds of chunks([...new Set(customer.orderIds)])) {
    const rows = await prisma.webhook.findMany({ where: { shop, orderId: { in: orderIds } }, select: { id: true } });
    webhookIds.push(...rows.map((row) => row.id));
  }
  webhookIds.push(...(await flowRunIdsOf(prisma, shop, customer)));
  const deliveryIds = new Set<string>();
  for (const ids of chunks(webhookIds)) {
    const rows = await prisma.delivery.findMany({ where: { shop, webhookRecordId: { in: ids } }, select: { id: true } });
    for (const row of rows) deliveryIds.add(row.id);
  }
  if (customer.email) {
    // The log keeps addresses lower-cased; Shopify may send the customer's as they typed it.
    const emails = [...new Set([customer.email, customer.email.toLowerCase()])];
    const rows = await prisma.delivery.findMany({ where: { shop, email: { in: emails } }, select: { id: true } });
    for (const row of rows) deliveryIds.add(row.id);
  }
  const deliveries = chunks([...deliveryIds]);
  await prisma.$transaction([
    ...chunks(webhookIds).map((ids) => prisma.webhook.updateMany({ where: { id: { in: ids } }, data: { body: REDACTED_BODY } })),
    ...deliveries.map((ids) =>
      prisma.delivery.updateMany({ where: { id: { in: ids } }, data: { request: null, response: null, email: null, orderName: null, prerendered: null } }),
    ),
    ...deliveries.map((ids) => prisma.deliveryAttempt.updateMany({ where: { deliveryId: { in: ids } }, data: { response: null } })),
  ]);
}

export async function redactShop(prisma: Database, shop: string): Promise<void> {
  await prisma.$transaction([
    prisma.webhook.deleteMany({ where: { shop } }),
    prisma.delivery.deleteMany({ where: { shop } }),
    prisma.mapping.deleteMany({ where: { shop } }),
    prisma.session.deleteMany({ where: { shop } }),
    prisma.reconciliation.deleteMany({ where: { shop } }),
    prisma.flowTrigger.deleteMany({ where: { shop } }),
    prisma.backfill.deleteMany({ where: { shop } }),
    prisma.shop.deleteMany({ where: { domain: shop } }),
  ]);
}
