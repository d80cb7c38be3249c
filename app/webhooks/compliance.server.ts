/**
 * Shopify's mandatory privacy webhooks. customers/redact erases what we hold about
 * the customer's orders (webhook bodies, the requests we sent, log fields);
 * shop/redact, sent 48 h after uninstall, erases everything of the shop;
 * customers/data_request is kept so the merchant can answer it.
 */
import { randomUUID } from "node:crypto";
import type { Database } from "~/db.server";
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

export async function redactCustomer(
  prisma: Database,
  shop: string,
  customer: { orderIds: string[]; email: string | null },
): Promise<void> {
  const webhooks = await prisma.webhook.findMany({
    where: { shop, orderId: { in: customer.orderIds } },
    select: { id: true },
  });
  const webhookIds = webhooks.map((webhook) => webhook.id);
  const deliveryWhere = {
    shop,
    OR: [{ webhookRecordId: { in: webhookIds } }, ...(customer.email ? [{ email: customer.email }] : [])],
  };
  const deliveries = await prisma.delivery.findMany({ where: deliveryWhere, select: { id: true } });
  await prisma.$transaction([
    prisma.webhook.updateMany({ where: { id: { in: webhookIds } }, data: { body: REDACTED_BODY } }),
    prisma.delivery.updateMany({
      where: { id: { in: deliveries.map((delivery) => delivery.id) } },
      data: { request: null, response: null, email: null, orderName: null },
    }),
    prisma.deliveryAttempt.updateMany({
      where: { deliveryId: { in: deliveries.map((delivery) => delivery.id) } },
      data: { response: null },
    }),
  ]);
}

export async function redactShop(prisma: Database, shop: string): Promise<void> {
  await prisma.$transaction([
    prisma.webhook.deleteMany({ where: { shop } }),
    prisma.delivery.deleteMany({ where: { shop } }),
    prisma.mapping.deleteMany({ where: { shop } }),
    prisma.session.deleteMany({ where: { shop } }),
    prisma.reconciliation.deleteMany({ where: { shop } }),
    prisma.shop.deleteMany({ where: { domain: shop } }),
  ]);
}
