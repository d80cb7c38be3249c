/**
 * Scenario 1 (ingest) and 7 (memory): signed 15 KB orders/fulfilled webhooks, a new order each, at max rate
 * (autocannon) and at fixed rates (open loop, Poisson arrivals), against the production build (worker off:
 * ingest alone) on SQLite and PostgreSQL, beside a bare node:http server that only checks the HMAC and parses
 * the JSON. Each run also reads the CPU time of the server process: CPU ms per webhook answered 200.
 */
import { log, round } from "../lib/common";
import { type CpuFigure, cpuMsText, cpuWindow } from "../lib/cpu";
import { openLoopText, type PoissonResult, runPoisson } from "../lib/poisson";
import { APP_SECRET, ENCRYPTION_KEY, startApp } from "../lib/app";
import { createDatabase, seedShops, shopsFor, type Provider } from "../lib/db";
import { type LoadResult, orderWebhooks, runLoad } from "../lib/load";
import { goal, ms, perSec, type ScenarioContext } from "../lib/report";
import { startBenchServer } from "../lib/servers";

const MAX_CONNECTIONS = 16;
/** Goal of issue 13: CPU per ingested webhook on this machine. */
export const INGEST_CPU_GOAL_MS = 0.3;

/** A load run with the server's CPU time over it. */
async function withCpu<T extends LoadResult>(pid: number, load: () => Promise<T>): Promise<{ load: T; cpu: CpuFigure }> {
  const window = cpuWindow({ server: pid });
  const result = await load();
  return { load: result, cpu: window.end({ server: result.ok }).server! };
}

