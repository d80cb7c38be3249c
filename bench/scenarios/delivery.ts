/**
 * Scenario 4: delivery throughput of one standalone worker (`npm run cli -- worker`) on a queue pre-loaded in
 * the database (SQLite, as the embedded default, and PostgreSQL).
 *  a) one shop, the stand-in enforcing 150 requests/s per key: sustained rate, 429s after the first second;
 *  b) fifty shops, the stand-in answering in 50 ms: events/s, beside a bare sender (bench/servers/bare-sender.ts)
 *     keeping as many requests in flight as the worker does, against the same stand-in, in the same run.
 * In both, the worker's CPU time over the measured window is divided by the events the stand-in received in it. A second
 * window, from WARM_FROM_S after the first request, gives the same figure for a worker whose hot code V8 has already
 * compiled: for its first seconds V8's helper threads compile the hot functions (about 0.1 ms per event), which a
 * worker that runs for days pays once. Both are reported; the goal stays on the first.
 */
import { DEFAULT_CONCURRENCY } from "~/delivery/worker.server";
import { type Child, log, round, sleep, startChild } from "../lib/common";
import { ENCRYPTION_KEY, startWorker } from "../lib/app";
import { type CpuFigure, cpuMsText, cpuWindow } from "../lib/cpu";
import { type BenchDb, createDatabase, preloadDeliveries, type Provider, seedShops, shopsFor } from "../lib/db";
import { ORDER_BODY } from "../lib/load";
import { goal, perSec, type ScenarioContext } from "../lib/report";
import { type StandInHandle, startStandIn } from "../lib/standin";

/** Goal of issue 13: CPU per delivered event on this machine. */
export const DELIVERY_CPU_GOAL_MS = 0.5;
/** The warm window opens this long after the first request (full runs only: a quick run is shorter). */
export const WARM_FROM_S = 4;
/** Ours over the bare sender, same stand-in, same requests in flight. */
const BARE_SHARE_GOAL = 0.8;

/** Requests a worker keeps in flight (as runtime.server.ts reads it): the bare sender keeps as many. */
function workerInFlight(): number {
  const configured = Number(process.env.DELIVERY_CONCURRENCY);
  return Number.isInteger(configured) && configured > 0 ? configured : DEFAULT_CONCURRENCY;
}

export interface DeliveryRun {
  shops: number;
  preloaded: number;
  windowS: number;
  sent: number;
  perSec: number;
  requests: number;
  /** Requests the stand-in refused (429), over the whole run. */
  rejected: number;
  attempts429AfterFirstSecond: number;
  duplicates: number;
  workerCpu: CpuFigure;
  /** The worker's CPU from WARM_FROM_S after the first request; null in a run too short for it. */
  warmWorkerCpu: CpuFigure | null;
  standInCpu: CpuFigure;
}

/** Events/s at the stand-in between the first request + 1 s and the last moment of the run. */
export function rateAfterFirstSecond(events: Array<[string, number]>, endMs: number): { count: number; windowS: number; firstMs: number } {
  const times = events.map(([, at]) => at).sort((a, b) => a - b);
  const firstMs = times[0] ?? endMs;
  const from = firstMs + 1000;
  const count = times.filter((at) => at >= from && at <= endMs).length;
  return { count, windowS: Math.max(0.001, (endMs - from) / 1000), firstMs };
}

export interface SenderRun {
  sent: number;
  perSec: number;
  windowS: number;
  requests: number;
  firstMs: number;
  duplicates: number;
  events: Array<[string, number]>;
  /**
   * CPU of each sender process and of the stand-in from one second after the first request to the end of the
   * run, over the events the stand-in received in that window.
   */
  cpu: { senders: CpuFigure[]; standIn: CpuFigure };
  /** The senders' CPU from WARM_FROM_S after the first request, when the run is longer than that. */
  warmCpu: { senders: CpuFigure[] } | null;
  sampleInput?: Record<string, unknown>;
}

