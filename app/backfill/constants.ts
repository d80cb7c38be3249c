/**
 * What the history backfill's pages, CLI and server share (docs/decisions/016-history-backfill.md). Import-free, so
 * the admin bundle can read it.
 */

/**
 * queued: waiting to ask Shopify for a bulk operation; querying: Shopify is running it; reading: the app reads its
 * JSONL result into recorded events; sending: everything is recorded and the worker is sending what is left;
 * paused: neither reading nor sending until resumed; completed, failed, cancelled: finished.
 */
export const BACKFILL_STATUSES = ["queued", "querying", "reading", "sending", "paused", "completed", "failed", "cancelled"] as const;
export type BackfillStatus = (typeof BACKFILL_STATUSES)[number];

/** The statuses of a backfill that still holds the shop's one slot. */
export const ACTIVE_BACKFILL_STATUSES: readonly BackfillStatus[] = ["queued", "querying", "reading", "sending", "paused"];

export const BACKFILL_STATUS_LABELS: Record<BackfillStatus, string> = {
  queued: "Starting",
  querying: "Shopify is collecting orders",
  reading: "Reading orders",
  sending: "Sending",
  paused: "Paused",
  completed: "Completed",
  failed: "Failed",
  cancelled: "Cancelled",
};

/** Shopify shows an app the last 60 days of orders with read_orders; older ones need read_all_orders. */
export const RECENT_ORDERS_DAYS = 60;
export const ALL_ORDERS_SCOPE = "read_all_orders";

/**
 * A backfill never reaches closer to now than this: a webhook of something that happened since may still be on its
 * way, and it carries the full body (the reconciliation waits as long: app/reconciliation/reconcile.server.ts).
 */
export const BACKFILL_SETTLE_MS = 10 * 60_000;

/** The Webhook table's topic for an order the backfill read, kept for its events' order look-ups (never mapped). */
export const BACKFILL_ORDER_TOPIC = "backfill/order";
