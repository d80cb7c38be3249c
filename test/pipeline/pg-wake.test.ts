/**
 * Standalone workers on PostgreSQL wake on NOTIFY (docs/decisions/020-pg-listen-notify.md).
 * Each worker here polls every 10 minutes, so a delivery that arrives within the tests' limits
 * (seconds) was brought by a notification or by the look a listener takes each time it listens again.
 */
import { spawn } from "node:child_process";
import pg from "pg";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { cliCommand } from "~/cli/serve-command";
import { database, db } from "~/db.server";
import {
  LISTENER_APPLICATION_NAME,
  WakeNotifier,
  defaultBackoffMs,
  listenForWakes,
  notifyOtherProcesses,
  wakeChannel,
} from "~/delivery/pg-wake.server";
import { startStandaloneWorker, type StandaloneWorker } from "~/delivery/runtime.server";
import { onBackfillWake, setCrossProcessWake } from "~/delivery/wake.server";
import { env } from "~/env.server";
import { verifyShopifyWebhook } from "~/shopify/webhook-hmac.server";
import { fetchWebhookRequest, receiveWebhook } from "~/webhooks/receive.server";
import { WEBHOOK_ROUTES } from "~/webhooks/topics";
import { loadOrderId, orderBody, waitUntil } from "../support/load";
import { postWebhook, usePipeline, workerOptions } from "../support/pipeline";
import { testPostgresUrl, testProvider } from "../support/test-database";
import { signedWebhookRequest } from "../support/webhooks";

const LONG_POLL_MS = 600_000;
/** Far below the poll: a safety net for a busy machine, never a wait that makes the test pass. */
const PROMPTLY_MS = 15_000;

const pipeline = usePipeline();

function schemaOfTest(): string | undefined {
  return new URL(process.env.DATABASE_URL ?? "").searchParams.get("schema") ?? undefined;
}

