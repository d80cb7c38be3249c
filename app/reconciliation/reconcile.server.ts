/**
 * Shopify does not guarantee webhook delivery. Periodically, for each installed shop, this
 * job asks the Admin GraphQL API for the events of each catalog topic it can find (reconcilers.ts:
 * orders placed, parcels shipped, orders fulfilled, cancelled, refunds) since its last run and
 * records any the app never received through the webhook path's own recordWebhook, with the
 * same event key (the resource gid). So a webhook that arrives later after all is a
 * duplicate, and a missed event is sent once like any other (docs/decisions/004).
 *
 * The window ends `settleMs` before now: webhooks normally arrive within seconds, and one that
 * does carries the full body, which the merchant's templates may need.
 */
import type { Logger } from "pino";
import { z } from "zod";
import type { Database } from "~/db.server";
import { startPeriodicJob, type PeriodicJob } from "~/jobs/periodic-job.server";
import { grantedScopeSet, missingScopeOf } from "~/mapping/access-scopes";
import type { JsonValue } from "~/shopify/json";
import { httpStatusOf, type AdminForShop, type AdminGraphqlClient } from "~/shopify/order-lookup.server";
import { MAPPABLE_TOPICS, type MappableTopic } from "~/topics/catalog";
import { RECONCILERS } from "./reconcilers";
import { errorSummary, recordWebhook } from "~/webhooks/receive.server";

export interface ReconcileOptions {
  prisma: Database;
  adminForShop: AdminForShop;
  logger: Logger;
  /** The Admin API version the queries are written for (recorded like a webhook's). */
  apiVersion: string;
  settleMs?: number;
  /** How far back a shop's first run looks (never before the shop installed the app). */
  firstRunLookbackMs?: number;
  /** Pages of 50 orders per query and run; a run that would need more resumes next time. */
  maxPages?: number;
  onRecorded?: () => void;
  now?: () => Date;
}

export interface ShopReconciliation {
  shop: string;
  from: Date;
  until: Date;
  recorded: number;
  duplicates: number;
  error?: string;
}

const DEFAULT_SETTLE_MS = 10 * 60_000;
const DEFAULT_FIRST_RUN_LOOKBACK_MS = 24 * 60 * 60_000;
const DEFAULT_MAX_PAGES = 40;

const pageInfo = z.object({ hasNextPage: z.boolean(), endCursor: z.string().nullable() });

class ReconcileError extends Error {
  override name = "ReconcileError";
}

async function query(admin: AdminGraphqlClient, document: string, variables: Record<string, unknown>): Promise<unknown> {
  let response: Response;
  try {
    response = await admin.graphql(document, { variables });
  } catch (error) {
    const code = httpStatusOf(error);
    const status = code === undefined ? "" : ` (HTTP ${code})`;
    throw new ReconcileError(`the Admin API did not answer${status}: ${error instanceof Error ? error.message : "request failed"}`);
  }
  return response.json();
}

async function* pages(admin: AdminGraphqlClient, document: string, search: string, node: z.ZodType<unknown>, maxPages: number): AsyncGenerator<unknown[]> {
  const schema = z.object({ data: z.object({ orders: z.object({ pageInfo, nodes: z.array(node) }) }) });
  let after: string | null = null;
  for (let page = 0; page < maxPages; page++) {
    const payload = schema.safeParse(await query(admin, document, { query: search, after }));
    if (!payload.success) throw new ReconcileError("the Admin API answered with an unexpected shape");
    yield payload.data.data.orders.nodes;
    const info = payload.data.data.orders.pageInfo;
    if (!info.hasNextPage || !info.endCursor) return;
    after = info.endCursor;
  }
  throw new ReconcileError(`more than ${maxPages * 50} orders changed in the window; the next run continues from the same point`);
}

/**
 * The topics worth asking about for a shop: those the Admin API can answer (a reconciler), the shop has granted
 * the scope of (Shopify would not have sent their webhooks anyway), and the shop has an enabled mapping for (a
 * missed event of any other topic would be recorded and sent nowhere).
 */
async function topicsToReconcile(prisma: Database, shop: string): Promise<MappableTopic[]> {
  const [session, mapped] = await Promise.all([
    prisma.session.findFirst({ where: { shop, isOnline: false }, select: { scope: true } }),
    prisma.mapping.findMany({ where: { shop, enabled: true }, select: { topic: true }, distinct: ["topic"] }),
  ]);
  const granted = grantedScopeSet(session?.scope);
  const enabled = new Set(mapped.map((row) => row.topic));
  return MAPPABLE_TOPICS.filter((topic) => RECONCILERS[topic] !== undefined && enabled.has(topic) && missingScopeOf(topic, granted) === null);
}

