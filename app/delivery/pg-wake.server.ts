/**
 * Wake-ups across processes on PostgreSQL (docs/decisions/020-pg-listen-notify.md).
 *
 * A process that commits new work (a webhook, a Flow run, a retry, a backfill started) sends
 * NOTIFY on one channel per database schema, after the commit and coalesced: one NOTIFY covers
 * every signal raised before it was sent. A standalone worker holds one connection of its own
 * (not the pool's) that LISTENs and raises the signal in its process. Notifications sent while
 * that connection is down are lost, so each time it is listening again the worker looks for
 * work at once; a slow poll stays as the last resort.
 */
import { createHash } from "node:crypto";
import pg from "pg";
import type { Logger } from "pino";
import { driverOf, storeOn, type DatabaseHandle, type DriverStore } from "~/db.server";
import type { Driver } from "~/db/driver.server";
import { setCrossProcessWake, type CrossProcessSignal } from "./wake.server";

const SIGNALS: ReadonlySet<string> = new Set<CrossProcessSignal>(["work", "backfill"]);

/** Shown in pg_stat_activity, so an operator (or a test) can tell the listening connection apart. */
export const LISTENER_APPLICATION_NAME = "attentive-wake-listener";

/**
 * The channel of one database schema: NOTIFY reaches every listener of the database, and two
 * installs (or test files) in two schemas of one database must not wake each other.
 * Hashed because a channel name is an identifier of at most 63 bytes.
 */
export function wakeChannel(schema: string | undefined): string {
  if (!schema) return "attentive_wake";
  return `attentive_wake_${createHash("sha256").update(schema).digest("hex").slice(0, 16)}`;
}

export interface WakeNotifierOptions {
  /** Least time between two NOTIFYs of this process: signals within it share one. */
  windowMs?: number;
  /** Each NOTIFY sent, with its payload (tests count them). */
  onSent?: (payload: string) => void;
  logger?: Logger;
}

/** At most one NOTIFY per window: at 1,000 webhooks/s, 200 a second rather than 1,000. */
export const DEFAULT_NOTIFY_WINDOW_MS = 5;

/**
 * Sends the signals raised in this process as NOTIFY on the pool, outside the transactions that
 * wrote the work: a NOTIFY inside a transaction takes a lock that serialises every notifying
 * commit of the cluster, fsync included, which would undo PostgreSQL's grouping of the webhook
 * commits. A signal is raised after its commit, so any NOTIFY sent after it covers it.
 */
export class WakeNotifier implements DriverStore {
  private readonly pending = new Set<CrossProcessSignal>();
  private scheduled = false;
  private sending: Promise<void> | null = null;
  private lastSentAt = Number.NEGATIVE_INFINITY;
  private failing = false;
  private readonly windowMs: number;

  constructor(
    private readonly pool: pg.Pool,
    readonly channel: string,
    private readonly options: WakeNotifierOptions = {},
  ) {
    this.windowMs = options.windowMs ?? DEFAULT_NOTIFY_WINDOW_MS;
  }

  signal(signal: CrossProcessSignal): void {
    this.pending.add(signal);
    this.schedule();
  }

  /** Sends what is pending now and settles once no NOTIFY is in flight (before the pool closes). */
  async drain(): Promise<void> {
    while (this.sending || this.pending.size > 0) {
      if (!this.sending) this.flush();
      await this.sending;
    }
  }

  private schedule(): void {
    // One in flight: the next is scheduled when it is done, so it is sent after the commits signalled meanwhile.
    if (this.scheduled || this.sending) return;
    this.scheduled = true;
    const go = () => {
      this.scheduled = false;
      this.flush();
    };
    const waitMs = this.lastSentAt + this.windowMs - performance.now();
    // Idle: the next turn of the event loop, so the signals of this turn share the NOTIFY.
    if (waitMs > 0) setTimeout(go, waitMs);
    else setImmediate(go);
  }

  private flush(): void {
    if (this.sending || this.pending.size === 0) return;
    const payload = [...this.pending].sort().join(",");
    this.pending.clear();
    this.lastSentAt = performance.now();
    this.sending = this.pool
      .query({ name: "wake-notify", text: "SELECT pg_notify($1, $2)", values: [this.channel, payload] })
      .then(
        () => {
          this.failing = false;
          this.options.onSent?.(payload);
        },
        (error: unknown) => {
          // Not worth a webhook's 503: the work is committed, and listeners poll (and look when they reconnect).
          if (!this.failing) this.options.logger?.warn({ err: errorText(error) }, "could not notify workers; they will find the work on their poll");
          this.failing = true;
        },
      )
      .finally(() => {
        this.sending = null;
        if (this.pending.size > 0) this.schedule();
      });
  }
}

function openWakeNotifier(driver: Driver): WakeNotifier {
  if (driver.provider !== "postgresql") throw new Error("NOTIFY needs PostgreSQL");
  return new WakeNotifier(driver.pool, wakeChannel(driver.schema));
}