/** A connection of the test's own, apart from the app's pools. */
async function withClient<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: testPostgresUrl });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/** The backend pids listening on this test file's channel (their last statement is the LISTEN). */
async function listenerPids(): Promise<number[]> {
  return withClient(async (client) => {
    const rows = await client.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query = $2`,
      [LISTENER_APPLICATION_NAME, `LISTEN "${wakeChannel(schemaOfTest())}"`],
    );
    return rows.rows.map((row) => row.pid);
  });
}

async function deliveryStatus(orderId: string): Promise<string | null> {
  const row = await db().delivery.findFirst({ where: { webhook: { orderId } }, select: { status: true } });
  return row?.status ?? null;
}

async function waitDelivered(orderId: string): Promise<void> {
  await waitUntil(`order ${orderId}'s delivery to be delivered`, async () => (await deliveryStatus(orderId)) === "delivered", PROMPTLY_MS, 20);
}

/**
 * Records a webhook through the commerce route's own receive step on the app's pool, announced
 * only by NOTIFY (`notifier`): never by this process's in-process signal, which would reach the
 * in-process worker without PostgreSQL.
 */
async function recordNotifyingOnly(notifier: WakeNotifier, index: number): Promise<string> {
  const orderId = loadOrderId(index);
  const answer = await receiveWebhook(fetchWebhookRequest(signedWebhookRequest({ topic: "orders/fulfilled", body: orderBody(orderId) })), {
    route: WEBHOOK_ROUTES.commerce,
    prisma: db(),
    authenticate: verifyShopifyWebhook(env().SHOPIFY_API_SECRET),
    onRecorded: () => notifier.signal("work"),
  });
  expect(answer.status).toBe(200);
  return orderId;
}

describe.skipIf(testProvider() !== "postgresql")("standalone workers on PostgreSQL wake on NOTIFY", () => {
  let standalone: StandaloneWorker | null = null;
  afterEach(async () => {
    await standalone?.stop();
    standalone = null;
    setCrossProcessWake(null);
  });

  it("delivers work announced on another connection at once, and after its listening connection is killed finds what was recorded meanwhile", async () => {
    let holdReconnect: (() => void) | null = null;
    let reconnectAsked!: () => void;
    const reconnecting = new Promise<void>((resolve) => (reconnectAsked = resolve));
    standalone = startStandaloneWorker(workerOptions(pipeline.standIn, { idlePollMs: LONG_POLL_MS }), {
      heartbeatMs: LONG_POLL_MS,
      // The reconnect waits for the test: work is recorded while nobody listens.
      delay: () =>
        new Promise<void>((resolve) => {
          holdReconnect = resolve;
          reconnectAsked();
        }),
    });
    // A notifier on a pool of its own, like another process's.
    const other = new pg.Pool({ connectionString: testPostgresUrl, max: 2 });
    const notifier = new WakeNotifier(other, wakeChannel(schemaOfTest()));
    try {
      await waitUntil("the worker's connection to listen", async () => (await listenerPids()).length === 1, PROMPTLY_MS, 20);

      // Each one is delivered only after the previous one: the worker is idle in its 10-minute sleep when it comes.
      for (const index of [1, 2, 3]) await waitDelivered(await recordNotifyingOnly(notifier, index));

      const [pid] = await listenerPids();
      await withClient((client) => client.query("SELECT pg_terminate_backend($1)", [pid]));
      await reconnecting;
      const missed = await recordNotifyingOnly(notifier, 4);
      await notifier.drain();
      // Nobody heard it: the worker sleeps on.
      expect(await deliveryStatus(missed)).toBe("pending");

      holdReconnect!();
      await waitDelivered(missed);
      expect(await listenerPids()).toHaveLength(1);
      expect(pipeline.standIn.received).toHaveLength(4);
    } finally {
      await notifier.drain();
      await other.end();
    }
  }, 120_000);

  it("wakes the backfill runner of a standalone worker when it listens, and when another process starts or resumes a backfill", async () => {
    const wakes: Array<() => void> = [];
    let count = 0;
    const unsubscribe = onBackfillWake(() => {
      count++;
      wakes.shift()?.();
    });
    const nextWake = () => new Promise<void>((resolve) => wakes.push(resolve));
    const other = new pg.Pool({ connectionString: testPostgresUrl, max: 1 });
    const notifier = new WakeNotifier(other, wakeChannel(schemaOfTest()));
    try {
      const listening = nextWake();
      standalone = startStandaloneWorker(workerOptions(pipeline.standIn, { idlePollMs: LONG_POLL_MS }), { heartbeatMs: LONG_POLL_MS });
      // The look a listener takes when LISTEN took effect: nothing announced before it is known.
      await listening;
      const notified = nextWake();
      notifier.signal("backfill");
      await notified;
      expect(count).toBe(2);
    } finally {
      unsubscribe();
      await notifier.drain();
      await other.end();
    }
  });

  /** Listens on this file's channel on a connection of its own; `settle` waits for a sentinel NOTIFY sent after everything before it. */
  async function hearing(run: (heard: string[], settle: () => Promise<void>) => Promise<void>): Promise<void> {
    const channel = wakeChannel(schemaOfTest());
    await withClient(async (client) => {
      const heard: string[] = [];
      let sentinels = 0;
      client.on("notification", (message) => {
        if (message.payload === "sentinel") sentinels++;
        else heard.push(message.payload ?? "");
      });
      await client.query(`LISTEN "${channel}"`);
      const settle = async () => {
        const expected = sentinels + 1;
        // Committed after every NOTIFY before it, so heard after them.
        await withClient((other) => other.query("SELECT pg_notify($1, 'sentinel')", [channel]));
        await waitUntil("the sentinel NOTIFY", async () => sentinels >= expected, PROMPTLY_MS, 5);
      };
      await run(heard, settle);
    });
  }

  it("coalesces: one NOTIFY for the signals of a turn, one more for those raised while it is in flight", async () => {
    const pool = new pg.Pool({ connectionString: testPostgresUrl, max: 2 });
    const notifier = new WakeNotifier(pool, wakeChannel(schemaOfTest()), { windowMs: 5 });
    try {
      await hearing(async (heard, settle) => {
        for (let i = 0; i < 1_000; i++) notifier.signal("work");
        notifier.signal("backfill");
        await notifier.drain();
        await settle();
        expect(heard).toEqual(["backfill,work"]);

        heard.length = 0;
        let sent = 0;
        const counting = new WakeNotifier(pool, wakeChannel(schemaOfTest()), { windowMs: 5, onSent: () => sent++ });
        counting.signal("work");
        // The first is in flight from the next turn on; these come while it is, so one more covers them.
        await new Promise((resolve) => setImmediate(resolve));
        for (let i = 0; i < 100; i++) counting.signal("work");
        await counting.drain();
        await settle();
        expect(sent).toBe(2);
        expect(heard).toEqual(["work", "work"]);
      });
    } finally {
      await pool.end();
    }
  });

  it("sends at most one NOTIFY per 5 ms window for a burst of webhooks, not one each", async () => {
    const notifier = notifyOtherProcesses(database())!;
    await hearing(async (heard, settle) => {
      const webhooks = 200;
      const started = performance.now();
      const answers = await Promise.all(
        Array.from({ length: webhooks }, (_, index) => postWebhook({ topic: "orders/fulfilled", body: orderBody(loadOrderId(100 + index)) })),
      );
      await notifier.drain();
      const elapsedMs = performance.now() - started;
      await settle();
      expect(answers.every((answer) => answer.status === 200)).toBe(true);
      expect(heard.length).toBeGreaterThanOrEqual(1);
      expect(heard.length).toBeLessThanOrEqual(Math.ceil(elapsedMs / 5) + 1);
      expect(heard.length).toBeLessThan(webhooks);
      expect(new Set(heard)).toEqual(new Set(["work"]));
      console.log(`[pg-wake] ${webhooks} webhooks in ${Math.round(elapsedMs)} ms: ${heard.length} NOTIFYs`);
    });
  });

  it("wakes a worker in another process: npm run cli -- worker with a 10-minute poll", async () => {
    notifyOtherProcesses(database());
    const workerCommand = cliCommand(process.cwd(), ["worker"]);
    const worker = spawn(workerCommand.command, workerCommand.args, {
      env: { ...process.env, ATTENTIVE_API_URL: pipeline.standIn.graphqlUrl, LOG_LEVEL: "silent", DELIVERY_POLL_SECONDS: String(LONG_POLL_MS / 1_000) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    worker.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    worker.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => worker.once("exit", (code) => resolve(code)));
    try {
      // tsx compiles the app first: on a busy machine that takes many seconds.
      await waitUntil("the worker to listen", async () => (await listenerPids()).length === 1 || worker.exitCode !== null, 90_000, 50);
      expect(worker.exitCode, output).toBeNull();
      const latenciesMs: number[] = [];
      for (const index of [1, 2, 3, 4, 5]) {
        const orderId = loadOrderId(200 + index);
        const posted = Date.now();
        expect((await postWebhook({ topic: "orders/fulfilled", body: orderBody(orderId) })).status).toBe(200);
        await waitDelivered(orderId);
        latenciesMs.push(pipeline.standIn.received.at(-1)!.receivedAt - posted);
      }
      expect(pipeline.standIn.received).toHaveLength(5);
      console.log(`[pg-wake] webhook answered to event at Attentive, standalone worker: ${latenciesMs.join(", ")} ms`);
    } finally {
      worker.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
  }, 150_000);
});

// Needs no PostgreSQL: the database it is pointed at refuses every connection.
describe("the wake listener", () => {
  it("keeps trying, with growing waits, while the database refuses connections, and stops when told", async () => {
    const attempts: number[] = [];
    let release: (() => void) | null = null;
    let thirdAsked!: () => void;
    const third = new Promise<void>((resolve) => (thirdAsked = resolve));
    const listener = listenForWakes({
      // Nothing listens on port 1: every connection is refused.
      connection: "postgresql://postgres@127.0.0.1:1/test",
      schema: schemaOfTest(),
      onSignal: () => {},
      onListening: () => {
        throw new Error("never listening");
      },
      logger: pino({ level: "silent" }),
      backoffMs: (attempt) => {
        attempts.push(attempt);
        return defaultBackoffMs(attempt);
      },
      delay: () =>
        new Promise<void>((resolve) => {
          if (attempts.length < 3) resolve();
          else {
            release = resolve;
            thirdAsked();
          }
        }),
    });
    await third;
    expect(attempts).toEqual([0, 1, 2]);
    expect(defaultBackoffMs(0)).toBeLessThanOrEqual(250);
    expect(defaultBackoffMs(20)).toBeGreaterThanOrEqual(2_500);
    expect(defaultBackoffMs(20)).toBeLessThanOrEqual(5_000);
    await listener.stop();
    // Released after stop: no further attempt.
    release!();
    await new Promise((resolve) => setImmediate(resolve));
    expect(attempts).toEqual([0, 1, 2]);
  });
});
