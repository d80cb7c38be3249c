/**
 * The claim's rows and its SQLite statements (decision 007), apart from the store so that the SQLite writer thread
 * can load them without the rest of the app (decision 021). claim-store.server.ts has the why.
 */
import type Sqlite from "better-sqlite3";
import { sqliteDate } from "~/db/sql-values";

export interface ClaimRequest {
  workerId: string;
  limit: number;
  leaseMs: number;
  now: Date;
  excludeShops: string[];
  /** Backfills whose deliveries wait (paused). */
  excludeBackfills?: string[];
  /**
   * At most this many deliveries of one shop in this claim (default: `limit`), so that one shop's backlog cannot
   * fill a claim while other shops have deliveries due (docs/decisions/022).
   */
  perShopLimit?: number;
  /**
   * Whether to look for deliveries still `sending` under a lease that ran out (their worker died): default true. A
   * worker's loop looks a few times per lease, not on every claim (docs/decisions/038).
   */
  expiredLeases?: boolean;
}

/** How many candidates a claim reads: more than it takes when a shop's share is capped, to see other shops. */
export function candidatesToRead(request: Pick<ClaimRequest, "limit" | "perShopLimit">): number {
  return (request.perShopLimit ?? request.limit) < request.limit ? request.limit * CANDIDATE_FACTOR : request.limit;
}

/** Candidates read per delivery taken when the claim caps each shop's share. */
const CANDIDATE_FACTOR = 2;

/**
 * The candidates a claim takes, in the order given: at most `perShopLimit` per shop and `limit` in all.
 */
export function fairShare<T extends { shop: string }>(ordered: T[], request: ClaimRequest): T[] {
  const perShop = request.perShopLimit ?? request.limit;
  const taken = new Map<string, number>();
  const chosen: T[] = [];
  for (const row of ordered) {
    if (chosen.length >= request.limit) break;
    const n = taken.get(row.shop) ?? 0;
    if (n >= perShop) continue;
    taken.set(row.shop, n + 1);
    chosen.push(row);
  }
  return chosen;
}

export interface ClaimedDelivery {
  id: string;
  shop: string;
  mappingId: string;
  topic: string;
  externalEventId: string;
  occurredAt: Date | null;
  /** Attempts including this claim's. */
  attempts: number;
  createdAt: Date;
  /** The history backfill that recorded it, or null for live traffic. */
  backfillId: string | null;
  leaseOwner: string;
  leaseExpiresAt: Date;
  /**
   * `id` lets the worker parse a body once for all the claim's deliveries of one webhook. The body is null when the
   * claim left it unread: every delivery of the webhook in the claim has an event rendered ahead (decision 054), and
   * the worker reads it only if that event cannot be used.
   */
  webhook: { id: string; body: string | null; topic: string; shop: string };
  /** The event rendered when the webhook was received (app/mapping/prerender.ts), or null. */
  prerendered: string | null;
}

export interface Row {
  id: string;
  shop: string;
  mappingId: string;
  topic: string;
  externalEventId: string;
  occurredAt: string | Date | null;
  attempts: number;
  createdAt: string | Date;
  nextAttemptAt: string | Date;
  backfillId: string | null;
  prerendered: string | null;
  webhookId: string;
  webhookBody: string | null;
  webhookTopic: string;
  webhookShop: string;
}

export function toClaimed(row: Row, request: ClaimRequest, leaseExpiresAt: Date): ClaimedDelivery {
  return {
    id: row.id,
    shop: row.shop,
    mappingId: row.mappingId,
    topic: row.topic,
    externalEventId: row.externalEventId,
    occurredAt: row.occurredAt === null ? null : new Date(row.occurredAt),
    attempts: Number(row.attempts),
    createdAt: new Date(row.createdAt),
    backfillId: row.backfillId ?? null,
    leaseOwner: request.workerId,
    leaseExpiresAt,
    webhook: { id: row.webhookId, body: row.webhookBody, topic: row.webhookTopic, shop: row.webhookShop },
    prerendered: row.prerendered ?? null,
  };
}

/** Live before backfilled, then earliest due first. */
export function earliestFirst(rows: Row[]): Row[] {
  const rank = (row: Row) => (row.backfillId === null ? 0 : 1);
  return rows.sort((a, b) => rank(a) - rank(b) || new Date(a.nextAttemptAt).getTime() - new Date(b.nextAttemptAt).getTime());
}

