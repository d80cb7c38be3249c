/**
 * The worker's claim on the database driver (decision 007): due deliveries taken under
 * this worker's lease and read with their webhooks, in one statement.
 *
 * A delivery is due when it is pending and its next attempt has come, or when it is
 * still `sending` under a lease that expired (its worker died). On SQLite the claim is
 * one UPDATE … RETURNING (SQLite has one writer, so two workers never take the same
 * row). On PostgreSQL the candidates are locked with FOR UPDATE SKIP LOCKED, so
 * concurrent workers take different rows instead of waiting on each other.
 *
 * Live deliveries come first: a history backfill's (backfillId set) are taken only when no live one is due, and a
 * paused backfill's not at all (docs/decisions/016).
 */
import type Sqlite from "better-sqlite3";
import type pg from "pg";
import { storeOn, type Database } from "~/db.server";
import type { Driver } from "~/db/driver.server";
import { pgTimestamp } from "~/db/sql-values";
import { sqliteWriterOf, type SqliteWriter } from "~/db/sqlite-writer.server";
import { SettingsCache } from "./settings-cache";
import { CLAIM_SCAN_WINDOW, candidatesToRead, earliestFirst, prepareSqliteQueueReads, type SqliteQueueReads, toClaimed, type ClaimedDelivery, type ClaimRequest, type Row } from "./claim-sql";

export type { ClaimedDelivery, ClaimRequest } from "./claim-sql";

/** What a claim leaves alone: shops whose sending is paused, and paused history backfills. */
export interface Held {
  shops: string[];
  backfills: string[];
}

/** A claimed delivery's shop, as the worker needs it. */
export interface ClaimShop {
  domain: string;
  keyCipher: string | null;
  uninstalled: boolean;
}

/** A mapping row, as storedMapping reads it. */
export interface ClaimMapping {
  id: string;
  shop: string;
  position: number;
  topic: string;
  eventType: string;
  enabled: boolean;
  when: string | null;
  properties: string;
  user: string | null;
}

export interface ClaimStore {
  /** Claims up to `limit` due deliveries, earliest due first. */
  claim(request: ClaimRequest): Promise<ClaimedDelivery[]>;
  /**
   * Read before each claim, on the driver (the claim runs often: a Prisma query costs it several times more CPU). Kept
   * while the settings version stays the same (docs/decisions/045), as context is.
   */
  held(): Promise<Held>;
  /** The shops and mappings of a claim's deliveries: those not kept since the settings version last moved, in one read each. */
  context(domains: string[], mappingIds: string[]): Promise<{ shops: ClaimShop[]; mappings: ClaimMapping[] }>;
  /**
   * When the earliest pending delivery is due, of shops not left out and backfills not held, to sleep until then;
   * null when there is none. Read as the claim reads the queue (decision 037): each backfill apart, and on SQLite a
   * shop left out costs no more than the claim's window, however long its backlog.
   */
  nextDue(excludeShops: string[], excludeBackfills: string[]): Promise<Date | null>;
  drain(): Promise<void>;
}

/** A claim may wait this long for SQLite's lock; the worker simply claims later. */
const SQLITE_LOCK_WAIT_MS = 10_000;

/** The driver-level claim of due deliveries, for the same database as this client. */
export function claimStoreOf(prisma: Database): ClaimStore {
  return storeOn(prisma, openClaimStore);
}

export function openClaimStore(driver: Driver): ClaimStore {
  return driver.provider === "sqlite" ? new SqliteClaimStore(sqliteWriterOf(driver), driver.db) : new PostgresClaimStore(driver.pool);
}

/**
 * SQLite: the claim is a write, committed by the SQLite writer with the other writes of its turn (decision 021); what
 * the claim reads beside it (paused shops and backfills, shops and mappings) is read on this thread's connection.
 */
class SqliteClaimStore implements ClaimStore {
  private readonly pausedShops: Sqlite.Statement<[], { domain: string }>;
  private readonly pausedBackfills: Sqlite.Statement<[], { id: string }>;
  private readonly shops: Sqlite.Statement<[string], { domain: string; keyCipher: string | null; uninstalled: number }>;
  private readonly mappings: Sqlite.Statement<[string], Omit<ClaimMapping, "enabled"> & { enabled: number }>;
  private readonly version: Sqlite.Statement<[], { version: number | bigint }>;
  private readonly settings: SettingsCache;

  private readonly queue: SqliteQueueReads;

