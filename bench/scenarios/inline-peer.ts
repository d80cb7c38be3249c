/**
 * Scenario 2: the straightforward design (call Attentive inside the webhook request) beside ours, both at
 * 500 webhooks/s (open loop, Poisson arrivals, the same schedule for both) with the stand-in answering in
 * 300 ms. Ours runs with its embedded worker, sending meanwhile. Each server's CPU time over its run is divided
 * by the webhooks it accepted.
 */
import { log, round } from "../lib/common";
import { type CpuFigure, cpuMsText, cpuWindow } from "../lib/cpu";
import { latencyFrom, openLoopText, type PoissonResult, runPoisson } from "../lib/poisson";
import { APP_SECRET, ENCRYPTION_KEY, startApp } from "../lib/app";
import { createDatabase, seedShops, shopsFor } from "../lib/db";
import { orderWebhooks } from "../lib/load";
import { goal, ms, type ScenarioContext } from "../lib/report";
import { startBenchServer } from "../lib/servers";
import { startStandIn } from "../lib/standin";
import { WARM_FROM_S } from "./delivery";

const RATE = 500;

async function withCpu(pid: number, load: () => Promise<PoissonResult>): Promise<{ load: PoissonResult; cpu: CpuFigure }> {
  const window = cpuWindow({ server: pid });
  const result = await load();
  return { load: result, cpu: window.end({ server: result.ok }).server! };
}

export async function inlinePeerScenario(ctx: ScenarioContext): Promise<void> {
  const shops = shopsFor(10, "inline");
  const domains = shops.map((shop) => shop.domain);
  const standIn = await startStandIn({ keys: shops.map((shop) => shop.apiKey), rateLimitPerSecond: 100_000, latencyMs: 300 });
  const db = await createDatabase("sqlite", "inline");
  try {
    log("inline: peer that calls Attentive inside the webhook request");
    const peer = await startBenchServer("inline-peer", "inline-peer.ts", [APP_SECRET, standIn.graphqlUrl, shops[0]!.apiKey]);
    let peerRun;
    let peerCpu;
    try {
      ({ load: peerRun, cpu: peerCpu } = await withCpu(peer.pid, () => runPoisson({ url: peer.url, durationS: ctx.durationS, rate: RATE, seed: RATE, next: orderWebhooks(domains), target: "inline peer" })));
    } finally {
      await peer.stop();
    }
    log("inline: ours (SQLite, embedded worker sending to the same 300 ms stand-in)");
    await seedShops(db, shops, ENCRYPTION_KEY);
    const app = await startApp({ databaseUrl: db.url, attentiveUrl: standIn.graphqlUrl, worker: "embedded", name: "app-inline" });
    let ours;
    let oursCpu;
    try {
      ({ load: ours, cpu: oursCpu } = await withCpu(app.pid, () => runPoisson({ url: app.url, durationS: ctx.durationS, rate: RATE, seed: RATE, next: orderWebhooks(domains), target: "ours", keepLatencies: true })));
    } finally {
      await app.stop();
    }
    // The run starts as soon as the server answers, so its first seconds are a fresh process's (V8 compiling the hot
    // code while the worker starts sending). The same run's requests from WARM_FROM_S on say what a server that has
    // been up for a while does; the goal stays on the whole run.
    const warm = ctx.durationS > WARM_FROM_S + 1 ? latencyFrom(ours, WARM_FROM_S * 1000) : null;
    const { latencies: _latencies, statuses: _statuses, ...oursKept } = ours;
    ctx.raw.inline = { peer: peerRun, ours: oursKept, oursWarm: warm, cpu: { ours: oursCpu, peer: peerCpu } };
    const oursErrors = ours.non2xx + ours.errors + ours.timeouts;
    const peerErrors = peerRun.non2xx + peerRun.errors + peerRun.timeouts;
    goal(ctx, {
      scenario: "2 Inline peer",
      measure: `at ${RATE}/s, Poisson arrivals, Attentive 300 ms: accepted, p50/p90/p99/max`,
      ours: openLoopText(ours),
      reference: `inline peer: ${openLoopText(peerRun)} (${peerRun.p99 < 5000 && peerErrors === 0 ? "within" : "beyond"} Shopify's 5 s)`,
      goal: "ours p99 < 50 ms",
      met: ours.p99 < 50 && oursErrors === 0,
    });
    if (warm) {
      goal(ctx, {
        scenario: "2 Inline peer",
        measure: `ours, the same run from ${WARM_FROM_S} s on: p50/p99/max`,
        ours: `${ms(warm.p50)} / ${ms(warm.p99)} / ${ms(warm.max)} (${warm.count} webhooks)`,
        reference: "the row above includes the server's first seconds",
        goal: "report",
        met: null,
      });
    }
    goal(ctx, {
      scenario: "2 Inline peer",
      measure: `CPU per accepted webhook at ${RATE}/s: app process (ingest + embedded worker sending)`,
      ours: `${cpuMsText(oursCpu.msPerEvent)} (${round(oursCpu.cores, 2)} cores)`,
      reference: `inline peer: ${cpuMsText(peerCpu.msPerEvent)} (${round(peerCpu.cores, 2)} cores)`,
      goal: "report",
      met: null,
    });
  } finally {
    await standIn.stop();
    await db.drop();
  }
}