export const RETURNED = `id, shop, "mappingId", topic, "externalEventId", "occurredAt", attempts, "createdAt", "nextAttemptAt", "webhookRecordId", "backfillId", prerendered`;

export type Candidate = { id: string; shop: string; background: number; due: string };

/**
 * How far in queue order a claim that leaves shops out reads for the others' due deliveries; finding too few there,
 * it reads the queue shop by shop instead (docs/decisions/037). Reading past one delivery costs about what finding
 * one more shop's queue head costs, so past a few hundred the shop-by-shop read is the cheaper for any likely number
 * of shops with deliveries waiting.
 */
export const CLAIM_SCAN_WINDOW = 256;

/**
 * How many of one shop's due deliveries a claim reads when it reads shop by shop: enough for the claim's
 * candidates spread over those shops, at least a few each, and no more than the shop's share.
 */
export function headsPerShop(request: Pick<ClaimRequest, "limit" | "perShopLimit">, shops: number): number {
  const perShop = request.perShopLimit ?? request.limit;
  return Math.min(perShop, Math.max(HEADS_AT_LEAST, Math.ceil(candidatesToRead(request) / Math.max(1, shops))));
}

/** The fewest of one shop's due deliveries a claim reads shop by shop. */
const HEADS_AT_LEAST = 4;

/** What reading the queue's heads needs of a claim. */
export type QueueRequest = Pick<ClaimRequest, "limit" | "perShopLimit" | "excludeShops" | "excludeBackfills">;

/** The pending deliveries due by a time, read as a claim reads them: live ones, and each backfill's apart. */
export interface SqliteQueueReads {
  /** Live deliveries due by `now`, earliest first, of shops not left out: up to `fetch`, or a few of each shop. */
  live(request: QueueRequest, now: string | null, fetch: number): Candidate[];
  /** Up to `fetch` of each backfill that is not held and whose shop is not left out, earliest first. */
  background(request: QueueRequest, now: string | null, fetch: number): Candidate[];
}

