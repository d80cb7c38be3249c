/**
 * One shop's backlog beside other shops' live traffic, on the production server (docs/decisions/037): as after an
 * Attentive outage of that shop's key, `backlog` of its deliveries are due at once and go out at its 150/s, while
 * ten other shops' webhooks arrive at `rate`/s (Poisson). The worker leaves the backlog's shop out of most claims,
 * since its pace holds it back. Reports the live webhooks' answer times, their events' delay from recorded to sent,
 * the backlog's send rate meanwhile, and the app's CPU (on PostgreSQL, and the local server's: every `postgres` process).
 *
 * Needs the bench's build (`npm run bench` makes it; `--skip-build` reuses it).
 * node --import tsx bench/micro/backlog-recovery.ts [backlog=20000] [rate=50] [seconds=30] [sqlite|postgresql]
 */
import { mkdirSync } from "node:fs";
import { log, SCRATCH, sleep, summarize, waitFor } from "../lib/common";
import { ENCRYPTION_KEY, startApp } from "../lib/app";
import { localPostgresCpuMs, processCpuMs } from "../lib/cpu";
import { createDatabase, preloadDeliveries, seedShops, shopsFor, withPrisma } from "../lib/db";
import { ORDER_BODY, orderWebhooks } from "../lib/load";
import { runPoisson } from "../lib/poisson";
import { startStandIn } from "../lib/standin";

const backlog = Number(process.argv[2] ?? 20_000);
const rate = Number(process.argv[3] ?? 50);
const durationS = Number(process.argv[4] ?? 30);
const provider = process.argv[5] === "postgresql" ? "postgresql" : "sqlite";
const LIMIT = 150;

mkdirSync(SCRATCH, { recursive: true });
const big = shopsFor(1, "backlog");
const quiet = shopsFor(10, "live");
const standIn = await startStandIn({ keys: [...big, ...quiet].map((shop) => shop.apiKey), rateLimitPerSecond: LIMIT });
const db = await createDatabase(provider, "backlog-recovery");
try {
  const bigMappings = await seedShops(db, big, ENCRYPTION_KEY);
  await seedShops(db, quiet, ENCRYPTION_KEY);
  log(`preloading ${backlog} due deliveries of ${big[0]!.domain}`);
  await preloadDeliveries(db, bigMappings, backlog, ORDER_BODY, "backlog");
  const app = await startApp({ databaseUrl: db.url, attentiveUrl: standIn.graphqlUrl, worker: "embedded", name: "app-backlog", env: { RECONCILE_INTERVAL_MINUTES: "0" } });
  let live;
  let cpuMs = 0;
  let serverCpuMs = 0;
  try {
    await waitFor("the backlog's first sends", async () => ((await standIn.stats()).events.length >= LIMIT ? true : null), 60_000, 100);
    const cpu0 = processCpuMs(app.pid);
    const server0 = localPostgresCpuMs();
    live = await runPoisson({ url: app.url, durationS, rate, seed: rate, next: orderWebhooks(quiet.map((shop) => shop.domain)), target: "ours" });
    cpuMs = processCpuMs(app.pid) - cpu0;
    serverCpuMs = localPostgresCpuMs() - server0;
    await waitFor(
      "the live events to be sent",
      async () => ((await db.count(`SELECT count(*) AS n FROM "Delivery" WHERE shop <> ? AND status IN ('pending', 'sending')`, [big[0]!.domain])) === 0 ? true : null),
      60_000,
      250,
    );
    await sleep(200);
  } finally {
    await app.stop();
  }
  const stats = await standIn.stats();
  const sentAt = new Map(stats.events.map(([id, at]) => [id, at]));
  const rows = await withPrisma(db, (prisma) =>
    prisma.delivery.findMany({ where: { shop: { not: big[0]!.domain } }, select: { externalEventId: true, webhook: { select: { receivedAt: true } } } }),
  );
  const delays = rows.flatMap((row) => {
    const at = sentAt.get(row.externalEventId);
    return at === undefined ? [] : [at - row.webhook.receivedAt.getTime()];
  });
  const liveSent = rows.map((row) => sentAt.get(row.externalEventId)).filter((at): at is number => at !== undefined);
  const from = Math.min(...liveSent);
  const to = Math.max(...liveSent);
  const bigIds = new Set((await db.query<{ id: string }>(`SELECT "externalEventId" AS id FROM "Delivery" WHERE shop = ?`, [big[0]!.domain])).map((row) => row.id));
  const bigDuring = stats.events.filter(([id, at]) => bigIds.has(id) && at >= from && at <= to).length;
  const delay = summarize(delays);
  console.log(
    JSON.stringify({
      provider,
      backlog,
      rate,
      durationS,
      liveAnswers: { ok: live.ok, sent: live.sent, p50: live.p50, p99: live.p99, max: live.max },
      liveDelay: delay,
      liveEvents: delays.length,
      backlogPerSecBeside: +(bigDuring / ((to - from) / 1000)).toFixed(1),
      appCpuMsPerLiveWebhook: +(cpuMs / live.ok).toFixed(2),
      appCores: +(cpuMs / 1000 / durationS).toFixed(2),
      ...(provider === "postgresql" ? { serverCores: +(serverCpuMs / 1000 / durationS).toFixed(2) } : {}),
    }),
  );
} finally {
  await standIn.stop();
  await db.drop();
}