export async function ingestScenario(ctx: ScenarioContext, providers: Provider[]): Promise<void> {
  const shops = shopsFor(10, "ingest");
  const domains = shops.map((shop) => shop.domain);
  const rates = ctx.quick ? [1000] : [500, 1000, 2000];
  const D = ctx.durationS;
  const runs: LoadResult[] = [];

  log("ingest: reference server (HMAC + JSON.parse only)");
  const reference = await startBenchServer("reference-ingest", "reference-ingest.ts", [APP_SECRET]);
  let refMax: LoadResult;
  let ref1000: PoissonResult;
  const refCpu: Record<string, CpuFigure> = {};
  try {
    await runLoad({ url: reference.url, durationS: ctx.quick ? 1 : 2, connections: MAX_CONNECTIONS, next: orderWebhooks(domains), target: "warm-up" });
    const max = await withCpu(reference.pid, () => runLoad({ url: reference.url, durationS: D, connections: MAX_CONNECTIONS, next: orderWebhooks(domains), target: "reference" }));
    // The same seed as the app's run at 1000/s: both get the same arrival times.
    const at1000 = await withCpu(reference.pid, () => runPoisson({ url: reference.url, durationS: D, rate: 1000, seed: 1000, next: orderWebhooks(domains), target: "reference" }));
    refMax = max.load;
    ref1000 = at1000.load;
    refCpu.max = max.cpu;
    refCpu.at1000 = at1000.cpu;
    runs.push(refMax, ref1000);
  } finally {
    await reference.stop();
  }

  const perProvider: Record<string, unknown> = {};
  for (const provider of providers) {
    log(`ingest: app on ${provider}`);
    const db = await createDatabase(provider, "ingest");
    try {
      await seedShops(db, shops, ENCRYPTION_KEY);
      const app = await startApp({ databaseUrl: db.url, attentiveUrl: "http://127.0.0.1:9/v1/graphql", worker: "off", name: `app-ingest-${provider}` });
      const mine: LoadResult[] = [];
      const fixedRuns: PoissonResult[] = [];
      const cpu: { max?: CpuFigure; byRate: Record<string, CpuFigure> } = { byRate: {} };
      let ok = 0;
      try {
        const warm = await runLoad({ url: app.url, durationS: ctx.quick ? 1 : 2, connections: MAX_CONNECTIONS, next: orderWebhooks(domains), target: "warm-up" });
        ok += warm.ok;
        const max = await withCpu(app.pid, () => runLoad({ url: app.url, durationS: D, connections: MAX_CONNECTIONS, next: orderWebhooks(domains), target: `app ${provider}` }));
        mine.push(max.load);
        cpu.max = max.cpu;
        ok += max.load.ok;
        // --quick: PostgreSQL at max rate only.
        for (const rate of ctx.quick && provider === "postgresql" ? [] : rates) {
          const fixed = await withCpu(app.pid, () => runPoisson({ url: app.url, durationS: D, rate, seed: rate, next: orderWebhooks(domains), target: `app ${provider}` }));
          mine.push(fixed.load);
          fixedRuns.push(fixed.load);
          cpu.byRate[String(rate)] = fixed.cpu;
          ok += fixed.load.ok;
        }
      } finally {
        await app.stop();
      }
      const webhooks = await db.count(`SELECT count(*) AS n FROM "Webhook"`);
      const deliveries = await db.count(`SELECT count(*) AS n FROM "Delivery"`);
      const bytes = await db.sizeBytes();
      // Responses still in flight when a load run ends are not counted by autocannon but are stored: rows >= 200s.
      const durable = webhooks >= ok && deliveries === webhooks;
      const peakRss = round(app.peakRssMb(), 0);
      runs.push(...mine);
      perProvider[provider] = { runs: mine, answered200: ok, webhookRows: Number(webhooks), deliveryRows: Number(deliveries), durable, bytes, bytesPerWebhook: round(bytes / Math.max(1, Number(webhooks)), 0), peakRssMb: peakRss, cpu };

      const max = mine[0]!;
      const share = max.acceptedPerSec / refMax.acceptedPerSec;
      goal(ctx, {
        scenario: `1 Ingest (${provider})`,
        measure: "sustained durable ingest, max rate",
        ours: `${perSec(max.acceptedPerSec)} (${Math.round(share * 100)}% of ref; p99 ${ms(max.p99)}; ${max.non2xx + max.errors} errors; ${durable ? "every 200 stored" : "**a 200 was not stored**"})`,
        reference: `${perSec(refMax.acceptedPerSec)} (p99 ${ms(refMax.p99)})`,
        goal: provider === "sqlite" ? ">= 25% of reference" : "report",
        met: provider === "sqlite" ? share >= 0.25 && durable : null,
      });
      const maxCpu = cpu.max!;
      goal(ctx, {
        scenario: `1 Ingest (${provider})`,
        measure: "CPU per ingested webhook, max rate: app process",
        ours: `${cpuMsText(maxCpu.msPerEvent)} (${Math.round(maxCpu.cpuMs)} ms CPU for ${maxCpu.count} webhooks, ${round(maxCpu.cores, 2)} cores)`,
        reference: `bare server: ${cpuMsText(refCpu.max!.msPerEvent)} per request`,
        goal: `<= ${INGEST_CPU_GOAL_MS} ms`,
        met: maxCpu.msPerEvent <= INGEST_CPU_GOAL_MS,
      });
      for (const fixed of fixedRuns) {
        const is1000 = fixed.rate === 1000;
        const errors = fixed.non2xx + fixed.errors + fixed.timeouts;
        goal(ctx, {
          scenario: `1 Ingest (${provider})`,
          measure: `at ${fixed.rate}/s, Poisson arrivals: accepted, p50/p90/p99/max`,
          ours: openLoopText(fixed),
          reference: is1000 ? openLoopText(ref1000) : "",
          goal: is1000 && provider === "sqlite" ? "p99 <= 50 ms" : "report",
          met: is1000 && provider === "sqlite" ? fixed.p99 <= 50 && errors === 0 : null,
        });
        if (!is1000) continue;
        const fixedCpu = cpu.byRate["1000"]!;
        goal(ctx, {
          scenario: `1 Ingest (${provider})`,
          measure: "CPU per ingested webhook at 1000/s: app process",
          ours: `${cpuMsText(fixedCpu.msPerEvent)} (${Math.round(fixedCpu.cpuMs)} ms CPU for ${fixedCpu.count} webhooks, ${round(fixedCpu.cores, 2)} cores)`,
          reference: `bare server: ${cpuMsText(refCpu.at1000!.msPerEvent)} per request`,
          goal: `<= ${INGEST_CPU_GOAL_MS} ms`,
          met: fixedCpu.msPerEvent <= INGEST_CPU_GOAL_MS,
        });
      }
      goal(ctx, {
        scenario: `7 Memory (${provider})`,
        measure: "peak RSS of the app under the ingest runs",
        ours: `${peakRss} MB`,
        reference: "",
        goal: "<= 300 MB",
        met: peakRss <= 300,
      });
      goal(ctx, {
        scenario: `6 Growth (${provider})`,
        measure: "database bytes per recorded webhook (15.7 KB body + 1 delivery)",
        ours: `${round(bytes / Math.max(1, Number(webhooks)) / 1024, 1)} KB`,
        reference: "",
        goal: "report",
        met: null,
      });
    } finally {
      await db.drop();
    }
  }
  ctx.raw.ingest = { reference: { max: refMax, at1000: ref1000, cpu: refCpu }, ...perProvider, allRuns: runs };
}