/** SQLite: prepares on `db` the reads of the queue a claim makes (and the worker's wait for the next due delivery). */
export function prepareSqliteQueueReads(db: Sqlite.Database, scanWindow = CLAIM_SCAN_WINDOW): SqliteQueueReads {
  // The queue is read in due order from the (backfillId, status, nextAttemptAt) index: live deliveries are one
  // range of it and each backfill's another, so neither read passes over the other's rows, and no claim sorts the
  // queue (ordered by (background, nextAttemptAt) in one read, SQLite sorted every due delivery on each claim:
  // 4.5 ms with 6,000 due). Before, live deliveries were read from (status, nextAttemptAt) past every due
  // delivery of a backfill: 19 ms a claim with one of 50,000 (bench/micro/claim-backlog.ts).
  const livePending = db.prepare<[Record<string, unknown>], Candidate>(
    `SELECT id, shop, 0 AS background, "nextAttemptAt" AS due FROM "Delivery"
     WHERE status = 'pending' AND "backfillId" IS NULL AND "nextAttemptAt" <= :now AND shop NOT IN (SELECT value FROM json_each(:excluded))
     ORDER BY "nextAttemptAt" LIMIT :fetch`,
  );
  // That read passes over the due deliveries of the shops left out (paced, cooling down, paused), a row each: one
  // shop's backlog of 50,000 at the head of the queue made each claim that left it out take 50 ms on the writer's
  // thread, which every webhook's commit waits behind. So a claim that leaves shops out reads no further than the
  // queue's first `scanWindow` due deliveries (the inner LIMIT, in the index's order: ties too); when that finds too
  // few and the window was full (counted from the index alone), it reads the queue shop by shop instead.
  const livePendingWithin = db.prepare<[Record<string, unknown>], Candidate>(
    `SELECT id, shop, 0 AS background, due FROM (
       SELECT id, shop, "nextAttemptAt" AS due FROM "Delivery"
       WHERE status = 'pending' AND "backfillId" IS NULL AND "nextAttemptAt" <= :now
       ORDER BY "nextAttemptAt" LIMIT :window)
     WHERE shop NOT IN (SELECT value FROM json_each(:excluded)) LIMIT :fetch`,
  );
  const liveWindowFull = db.prepare<[Record<string, unknown>], { n: number }>(
    `SELECT count(*) AS n FROM (
       SELECT 1 FROM "Delivery" WHERE status = 'pending' AND "backfillId" IS NULL AND "nextAttemptAt" <= :now LIMIT :window)`,
  );
  // The reads of the partial index of pending live deliveries by shop name it (INDEXED BY): without statistics (no
  // ANALYZE), SQLite's planner took the other index for them, and read the rows it meant to avoid (211 ms a claim
  // with a backlog of 50,000, bench/micro/claim-backlog.ts).
  // Shop by shop: each shop with pending live deliveries, one seek apiece in that partial index (SQLite has no skip
  // scan of its own).
  const pendingShops = db.prepare<[], { shop: string }>(
    `WITH RECURSIVE shops(shop) AS (
       SELECT (SELECT min(shop) FROM "Delivery" INDEXED BY "Delivery_pending_live_by_shop_idx" WHERE status = 'pending' AND "backfillId" IS NULL)
       UNION ALL
       SELECT (SELECT min(shop) FROM "Delivery" INDEXED BY "Delivery_pending_live_by_shop_idx" WHERE status = 'pending' AND "backfillId" IS NULL AND shop > shops.shop)
       FROM shops WHERE shops.shop IS NOT NULL)
     SELECT shop FROM shops WHERE shop IS NOT NULL`,
  );
  // Then the heads of the given shops in one statement (a statement per shop cost more in calls than in reading):
  // for each shop, the rowids of its earliest due from that index, and their rows.
  const liveOfShops = db.prepare<[Record<string, unknown>], Candidate>(
    `SELECT d.id, d.shop, 0 AS background, d."nextAttemptAt" AS due
     FROM json_each(:shops) AS one JOIN "Delivery" d ON d.rowid IN (
       SELECT rowid FROM "Delivery" INDEXED BY "Delivery_pending_live_by_shop_idx"
       WHERE status = 'pending' AND shop = one.value AND "backfillId" IS NULL AND "nextAttemptAt" <= :now
       ORDER BY "nextAttemptAt" LIMIT :fetch)`,
  );
  // Backfills each apart, from the (backfillId, status, nextAttemptAt) index: each backfill found by one seek, kept
  // with the shop of one of its pending deliveries (a backfill is one shop's) if it has any, then each one's due
  // deliveries in order. A backfill of a shop left out is not read at all.
  const pendingBackfills = db.prepare<[], { id: string; shop: string }>(
    `WITH RECURSIVE backfills(id) AS (
       SELECT (SELECT min("backfillId") FROM "Delivery" WHERE "backfillId" IS NOT NULL)
       UNION ALL
       SELECT (SELECT min("backfillId") FROM "Delivery" WHERE "backfillId" > backfills.id) FROM backfills WHERE backfills.id IS NOT NULL)
     SELECT id, shop FROM (
       SELECT id, (SELECT shop FROM "Delivery" WHERE "backfillId" = backfills.id AND status = 'pending' LIMIT 1) AS shop
       FROM backfills WHERE id IS NOT NULL)
     WHERE shop IS NOT NULL`,
  );
  const backfillPending = db.prepare<[Record<string, unknown>], Candidate>(
    `SELECT id, shop, 1 AS background, "nextAttemptAt" AS due FROM "Delivery"
     WHERE status = 'pending' AND "backfillId" = :backfill AND "nextAttemptAt" <= :now
     ORDER BY "nextAttemptAt" LIMIT :fetch`,
  );
  const live = (request: QueueRequest, now: string | null, fetch: number): Candidate[] => {
    const excluded = JSON.stringify(request.excludeShops);
    if (request.excludeShops.length === 0) return livePending.all({ now, excluded, fetch });
    const rows = livePendingWithin.all({ now, excluded, fetch, window: scanWindow });
    if (rows.length >= fetch || liveWindowFull.get({ now, window: scanWindow })!.n < scanWindow) return rows;
    const left = new Set(request.excludeShops);
    const shops = pendingShops.all().flatMap((row) => (left.has(row.shop) ? [] : [row.shop]));
    if (shops.length === 0) return [];
    return liveOfShops.all({ shops: JSON.stringify(shops), now, fetch: headsPerShop(request, shops.length) });
  };
  const background = (request: QueueRequest, now: string | null, fetch: number): Candidate[] => {
    const held = new Set(request.excludeBackfills ?? []);
    const left = new Set(request.excludeShops);
    return pendingBackfills
      .all()
      .filter((backfill) => !held.has(backfill.id) && !left.has(backfill.shop))
      .flatMap((backfill) => backfillPending.all({ backfill: backfill.id, now, fetch }));
  };
  return { live, background };
}