/**
 * From now on this process's "work" and "backfill" signals also reach standalone workers through
 * NOTIFY. On SQLite nothing changes: one process owns the database, and in-process signals reach it.
 */
export function notifyOtherProcesses(handle: DatabaseHandle): WakeNotifier | null {
  if (handle.target.provider !== "postgresql") return null;
  const notifier = storeOn(handle.prisma, openWakeNotifier);
  setCrossProcessWake((signal) => notifier.signal(signal));
  return notifier;
}

export interface WakeListenerOptions {
  /** A connection string without Prisma's `schema` parameter. */
  connection: string;
  schema: string | undefined;
  /** A signal another process sent. */
  onSignal: (signal: CrossProcessSignal) => void;
  /** LISTEN took effect, at start or after a drop: whatever was notified before is unknown, so look now. */
  onListening: () => void;
  logger: Logger;
  /** Wait before reconnect number `attempt` (0 first). */
  backoffMs?: (attempt: number) => number;
  /** How a reconnect waits (tests hold it to record work while the listener is down). */
  delay?: (ms: number) => Promise<void>;
  /** How often the idle connection is checked: a connection cut without a FIN is otherwise noticed only by TCP, after minutes. */
  heartbeatMs?: number;
}

export interface WakeListener {
  stop(): Promise<void>;
}

/**
 * 250 ms, doubling to 5 s, with jitter so that many workers do not reconnect in step. Capped low: an attempt costs
 * one connection try, and until it succeeds the worker falls back to its slow poll.
 */
export function defaultBackoffMs(attempt: number): number {
  const ceiling = Math.min(5_000, 250 * 2 ** Math.min(attempt, 5));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

/** The listening connection of a standalone worker. Never throws: a drop is logged and retried with backoff. */
export function listenForWakes(options: WakeListenerOptions): WakeListener {
  const channel = wakeChannel(options.schema);
  const backoffMs = options.backoffMs ?? defaultBackoffMs;
  const delay = options.delay ?? sleep;
  const heartbeatMs = options.heartbeatMs ?? 30_000;
  let stopped = false;
  let current: pg.Client | null = null;
  let heartbeat: NodeJS.Timeout | null = null;
  let attempt = 0;

  const dropped = (client: pg.Client, error?: unknown) => {
    if (current !== client) return;
    current = null;
    if (heartbeat) clearInterval(heartbeat);
    heartbeat = null;
    client.end().catch(() => {});
    if (stopped) return;
    const waitMs = backoffMs(attempt++);
    options.logger.warn({ err: error === undefined ? "connection closed" : errorText(error), retryInMs: Math.round(waitMs) }, "wake listener lost its connection; reconnecting");
    void delay(waitMs).then(connect);
  };

  const connect = async (): Promise<void> => {
    if (stopped) return;
    const client = new pg.Client({
      connectionString: options.connection,
      application_name: LISTENER_APPLICATION_NAME,
      keepAlive: true,
      connectionTimeoutMillis: 5_000,
      query_timeout: 5_000,
    });
    current = client;
    client.on("error", (error) => dropped(client, error));
    client.on("end", () => dropped(client));
    client.on("notification", (message) => {
      if (message.channel !== channel) return;
      for (const signal of (message.payload ?? "").split(",")) {
        if (SIGNALS.has(signal)) guarded(options.logger, () => options.onSignal(signal as CrossProcessSignal));
      }
    });
    try {
      await client.connect();
      await client.query(`LISTEN "${channel}"`);
    } catch (error) {
      dropped(client, error);
      return;
    }
    if (current !== client) return;
    if (stopped) {
      await client.end().catch(() => {});
      return;
    }
    attempt = 0;
    heartbeat = setInterval(() => {
      client.query("SELECT 1").catch((error: unknown) => dropped(client, error));
    }, heartbeatMs);
    heartbeat.unref();
    options.logger.info({ channel }, "wake listener listening");
    guarded(options.logger, options.onListening);
  };

  void connect();
  return {
    async stop() {
      stopped = true;
      if (heartbeat) clearInterval(heartbeat);
      heartbeat = null;
      const client = current;
      current = null;
      // A reconnect under way sees `stopped` and ends; a held delay is not waited for.
      await client?.end().catch(() => {});
    },
  };
}

/** The listening connection for this process's database, or null on SQLite (in-process signals suffice). */
export function listenOnDatabase(handle: DatabaseHandle, options: Omit<WakeListenerOptions, "connection" | "schema">): WakeListener | null {
  if (handle.target.provider !== "postgresql") return null;
  const driver = driverOf(handle.prisma);
  if (driver.provider !== "postgresql") return null;
  return listenForWakes({ ...options, connection: driver.connection, schema: driver.schema });
}

/** A listener's mistake must not end the process from a pg event handler. */
function guarded(logger: Logger, run: () => void): void {
  try {
    run();
  } catch (error) {
    logger.error({ err: errorText(error) }, "wake handler failed");
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
