import type { IngestRow } from "~/webhooks/ingest-sql";

/** A recorded orders/fulfilled webhook for the ingest path's stores and writer: order `n` of `shop`. */
export function ingestRow(shop: string, n: number, overrides: Partial<IngestRow> = {}): IngestRow {
  return {
    shop,
    topic: "orders/fulfilled",
    eventKey: `gid://shopify/Order/${n}`,
    webhookId: `webhook-${n}`,
    eventId: `event-${n}`,
    apiVersion: "2026-10",
    triggeredAt: new Date("2026-11-27T10:00:00.123Z"),
    receivedAt: new Date("2026-11-27T10:00:01.456Z"),
    orderId: String(n),
    occurredAt: new Date("2026-11-27T09:59:59.789Z"),
    body: JSON.stringify({ id: n }),
    ...overrides,
  };
}
