/**
 * The write behind every commerce webhook, on the database driver itself rather than
 * through Prisma (decision 007): the per-query cost of Prisma's query compiler was
 * most of the webhook path's CPU (docs/performance.md). Everything else in the app
 * stays on Prisma; these few statements are written against the same schema, and
 * the pipeline tests read back through Prisma what they wrote.
 *
 * One call records the webhook and one pending delivery per enabled mapping of its
 * shop and topic, atomically, or finds the event already recorded. A shop whose
 * default mappings were never created is reported as such; the caller creates them
 * (rare: once per shop) and calls again.
 */
import type pg from "pg";
import { storeOn, type Database } from "~/db.server";
import type { Driver } from "~/db/driver.server";
import { pgTimestamp } from "~/db/sql-values";
import { timeOrderedId } from "~/db/time-ordered-id";
import { sqliteWriterOf, type SqliteWriter } from "~/db/sqlite-writer.server";
import { MAX_MAPPINGS_PER_SHOP } from "~/mapping/limits";
import { deliveryRows, webhookValues, type IngestResult, type IngestRow } from "./ingest-sql";

export type { IngestResult, IngestRow } from "./ingest-sql";

export interface IngestStore {
  record(row: IngestRow): Promise<IngestResult>;
  /** Settles once every write asked for has been committed or refused. */
  drain(): Promise<void>;
}

export interface IngestStoreOptions {
  /** How long a webhook may wait for SQLite's write lock (held by another connection) before it is refused. */
  sqliteLockWaitMs?: number;
}

/** Well inside Shopify's 5 s, so a refused webhook is answered 503 (and retried) rather than timed out. */
export const DEFAULT_SQLITE_LOCK_WAIT_MS = 3_000;

/** The driver-level webhook write (decision 007) for the same database as this client. */
export function ingestStoreOf(prisma: Database): IngestStore {
  return storeOn(prisma, openIngestStore);
}

export function openIngestStore(driver: Driver, options: IngestStoreOptions = {}): IngestStore {
  return driver.provider === "sqlite"
    ? new SqliteIngestStore(sqliteWriterOf(driver), options.sqliteLockWaitMs ?? DEFAULT_SQLITE_LOCK_WAIT_MS)
    : new PostgresIngestStore(driver.pool);
}

/**
 * SQLite: webhooks that arrive in the same turn of the event loop share one
 * transaction, committed by the SQLite writer (off the event loop, decision 021), so one
 * commit covers all of them, and each is answered only after that commit.
 */
class SqliteIngestStore implements IngestStore {
  constructor(
    private readonly writer: SqliteWriter,
    private readonly lockWaitMs: number,
  ) {}

  record(row: IngestRow): Promise<IngestResult> {
    return this.writer.write("ingest", row, this.lockWaitMs);
  }

  drain() {
    return this.writer.drain();
  }
}

/**
 * PostgreSQL: two statements per webhook. The first reads the
 * shop's seeded flag and its enabled mappings; the second inserts the webhook (or
 * nothing, if the event is already recorded) and its deliveries in one statement, so
 * it commits as a whole. PostgreSQL groups concurrent commits itself.
 */
class PostgresIngestStore implements IngestStore {
  constructor(private readonly pool: pg.Pool) {}

  async drain() {}

  async record(row: IngestRow): Promise<IngestResult> {
    const lookup = await this.pool.query<{ seeded: boolean; id: string | null; eventType: string | null }>({
      name: "ingest-mappings",
      text: `SELECT s."mappingsSeeded" AS seeded, m.id, m."eventType"
             FROM "Shop" s LEFT JOIN "Mapping" m ON m.shop = s.domain AND m.topic = $2 AND m.enabled
             WHERE s.domain = $1 ORDER BY m.position ASC LIMIT ${MAX_MAPPINGS_PER_SHOP}`,
      values: [row.shop, row.topic],
    });
    if (lookup.rows.length === 0 || !lookup.rows[0]!.seeded) return { kind: "unseeded" };
    const mappings = lookup.rows.flatMap((r) => (r.id !== null && r.eventType !== null ? [{ id: r.id, eventType: r.eventType }] : []));
    const webhookRecordId = timeOrderedId();
    const deliveries = deliveryRows(row, webhookRecordId, mappings);
    const written = await this.pool.query<{ recorded: boolean; deliveries: number }>({
      name: "ingest-write",
      text: `WITH w AS (
               INSERT INTO "Webhook" (id, shop, topic, "eventKey", "webhookId", "eventId", "apiVersion", "triggeredAt", "receivedAt", "orderId", body)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
               ON CONFLICT (shop, topic, "eventKey") DO NOTHING
               RETURNING id
             ), d AS (
               INSERT INTO "Delivery" (id, shop, "webhookRecordId", "mappingId", topic, "eventType", "externalEventId", status, attempts,
                 "nextAttemptAt", "occurredAt", stale, "createdAt", "updatedAt", "backfillId")
               SELECT x.id, $2, w.id, x."mappingId", $3, x."eventType", x."externalEventId", 'pending', 0, $9, $12, false, $9, $9, $17::text
               FROM w, unnest($13::text[], $14::text[], $15::text[], $16::text[]) AS x(id, "mappingId", "eventType", "externalEventId")
               RETURNING 1
             )
             SELECT EXISTS (SELECT 1 FROM w) AS recorded, (SELECT count(*) FROM d)::int AS deliveries`,
      values: [
        ...webhookValues(webhookRecordId, row, pgTimestamp),
        pgTimestamp(row.occurredAt),
        deliveries.map((d) => d.id),
        deliveries.map((d) => d.mappingId),
        deliveries.map((d) => d.eventType),
        deliveries.map((d) => d.externalEventId),
        row.backfill?.id ?? null,
      ],
    });
    const result = written.rows[0]!;
    if (!result.recorded) return { kind: "duplicate" };
    return { kind: "recorded", webhookRecordId, deliveries: result.deliveries };
  }
}
