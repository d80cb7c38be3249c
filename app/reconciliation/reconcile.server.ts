/**
 * Shopify does not guarantee webhook delivery. Periodically, for each installed shop, this job asks the Admin GraphQL
 * API, topic by topic as the catalog says (app/topics/: each entry's `reconciliation`), for the events since its last
 * run, and records any the app never received through the webhook path's own recordWebhook, with the same event key
 * (the subject's gid). So a webhook that arrives later after all is a duplicate, and a missed event is sent once like
 * any other (docs/decisions/004). Only topics the shop's granted access scopes cover are asked for.
 *
 * The window ends `settleMs` before now: webhooks normally arrive within seconds, and one that does carries the full
 * body, which the merchant's templates may need.
 */
import type { Logger } from "pino";
import { z } from "zod";
import type { Database } from "~/db.server";
import { startPeriodicJob, type PeriodicJob } from "~/jobs/periodic-job.server";
import { grantedScopeSet, REQUIRED_SCOPES } from "~/mapping/access-scopes";
import { grantedScopes } from "~/models/GrantedScopes.server";
import { isUniqueViolation } from "~/models/Shop.server";
import { httpStatusOf, type AdminForShop, type AdminGraphqlClient } from "~/shopify/order-lookup.server";
import { CATALOG, MAPPABLE_TOPICS, type MappableTopic } from "~/topics/catalog";
import type { QueryReconciliation, ReconciledEvent, ReconcileWindow } from "~/topics/entry";
import type { AccessScope } from "~/topics/meta";
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
  /**
   * Pages per topic and run (each topic's query has its own page size); a run that would need more resumes next
   * time. By default as many as hold 2,000 orders.
   */
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
/** What 40 pages of 50 orders held before page sizes were fitted to Shopify's query cost limit. */
const DEFAULT_ORDERS_PER_RUN = 2_000;

const pageInfo = z.object({ hasNextPage: z.boolean(), endCursor: z.string().nullable() });

class ReconcileError extends Error {
  override name = "ReconcileError";
}

/**
 * The scopes a session's `scope` grants (a write scope includes its read scope); a session that names none is taken
 * to hold what every install has (shopify.app.toml `scopes`).
 */
export function sessionScopes(scope: string | null | undefined): ReadonlySet<string> {
  return grantedScopeSet(scope) ?? new Set(REQUIRED_SCOPES);
}

export interface ReconciledTopic {
  topic: MappableTopic;
  reconciliation: QueryReconciliation;
}

/**
 * The catalog's topics the job asks the Admin API about for a shop granted these scopes, in the catalog's order: those
 * with a query whose own scope (what its webhooks need) and whose query's scopes are all granted.
 */
export function reconciledTopics(granted: ReadonlySet<string>): ReconciledTopic[] {
  return MAPPABLE_TOPICS.flatMap((topic) => {
    const entry = CATALOG[topic];
    const reconciliation = entry.reconciliation;
    if (reconciliation.kind !== "query") return [];
    const needed: AccessScope[] = [entry.scope, ...reconciliation.reads];
    return needed.every((scope) => granted.has(scope)) ? [{ topic, reconciliation }] : [];
  });
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

function inWindow(at: string, window: ReconcileWindow): boolean {
  const time = Date.parse(at);
  return time > window.from.getTime() && time <= window.until.getTime();
}

/** A topic's events in the window, a page at a time; each page is checked whole before any of it is recorded. */
async function* eventPages(admin: AdminGraphqlClient, { topic, reconciliation }: ReconciledTopic, window: ReconcileWindow, maxPages: number): AsyncGenerator<ReconciledEvent[]> {
  const schema = z.object({ data: z.object({ orders: z.object({ pageInfo, nodes: z.array(reconciliation.node) }) }) });
  const variables = { ...reconciliation.variables?.(window), query: reconciliation.search(window) };
  let after: string | null = null;
  for (let page = 0; page < maxPages; page++) {
    const payload = schema.safeParse(await query(admin, reconciliation.document, { ...variables, after }));
    if (!payload.success) throw new ReconcileError(`the Admin API answered the ${topic} query with an unexpected shape`);
    const { nodes, pageInfo: info } = payload.data.data.orders;
    yield nodes.flatMap((node) => reconciliation.events(node)).filter((event) => inWindow(event.at, window));
    if (!info.hasNextPage || !info.endCursor) return;
    after = info.endCursor;
  }
  throw new ReconcileError(`more than ${maxPages * reconciliation.pageSize} orders changed in the window (${topic}); the next run continues from the same point`);
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
  const record = async (topic: MappableTopic, event: ReconciledEvent) => {
    const outcome = await recordWebhook(receive, {
      shop,
      topic,
      webhookId: `reconciliation:${event.subjectId}`,
      apiVersion: options.apiVersion,
      triggeredAt: event.at,
      text: JSON.stringify(event.body),
      body: event.body,
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
    const window = { from, until };
    for (const reconciled of reconciledTopics(sessionScopes(await grantedScopes(prisma, shop)))) {
      const maxPages = options.maxPages ?? Math.ceil(DEFAULT_ORDERS_PER_RUN / reconciled.reconciliation.pageSize);
      for await (const events of eventPages(admin, reconciled, window, maxPages)) {
        for (const event of events) await record(reconciled.topic, event);
      }
    }
  } catch (error) {
    // The cursor stays where it was: the next run covers this window again (duplicates are harmless).
    result.error = error instanceof ReconcileError ? error.message : errorSummary(error).message;
    await saveRun(
      prisma,
      { shop, checkedUntil: from, lastRunAt: now, lastError: result.error, recorded: result.recorded },
      { lastRunAt: now, lastError: result.error, recorded: { increment: result.recorded } },
    );
    options.logger.warn({ shop, err: result.error, recorded: result.recorded }, "reconciliation stopped early; will retry the same window");
    return result;
  }
  await saveRun(
    prisma,
    { shop, checkedUntil: until, lastRunAt: now, lastError: null, recorded: result.recorded },
    { checkedUntil: until, lastRunAt: now, lastError: null, recorded: { increment: result.recorded } },
  );
  if (result.recorded > 0) options.logger.warn({ shop, recorded: result.recorded }, "reconciliation recorded events no webhook brought");
  return result;
}

/**
 * The run's row, written by an UPDATE first and created only when there was none. Not Prisma's upsert: that reads,
 * then writes, in one transaction, which SQLite refuses at once when the server's writer commits in between (see
 * ensureShop, app/models/Shop.server.ts).
 */
async function saveRun(
  prisma: Database,
  create: { shop: string; checkedUntil: Date; lastRunAt: Date; lastError: string | null; recorded: number },
  update: { checkedUntil?: Date; lastRunAt: Date; lastError: string | null; recorded: { increment: number } },
): Promise<void> {
  const { count } = await prisma.reconciliation.updateMany({ where: { shop: create.shop }, data: update });
  if (count > 0) return;
  try {
    await prisma.reconciliation.create({ data: create, select: { shop: true } });
  } catch (error) {
    // Another run made it meanwhile (two processes' jobs at once): this run's figures go onto it.
    if (!isUniqueViolation(error)) throw error;
    await prisma.reconciliation.updateMany({ where: { shop: create.shop }, data: update });
  }
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
