/**
 * Delivery logs (deliveries, their attempts, the webhook bodies they came from) hold customers'
 * personal data; a shop keeps them for its logRetentionDays, then they are deleted. Pruning
 * runs in small batches with a pause between them, so on SQLite (one writer at a time) the
 * webhook route never waits long behind it. Unfinished deliveries are never pruned.
 */
import type { Logger } from "pino";
import type { Database } from "~/db.server";
import { deleteExpiredDeliveries, deleteExpiredWebhooks, shopsWithRetention } from "~/models/Retention.server";
import { startPeriodicJob, type PeriodicJob } from "~/jobs/periodic-job.server";

export interface RetentionOptions {
  prisma: Database;
  logger: Logger;
  batchSize?: number;
  /** Pause between batches, letting other writers in. */
  pauseMs?: number;
  now?: () => Date;
}

export interface PruneResult {
  deliveries: number;
  webhooks: number;
}

const DAY_MS = 24 * 60 * 60_000;
/** Shopify redelivers for 4 hours: a webhook record younger than a day still de-duplicates. */
const MIN_RETENTION_DAYS = 1;

export async function pruneExpiredLogs(options: RetentionOptions): Promise<PruneResult> {
  const { prisma } = options;
  const batchSize = options.batchSize ?? 500;
  const pause = () => new Promise((resolve) => setTimeout(resolve, options.pauseMs ?? 20));
  const now = options.now?.() ?? new Date();
  const total: PruneResult = { deliveries: 0, webhooks: 0 };
  for (const shop of await shopsWithRetention(prisma)) {
    const before = new Date(now.getTime() - Math.max(MIN_RETENTION_DAYS, shop.logRetentionDays) * DAY_MS);
    for (;;) {
      const deleted = await deleteExpiredDeliveries(prisma, shop.domain, before, batchSize);
      total.deliveries += deleted;
      if (deleted < batchSize) break;
      await pause();
    }
    for (;;) {
      const deleted = await deleteExpiredWebhooks(prisma, shop.domain, before, batchSize);
      total.webhooks += deleted;
      if (deleted < batchSize) break;
      await pause();
    }
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
