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
import { PgGroupCommit } from "~/db/pg-group-commit";
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

/** SQLITE_LOCK_WAIT_MS: a whole number of milliseconds, at least 1; a bad value throws, saying what to set. */
export function sqliteLockWaitMsFrom(text: string | undefined): number {
  if (text === undefined || text.trim() === "") return DEFAULT_SQLITE_LOCK_WAIT_MS;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new Error(
      `SQLITE_LOCK_WAIT_MS must be a whole number of milliseconds of at least 1, not "${text}": leave it unset for ${DEFAULT_SQLITE_LOCK_WAIT_MS} (keep it under Shopify's 5 s).`,
    );
  }
  return value;
}

/**
 * How long a webhook's write may wait for others to share its commit (decision 040; on PostgreSQL, decision 052).
 * Each SQLite commit writes every index leaf its rows touched to the WAL, so at a thousand webhooks a second,
 * committed as they came (about two a commit), the writer thread spent more on commits than on rows. A claim written
 * meanwhile still commits at once, and carries the waiting webhooks with it. On PostgreSQL a statement and its commit
 * cost the server more than the rows of one webhook.
 */
export const INGEST_GATHER_MS = 5;

/**
 * A webhook waits no longer once this many writes are queued (decision 041; on PostgreSQL, decision 052). Shopify,
 * or a load test, that sends again only once answered has no more to send while its webhooks wait: at the maximum
 * rate with sixteen connections, the full 5 ms halved the webhooks recorded a second.
 */
export const INGEST_GATHER_COUNT = 8;

/** Read when the build loads, so a bad value stops `npm start` at start rather than refusing every webhook. */
const sqliteLockWaitMs = sqliteLockWaitMsFrom(process.env.SQLITE_LOCK_WAIT_MS);

/** The driver-level webhook write (decision 007) for the same database as this client. */
export function ingestStoreOf(prisma: Database): IngestStore {
  return storeOn(prisma, openIngestStore);
}

export function openIngestStore(driver: Driver, options: IngestStoreOptions = {}): IngestStore {
  return driver.provider === "sqlite"
    ? new SqliteIngestStore(sqliteWriterOf(driver), options.sqliteLockWaitMs ?? sqliteLockWaitMs)
    : new PostgresIngestStore(driver.pool);
}

/**
 * SQLite: webhooks that arrive within INGEST_GATHER_MS of the first waiting one share one
 * transaction, committed by the SQLite writer (off the event loop, decision 021), so one
 * commit covers all of them, and each is answered only after that commit (decision 040).
 */
class SqliteIngestStore implements IngestStore {
  constructor(
    private readonly writer: SqliteWriter,
    private readonly lockWaitMs: number,
  ) {}

  record(row: IngestRow): Promise<IngestResult> {
    return this.writer.write("ingest", row, this.lockWaitMs, { gatherMs: INGEST_GATHER_MS, gatherCount: INGEST_GATHER_COUNT });
  }

  drain() {
    return this.writer.drain();
  }
}

/** PostgreSQL: webhook statements in flight at once; more wait and go together in the next one. */
export const PG_INGEST_STATEMENTS_IN_FLIGHT = 2;
/** PostgreSQL: the most webhooks one statement carries. */
export const PG_INGEST_GROUP = 32;

/** Casts for the webhook's values, in webhookValues' order: the two dates (text otherwise). */
const WEBHOOK_CASTS: Record<number, string> = { 7: "::timestamp(3)", 8: "::timestamp(3)" };

/** The deliveries' values, one array each, in the order the write's unnest names them. */
const DELIVERY_ARRAY_TYPES = ["text", "text", "text", "text", "text", "timestamp(3)", "text", "text"] as const;

/** A webhook's read of its shop's mappings; `n` tells the reads apart. */
interface MappingRead {
  shop: string;
  topic: string;
  n: number;
}

interface PostgresIngestItem {
  row: IngestRow;
  webhookRecordId: string;
  deliveries: ReturnType<typeof deliveryRows>;
}

/**
 * PostgreSQL: a read of the shop's seeded flag and its enabled mappings; then the webhook (or nothing, if the event is
 * already recorded) and its deliveries are inserted in one statement, so they commit as a whole. Webhooks that arrive
 * while others are being written go in the same statement and commit (PgGroupCommit, decision 028), waiting up to
 * INGEST_GATHER_MS for others (decision 052): per webhook, a statement and a commit cost the server more than the
 * rows. Their reads go together in the same way (decision 053). The event (shop, topic, key) is the key, so
 * redeliveries of one event are never written beside each other: the first is recorded, the others find it.
 */
class PostgresIngestStore implements IngestStore {
  private readonly group: PgGroupCommit<PostgresIngestItem, IngestResult>;
  private readonly reads: PgGroupCommit<MappingRead, Array<{ id: string; eventType: string }> | null>;
  /** Numbers the reads, so that none waits for another (PgGroupCommit keeps a key's items apart). */
  private readNumber = 0;

  constructor(private readonly pool: pg.Pool) {
    // No wait for others here: the insert after it waits (INGEST_GATHER_MS); the reads of the webhooks that arrive
    // while up to two are in flight go together.
    this.reads = new PgGroupCommit({
      write: (items) => this.readMappings(items),
      keyOf: (item) => String(item.n),
      maxGroup: PG_INGEST_GROUP,
      maxInFlight: PG_INGEST_STATEMENTS_IN_FLIGHT,
    });
    this.group = new PgGroupCommit({
      write: (items) => this.write(items),
      keyOf: ({ row }) => `${row.shop}\n${row.topic}\n${row.eventKey}`,
      maxGroup: PG_INGEST_GROUP,
      maxInFlight: PG_INGEST_STATEMENTS_IN_FLIGHT,
      gatherMs: INGEST_GATHER_MS,
      gatherCount: INGEST_GATHER_COUNT,
    });
  }

