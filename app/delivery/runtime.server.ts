/**
 * Wires the delivery worker to this process's configuration: used by the embedded
 * worker inside `npm start` and by the standalone `npm run cli -- worker`.
 */
import { z } from "zod";
import { startBackfillRunner, type BackfillRunnerOptions } from "~/backfill/runner.server";
import { database, db, drainWrites } from "~/db.server";
import { env } from "~/env.server";
import { startFlowTriggerSender, type TriggerSenderOptions } from "~/flow/trigger-sender.server";
import { logger } from "~/logger.server";
import { secretBoxFromEnv } from "~/secrets/secret-box.server";
import type { PeriodicJob } from "~/jobs/periodic-job.server";
import { startReconciliationJob, type ReconcileOptions } from "~/reconciliation/reconcile.server";
import { SHOPIFY_API_VERSION, unauthenticated } from "~/shopify.server";
import { createOrderLookup } from "~/shopify/order-lookup.server";
import { listenOnDatabase, type WakeListenerOptions } from "./pg-wake.server";
import { startRetentionJob } from "./retention.server";
import { onBackfillWake, onWork, wakeLocally, wakeWorkers } from "./wake.server";
import { DEFAULT_CONCURRENCY, type DeliveryWorker, type WorkerOptions, startDeliveryWorker } from "./worker.server";

const workerEnv = z.object({
  DELIVERY_CONCURRENCY: z.coerce.number().int().min(1).max(1_000).default(DEFAULT_CONCURRENCY),
  // How often an idle worker looks for work no signal told it of (default: DEFAULT_POLL_SECONDS).
  DELIVERY_POLL_SECONDS: z.coerce.number().min(0.01).max(3_600).optional(),
});

/**
 * An idle worker's poll: each second where only this process's signals wake it; ten seconds for a
 * standalone worker on PostgreSQL, which NOTIFY wakes (the poll then finds what no signal covers:
 * leases a crashed worker left, a shop whose sending was turned back on, an older app version's writes).
 */
export const DEFAULT_POLL_SECONDS = { inProcess: 1, listening: 10 } as const;

export function workerOptionsFromEnv(): WorkerOptions {
  const config = env();
  const prisma = db();
  return {
    prisma,
    concurrency: workerEnv.parse(process.env).DELIVERY_CONCURRENCY,
    idlePollMs: (workerEnv.parse(process.env).DELIVERY_POLL_SECONDS ?? DEFAULT_POLL_SECONDS.inProcess) * 1_000,
    secretBox: secretBoxFromEnv(),
    attentive: {
      apiUrl: config.ATTENTIVE_API_URL,
      timeoutMs: config.ATTENTIVE_TIMEOUT_MS,
      propertiesEncoding: config.ATTENTIVE_PROPERTIES_ENCODING,
    },
    orderLookup: createOrderLookup(prisma, (shop) => unauthenticated.admin(shop)),
    logger,
  };
}

/**
 * The periodic jobs' settings. Read here rather than in env.server.ts because only these jobs
 * use them; 0 turns a job off.
 */
const jobsEnv = z.object({
  RECONCILE_INTERVAL_MINUTES: z.coerce.number().min(0).default(30),
  RECONCILE_SETTLE_MINUTES: z.coerce.number().min(0).default(10),
  RETENTION_INTERVAL_MINUTES: z.coerce.number().min(0).default(60),
  // Retries and rows a crashed process left; a failure written in this process wakes the sender at once.
  FLOW_TRIGGER_INTERVAL_SECONDS: z.coerce.number().min(0).default(30),
  // History backfills (docs/decisions/016): how often due steps are looked for (a start or resume in this process
  // wakes the runner at once), and how often a running Shopify bulk operation is asked about.
  BACKFILL_INTERVAL_SECONDS: z.coerce.number().min(0).default(5),
  BACKFILL_POLL_SECONDS: z.coerce.number().min(0.05).default(5),
});

export function reconcileOptionsFromEnv(): ReconcileOptions {
  const settings = jobsEnv.parse(process.env);
  return {
    prisma: db(),
    adminForShop: (shop) => unauthenticated.admin(shop),
    logger,
    apiVersion: SHOPIFY_API_VERSION,
    settleMs: settings.RECONCILE_SETTLE_MINUTES * 60_000,
    onRecorded: wakeWorkers,
  };
}

export function backfillOptionsFromEnv(): BackfillRunnerOptions {
  const settings = jobsEnv.parse(process.env);
  return {
    prisma: db(),
    adminForShop: (shop) => unauthenticated.admin(shop),
    logger,
    apiVersion: SHOPIFY_API_VERSION,
    pollMs: settings.BACKFILL_POLL_SECONDS * 1_000,
    onRecorded: wakeWorkers,
  };
}