  constructor(
    private readonly writer: SqliteWriter,
    db: Sqlite.Database,
  ) {
    this.queue = prepareSqliteQueueReads(db);
    // A Shop or Backfill column read here that can change must move "SettingsVersion" when it does (its triggers,
    // migration 20261204160000_settings_version), or the store would keep answering with its old value (decision 045).
    this.pausedShops = db.prepare(`SELECT domain FROM "Shop" WHERE "sendingPaused" = 1`);
    this.pausedBackfills = db.prepare(`SELECT id FROM "Backfill" WHERE status = 'paused'`);
    this.shops = db.prepare(
      `SELECT domain, "attentiveKeyCipher" AS "keyCipher", "uninstalledAt" IS NOT NULL AS uninstalled FROM "Shop" WHERE domain IN (SELECT value FROM json_each(?))`,
    );
    this.mappings = db.prepare(
      `SELECT id, shop, position, topic, "eventType", enabled, "when", properties, "user" FROM "Mapping" WHERE id IN (SELECT value FROM json_each(?))`,
    );
    this.version = db.prepare(`SELECT version FROM "SettingsVersion" WHERE id = 1`);
    this.settings = new SettingsCache({
      version: async () => {
        const row = this.version.get();
        return row === undefined ? null : String(row.version);
      },
      held: async () => this.readHeld(),
      context: async (domains, mappingIds) => this.readContext(domains, mappingIds),
    });
  }

  claim(request: ClaimRequest): Promise<ClaimedDelivery[]> {
    return this.writer.write("claim", request, SQLITE_LOCK_WAIT_MS);
  }

  drain() {
    return this.writer.drain();
  }

  held(): Promise<Held> {
    return this.settings.held();
  }

  context(domains: string[], mappingIds: string[]) {
    return this.settings.context(domains, mappingIds);
  }

  private readHeld(): Held {
    return { shops: this.pausedShops.all().map((row) => row.domain), backfills: this.pausedBackfills.all().map((row) => row.id) };
  }

  private readContext(domains: string[], mappingIds: string[]) {
    return {
      shops: this.shops.all(JSON.stringify(domains)).map((row) => ({ ...row, uninstalled: row.uninstalled === 1 })),
      mappings: this.mappings.all(JSON.stringify(mappingIds)).map((row) => ({ ...row, enabled: row.enabled === 1 })),
    };
  }

  async nextDue(excludeShops: string[], excludeBackfills: string[]): Promise<Date | null> {
    // Each shop's and each backfill's earliest pending delivery, whenever it is due.
    const request = { limit: 1, perShopLimit: 1, excludeShops, excludeBackfills };
    const heads = [...this.queue.live(request, SQLITE_END_OF_TIME, 1), ...this.queue.background(request, SQLITE_END_OF_TIME, 1)];
    return earliestOf(heads.map((row) => new Date(row.due)));
  }
}

/** Later than any date the app writes, in the form SQLite's date columns hold (sqliteDate), which compares as text. */
const SQLITE_END_OF_TIME = "9999-12-31T23:59:59.999+00:00";

function earliestOf(dates: Date[]): Date | null {
  return dates.reduce<Date | null>((earliest, date) => (earliest === null || date < earliest ? date : earliest), null);
}

/**
 * PostgreSQL: the claim's window, the first CLAIM_SCAN_WINDOW live deliveries due by $3 in queue order (decision 038),
 * read once for its rows and, when they held too few, once more from the index alone to know whether it was full.
 * "backfillId" (null in every row here) comes first in the ORDER BY: PostgreSQL knows the index's order holds past an
 * equality, not past IS NULL, and without it sorted every due live delivery.
 */
const LIVE_WINDOW = `FROM "Delivery" WHERE status = 'pending' AND "backfillId" IS NULL AND "nextAttemptAt" <= $3::timestamp(3)
                     ORDER BY "backfillId", "nextAttemptAt" LIMIT ${CLAIM_SCAN_WINDOW}`;

class PostgresClaimStore implements ClaimStore {
  private readonly settings: SettingsCache;

  constructor(private readonly pool: pg.Pool) {
    this.settings = new SettingsCache({
      version: async () => {
        const result = await this.pool.query<{ version: string }>({ name: "settings-version", text: `SELECT version FROM "SettingsVersion" WHERE id = 1` });
        return result.rows[0]?.version ?? null;
      },
      held: () => this.readHeld(),
      context: (domains, mappingIds) => this.readContext(domains, mappingIds),
    });
  }

  held(): Promise<Held> {
    return this.settings.held();
  }

