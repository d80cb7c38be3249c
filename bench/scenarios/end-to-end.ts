/**
 * Scenario 3: webhook received (Webhook.receivedAt, written by the app) to Attentive request started (the
 * stand-in's receivedAt for the event's externalEventId), at 200 webhooks/s, SQLite, embedded worker.
 * Ten shops share the load so Attentive's 150/s per-key limit is not what is measured. The webhooks arrive
 * open loop (Poisson); the app process's CPU time from one second into the load to the drained backlog is
 * divided by the webhooks received in that window and delivered (both halves of their work fall in it).
 */
import { log, round, sleep, summarize, waitFor } from "../lib/common";
import { type CpuFigure, cpuMsText, cpuWindow } from "../lib/cpu";
import { runPoisson } from "../lib/poisson";
import { ENCRYPTION_KEY, startApp } from "../lib/app";
import { createDatabase, seedShops, shopsFor, withPrisma } from "../lib/db";
import { orderWebhooks } from "../lib/load";
import { goal, ms, type ScenarioContext } from "../lib/report";
import { startStandIn } from "../lib/standin";

const RATE = 200;

export async function endToEndScenario(ctx: ScenarioContext): Promise<void> {
  const shops = shopsFor(10, "e2e");
  const standIn = await startStandIn({ keys: shops.map((shop) => shop.apiKey) });
  const db = await createDatabase("sqlite", "e2e");
  try {
    await seedShops(db, shops, ENCRYPTION_KEY);
    log(`e2e: ${RATE} webhooks/s for ${ctx.durationS} s, embedded worker`);
    const app = await startApp({ databaseUrl: db.url, attentiveUrl: standIn.graphqlUrl, worker: "embedded", name: "app-e2e" });
    let load;
    let drainedS = 0;
    let cpu: CpuFigure | undefined;
    let windowFrom = 0;
    try {
      const loading = runPoisson({ url: app.url, durationS: ctx.durationS, rate: RATE, seed: RATE, next: orderWebhooks(shops.map((s) => s.domain)), target: "ours" });
      // The first second (first compilations, the render threads' start) is left out of the CPU window.
      await sleep(1000);
      windowFrom = Date.now();
      const window = cpuWindow({ app: app.pid });
      load = await loading;
      const t0 = Date.now();
      // Let the backlog drain (bounded), so every recorded webhook has a latency or counts as missing.
      await waitFor(
        "the backlog to drain",
        async () => ((await db.count(`SELECT count(*) AS n FROM "Delivery" WHERE status IN ('pending', 'sending')`)) === 0 ? true : null),
        ctx.quick ? 10_000 : 30_000,
        250,
      ).catch(() => undefined);
      drainedS = (Date.now() - t0) / 1000;
      await sleep(200);
      // Counted below, once the stand-in has said what it received.
      cpu = window.end({ app: 1 }).app;
    } finally {
      await app.stop();
    }
    const stats = await standIn.stats();
    const sentAt = new Map(stats.events.map(([id, at]) => [id, at]));
    const rows = await withPrisma(db, (prisma) =>
      prisma.delivery.findMany({ select: { externalEventId: true, webhook: { select: { receivedAt: true } } } }),
    );
    const latencies: number[] = [];
    let missing = 0;
    let inWindow = 0;
    for (const row of rows) {
      const at = sentAt.get(row.externalEventId);
      if (at === undefined) missing++;
      else {
        latencies.push(at - row.webhook.receivedAt.getTime());
        if (row.webhook.receivedAt.getTime() >= windowFrom) inWindow++;
      }
    }
    // A webhook whose event never reached Attentive counts as infinitely late.
    const all = [...latencies, ...Array.from({ length: missing }, () => Number.POSITIVE_INFINITY)];
    const summary = summarize(all);
    const cpuPerEvent = cpu ? { ...cpu, count: inWindow, msPerEvent: inWindow > 0 ? cpu.cpuMs / inWindow : NaN } : undefined;
    ctx.raw.e2e = { load, recorded: rows.length, delivered: latencies.length, missing, drainSeconds: drainedS, latency: summary, cpu: cpuPerEvent };
    goal(ctx, {
      scenario: "3 End to end",
      measure: `webhook received → Attentive request, at ${RATE}/s: p50 / p99`,
      ours: `${ms(summary.p50)} / ${ms(summary.p99)} (${rows.length} recorded, ${missing} not sent within ${Math.round(drainedS)} s of the load's end)`,
      reference: "",
      goal: "p50 <= 100 ms, p99 <= 1 s",
      met: summary.p50 <= 100 && summary.p99 <= 1000,
    });
    if (cpuPerEvent) {
      goal(ctx, {
        scenario: "3 End to end",
        measure: `CPU per webhook ingested and delivered at ${RATE}/s: app process (embedded worker)`,
        ours: `${cpuMsText(cpuPerEvent.msPerEvent)} (${Math.round(cpuPerEvent.cpuMs)} ms CPU for ${cpuPerEvent.count} events, ${round(cpuPerEvent.cores, 2)} cores)`,
        reference: "",
        goal: "report",
        met: null,
      });
    }
  } finally {
    await standIn.stop();
    await db.drop();
  }
}