/** Runs sender processes (workers, or the bare sender) against the stand-in for `runS` seconds from its first request. */
async function measureSenders(standIn: StandInHandle, senders: Child[], runS: number): Promise<SenderRun> {
  let window: ReturnType<typeof cpuWindow> | undefined;
  let windowFrom = 0;
  let windowTo = 0;
  let warmFrom: number | null = null;
  let cpu: Record<string, CpuFigure> = {};
  let warmCpu: Record<string, CpuFigure> | null = null;
  try {
    // Senders need a moment to boot (tsx); the clock starts at the first request the stand-in sees.
    let first = 0;
    for (let i = 0; i < 150 && first === 0; i++) {
      await sleep(100);
      if ((await standIn.stats()).requests > 0) first = Date.now();
    }
    // None in 15 s: measured from now, and the stand-in's count will say what went wrong.
    if (first === 0) first = Date.now();
    // CPU is read from one second after the first request (start-up and the first claims left out) to the end.
    await sleep(1000);
    windowFrom = Date.now();
    const senderPids = Object.fromEntries(senders.map((sender, i) => [`sender${i}`, sender.pid]));
    window = cpuWindow({ ...senderPids, standIn: standIn.pid });
    let warmWindow: ReturnType<typeof cpuWindow> | null = null;
    if (runS > WARM_FROM_S + 1) {
      await sleep(Math.max(0, first + WARM_FROM_S * 1000 - Date.now()));
      warmFrom = Date.now();
      warmWindow = cpuWindow(senderPids);
    }
    await sleep(Math.max(0, first + runS * 1000 - Date.now()));
    windowTo = Date.now();
    // Divided below, once the stand-in has said what arrived in the window.
    cpu = window.end({});
    warmCpu = warmWindow?.end({}) ?? null;
  } finally {
    await Promise.all(senders.map((sender) => sender.stop()));
  }
  const stats = await standIn.stats();
  const end = Math.max(...stats.events.map(([, at]) => at), 0);
  const { count, windowS, firstMs } = rateAfterFirstSecond(stats.events, end);
  const ids = stats.events.map(([id]) => id);
  const between = (from: number) => stats.events.filter(([, at]) => at >= from && at <= windowTo).length;
  const perEventFrom = (from: number) => {
    const inWindow = between(from);
    return (figure: CpuFigure | undefined): CpuFigure => {
      const cpuMs = figure?.cpuMs ?? NaN;
      return { cpuMs, wallMs: figure?.wallMs ?? NaN, count: inWindow, msPerEvent: inWindow > 0 ? cpuMs / inWindow : NaN, cores: figure?.cores ?? NaN };
    };
  };
  const perEvent = perEventFrom(windowFrom);
  return {
    sent: stats.events.length,
    perSec: count / windowS,
    windowS,
    requests: stats.requests,
    firstMs,
    duplicates: ids.length - new Set(ids).size,
    events: stats.events,
    cpu: { senders: senders.map((_, i) => perEvent(cpu[`sender${i}`])), standIn: perEvent(cpu.standIn) },
    warmCpu: warmCpu === null || warmFrom === null ? null : { senders: senders.map((_, i) => perEventFrom(warmFrom!)(warmCpu![`sender${i}`])) },
    ...(stats.sampleInput ? { sampleInput: stats.sampleInput } : {}),
  };
}

export async function measureWorkers(db: BenchDb, standIn: StandInHandle, workers: number, runS: number, name: string): Promise<SenderRun> {
  const started = Array.from({ length: workers }, (_, i) => startWorker({ databaseUrl: db.url, attentiveUrl: standIn.graphqlUrl, name: `${name}-${i}` }));
  return measureSenders(standIn, started, runS);
}

/** The bare sender: the worker's own request, repeated with the same keys and the same requests in flight. */
async function measureBareSender(standIn: StandInHandle, keys: string[], input: Record<string, unknown>, runS: number): Promise<SenderRun> {
  const options = JSON.stringify({ url: standIn.graphqlUrl, keys, inFlight: workerInFlight(), input });
  const sender = startChild("bare-sender", process.execPath, ["--import", "tsx", "bench/servers/bare-sender.ts", options], { env: process.env });
  return measureSenders(standIn, [sender], runS);
}

/** What one run measured, with the 429 attempts the worker logged after the first second. */
async function summarize(db: BenchDb, run: SenderRun, shops: number, preloaded: number): Promise<DeliveryRun> {
  const since = new Date(run.firstMs + 1000);
  const attempts429 = await db.count(`SELECT count(*) AS n FROM "DeliveryAttempt" WHERE "httpStatus" = 429 AND "startedAt" >= ?`, [since]);
  return {
    shops,
    preloaded,
    windowS: run.windowS,
    sent: run.sent,
    perSec: run.perSec,
    requests: run.requests,
    rejected: run.requests - run.sent,
    attempts429AfterFirstSecond: attempts429,
    duplicates: run.duplicates,
    workerCpu: run.cpu.senders[0]!,
    warmWorkerCpu: run.warmCpu?.senders[0] ?? null,
    standInCpu: run.cpu.standIn,
  };
}

function cpuRow(ctx: ScenarioContext, scenario: string, run: DeliveryRun, reference: string) {
  const text = (figure: CpuFigure) => `${cpuMsText(figure.msPerEvent)} (${Math.round(figure.cpuMs)} ms CPU for ${figure.count} events, ${round(figure.cores, 2)} cores)`;
  goal(ctx, {
    scenario,
    measure: "CPU per delivered event: worker process",
    ours: text(run.workerCpu),
    reference,
    goal: `<= ${DELIVERY_CPU_GOAL_MS} ms`,
    met: run.workerCpu.msPerEvent <= DELIVERY_CPU_GOAL_MS,
  });
  if (run.warmWorkerCpu === null) return;
  goal(ctx, {
    scenario,
    measure: `CPU per delivered event: worker process, warm (from ${WARM_FROM_S} s after its first request)`,
    ours: text(run.warmWorkerCpu),
    reference: "the row above includes V8 compiling the hot code in the worker's first seconds",
    goal: "report",
    met: null,
  });
}

