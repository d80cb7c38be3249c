/**
 * One delivery in the queue with the webhook it came from, written straight to the test file's database: the rows
 * the claim tests (claim-store, claim-priority, fair-share) claim from. Each call makes its own webhook, so no two
 * share a body.
 */
import { db } from "~/db.server";

let counter = 0;

export interface QueuedDeliveryFields {
  nextAttemptAt: Date;
  /** "pending" unless given. */
  status?: string;
  /** "orders/fulfilled" unless given. */
  topic?: string;
  occurredAt?: Date;
  backfillId?: string | null;
  leaseOwner?: string;
  leaseExpiresAt?: Date;
  attempts?: number;
  /** An event rendered ahead (decision 054). */
  prerendered?: string | null;
}

export async function queuedDelivery(shop: string, fields: QueuedDeliveryFields) {
  counter++;
  const { topic = "orders/fulfilled", status = "pending", ...rest } = fields;
  const webhook = await db().webhook.create({
    data: { shop, topic, eventKey: `queued-${counter}`, webhookId: `queued-w-${counter}`, apiVersion: "2026-10", body: `{"n":${counter}}` },
  });
  return db().delivery.create({
    data: { shop, webhookRecordId: webhook.id, mappingId: "m", topic, eventType: "E", externalEventId: `queued-e-${counter}`, status, ...rest },
  });
}

/**
 * `count` deliveries of one shop in the queue at once (two statements), each with its own webhook: a backlog.
 * `fields(i)` gives the i-th delivery's fields.
 */
export async function queuedBacklog(shop: string, count: number, fields: (i: number) => QueuedDeliveryFields): Promise<string[]> {
  const first = counter + 1;
  counter += count;
  const rows = Array.from({ length: count }, (_, i) => {
    const { topic = "orders/fulfilled", status = "pending", ...rest } = fields(i);
    return { n: first + i, topic, status, rest };
  });
  await db().webhook.createMany({
    data: rows.map(({ n, topic }) => ({ id: `queued-wh-${n}`, shop, topic, eventKey: `queued-${n}`, webhookId: `queued-w-${n}`, apiVersion: "2026-10", body: `{"n":${n}}` })),
  });
  await db().delivery.createMany({
    data: rows.map(({ n, topic, status, rest }) => ({
      id: `queued-d-${n}`,
      shop,
      webhookRecordId: `queued-wh-${n}`,
      mappingId: "m",
      topic,
      eventType: "E",
      externalEventId: `queued-e-${n}`,
      status,
      ...rest,
    })),
  });
  return rows.map(({ n }) => `queued-d-${n}`);
}

/** A history backfill of `shop` in the given status (its deliveries are queued apart, with its id), as of `now`. */
export function queuedBackfill(shop: string, status: string, now: Date) {
  const at = (seconds: number) => new Date(now.getTime() + seconds * 1000);
  return db().backfill.create({
    data: { shop, activeShop: null, status, since: at(-86_400 * 10), until: at(-3600), mappingIds: "[]", topics: "[]" },
  });
}