  context(domains: string[], mappingIds: string[]) {
    return this.settings.context(domains, mappingIds);
  }

  async claim(request: ClaimRequest): Promise<ClaimedDelivery[]> {
    const leaseExpiresAt = new Date(request.now.getTime() + request.leaseMs);
    const utc = (column: string) => `(c."${column}" AT TIME ZONE 'UTC') AS "${column}"`;
    const result = await this.pool.query<Row>({
      name: "delivery-claim-fair",
      // Live deliveries in due order from the (backfillId, status, nextAttemptAt) index, as SQLite reads them
      // (claim-sql.ts, decision 037): no further than the queue's first CLAIM_SCAN_WINDOW due (a constant, so that the
      // plan PostgreSQL keeps knows the window's size). Past the shops left out (paced, cooling down, paused) the claim
      // used to read a row each: one shop's backlog of 50,000 at the head of the queue cost every claim 8 to 10 ms
      // of the server's CPU, and the next-due read 6 ms (bench/micro/claim-backlog.ts). When the window held too few
      // of the other shops' and was full, they are read shop by shop (docs/decisions/038): each shop with live
      // deliveries waiting found by one seek of the partial index "Delivery_pending_live_by_shop_idx" (a recursive
      // CTE, as PostgreSQL 15 has no skip scan), then the earliest due of each shop not left out. That read is behind
      // a one-time filter: a claim that found enough does not make it.
      // Backfilled deliveries backfill by backfill (each backfill found by one seek of the first index), so no claim
      // reads past a backfill's rows to find live ones or sorts a backfill's; only when live deliveries leave room.
      text: `WITH RECURSIVE near AS (
                    SELECT id, shop, false AS background, "nextAttemptAt" FROM "Delivery"
                    WHERE id = ANY(ARRAY(
                      SELECT id FROM (SELECT id, shop ${LIVE_WINDOW}) AS win
                      -- The scan stops as soon as it has found enough.
                      WHERE NOT (shop = ANY($4::text[])) LIMIT $7))
                      -- status is read again under the lock: a row another worker claimed since it was read is not
                      -- pending any more. Written so that no index matches it: the plan PostgreSQL keeps otherwise
                      -- intersected these few ids with every pending delivery in the (status, nextAttemptAt) index.
                      -- (By the ids, not a join: with a join, that plan hashed every delivery.)
                      AND (status = 'pending') IS TRUE
                    ORDER BY "nextAttemptAt" LIMIT $7 FOR UPDATE SKIP LOCKED
                  ),
                  shops(shop) AS (
                    SELECT (SELECT min(shop) FROM "Delivery" WHERE status = 'pending' AND "backfillId" IS NULL
                              -- Only past left-out shops: with none, what near missed was locked by another worker's
                              -- claim of the moment, and this worker claims again soon.
                              AND cardinality($4::text[]) > 0 AND (SELECT count(*) FROM near) < $7
                              -- Whether the window was full, from the index alone; counted only when near found too few.
                              AND (SELECT count(*) FROM (SELECT 1 ${LIVE_WINDOW}) AS win) >= ${CLAIM_SCAN_WINDOW})
                    UNION ALL
                    SELECT (SELECT min(d.shop) FROM "Delivery" d WHERE d.status = 'pending' AND d."backfillId" IS NULL AND d.shop > s.shop)
                    FROM shops s WHERE s.shop IS NOT NULL
                  ),
                  open_shops AS (
                    SELECT shop FROM shops WHERE shop IS NOT NULL AND NOT (shop = ANY($4::text[]))
                  ),
                  far AS (
                    SELECT h.* FROM open_shops o CROSS JOIN LATERAL (
                      SELECT id, shop, false AS background, "nextAttemptAt" FROM "Delivery" d
                      WHERE d.status = 'pending' AND d."backfillId" IS NULL AND d.shop = o.shop AND d."nextAttemptAt" <= $3::timestamp(3)
                      ORDER BY d."nextAttemptAt"
                      -- As SQLite's claim reads them (headsPerShop, claim-sql.ts): the candidates spread over the
                      -- shops, at least 4 each, at most a shop's share.
                      LIMIT (SELECT LEAST($8, GREATEST(4, ceil($7::float8 / GREATEST(1, count(*)))))::int FROM open_shops)
                      FOR UPDATE SKIP LOCKED
                    ) AS h
                  ),
                  live AS (
                    -- UNION, not UNION ALL: a row both reads found (locked by this statement already) counts once.
                    SELECT * FROM near UNION SELECT * FROM far
                  ),
                  expired AS (
                    -- Only when the worker asks ($9, a one-time filter): every version of a row that was ever sending is
                    -- in the (status, nextAttemptAt) index until vacuum, and this read visited them all, 2,000 pages
                    -- and three quarters of a claim's CPU in the fifty-shop benchmark (docs/decisions/038).
                    SELECT id, shop, "backfillId" IS NOT NULL AS background, "nextAttemptAt" FROM "Delivery"
                    WHERE $9::boolean AND status = 'sending' AND "leaseExpiresAt" < $3::timestamp(3) AND NOT (shop = ANY($4::text[]))
                      AND ("backfillId" IS NULL OR NOT ("backfillId" = ANY($6::text[])))
                    ORDER BY background, "nextAttemptAt" LIMIT $7 FOR UPDATE SKIP LOCKED
                  ),
                  pending_backfills(id) AS (
                    SELECT (SELECT min("backfillId") FROM "Delivery" WHERE "backfillId" IS NOT NULL
                              AND (SELECT count(*) FROM live) + (SELECT count(*) FROM expired WHERE NOT background) < $5)
                    UNION ALL
                    SELECT (SELECT min(d."backfillId") FROM "Delivery" d WHERE d."backfillId" > b.id) FROM pending_backfills b WHERE b.id IS NOT NULL
                  ),
                  background AS (
                    SELECT h.* FROM pending_backfills b CROSS JOIN LATERAL (
                      SELECT id, shop, true AS background, "nextAttemptAt" FROM "Delivery" d
                      WHERE d.status = 'pending' AND d."backfillId" = b.id AND d."nextAttemptAt" <= $3::timestamp(3)
                      ORDER BY d."nextAttemptAt" LIMIT $7 FOR UPDATE SKIP LOCKED
                    ) AS h
                    WHERE b.id IS NOT NULL AND NOT (b.id = ANY($6::text[]))
                      -- A backfill is one shop's: its shop, read from one of its rows, is left out or not.
                      AND NOT ((SELECT one.shop FROM "Delivery" one WHERE one.status = 'pending' AND one."backfillId" = b.id LIMIT 1) = ANY($4::text[]))
                  ),
                  chosen AS (
                    SELECT id FROM (
                      SELECT id, background, "nextAttemptAt", row_number() OVER (PARTITION BY shop ORDER BY background, "nextAttemptAt") AS nth
                      FROM (SELECT * FROM live UNION ALL SELECT * FROM expired UNION ALL SELECT * FROM background) AS candidates
                    ) AS ranked
                    WHERE nth <= $8
                    ORDER BY background, "nextAttemptAt" LIMIT $5
                  ),
                  c AS (
                    UPDATE "Delivery" d
                    SET status = 'sending', "leaseOwner" = $1, "leaseExpiresAt" = $2::timestamp(3), attempts = d.attempts + 1, "updatedAt" = $3::timestamp(3)
                    -- By the ids, not a join: the plan PostgreSQL keeps for this statement, made without its parameters,
                    -- joined the chosen few to a hash of every delivery (a scan of the table each claim).
                    WHERE d.id = ANY(ARRAY(SELECT id FROM chosen))
                    RETURNING d.*
                  )
             SELECT c.id, c.shop, c."mappingId", c.topic, c."externalEventId", c.attempts, c."backfillId", c.prerendered,
                    ${utc("occurredAt")}, ${utc("createdAt")}, ${utc("nextAttemptAt")},
                    -- Not sent for a delivery with an event rendered ahead (decision 054): the worker reads it if it must.
                    w.id AS "webhookId", CASE WHEN c.prerendered IS NULL THEN w.body END AS "webhookBody", w.topic AS "webhookTopic", w.shop AS "webhookShop"
             FROM c JOIN "Webhook" w ON w.id = c."webhookRecordId"`,
      values: [
        request.workerId,
        pgTimestamp(leaseExpiresAt),
        pgTimestamp(request.now),
        request.excludeShops,
        request.limit,
        request.excludeBackfills ?? [],
        candidatesToRead(request),
        request.perShopLimit ?? request.limit,
        request.expiredLeases !== false,
      ],
    });
    return earliestFirst(result.rows).map((row) => toClaimed(row, request, leaseExpiresAt));
  }

