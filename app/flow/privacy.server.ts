/**
 * The Flow action runs about one customer, for customers/redact and customers/data_request. A run names its customer
 * in the merchant's settings (email, customer reference), not by order, so the order-id look-ups never find it.
 * By email: through the run's delivery, whose log email is lower-cased when recorded (a text search of the body
 * would be case-sensitive on PostgreSQL, and a merchant's Flow variable may keep the customer's capitals). By
 * customer id: a text match on the body narrows the rows, and reading the settings decides.
 */
import type { Database } from "~/db.server";
import { parseShopifyJson, type JsonValue } from "~/shopify/json";
import { FLOW_ACTION_TOPIC, flowRunConcerns } from "./action";

export async function flowRunIdsOf(prisma: Database, shop: string, customer: { email?: string | null; customerId?: string | null }): Promise<string[]> {
  const ids = new Set<string>();
  if (customer.email) {
    const emails = [...new Set([customer.email, customer.email.toLowerCase()])];
    const rows = await prisma.delivery.findMany({ where: { shop, topic: FLOW_ACTION_TOPIC, email: { in: emails } }, select: { webhookRecordId: true } });
    for (const row of rows) ids.add(row.webhookRecordId);
  }
  if (customer.customerId) {
    const rows = await prisma.webhook.findMany({
      where: { shop, topic: FLOW_ACTION_TOPIC, body: { contains: customer.customerId } },
      select: { id: true, body: true },
    });
    for (const row of rows) if (flowRunConcerns(parsedOrNull(row.body), { customerId: customer.customerId })) ids.add(row.id);
  }
  return [...ids];
}

function parsedOrNull(text: string): JsonValue {
  try {
    return parseShopifyJson(text);
  } catch {
    return null;
  }
}
