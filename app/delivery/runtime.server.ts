/**
 * Wires the delivery worker to this process's configuration: used by the embedded
 * worker inside `npm start` and by the standalone `npm run cli -- worker`.
 */
import { db } from "~/db.server";
import { env } from "~/env.server";
import { logger } from "~/logger.server";
import { secretBoxFromEnv } from "~/secrets/secret-box.server";
import { unauthenticated } from "~/shopify.server";
import { createOrderLookup } from "~/shopify/order-lookup.server";
import { onWork } from "./wake.server";
import { type DeliveryWorker, type WorkerOptions, startDeliveryWorker } from "./worker.server";

export function workerOptionsFromEnv(): WorkerOptions {
  const config = env();
  const prisma = db();
  return {
    prisma,
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

const globalForWorker = globalThis as unknown as { __attentiveEmbeddedWorker?: Promise<DeliveryWorker> };

/** Starts the in-process worker once per process, woken by every recorded webhook. */
export function startEmbeddedWorker(): Promise<DeliveryWorker> {
  globalForWorker.__attentiveEmbeddedWorker ??= (async () => {
    const worker = startDeliveryWorker(workerOptionsFromEnv());
    onWork(() => worker.wake());
    const stop = () => {
      void worker.stop().then(() => process.exit(0));
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
    return worker;
  })();
  return globalForWorker.__attentiveEmbeddedWorker;
}