/** SQLite: prepares the statements on `db` and returns the claim, to run inside the writer's immediate transaction. */
export function prepareSqliteClaim(db: Sqlite.Database, scanWindow = CLAIM_SCAN_WINDOW): (request: ClaimRequest) => ClaimedDelivery[] {
  const queue = prepareSqliteQueueReads(db, scanWindow);
  // Leases run out only for deliveries a worker had in hand: few rows, whatever the queue's length.
  const expiredLeases = db.prepare<[Record<string, unknown>], Candidate>(
    `SELECT id, shop, "backfillId" IS NOT NULL AS background, "nextAttemptAt" AS due FROM "Delivery"
     WHERE status = 'sending' AND "leaseExpiresAt" < :now AND shop NOT IN (SELECT value FROM json_each(:excluded))
       AND ("backfillId" IS NULL OR "backfillId" NOT IN (SELECT value FROM json_each(:heldBackfills)))
     ORDER BY background, "nextAttemptAt" LIMIT :fetch`,
  );
  const take: Sqlite.Statement<[Record<string, unknown>], Omit<Row, "webhookId" | "webhookBody" | "webhookTopic" | "webhookShop"> & { webhookRecordId: string }> = db.prepare(
    // OR IGNORE: no value set here can break a constraint (none is NULL, and no UNIQUE index holds these columns),
    // but with the default ABORT, SQLite must be able to undo a multi-row UPDATE half-way, so it copied every page
    // the claim changed into a statement journal first: a fifth of the claim's CPU (bench/micro/sqlite-claim.ts).
    `UPDATE OR IGNORE "Delivery"
     SET status = 'sending', "leaseOwner" = :workerId, "leaseExpiresAt" = :lease, attempts = attempts + 1, "updatedAt" = :now
     WHERE id IN (SELECT value FROM json_each(:ids))
     RETURNING ${RETURNED}`,
  );
  // A body is read (its overflow pages) and copied to the worker's thread only for a webhook that one of the claimed
  // deliveries may render from: one without an event rendered ahead (decision 054).
  const webhooks: Sqlite.Statement<[string, string], { id: string; body: string | null; topic: string; shop: string }> = db.prepare(
    `SELECT id, CASE WHEN id IN (SELECT value FROM json_each(?)) THEN body END AS body, topic, shop
     FROM "Webhook" WHERE id IN (SELECT value FROM json_each(?))`,
  );
  // What is read here is taken before any other writer runs: the writer's transaction is immediate.
  return (request) => {
    const leaseExpiresAt = new Date(request.now.getTime() + request.leaseMs);
    const now = sqliteDate(request.now);
    const excluded = JSON.stringify(request.excludeShops);
    const heldBackfills = JSON.stringify(request.excludeBackfills ?? []);
    const fetch = candidatesToRead(request);
    const liveRows = queue.live(request, now, fetch);
    const expired = request.expiredLeases === false ? [] : expiredLeases.all({ now, excluded, heldBackfills, fetch });
    const liveCount = liveRows.length + expired.filter((row) => row.background === 0).length;
    // A backfill's deliveries go only where live ones leave room (docs/decisions/016).
    const backgroundRows = liveCount < request.limit ? queue.background(request, now, fetch) : [];
    const chosen = fairShare(
      [...liveRows, ...expired, ...backgroundRows].sort((a, b) => a.background - b.background || new Date(a.due).getTime() - new Date(b.due).getTime()),
      request,
    );
    if (chosen.length === 0) return [];
    const claimed = take.all({
      workerId: request.workerId,
      lease: sqliteDate(leaseExpiresAt),
      now,
      ids: JSON.stringify(chosen.map((row) => row.id)),
    });
    if (claimed.length === 0) return [];
    const rendering = new Set(claimed.flatMap((row) => (row.prerendered === null ? [row.webhookRecordId] : [])));
    const all = new Set(claimed.map((row) => row.webhookRecordId));
    const bodies = new Map(webhooks.all(JSON.stringify([...rendering]), JSON.stringify([...all])).map((w) => [w.id, w]));
    const rows: Row[] = claimed.map((row) => {
      const webhook = bodies.get(row.webhookRecordId);
      if (!webhook) throw new Error(`Delivery ${row.id} has no webhook ${row.webhookRecordId}`);
      return { ...row, webhookId: webhook.id, webhookBody: webhook.body, webhookTopic: webhook.topic, webhookShop: webhook.shop };
    });
    return earliestFirst(rows).map((row) => toClaimed(row, request, leaseExpiresAt));
  };
}
