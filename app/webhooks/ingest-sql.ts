/**
 * The webhook write's rows and its SQLite statements (decision 007), apart from the store so that the SQLite
 * writer thread can load them without the rest of the app (decision 021). ingest-store.server.ts has the why.
 */
import type Sqlite from "better-sqlite3";
import { sqliteDate } from "~/db/sql-values";
import { timeOrderedId } from "~/db/time-ordered-id";
import { externalEventId } from "~/delivery/external-event-id";
import { MAX_MAPPINGS_PER_SHOP } from "~/mapping/limits";

export interface IngestRow {
  shop: string;
  topic: string;
  eventKey: string;
  webhookId: string;
  eventId: string | null;
  apiVersion: string;
  triggeredAt: Date | null;
  receivedAt: Date;
  orderId: string | null;
  occurredAt: Date | null;
  /**
   * The body's text, or the bytes it was decoded from (UTF-8): a webhook from Shopify keeps its request's bytes,
   * which live outside V8's heap, while it waits for the write. Its text would be copied by every garbage collection
   * of the young generation meanwhile, and promoted to the old one under load. Written as text either way.
   */
  body: string | Uint8Array;
  /**
   * Recorded by a history backfill (docs/decisions/016): deliveries only for these of the topic's enabled mappings,
   * marked with the backfill's id.
   */
  backfill?: { id: string; mappingIds: ReadonlySet<string> };
  /** Events rendered ahead, by mapping id (decision 054): each goes to its mapping's delivery, if the write makes one. */
  prerendered?: Record<string, string>;
}

export type IngestResult =
  | { kind: "recorded"; webhookRecordId: string; deliveries: number }
  | { kind: "duplicate" }
  | { kind: "unseeded" };

export interface MappingRef {
  id: string;
  eventType: string;
}

export function deliveryRows(row: IngestRow, webhookRecordId: string, enabled: readonly MappingRef[]) {
  const included = row.backfill?.mappingIds;
  const mappings = included ? enabled.filter((mapping) => included.has(mapping.id)) : enabled;
  return mappings.map((mapping) => ({
    id: timeOrderedId(),
    mappingId: mapping.id,
    eventType: mapping.eventType,
    externalEventId: externalEventId({ shop: row.shop, topic: row.topic, eventKey: row.eventKey, mappingId: mapping.id }),
    webhookRecordId,
    prerendered: row.prerendered?.[mapping.id] ?? null,
  }));
}

/** The Webhook row's values in the order both INSERTs list its columns. */
export function webhookValues(id: string, row: IngestRow, date: (value: Date | null) => string | null) {
  return [id, row.shop, row.topic, row.eventKey, row.webhookId, row.eventId, row.apiVersion, date(row.triggeredAt), date(row.receivedAt), row.orderId, bodyText(row.body)];
}

/** The body as the text column holds it; bytes are decoded as the receiving route decoded them to parse them. */
export function bodyText(body: string | Uint8Array): string {
  return body instanceof Uint8Array ? Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8") : body;
}

/** SQLite: prepares the statements on `db` and returns the write of one webhook, to run inside a transaction. */
export function prepareSqliteIngest(db: Sqlite.Database): (row: IngestRow) => IngestResult {
  const shopSeeded: Sqlite.Statement<[string], { mappingsSeeded: number }> = db.prepare(`SELECT "mappingsSeeded" FROM "Shop" WHERE domain = ?`);
  const mappings: Sqlite.Statement<[string, string], MappingRef> = db.prepare(
    `SELECT id, "eventType" FROM "Mapping" WHERE shop = ? AND topic = ? AND enabled = 1 ORDER BY position ASC LIMIT ${MAX_MAPPINGS_PER_SHOP}`,
  );
  const insertWebhook: Sqlite.Statement<unknown[]> = db.prepare(
    `INSERT INTO "Webhook" (id, shop, topic, "eventKey", "webhookId", "eventId", "apiVersion", "triggeredAt", "receivedAt", "orderId", body)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (shop, topic, "eventKey") DO NOTHING`,
  );
  const insertDelivery: Sqlite.Statement<unknown[]> = db.prepare(
    `INSERT INTO "Delivery" (id, shop, "webhookRecordId", "mappingId", topic, "eventType", "externalEventId", status, attempts,
       "nextAttemptAt", "occurredAt", stale, "createdAt", "updatedAt", "backfillId", prerendered)
     VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, 0, ?, ?, ?, ?)`,
  );
  return (row) => {
    const seeded = shopSeeded.get(row.shop);
    if (!seeded || seeded.mappingsSeeded !== 1) return { kind: "unseeded" };
    const webhookRecordId = timeOrderedId();
    const receivedAt = sqliteDate(row.receivedAt);
    const inserted = insertWebhook.run(...webhookValues(webhookRecordId, row, sqliteDate));
    if (inserted.changes === 0) return { kind: "duplicate" };
    const deliveries = deliveryRows(row, webhookRecordId, mappings.all(row.shop, row.topic));
    const occurredAt = sqliteDate(row.occurredAt);
    for (const delivery of deliveries) {
      insertDelivery.run(
        delivery.id,
        row.shop,
        webhookRecordId,
        delivery.mappingId,
        row.topic,
        delivery.eventType,
        delivery.externalEventId,
        receivedAt,
        occurredAt,
        receivedAt,
        receivedAt,
        row.backfill?.id ?? null,
        delivery.prerendered,
      );
    }
    return { kind: "recorded", webhookRecordId, deliveries: deliveries.length };
  };
}
