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
