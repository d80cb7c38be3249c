/**
 * Scenario: a history backfill beside live traffic. The production build with its embedded worker and backfill
 * runner reads a generated history (test/support/history.ts: 3,000 orders, 100 with --quick) through the strict bulk
 * operation stand-in (test/stand-ins/shopify-bulk.ts, on the loopback Admin API the app process is routed to),
 * while live orders/fulfilled webhooks arrive at 30/s for the same shop, whose Attentive key allows 150 events/s.
 * Reports the backfill's events/s (what the limit leaves it after live traffic), live events' delay from recorded
 * (Webhook.receivedAt) to sent (the stand-in's receipt) while the backfill runs, and the app's peak RSS.
 */
import { PrismaSessionStorage } from "@shopify/shopify-app-session-storage-prisma";
import { Session } from "@shopify/shopify-api";
import { backfillChoices, startBackfill } from "~/models/Backfill.server";
import { ADMIN_ROUTE_PRELOAD, ADMIN_STAND_IN_URL_VARIABLE, startShopifyAdminStandIn } from "../../test/stand-ins/shopify-admin-server";
import { startBulkStandIn } from "../../test/stand-ins/shopify-bulk";
import { historyLines, type HistoryOptions } from "../../test/support/history";
import { log, round, sleep, summarize, waitFor } from "../lib/common";
import { ENCRYPTION_KEY, startApp } from "../lib/app";
import { createDatabase, seedShops, shopsFor, withPrisma } from "../lib/db";
import { orderWebhooks } from "../lib/load";
import { runPoisson } from "../lib/poisson";
import { goal, ms, perSec, type ScenarioContext } from "../lib/report";
import { startStandIn } from "../lib/standin";

const LIMIT = 150;
const LIVE_RATE = 30;
const DAY = 86_400_000;