  private async readHeld(): Promise<Held> {
    const [shops, backfills] = await Promise.all([
      this.pool.query<{ domain: string }>({ name: "claim-paused-shops", text: `SELECT domain FROM "Shop" WHERE "sendingPaused"` }),
      this.pool.query<{ id: string }>({ name: "claim-paused-backfills", text: `SELECT id FROM "Backfill" WHERE status = 'paused'` }),
    ]);
    return { shops: shops.rows.map((row) => row.domain), backfills: backfills.rows.map((row) => row.id) };
  }

  private async readContext(domains: string[], mappingIds: string[]) {
    const [shops, mappings] = await Promise.all([
      this.pool.query<ClaimShop>({
        name: "claim-shops",
        text: `SELECT domain, "attentiveKeyCipher" AS "keyCipher", "uninstalledAt" IS NOT NULL AS uninstalled FROM "Shop" WHERE domain = ANY($1::text[])`,
        values: [domains],
      }),
      this.pool.query<ClaimMapping>({
        name: "claim-mappings",
        text: `SELECT id, shop, position, topic, "eventType", enabled, "when", properties, "user" FROM "Mapping" WHERE id = ANY($1::text[])`,
        values: [mappingIds],
      }),
    ]);
    return { shops: shops.rows, mappings: mappings.rows };
  }