export async function deliveryScenario(ctx: ScenarioContext, providers: Provider[] = ["sqlite"]): Promise<void> {
  const raw: Record<string, unknown> = {};
  for (const provider of providers) raw[provider] = await deliveryOn(ctx, provider);
  ctx.raw.delivery = raw;
}

async function deliveryOn(ctx: ScenarioContext, provider: Provider): Promise<Record<string, unknown>> {
  const runS = ctx.quick ? 3 : 12;
  const results: Record<string, unknown> = {};
  // The SQLite rows keep their names from before PostgreSQL was measured here too.
  const label = (shops: string) => `4 Delivery, ${shops}${provider === "sqlite" ? "" : ` (${provider})`}`;

  // a) one shop at Attentive's 150/s.
  {
    const shops = shopsFor(1, "rate");
    const standIn = await startStandIn({ keys: shops.map((s) => s.apiKey), rateLimitPerSecond: 150 });
    const db = await createDatabase(provider, "delivery1");
    try {
      const mappings = await seedShops(db, shops, ENCRYPTION_KEY);
      const preloaded = await preloadDeliveries(db, mappings, Math.ceil(150 * (runS + 6) * 1.3), ORDER_BODY);
      log(`delivery (${provider}): one shop, 150/s limit, ${preloaded} queued`);
      const run = await measureWorkers(db, standIn, 1, runS, "worker-rate");
      const oneShop = await summarize(db, run, 1, preloaded);
      results.oneShop = oneShop;
      const attempts429 = oneShop.attempts429AfterFirstSecond;
      goal(ctx, {
        scenario: label("1 shop"),
        measure: "sustained events/s at 150/s per key; 429s after 1st s",
        ours: `${perSec(run.perSec)}; ${attempts429} × 429 (stand-in refused ${run.requests - run.sent} of ${run.requests} requests)`,
        reference: "Attentive limit 150/s",
        goal: ">= 140/s, no 429 after the first second",
        met: run.perSec >= 140 && attempts429 === 0,
      });
      cpuRow(ctx, label("1 shop"), oneShop, `stand-in: ${cpuMsText(oneShop.standInCpu.msPerEvent)} per request`);
    } finally {
      await standIn.stop();
      await db.drop();
    }
  }

  // b) fifty shops, 50 ms answers; then the bare sender against the same stand-in.
  {
    const shops = shopsFor(50, "fifty");
    const keys = shops.map((s) => s.apiKey);
    const standIn = await startStandIn({ keys, rateLimitPerSecond: 150, latencyMs: 50 });
    const db = await createDatabase(provider, "delivery50");
    try {
      const mappings = await seedShops(db, shops, ENCRYPTION_KEY);
      const preloaded = await preloadDeliveries(db, mappings, ctx.quick ? 80 : 300, ORDER_BODY);
      log(`delivery (${provider}): fifty shops, Attentive 50 ms, ${preloaded} queued`);
      const run = await measureWorkers(db, standIn, 1, runS, "worker-fifty");
      const fiftyShops = await summarize(db, run, 50, preloaded);
      results.fiftyShops = fiftyShops;
      if (!run.sampleInput) throw new Error("the worker sent no event to the stand-in: nothing for the bare sender to repeat");
      await standIn.reset();
      log(`delivery (${provider}): bare sender, ${workerInFlight()} in flight, same stand-in and keys`);
      const bare = await measureBareSender(standIn, keys, run.sampleInput, runS);
      const bareCpu = bare.cpu.senders[0]!;
      const share = run.perSec / bare.perSec;
      results.bareSender = { inFlight: workerInFlight(), perSec: bare.perSec, windowS: bare.windowS, sent: bare.sent, requests: bare.requests, cpu: bareCpu, standInCpu: bare.cpu.standIn };
      goal(ctx, {
        scenario: label("50 shops"),
        measure: "events/s, one worker process, Attentive 50 ms",
        ours: `${perSec(run.perSec)} (${run.sent} sent in the run${run.sent >= preloaded ? ", queue emptied" : ""})`,
        reference: "",
        goal: ">= 1,000/s",
        met: run.perSec >= 1000,
      });
      goal(ctx, {
        scenario: label("50 shops"),
        measure: `events/s against a bare sender (${workerInFlight()} in flight, same stand-in and keys)`,
        // Three places: a share of 0.798 shown as "0.8" beside a missed goal reads as a contradiction.
        ours: `${share.toFixed(3)} (${perSec(run.perSec)})`,
        reference: `bare sender: ${perSec(bare.perSec)}, ${cpuMsText(bareCpu.msPerEvent)} CPU per request`,
        goal: `>= ${BARE_SHARE_GOAL}`,
        met: share >= BARE_SHARE_GOAL,
      });
      cpuRow(ctx, label("50 shops"), fiftyShops, `bare sender: ${cpuMsText(bareCpu.msPerEvent)} per request; stand-in: ${cpuMsText(fiftyShops.standInCpu.msPerEvent)}`);
    } finally {
      await standIn.stop();
      await db.drop();
    }
  }
  return results;
}
