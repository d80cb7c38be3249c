/**
 * The real pipeline wired for tests: the webhook route action, the worker with its
 * real collaborators, the Attentive stand-in over HTTP and the fake Admin API.
 */
import pino from "pino";
import { afterAll, beforeAll, beforeEach } from "vitest";
import { startAttentiveStandIn, type AttentiveStandIn, type AttentiveStandInOptions } from "../stand-ins/attentive";
import { db } from "~/db.server";
import type { RetryPolicy } from "~/delivery/retry-policy";
import { processDueDeliveries, type WorkerOptions } from "~/delivery/worker.server";
import { connectAttentive } from "~/models/Shop.server";
import { action as commerceAction } from "~/routes/webhooks.commerce";
import { action as appAction } from "~/routes/webhooks.app";
import { action as complianceAction } from "~/routes/webhooks.compliance";
import { secretBoxFromEnv } from "~/secrets/secret-box.server";
import { createOrderLookup } from "~/shopify/order-lookup.server";
import { unauthenticated } from "~/shopify.server";
import { signedWebhookRequest, type SignedWebhookOptions, TEST_SHOP, WEBHOOK_PATH } from "./webhooks";

export const TEST_ATTENTIVE_KEY = "attentive-test-key-0001";

export const FAST_RETRY: RetryPolicy = { maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 5 };

export async function postWebhook(options: SignedWebhookOptions | Request): Promise<Response> {
  const request = options instanceof Request ? options : signedWebhookRequest(options);
  const path = new URL(request.url).pathname;
  const action =
    path === WEBHOOK_PATH["app/uninstalled"] ? appAction : path === WEBHOOK_PATH["shop/redact"] ? complianceAction : commerceAction;
  return action({ request, params: {}, context: {} });
}

export async function connectTestShop(shop = TEST_SHOP, key = TEST_ATTENTIVE_KEY) {
  return connectAttentive(db(), secretBoxFromEnv(), shop, key, "Test Company");
}

export function workerOptions(standIn: Pick<AttentiveStandIn, "graphqlUrl">, overrides: Partial<WorkerOptions> = {}): WorkerOptions {
  return {
    prisma: db(),
    secretBox: secretBoxFromEnv(),
    // Generous: on a busy machine a 1 s timeout expired on loopback and an event Attentive had recorded was sent again.
    attentive: { apiUrl: standIn.graphqlUrl, timeoutMs: 10_000, propertiesEncoding: "object" },
    orderLookup: createOrderLookup(db(), (shop) => unauthenticated.admin(shop)),
    logger: pino({ level: "silent" }),
    retry: FAST_RETRY,
    leaseMs: 60_000,
    // Suites here test what happens once the order is looked for; the wait for an order webhook that has not
    // arrived yet (90 s by default) is tested on the default in test/pipeline/order-of-arrival.test.ts.
    orderArrivalWaitMs: 0,
    ...overrides,
  };
}

/** Runs worker passes until nothing is pending or sending (bounded, so a bug cannot hang the suite). */
export async function drain(options: WorkerOptions, limitMs = 10_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (Date.now() < deadline) {
    const handled = await processDueDeliveries(options);
    const open = await db().delivery.count({ where: { status: { in: ["pending", "sending"] } } });
    if (open === 0) return;
    if (handled === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`deliveries still open after ${limitMs} ms`);
}

/** Empties every table of the per-file database (children first). */
export async function clearDatabase(): Promise<void> {
  await db().deliveryAttempt.deleteMany();
  await db().delivery.deleteMany();
  await db().webhook.deleteMany();
  await db().mapping.deleteMany();
  await db().session.deleteMany();
  await db().shop.deleteMany();
  await db().reconciliation.deleteMany();
  await db().flowTrigger.deleteMany();
  await db().backfill.deleteMany();
}

/**
 * A test file's Attentive stand-in, started once; before each test the database is
 * emptied, the stand-in reset and the test shop connected with TEST_ATTENTIVE_KEY.
 */
export function usePipeline(options: AttentiveStandInOptions = {}): { readonly standIn: AttentiveStandIn } {
  let standIn: AttentiveStandIn | undefined;
  beforeAll(async () => {
    standIn = await startAttentiveStandIn({ apiKeys: [TEST_ATTENTIVE_KEY], ...options });
  });
  afterAll(async () => {
    await standIn?.close();
  });
  beforeEach(async () => {
    await clearDatabase();
    standIn?.reset();
    await connectTestShop();
  });
  return {
    get standIn() {
      if (!standIn) throw new Error("the Attentive stand-in starts in beforeAll");
      return standIn;
    },
  };
}