  async nextDue(excludeShops: string[], excludeBackfills: string[]): Promise<Date | null> {
    const result = await this.pool.query<{ due: Date | null }>({
      name: "delivery-next-due",
      // The claim's reads (above), each head one row, whenever it is due: the live one in the window or, when the
      // window is full of the shops left out, each other shop's; and each backfill's.
      text: `WITH RECURSIVE win AS MATERIALIZED (
                    SELECT shop, "nextAttemptAt" FROM "Delivery"
                    WHERE status = 'pending' AND "backfillId" IS NULL
                    ORDER BY "backfillId", "nextAttemptAt" LIMIT ${CLAIM_SCAN_WINDOW}
                  ),
                  near AS (
                    SELECT min("nextAttemptAt") AS "nextAttemptAt" FROM win WHERE NOT (shop = ANY($1::text[]))
                  ),
                  shops(shop) AS (
                    SELECT (SELECT min(shop) FROM "Delivery" WHERE status = 'pending' AND "backfillId" IS NULL
                              AND (SELECT count(*) FROM win) >= ${CLAIM_SCAN_WINDOW} AND (SELECT "nextAttemptAt" FROM near) IS NULL)
                    UNION ALL
                    SELECT (SELECT min(d.shop) FROM "Delivery" d WHERE d.status = 'pending' AND d."backfillId" IS NULL AND d.shop > s.shop)
                    FROM shops s WHERE s.shop IS NOT NULL
                  ),
                  far AS (
                    SELECT h."nextAttemptAt" FROM shops s CROSS JOIN LATERAL (
                      SELECT "nextAttemptAt" FROM "Delivery" d WHERE d.status = 'pending' AND d."backfillId" IS NULL AND d.shop = s.shop
                      ORDER BY d."nextAttemptAt" LIMIT 1) AS h
                    WHERE s.shop IS NOT NULL AND NOT (s.shop = ANY($1::text[]))
                  ),
                  live AS (
                    SELECT "nextAttemptAt" FROM near UNION ALL SELECT "nextAttemptAt" FROM far
                  ),
                  pending_backfills(id) AS (
                    SELECT (SELECT min("backfillId") FROM "Delivery" WHERE "backfillId" IS NOT NULL)
                    UNION ALL
                    SELECT (SELECT min(d."backfillId") FROM "Delivery" d WHERE d."backfillId" > b.id) FROM pending_backfills b WHERE b.id IS NOT NULL
                  ),
                  background AS (
                    SELECT h."nextAttemptAt" FROM pending_backfills b CROSS JOIN LATERAL (
                      SELECT "nextAttemptAt" FROM "Delivery" d WHERE d.status = 'pending' AND d."backfillId" = b.id ORDER BY d."nextAttemptAt" LIMIT 1) AS h
                    WHERE b.id IS NOT NULL AND NOT (b.id = ANY($2::text[]))
                      AND NOT ((SELECT one.shop FROM "Delivery" one WHERE one.status = 'pending' AND one."backfillId" = b.id LIMIT 1) = ANY($1::text[]))
                  )
             SELECT min("nextAttemptAt") AT TIME ZONE 'UTC' AS due
             FROM (SELECT * FROM live UNION ALL SELECT * FROM background) AS heads`,
      values: [excludeShops, excludeBackfills],
    });
    return result.rows[0]?.due ?? null;
  }

  async drain() {}
}