export async function backfillScenario(ctx: ScenarioContext): Promise<void> {
  const [shop] = shopsFor(1, "backfill");
  const orders = ctx.quick ? 100 : 3_000;
  const now = Date.now();
  const history: HistoryOptions = { orders, seed: 16, since: new Date(now - 30 * DAY), until: new Date(now - DAY), shop: shop!.domain };
  const standIn = await startStandIn({ keys: [shop!.apiKey], rateLimitPerSecond: LIMIT });
  const bulk = await startBulkStandIn({ lines: () => historyLines(history), count: () => orders, pollsToComplete: 2 });
  const admin = await startShopifyAdminStandIn();
  admin.answer(bulk.handlers);
  const db = await createDatabase("sqlite", "backfill");
  try {
    await seedShops(db, [shop!], ENCRYPTION_KEY);
    const mappingIds = await withPrisma(db, async (prisma) => {
      // What installing the app leaves: the offline session the runner's Admin API calls use.
      await new PrismaSessionStorage(prisma).storeSession(
        new Session({ id: `offline_${shop!.domain}`, shop: shop!.domain, state: "", isOnline: false, scope: "read_orders", accessToken: "shpat_bench" }),
      );
      return (await backfillChoices(prisma, shop!.domain)).mappings.filter((mapping) => mapping.enabled).map((mapping) => mapping.id);
    });
    const app = await startApp({
      databaseUrl: db.url,
      attentiveUrl: standIn.graphqlUrl,
      worker: "embedded",
      name: "app-backfill",
      imports: [ADMIN_ROUTE_PRELOAD],
      env: { [ADMIN_STAND_IN_URL_VARIABLE]: admin.origin, BACKFILL_INTERVAL_SECONDS: "1", BACKFILL_POLL_SECONDS: "0.5", RECONCILE_INTERVAL_MINUTES: "0" },
    });
    let backfillId = "";
    let live;
    let backfillS = 0;
    try {
      const started = await withPrisma(db, (prisma) => startBackfill(prisma, { shop: shop!.domain, since: history.since, mappingIds, grantedScope: "read_orders" }));
      if (!started.ok) throw new Error(`the backfill was refused: ${started.message}`);
      backfillId = started.id;
      const t0 = Date.now();
      log(`backfill: ${orders} past orders, ${mappingIds.length} mappings, live webhooks at ${LIVE_RATE}/s beside it, Attentive at ${LIMIT}/s`);
      const finished = waitFor(
        "the backfill to complete",
        async () => {
          const rows = await db.query<{ status: string; lastError: string | null }>(`SELECT status, "lastError" FROM "Backfill" WHERE id = ?`, [backfillId]);
          if (rows[0]?.status === "failed") throw new Error(`the backfill failed: ${rows[0].lastError ?? ""}`);
          return rows[0]?.status === "completed" ? true : null;
        },
        ctx.quick ? 60_000 : 300_000,
        250,
      );
      // Open loop, Poisson arrivals, like every fixed-rate load of the bench.
      live = await runPoisson({
        url: app.url,
        durationS: ctx.quick ? 3 : 40,
        rate: LIVE_RATE,
        seed: LIVE_RATE,
        next: orderWebhooks([shop!.domain]),
        target: "ours",
      });
      await finished;
      backfillS = (Date.now() - t0) / 1000;
      await waitFor(
        "the live backlog to drain",
        async () => ((await db.count(`SELECT count(*) AS n FROM "Delivery" WHERE status IN ('pending', 'sending')`)) === 0 ? true : null),
        30_000,
        250,
      ).catch(() => undefined);
      await sleep(200);
    } finally {
      await app.stop();
    }
    const stats = await standIn.stats();
    const sentAt = new Map(stats.events.map(([id, at]) => [id, at]));
    const rows = await withPrisma(db, (prisma) =>
      prisma.delivery.findMany({ where: { status: { not: "skipped" } }, select: { externalEventId: true, backfillId: true, webhook: { select: { receivedAt: true } } } }),
    );
    const backfillTimes: number[] = [];
    const liveTimes: number[] = [];
    const delays: number[] = [];
    let missing = 0;
    for (const row of rows) {
      const at = sentAt.get(row.externalEventId);
      if (row.backfillId === backfillId) {
        if (at !== undefined) backfillTimes.push(at);
        else missing++;
      } else if (at !== undefined) {
        delays.push(at - row.webhook.receivedAt.getTime());
        liveTimes.push(at);
      } else missing++;
    }
    backfillTimes.sort((a, b) => a - b);
    const spanS = backfillTimes.length > 1 ? (backfillTimes.at(-1)! - backfillTimes[0]!) / 1000 : Number.NaN;
    const backfillRate = backfillTimes.length / spanS;
    // While live webhooks arrive (first to last live send), what each gets of the key's limit; and the backfill alone after.
    liveTimes.sort((a, b) => a - b);
    const liveFrom = Math.max(liveTimes[0] ?? 0, backfillTimes[0] ?? 0);
    const liveTo = Math.min(liveTimes.at(-1) ?? 0, backfillTimes.at(-1) ?? 0);
    const within = (times: number[], from: number, to: number) => times.filter((at) => at >= from && at <= to).length;
    const besideS = (liveTo - liveFrom) / 1000;
    const besideRate = within(backfillTimes, liveFrom, liveTo) / besideS;
    const combined = (within(backfillTimes, liveFrom, liveTo) + within(liveTimes, liveFrom, liveTo)) / besideS;
    const aloneS = ((backfillTimes.at(-1) ?? 0) - liveTo) / 1000;
    const aloneRate = aloneS > 1 ? within(backfillTimes, liveTo + 1, Number.POSITIVE_INFINITY) / aloneS : Number.NaN;
    const delay = summarize(delays);
    const rss = app.peakRssMb();
    ctx.raw.backfill = {
      orders,
      backfillEvents: backfillTimes.length,
      liveEvents: delays.length,
      missing,
      backfillSeconds: round(backfillS),
      sendingSpanSeconds: round(spanS),
      backfillPerSec: round(backfillRate),
      besideLiveSeconds: round(besideS),
      backfillBesideLivePerSec: round(besideRate),
      combinedBesideLivePerSec: round(combined),
      backfillAlonePerSec: round(aloneRate),
      liveDelay: delay,
      live,
      peakRssMb: round(rss),
      bulkViolations: bulk.violations,
      adminUnexpected: admin.unexpected,
    };
    goal(ctx, {
      scenario: "Backfill",
      measure: `backfill events/s (${orders} orders, ${backfillTimes.length} events): overall; beside ${LIVE_RATE}/s live (backfill + live); alone after`,
      ours: `${perSec(backfillRate)}; ${perSec(besideRate)} (+ live = ${perSec(combined)}); ${perSec(aloneRate)}`,
      reference: `${LIMIT}/s per key, the backfill never on its last 20%`,
      goal: `backfill + live >= ${LIMIT * 0.8}/s`,
      met: combined >= LIMIT * 0.8 && missing === 0 && bulk.violations.length === 0 && admin.unexpected.length === 0,
    });
    goal(ctx, {
      scenario: "Backfill",
      measure: "live events' delay, recorded → sent, during the backfill: p50 / p95 / max",
      ours: `${ms(delay.p50)} / ${ms(delay.p95)} / ${ms(delay.max)} (${delays.length} events)`,
      reference: "",
      goal: "p95 <= 1 s",
      met: delay.p95 <= 1_000,
    });
    goal(ctx, { scenario: "Backfill", measure: "app peak RSS (server, worker and backfill runner)", ours: `${Math.round(rss)} MB`, reference: "", goal: "", met: null });
  } finally {
    await standIn.stop();
    await admin.close();
    await bulk.close();
    await db.drop();
  }
}