export function flowTriggerOptionsFromEnv(): TriggerSenderOptions {
  return {
    prisma: db(),
    adminForShop: (shop) => unauthenticated.admin(shop),
    logger,
    apiKey: env().SHOPIFY_API_KEY,
  };
}

/** Log retention, reconciliation and the Flow trigger sender, beside the embedded or a standalone worker. */
export function startBackgroundJobs(): PeriodicJob {
  const settings = jobsEnv.parse(process.env);
  const jobs: PeriodicJob[] = [];
  if (settings.RETENTION_INTERVAL_MINUTES > 0) {
    // First pass soon after start, so a process restarted often still prunes.
    jobs.push(startRetentionJob({ prisma: db(), logger, intervalMs: settings.RETENTION_INTERVAL_MINUTES * 60_000, firstDelayMs: 60_000 }));
  }
  if (settings.RECONCILE_INTERVAL_MINUTES > 0) {
    jobs.push(startReconciliationJob({ ...reconcileOptionsFromEnv(), intervalMs: settings.RECONCILE_INTERVAL_MINUTES * 60_000 }));
  }
  if (settings.FLOW_TRIGGER_INTERVAL_SECONDS > 0) {
    // First pass soon after start: a process that died between a failure and its trigger call left the row behind.
    jobs.push(startFlowTriggerSender({ ...flowTriggerOptionsFromEnv(), intervalMs: settings.FLOW_TRIGGER_INTERVAL_SECONDS * 1_000, firstDelayMs: 5_000 }));
  }
  if (settings.BACKFILL_INTERVAL_SECONDS > 0) {
    // First pass soon after start: a backfill a stopped process was reading resumes from its saved place.
    const runner = startBackfillRunner({ ...backfillOptionsFromEnv(), intervalMs: settings.BACKFILL_INTERVAL_SECONDS * 1_000, firstDelayMs: 2_000 });
    const unsubscribe = onBackfillWake(() => runner.wake());
    jobs.push({
      async stop() {
        unsubscribe();
        await runner.stop();
      },
    });
  }
  logger.info({ ...settings }, "background jobs started");
  return {
    async stop() {
      await Promise.all(jobs.map((job) => job.stop()));
    },
  };
}

const globalForWorker = globalThis as unknown as { __attentiveEmbeddedWorker?: Promise<DeliveryWorker> };

/**
 * Starts the in-process worker once per process, woken by every recorded webhook.
 * `overrides` exist for the crash tests, which run this exact wiring with short leases.
 */
export function startEmbeddedWorker(overrides: Partial<WorkerOptions> = {}): Promise<DeliveryWorker> {
  globalForWorker.__attentiveEmbeddedWorker ??= (async () => {
    const worker = startDeliveryWorker({ ...workerOptionsFromEnv(), ...overrides });
    onWork(() => worker.wake());
    const jobs = startBackgroundJobs();
    const stop = () => {
      // Writes still queued or committing (webhooks being answered, the last outcomes) finish before the exit.
      void Promise.all([worker.stop(), jobs.stop()])
        .then(() => drainWrites(db()))
        .then(() => process.exit(0));
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
    return worker;
  })();
  return globalForWorker.__attentiveEmbeddedWorker;
}

export interface StandaloneWorker {
  worker: DeliveryWorker;
  stop(): Promise<void>;
}

/**
 * `npm run cli -- worker`: woken by this process's own signals (reconciliation, backfill pages) and,
 * on PostgreSQL, by the NOTIFY of every other process through one listening connection
 * (app/delivery/pg-wake.server.ts); each time that connection listens again, after start or a drop,
 * the worker and the backfill runner look at once for what was notified while it was down.
 */
export function startStandaloneWorker(overrides: Partial<WorkerOptions> = {}, listen: Partial<WakeListenerOptions> = {}): StandaloneWorker {
  const handle = database();
  const listening = handle.target.provider === "postgresql";
  const pollSeconds = workerEnv.parse(process.env).DELIVERY_POLL_SECONDS ?? (listening ? DEFAULT_POLL_SECONDS.listening : DEFAULT_POLL_SECONDS.inProcess);
  const worker = startDeliveryWorker({ ...workerOptionsFromEnv(), idlePollMs: pollSeconds * 1_000, ...overrides });
  const unsubscribe = onWork(() => worker.wake());
  const listener = listening
    ? listenOnDatabase(handle, {
        logger,
        onSignal: wakeLocally,
        onListening: () => {
          wakeLocally("work");
          wakeLocally("backfill");
        },
        ...listen,
      })
    : null;
  return {
    worker,
    async stop() {
      unsubscribe();
      await Promise.all([listener?.stop(), worker.stop()]);
    },
  };
}
