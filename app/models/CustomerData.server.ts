import type { Database } from "~/db.server";
import { FLOW_ACTION_TOPIC } from "~/flow/action";
import { flowRunIdsOf } from "~/flow/privacy.server";
import { isJsonObject, parseShopifyJson, type JsonValue } from "~/shopify/json";

export interface CustomerQuery {
  email?: string;
  customerId?: string;
}

/** Where an order or refund body names its customer. */
function bodyMatches(body: JsonValue, query: CustomerQuery): boolean {
  if (!isJsonObject(body)) return false;
  const email = query.email?.toLowerCase();
  const customer = isJsonObject(body.customer) ? body.customer : {};
  const emails = [body.email, body.contact_email, customer.email].filter((value): value is string => typeof value === "string");
  if (email && emails.some((value) => value.toLowerCase() === email)) return true;
  const id = customer.id;
  return query.customerId !== undefined && (typeof id === "string" || typeof id === "number") && String(id) === query.customerId;
}

function parsed(text: string): JsonValue {
  try {
    return parseShopifyJson(text);
  } catch {
    return text;
  }
}

/**
 * Everything the app holds about one customer of one shop, to answer a customers/data_request:
 * the webhooks about their orders (as received), the events sent to Attentive for them with
 * Attentive's answers, and the data requests Shopify sent for them.
 */
export async function exportCustomerData(prisma: Database, shop: string, query: CustomerQuery) {
  // `contains` is case-sensitive on PostgreSQL and not on SQLite: look for the address as given
  // and lower-cased (how Shopify and the delivery log store it).
  const needles = [...new Set([query.email, query.email?.toLowerCase(), query.customerId].filter((value): value is string => Boolean(value)))];
  if (needles.length === 0) throw new Error("give an email or a customer id");
  // A text match narrows the rows; parsing the body decides (an email in a note is not the customer's).
  const candidates = await prisma.webhook.findMany({
    where: { shop, OR: needles.map((needle) => ({ body: { contains: needle } })) },
    orderBy: { receivedAt: "asc" },
    select: { id: true, topic: true, receivedAt: true, body: true },
  });
  // Flow runs are found by their settings (app/flow/privacy.server.ts), not by the text search above.
  const flowRuns = await prisma.webhook.findMany({
    where: { id: { in: await flowRunIdsOf(prisma, shop, query) } },
    select: { id: true, topic: true, receivedAt: true, body: true },
  });
  const rows = [...candidates.filter((webhook) => webhook.topic !== FLOW_ACTION_TOPIC), ...flowRuns].sort((a, b) => a.receivedAt.getTime() - b.receivedAt.getTime());
  const webhooks = rows.filter((webhook) => {
    const body = parsed(webhook.body);
    // A data request names the customer under `customer`, with the same fields as an order's customer.
    if (webhook.topic === "customers/data_request") return isJsonObject(body) && bodyMatches({ customer: body.customer ?? null }, query);
    if (webhook.topic === FLOW_ACTION_TOPIC) return true;
    return bodyMatches(body, query);
  });
  const orderWebhookIds = webhooks.filter((webhook) => webhook.topic !== "customers/data_request").map((webhook) => webhook.id);
  const deliveries = await prisma.delivery.findMany({
    where: { shop, OR: [{ webhookRecordId: { in: orderWebhookIds } }, ...(query.email ? [{ email: query.email.toLowerCase() }] : [])] },
    orderBy: { createdAt: "asc" },
    include: { attemptLog: { orderBy: { number: "asc" }, select: { number: true, startedAt: true, outcome: true, httpStatus: true, response: true } } },
  });
  return {
    shop,
    customer: query,
    generatedAt: new Date().toISOString(),
    webhooks: webhooks
      .filter((webhook) => webhook.topic !== "customers/data_request")
      .map((webhook) => ({ topic: webhook.topic, receivedAt: webhook.receivedAt.toISOString(), body: parsed(webhook.body) })),
    eventsSentToAttentive: deliveries.map((delivery) => ({
      eventType: delivery.eventType,
      status: delivery.status,
      externalEventId: delivery.externalEventId,
      occurredAt: delivery.occurredAt?.toISOString() ?? null,
      createdAt: delivery.createdAt.toISOString(),
      email: delivery.email,
      orderName: delivery.orderName,
      request: delivery.request ? parsed(delivery.request) : null,
      response: delivery.response ? parsed(delivery.response) : null,
      attempts: delivery.attemptLog.map((attempt) => ({ ...attempt, startedAt: attempt.startedAt.toISOString() })),
    })),
    dataRequests: webhooks
      .filter((webhook) => webhook.topic === "customers/data_request")
      .map((webhook) => ({ receivedAt: webhook.receivedAt.toISOString(), body: parsed(webhook.body) })),
  };
}
