/**
 * Delivery logs (deliveries, their attempts, the webhook bodies they came from) hold customers'
 * personal data; a shop keeps them for its logRetentionDays, then they are deleted. Pruning
 * runs in batches sized to take about `batchMs` each, with a pause at least as long as the batch
 * between them, so on SQLite (one writer at a time) a webhook never waits long behind it, and on
 * PostgreSQL the prune holds at most half of one connection's time (decision 046), one statement a
 * batch (decision 047). Unfinished deliveries are never pruned.
 */
import type { Logger } from "pino";
import type { Database } from "~/db.server";
import { deleteExpiredDeliveries, deleteExpiredWebhooks, shopsWithRetention, type WebhookCursor } from "~/models/Retention.server";
import { startPeriodicJob, type PeriodicJob } from "~/jobs/periodic-job.server";

/** One batch of each table, as `~/models/Retention.server` does them. */
export interface PruneSteps {
  deliveries: typeof deleteExpiredDeliveries;
  webhooks: typeof deleteExpiredWebhooks;
}

export interface RetentionOptions {
  prisma: Database;
  logger: Logger;
  /** The most rows one batch deletes (default 1,000). */
  batchSize?: number;
  /** How long one batch should take (default 10 ms): each batch's time moves the next one's size (BatchSizer). */
  batchMs?: number;
  /** The shortest pause between batches (default 20 ms); a batch that took longer is followed by as long a pause. */
  pauseMs?: number;
  now?: () => Date;
  /** Milliseconds on a monotonic clock (tests drive it); performance.now by default. */
  clock?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** The batches themselves (default: Retention.server's); tests wrap them to charge virtual time per row. */
  steps?: PruneSteps;
  /** Called after each batch (tests and benchmarks watch the sizes). */
  onBatch?: (batch: PruneBatch) => void;
}

export interface PruneBatch {
  table: "delivery" | "webhook";
  size: number;
  deleted: number;
  ms: number;
}

export interface PruneResult {
  deliveries: number;
  webhooks: number;
}

const DAY_MS = 24 * 60 * 60_000;
/** Shopify redelivers for 4 hours: a webhook record younger than a day still de-duplicates. */
const MIN_RETENTION_DAYS = 1;

const MIN_BATCH = 10;
const FIRST_BATCH = 100;

/**
 * Batch sizes that keep each batch near a time budget. A batch's rows cost what the machine, the database and its
 * contention make them cost (a webhook's body pages, a busy writer, a checkpoint), so a fixed size is either slow
 * or holds the write lock for 100 ms on a bad day. A batch's time is not proportional to its rows: each one pays a
 * fixed part (round trips, planning, waiting for SQLite's lock, a commit's flush) and now and then a stall. So the
 * size moves by steps: it doubles after a batch under half the budget, shrinks in proportion after one over it (at
 * most by half, so one stall does not undo the rest), and stays put in between.
 */
export class BatchSizer {
  private current: number;

  constructor(
    private readonly targetMs: number,
    private readonly max: number,
  ) {
    this.current = Math.max(Math.min(FIRST_BATCH, max), 1);
  }

  get size(): number {
    return this.current;
  }

  /** The batch of `size` rows just done took `ms`. */
  observe(ms: number): void {
    if (ms > this.targetMs) {
      const shrunk = Math.floor(this.current * Math.max(0.5, this.targetMs / ms));
      this.current = Math.max(shrunk, Math.min(MIN_BATCH, this.max));
    } else if (ms <= this.targetMs / 2) {
      this.current = Math.min(this.current * 2, this.max);
    }
  }
}

function newSizer(options: RetentionOptions): BatchSizer {
  return new BatchSizer(options.batchMs ?? 10, options.batchSize ?? 1_000);
}

export async function pruneExpiredLogs(options: RetentionOptions): Promise<PruneResult> {
  const { prisma } = options;
  const clock = options.clock ?? (() => performance.now());
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  // One per table: a webhook's row carries its body's pages, a delivery's its attempts; their paces differ.
  const sizers = { delivery: newSizer(options), webhook: newSizer(options) };
  const steps = options.steps ?? { deliveries: deleteExpiredDeliveries, webhooks: deleteExpiredWebhooks };
  const now = options.now?.() ?? new Date();
  const total: PruneResult = { deliveries: 0, webhooks: 0 };
  const drain = async <Cursor>(
    table: PruneBatch["table"],
    batch: (limit: number, from: Cursor | undefined) => Promise<{ found: number; deleted: number; from: Cursor | undefined }>,
  ): Promise<number> => {
    const sizer = sizers[table];
    let sum = 0;
    let from: Cursor | undefined;
    for (;;) {
      const size = sizer.size;
      const startedAt = clock();
      const step = await batch(size, from);
      const ms = clock() - startedAt;
      sum += step.deleted;
      from = step.from;
      options.onBatch?.({ table, size, deleted: step.deleted, ms });
      if (step.found < size) return sum;
      sizer.observe(ms);
      // At least as long as the batch took: pruning never holds more than half of the database's write time.
      await sleep(Math.max(options.pauseMs ?? 20, ms));
    }
  };
  for (const shop of await shopsWithRetention(prisma)) {
    const before = new Date(now.getTime() - Math.max(MIN_RETENTION_DAYS, shop.logRetentionDays) * DAY_MS);
    total.deliveries += await drain<Date>("delivery", (limit, from) => steps.deliveries(prisma, shop.domain, before, limit, from));
    total.webhooks += await drain<WebhookCursor>("webhook", (limit, from) => steps.webhooks(prisma, shop.domain, before, limit, from));
  }
  return total;
}

export function startRetentionJob(options: RetentionOptions & { intervalMs: number; firstDelayMs?: number }): PeriodicJob {
  return startPeriodicJob(
    "retention",
    options.logger,
    options.intervalMs,
    async () => {
      const pruned = await pruneExpiredLogs(options);
      if (pruned.deliveries + pruned.webhooks > 0) options.logger.info(pruned, "expired delivery logs deleted");
    },
    options.firstDelayMs,
  );
}