  async drain(): Promise<void> {
    await this.reads.drain();
    await this.group.drain();
  }

  async record(row: IngestRow): Promise<IngestResult> {
    const found = await this.reads.submit({ shop: row.shop, topic: row.topic, n: this.readNumber++ });
    if (found === null) return { kind: "unseeded" };
    const webhookRecordId = timeOrderedId();
    return this.group.submit({ row, webhookRecordId, deliveries: deliveryRows(row, webhookRecordId, found) });
  }

  /**
   * For each read of a group, in one statement (decision 053): its shop's enabled mappings of the topic in position
   * order, or null when the shop is unknown or its default mappings were never created.
   */
  private async readMappings(items: readonly MappingRead[]): Promise<Array<Array<{ id: string; eventType: string }> | null>> {
    const result = await this.pool.query<{ n: string; seeded: boolean | null; id: string | null; eventType: string | null }>({
      name: "ingest-mappings-group",
      text: `SELECT q.n, s."mappingsSeeded" AS seeded, m.id, m."eventType"
             FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS q(shop, topic, n)
             LEFT JOIN "Shop" s ON s.domain = q.shop
             LEFT JOIN LATERAL (
               SELECT id, "eventType", position FROM "Mapping"
               WHERE shop = q.shop AND topic = q.topic AND enabled
               ORDER BY position ASC LIMIT ${MAX_MAPPINGS_PER_SHOP}
             ) m ON true
             ORDER BY q.n, m.position`,
      values: [items.map((item) => item.shop), items.map((item) => item.topic)],
    });
    const found: Array<Array<{ id: string; eventType: string }> | null> = items.map(() => null);
    for (const row of result.rows) {
      const index = Number(row.n) - 1;
      if (row.seeded !== true) continue;
      const mappings = (found[index] ??= []);
      if (row.id !== null && row.eventType !== null) mappings.push({ id: row.id, eventType: row.eventType });
    }
    return found;
  }

  private async write(items: readonly PostgresIngestItem[]): Promise<IngestResult[]> {
    // The webhooks' values are parameters of their own, one VALUES row each, not arrays: node-postgres would escape
    // every body (quotes and backslashes) into an array literal, and the server would parse it back, which cost more
    // than the statements saved (decision 028). The deliveries' short values go as arrays.
    const webhookValuesList = items.map(({ row, webhookRecordId }) => webhookValues(webhookRecordId, row, pgTimestamp));
    const width = webhookValuesList[0]!.length;
    const rowsSql = webhookValuesList
      .map((_, row) => `(${Array.from({ length: width }, (_, column) => `$${row * width + column + 1}${WEBHOOK_CASTS[column] ?? ""}`).join(", ")})`)
      .join(", ");
    const deliveries = items.flatMap(({ row, deliveries }) =>
      deliveries.map((delivery) => [
        delivery.id,
        delivery.webhookRecordId,
        delivery.mappingId,
        delivery.eventType,
        delivery.externalEventId,
        pgTimestamp(row.occurredAt),
        row.backfill?.id ?? null,
        delivery.prerendered,
      ]),
    );
    const first = items.length * width;
    const arrays = DELIVERY_ARRAY_TYPES.map((type, index) => `$${first + index + 1}::${type}[]`).join(", ");
    const written = await this.pool.query<{ id: string; deliveries: number }>({
      // One prepared statement per group size (at most PG_INGEST_GROUP of them per connection).
      name: `ingest-write-group-${items.length}`,
      text: `WITH w AS (
               INSERT INTO "Webhook" (id, shop, topic, "eventKey", "webhookId", "eventId", "apiVersion", "triggeredAt", "receivedAt", "orderId", body)
               VALUES ${rowsSql}
               ON CONFLICT (shop, topic, "eventKey") DO NOTHING
               RETURNING id, shop, topic, "receivedAt"
             ), d AS (
               INSERT INTO "Delivery" (id, shop, "webhookRecordId", "mappingId", topic, "eventType", "externalEventId", status, attempts,
                 "nextAttemptAt", "occurredAt", stale, "createdAt", "updatedAt", "backfillId", prerendered)
               SELECT x.id, w.shop, w.id, x."mappingId", w.topic, x."eventType", x."externalEventId", 'pending', 0, w."receivedAt", x."occurredAt", false,
                      w."receivedAt", w."receivedAt", x."backfillId", x.prerendered
               FROM unnest(${arrays}) AS x(id, "webhookRecordId", "mappingId", "eventType", "externalEventId", "occurredAt", "backfillId", prerendered)
               JOIN w ON w.id = x."webhookRecordId"
               RETURNING "webhookRecordId"
             )
             SELECT w.id, (SELECT count(*) FROM d WHERE d."webhookRecordId" = w.id)::int AS deliveries FROM w`,
      values: [...webhookValuesList.flat(), ...DELIVERY_ARRAY_TYPES.map((_, index) => deliveries.map((values) => values[index]))],
    });
    const recorded = new Map(written.rows.map((result) => [result.id, result.deliveries]));
    return items.map(({ webhookRecordId }) => {
      const count = recorded.get(webhookRecordId);
      return count === undefined ? { kind: "duplicate" } : { kind: "recorded", webhookRecordId, deliveries: count };
    });
  }
}