export async function reconcileShop(options: ReconcileOptions, shop: string): Promise<ShopReconciliation> {
  const { prisma } = options;
  const now = options.now?.() ?? new Date();
  const until = new Date(now.getTime() - (options.settleMs ?? DEFAULT_SETTLE_MS));
  const [state, shopRow] = await Promise.all([
    prisma.reconciliation.findUnique({ where: { shop } }),
    prisma.shop.findUnique({ where: { domain: shop }, select: { installedAt: true } }),
  ]);
  // A first run never reaches before the install: those events were not the app's to send.
  const firstFrom = new Date(Math.max(now.getTime() - (options.firstRunLookbackMs ?? DEFAULT_FIRST_RUN_LOOKBACK_MS), shopRow?.installedAt.getTime() ?? 0));
  const from = state?.checkedUntil ?? firstFrom;
  const result: ShopReconciliation = { shop, from, until, recorded: 0, duplicates: 0 };
  if (until <= from) return result;

  const receive = { prisma, authenticate: () => Promise.reject(new Error("not used")), now: () => now, ...(options.onRecorded ? { onRecorded: options.onRecorded } : {}) };
  const record = async (topic: MappableTopic, gid: string, at: string, body: JsonValue) => {
    const outcome = await recordWebhook(receive, {
      shop,
      topic,
      webhookId: `reconciliation:${gid}`,
      apiVersion: options.apiVersion,
      triggeredAt: at,
      text: JSON.stringify(body),
      body,
    });
    if (outcome.kind === "recorded") {
      result.recorded += 1;
      if (outcome.deliveries > 0) options.onRecorded?.();
    } else {
      result.duplicates += 1;
    }
  };

  try {
    const { admin } = await options.adminForShop(shop).catch(() => {
      throw new ReconcileError("the app has no offline session for the shop (open the app in Shopify admin to reinstall it)");
    });
    const maxPages = options.maxPages ?? DEFAULT_MAX_PAGES;
    const inWindow = (at: string) => {
      const time = Date.parse(at);
      return time > from.getTime() && time <= until.getTime();
    };
    for (const topic of await topicsToReconcile(prisma, shop)) {
      const reconciler = RECONCILERS[topic]!;
      for await (const nodes of pages(admin, reconciler.document, reconciler.search(from), reconciler.node, maxPages)) {
        for (const node of nodes) {
          for (const event of reconciler.events(node, inWindow)) await record(topic, event.subjectId, event.at, event.body);
        }
      }
    }
  } catch (error) {
    // The cursor stays where it was: the next run covers this window again (duplicates are harmless).
    result.error = error instanceof ReconcileError ? error.message : errorSummary(error).message;
    await prisma.reconciliation.upsert({
      where: { shop },
      create: { shop, checkedUntil: from, lastRunAt: now, lastError: result.error, recorded: result.recorded },
      update: { lastRunAt: now, lastError: result.error, recorded: { increment: result.recorded } },
    });
    options.logger.warn({ shop, err: result.error, recorded: result.recorded }, "reconciliation stopped early; will retry the same window");
    return result;
  }
  await prisma.reconciliation.upsert({
    where: { shop },
    create: { shop, checkedUntil: until, lastRunAt: now, lastError: null, recorded: result.recorded },
    update: { checkedUntil: until, lastRunAt: now, lastError: null, recorded: { increment: result.recorded } },
  });
  if (result.recorded > 0) options.logger.warn({ shop, recorded: result.recorded }, "reconciliation recorded events no webhook brought");
  return result;
}

/** Every installed shop that has an offline session (the Admin API needs one). */
export async function reconcileAllShops(options: ReconcileOptions): Promise<ShopReconciliation[]> {
  const sessions = await options.prisma.session.findMany({ where: { isOnline: false }, select: { shop: true }, distinct: ["shop"] });
  const installed = await options.prisma.shop.findMany({
    where: { domain: { in: sessions.map((session) => session.shop) }, uninstalledAt: null },
    select: { domain: true },
    orderBy: { domain: "asc" },
  });
  const results: ShopReconciliation[] = [];
  for (const { domain } of installed) results.push(await reconcileShop(options, domain));
  return results;
}

export function startReconciliationJob(options: ReconcileOptions & { intervalMs: number }): PeriodicJob {
  return startPeriodicJob("reconciliation", options.logger, options.intervalMs, async () => {
    const results = await reconcileAllShops(options);
    const recorded = results.reduce((sum, result) => sum + result.recorded, 0);
    options.logger.info({ shops: results.length, recorded, failed: results.filter((r) => r.error).length }, "reconciliation run finished");
  });
}
