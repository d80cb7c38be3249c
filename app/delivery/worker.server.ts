/**
 * The delivery worker: claims due deliveries, renders each mapping against its
 * webhook, sends one createCustomEvent per delivery and records the outcome.
 *
 * Promises kept here (docs/decisions/001-queue-in-the-database.md):
 * - a delivery is sent by one worker at a time (claim by conditional update, lease);
 * - one left "sending" by a crashed process is taken again when its lease expires,
 *   with the same externalEventId;
 * - every outcome is recorded: delivered, skipped (with the rule), or failed with a
 *   reason a merchant can act on; retryable failures wait and try again within the
 *   retry budget.
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import {
  type AttentiveClientOptions,
  type CustomEventInput,
  type SendOutcome,
  customEventRequestBody,
  sendCustomEvent,
} from "~/attentive/client.server";
import { STALE_AFTER_MS } from "~/attentive/rules";
import type { Database } from "~/db.server";
import { renderMappingDetailed, type RenderContextInput } from "~/mapping/render.server";
import { renderInline, rendersInline } from "~/mapping/inline";
import { rendersFromBodyAlone, usablePrerendered } from "~/mapping/prerender";
import { FLOW_ACTION_TOPIC, parseFlowAction } from "~/flow/action";
import { isMappableTopic, type MappingDefinition } from "~/mapping/types";
import { CATALOG } from "~/topics/catalog";
import type { SecretBox } from "~/secrets/secret-box.server";
import { isJsonObject, type JsonValue } from "~/shopify/json";
import type { OrderLookup } from "~/shopify/order-lookup.server";
import { ClaimBodies } from "./claim-bodies";
import { claimStoreOf, type ClaimedDelivery, type ClaimMapping, type Held } from "./claim-store.server";
import { Pacing } from "./pacing";
import { DEFAULT_ORDER_ARRIVAL_WAIT_MS, findRelated } from "./related.server";
import { DEFAULT_RETRY_POLICY, type AttemptEnd, type RetryPolicy } from "./retry-policy";
import { describeUnexpected } from "./stored-text";
import { releaseUnsent, renewLease, type SentRecord, settle, settleUnexpected } from "./settle.server";
import { KeyCache, MappingCache, type MappingRow as StoredMappingRow } from "./reuse.server";

export interface WorkerOptions {
  prisma: Database;
  secretBox: SecretBox;
  attentive: AttentiveClientOptions;
  orderLookup: OrderLookup;
  logger: Logger;
  workerId?: string;
  retry?: RetryPolicy;
  batchSize?: number;
  concurrency?: number;
  /** How long a claim holds; must exceed the Attentive timeout by a margin. */
  leaseMs?: number;
  /**
   * Longest sleep when idle (other processes may add work without waking us): short when only this
   * process's signals wake the worker, long for a standalone worker on PostgreSQL that NOTIFY wakes.
   */
  idlePollMs?: number;
  /**
   * Attentive's limit per key and second until a response says otherwise
   * (x-ratelimit-limit). Sends are paced a little under it.
   */
  rateLimitPerSecond?: number;
  /**
   * How long a delivery whose order's webhook has not arrived waits for it before the Admin API is asked
   * (DEFAULT_ORDER_ARRIVAL_WAIT_MS; 0 asks at once).
   */
  orderArrivalWaitMs?: number;
  /**
   * A delivery claimed ahead that waited this long for a lane is checked against the pauses again before it is
   * sent (decision 025): a shop or backfill paused meanwhile gets it back unsent.
   */
  pauseRecheckMs?: number;
  now?: () => Date;
  random?: () => number;
}

/**
 * Deliveries a worker has in hand at once (DELIVERY_CONCURRENCY). Attentive answers in
 * tens of milliseconds, so a worker mostly waits: events per second is about this
 * divided by Attentive's answer time (64 / 50 ms = 1,280/s). It is also the most sends
 * whose outcome a killed process may not have recorded, which are sent again, with the
 * same externalEventId (docs/reliability.md).
 */
export const DEFAULT_CONCURRENCY = 64;

type Resolved = Required<Omit<WorkerOptions, "now" | "random">> & { now: () => Date; random: () => number };

function resolve(options: WorkerOptions): Resolved {
  return {
    workerId: `worker-${randomUUID()}`,
    retry: DEFAULT_RETRY_POLICY,
    batchSize: 50,
    concurrency: DEFAULT_CONCURRENCY,
    leaseMs: Math.max(60_000, options.attentive.timeoutMs * 3),
    idlePollMs: 1_000,
    rateLimitPerSecond: 150,
    orderArrivalWaitMs: DEFAULT_ORDER_ARRIVAL_WAIT_MS,
    pauseRecheckMs: 1_000,
    now: () => new Date(),
    random: Math.random,
    ...options,
  };
}

/** Per-shop pause after Attentive said the rate limit is reached. */
class Cooldowns {
  private readonly untilByShop = new Map<string, number>();
  set(shop: string, untilMs: number) {
    this.untilByShop.set(shop, Math.max(untilMs, this.untilByShop.get(shop) ?? 0));
  }
  until(shop: string): number {
    return this.untilByShop.get(shop) ?? 0;
  }
  active(nowMs: number): string[] {
    const shops: string[] = [];
    for (const [shop, untilMs] of this.untilByShop) {
      if (untilMs > nowMs) shops.push(shop);
      else this.untilByShop.delete(shop);
    }
    return shops;
  }
}

export interface DeliveryWorker {
  /** Look for work now (new deliveries were recorded in this process). */
  wake(): void;
  /** Finish what is in flight and stop. */
  stop(): Promise<void>;
  readonly id: string;
}

/** Claims and processes one batch; returns how many deliveries it handled. */
export async function processDueDeliveries(options: WorkerOptions, cooldowns = new Cooldowns()): Promise<number> {
  const config = resolve(options);
  return processBatch(config, cooldowns, new Pacing(config.rateLimitPerSecond));
}

type ShopState = { keyCipher: string | null; uninstalled: boolean };
type MappingRow = StoredMappingRow & ClaimMapping;

/** Shared by the process's workers: entries are checked against each claim's rows (reuse.server.ts). */
const mappingCache = new MappingCache();
const keyCache = new KeyCache();

/**
 * What one claim reads once for all its deliveries, in two queries: the shops (each key
 * decrypted once) and the mappings. A change made while the claim's deliveries are sent
 * applies from the next claim, a moment later, as it would had that claim come first.
 */
class PassCache {
  private constructor(
    private readonly config: Resolved,
    private readonly shops: Map<string, ShopState>,
    private readonly mappings: Map<string, MappingRow>,
    /** Its deliveries of one webhook share one parse, dropped after the last of them has used it. */
    private readonly bodies: ClaimBodies,
  ) {}

  static async load(config: Resolved, deliveries: Array<{ shop: string; mappingId: string; webhook: { id: string } }>): Promise<PassCache> {
    const domains = new Set<string>();
    const mappingIds = new Set<string>();
    for (const delivery of deliveries) {
      domains.add(delivery.shop);
      mappingIds.add(delivery.mappingId);
    }
    const bodies = new ClaimBodies(deliveries);
    if (domains.size === 0) return new PassCache(config, new Map(), new Map(), bodies);
    const { shops, mappings } = await claimStoreOf(config.prisma).context([...domains], [...mappingIds]);
    return new PassCache(
      config,
      new Map(shops.map((row) => [row.domain, { keyCipher: row.keyCipher, uninstalled: row.uninstalled }])),
      new Map(mappings.map((row) => [row.id, row])),
      bodies,
    );
  }

  shop(domain: string): ShopState | null {
    return this.shops.get(domain) ?? null;
  }

  mapping(shop: string, id: string): MappingRow | null {
    const row = this.mappings.get(id);
    // A mapping belongs to one shop: never render another shop's.
    return row && row.shop === shop ? row : null;
  }

  apiKey(cipher: string): string {
    return keyCache.open(this.config.secretBox, cipher);
  }

  /** The webhook's parsed body; each delivery asks once. */
  body(webhook: { id: string; body: string }): JsonValue {
    return this.bodies.body(webhook);
  }

  /** A delivery that will not ask for its webhook's body. */
  release(webhook: { id: string }): void {
    this.bodies.release(webhook);
  }
}

interface ClaimedWork {
  ids: string[];
  /** Backfills whose deliveries this claim left alone (paused). */
  heldBackfills: string[];
  /** Shops whose deliveries this claim left alone: paused, cooling down after a 429, or ahead of their pace. */
  excludedShops: string[];
  rows: Map<string, DeliveryRow>;
  cache: PassCache;
}

/**
 * Claims up to `limit` due deliveries and loads them with their webhooks, in one query; none of `paceBound`'s, and
 * at most `perShopLimit` of any one shop.
 */
async function claimWork(
  config: Resolved,
  cooldowns: Cooldowns,
  limit: number,
  paceBound: string[] = [],
  perShopLimit?: number,
  expiredLeases = true,
): Promise<ClaimedWork> {
  const now = config.now();
  const store = claimStoreOf(config.prisma);
  const held = await store.held();
  const heldBackfills = held.backfills;
  const excluded = [...held.shops, ...cooldowns.active(now.getTime()), ...paceBound];
  const claimed = await store.claim({
    workerId: config.workerId,
    limit,
    leaseMs: config.leaseMs,
    now,
    excludeShops: excluded,
    excludeBackfills: heldBackfills,
    expiredLeases,
    ...(perShopLimit === undefined ? {} : { perShopLimit }),
  });
  const ids = claimed.map((row) => row.id);
  const rows = new Map(claimed.map((row) => [row.id, row]));
  return { ids, heldBackfills, excludedShops: excluded, rows, cache: await PassCache.load(config, claimed) };
}

async function runOne(config: Resolved, cooldowns: Cooldowns, pacing: Pacing, work: ClaimedWork, id: string, sending?: () => void, delivered?: () => void): Promise<void> {
  const delivery = work.rows.get(id);
  if (!delivery) return;
  try {
    await processDelivery(config, cooldowns, pacing, work.cache, delivery, sending, delivered);
  } catch (error) {
    await settleUnexpected(config, delivery, error, config.now());
  }
}

async function processBatch(config: Resolved, cooldowns: Cooldowns, pacing: Pacing): Promise<number> {
  const work = await claimWork(config, cooldowns, config.batchSize);
  let next = 0;
  const lanes = Array.from({ length: Math.min(config.concurrency, work.ids.length) }, async () => {
    while (next < work.ids.length) await runOne(config, cooldowns, pacing, work, work.ids[next++]!);
  });
  await Promise.all(lanes);
  return work.ids.length;
}

/**
 * How often a worker's claims look for deliveries whose lease ran out: at most once a second and four times a lease.
 * Such a delivery waited a whole lease for its dead worker already; looking on every claim (dozens a second under
 * load) cost PostgreSQL a pass over every version of every row sent since its last vacuum (docs/decisions/038).
 */
export const LEASE_SWEEP_MS = 1_000;

/** Whether the claim at `nowMs` (the worker's clock) looks for expired leases: the first does, then one per interval. */
export function leaseSweeper(leaseMs: number): (nowMs: number) => boolean {
  const every = Math.min(LEASE_SWEEP_MS, leaseMs / 4);
  let last = Number.NEGATIVE_INFINITY;
  return (nowMs) => {
    // A clock that went back (a test's virtual one, or the system's) counts as time passed.
    if (nowMs - last < every && nowMs >= last) return false;
    last = nowMs;
    return true;
  };
}

/**
 * A shop with this many deliveries in hand and not yet sent (most of them queued for its pace, Attentive's limit per
 * key) gets no more of the worker's lanes until half of them have gone: more would only wait in that queue while
 * other shops' events wait in the database (docs/decisions/022).
 */
export const PACE_QUEUE_DEPTH = 8;

/**
 * A shop ahead of its pace is claimed for again when this few of its deliveries are left unsent: the claim loop,
 * asleep on it, is woken by the delivery that leaves this many (decision 036).
 */
const PACE_REFILL_AT = PACE_QUEUE_DEPTH / 2;

const NO_SHOPS: ReadonlySet<string> = new Set();

/**
 * The most delivered events whose outcome is written after their lane has gone to the next delivery (decision 030):
 * a quarter of the lanes. At 750 to 900 events/s, with 11 to 17 ms a write on SQLite (measured in the fifty-shop
 * micro-benchmark), 8 to 15 are under way; beyond the bound a lane waits for its own outcome. The bound is also what
 * a kill can add to the sends repeated after it. An outcome also waits up to OUTCOME_GATHER_MS (10 ms) to
 * share its commit (decisions 035 and 051), chosen so that at the rates measured the outcomes under way stay within it.
 */
export function settlingOutsideLanes(concurrency: number): number {
  return Math.max(1, Math.floor(concurrency / 4));
}

/**
 * Deliveries claimed ahead of the lanes, as a share of the lanes: enough that the lanes that free while a claim runs
 * find work waiting. They are not sent before a lane takes them, so a killed process sends no more of them again
 * than before; they only wait for their lease (decision 025).
 */
export const PREFETCH_SHARE = 0.5;

/**
 * The worker runs as a pipeline: up to `concurrency` deliveries in hand at once (each prepared, sent and settled in
 * its lane), and up to PREFETCH_SHARE of that again claimed and waiting for a lane, so a lane that frees takes the
 * next delivery at once instead of waiting for a claim, and the sends go out one by one as lanes free rather than in
 * bursts of a claim's size (decision 025). It claims more whenever a quarter of the lanes' worth has been taken from
 * what waits. A claim takes at most half of the lanes for one shop and none for a shop already queued up behind its
 * pace, so one shop's backlog cannot hold up the others' events (docs/decisions/022).
 */
export function startDeliveryWorker(options: WorkerOptions): DeliveryWorker {
  const config = resolve(options);
  const cooldowns = new Cooldowns();
  const pacing = new Pacing(config.rateLimitPerSecond);
  const inHand = new Set<Promise<void>>();
  /** Delivered events whose outcome is being written after their lane went to the next delivery. */
  const settling = new Set<Promise<void>>();
  const settlingLimit = settlingOutsideLanes(config.concurrency);
  /** Claimed, not in a lane yet, oldest first, with when each was claimed (ms). At most half the lanes' worth. */
  let waiting: { work: ClaimedWork; id: string; shop: string; heldAt: number }[] = [];
  /** Per shop: deliveries claimed and not yet sent (waiting for a lane, being prepared, or queued for the shop's pace). */
  const unsentByShop = new Map<string, number>();
  const quarter = Math.max(1, Math.floor(config.concurrency / 4));
  /** The most deliveries claimed at once: the lanes' and those waiting for one. */
  const holdLimit = config.concurrency + Math.max(1, Math.floor(config.concurrency * PREFETCH_SHARE));
  /** Claim again once this few are held: a quarter of the lanes' worth taken from what waits. */
  const refillAt = holdLimit - quarter;
  const perShopLimit = Math.max(PACE_QUEUE_DEPTH, Math.ceil(config.concurrency / 2));
  const leaseSweep = leaseSweeper(config.leaseMs);
  let stopping = false;
  /** A wake-up that came while the loop was not waiting: new work (or stop), or a lane freed. */
  let pendingWork = false;
  let pendingLane = false;
  let waiter: { finish: () => void; deaf: boolean } | null = null;

  const held = () => inHand.size + waiting.length;
  /** The shops ahead of their pace that the loop is waiting on, if it is. */
  let waitingOnPace: ReadonlySet<string> = NO_SHOPS;

  /**
   * Waits until `ms` pass or something happens: new work, stop, or (unless `deaf`) a delivery done. A deaf wait is
   * for shops' pace alone: a finished delivery would only make the loop claim nothing again.
   */
  const wait = (ms: number, deaf = false) =>
    new Promise<void>((done) => {
      if (pendingWork || (pendingLane && !deaf)) {
        pendingWork = false;
        pendingLane = false;
        done();
        return;
      }
      const timer = setTimeout(finish, ms);
      function finish() {
        clearTimeout(timer);
        waiter = null;
        pendingWork = false;
        pendingLane = false;
        done();
      }
      waiter = { finish, deaf };
    });
  const signal = (kind: "work" | "lane") => {
    if (waiter && (kind === "work" || !waiter.deaf)) waiter.finish();
    else if (waiter) return;
    else if (kind === "work") pendingWork = true;
    else pendingLane = true;
  };

  /** Shops with this many deliveries in hand and not sent yet: claiming more of theirs would only queue them. */
  const paceBound = () => [...unsentByShop].filter(([, unsent]) => unsent >= PACE_QUEUE_DEPTH).map(([shop]) => shop);

  const hold = (work: ClaimedWork, id: string, shop: string) => {
    unsentByShop.set(shop, (unsentByShop.get(shop) ?? 0) + 1);
    waiting.push({ work, id, shop, heldAt: config.now().getTime() });
  };

  /** Fills the free lanes from what waits, oldest first. None start once the worker is stopping. */
  const fillLanes = () => {
    while (!stopping && inHand.size < config.concurrency) {
      const next = waiting.shift();
      if (!next) return;
      start(next.work, next.id, next.shop, config.now().getTime() - next.heldAt >= config.pauseRecheckMs);
    }
  };

  /** A read of the pauses under way: the deliveries checked while it runs share it; the next check reads again. */
  let pauses: Promise<Held> | null = null;
  const currentPauses = () => {
    if (!pauses) {
      const read = claimStoreOf(config.prisma).held();
      pauses = read;
      const done = () => {
        if (pauses === read) pauses = null;
      };
      read.then(done, done);
    }
    return pauses;
  };
  /** Whether a delivery that waited may still go; one paused meanwhile is given back unsent. */
  const stillSendable = async (work: ClaimedWork, id: string): Promise<boolean> => {
    const delivery = work.rows.get(id);
    if (!delivery) return false;
    let held: Held;
    try {
      held = await currentPauses();
    } catch {
      // The claim already left paused work alone; a failed re-read must not hold up what it took.
      return true;
    }
    const paused = held.shops.includes(delivery.shop) || (delivery.backfillId !== null && held.backfills.includes(delivery.backfillId));
    if (!paused) return true;
    try {
      await releaseUnsent(config, [id]);
    } catch (error) {
      config.logger.error({ deliveryId: id, err: describeUnexpected(error).summary }, "could not give back a paused delivery; its lease will run out");
    }
    return false;
  };

  const start = (work: ClaimedWork, id: string, shop: string, recheck = false) => {
    let counted = true;
    const sending = () => {
      if (!counted) return;
      counted = false;
      const before = unsentByShop.get(shop) ?? 1;
      const left = before - 1;
      if (left <= 0) unsentByShop.delete(shop);
      else unsentByShop.set(shop, left);
      // Half of the queue of a shop the loop waits on has gone: claim for it now rather than when the loop's estimate
      // says. The estimate counts every delivery as a paced send, but one that is skipped takes no turn, so a shop
      // whose events were half skipped ran dry long before it (a backfill sent at 80/s of its 120; decision 036).
      if (waitingOnPace.has(shop) && before > PACE_REFILL_AT && left <= PACE_REFILL_AT) signal("work");
    };
    let inLane = true;
    const leaveLane = () => {
      if (!inLane) return;
      inLane = false;
      inHand.delete(running);
      fillLanes();
      if (held() <= refillAt) signal("lane");
    };
    // Once Attentive has taken the event, its lane goes to the next delivery while the outcome is written: the
    // write is not a request to Attentive, and waiting for it kept a lane from sending (decision 030). At most
    // settlingLimit outcomes are written outside their lanes; beyond that (a slow database) a lane waits for its own
    // as before. Sends whose outcome a kill can lose are so at most `concurrency + settlingLimit`.
    const delivered = () => {
      if (settling.size >= settlingLimit) return;
      settling.add(running);
      leaveLane();
    };
    const go = recheck ? stillSendable(work, id) : Promise.resolve(true);
    const running: Promise<void> = go
      .then((sendable) => (sendable ? runOne(config, cooldowns, pacing, work, id, sending, delivered) : undefined))
      .finally(() => {
        sending();
        settling.delete(running);
        leaveLane();
      });
    inHand.add(running);
  };

  /** At stop: what waits for a lane goes back to the queue now, for any worker, rather than when its lease runs out. */
  const releaseWaiting = async () => {
    const unsent = waiting;
    waiting = [];
    for (const { shop } of unsent) unsentByShop.delete(shop);
    if (unsent.length === 0) return;
    try {
      await releaseUnsent(config, unsent.map(({ id }) => id));
    } catch (error) {
      config.logger.error({ err: describeUnexpected(error).summary, deliveries: unsent.length }, "could not give back unsent deliveries at stop; their leases will run out");
    }
  };

  /**
   * Whether a claim that took `work` may have left due deliveries behind: it was full, or it took a whole share of
   * some shop. Otherwise it took every delivery due (that it could take), and claiming again at once finds nothing.
   */
  const mayHaveMore = (work: ClaimedWork, limit: number): boolean => {
    if (work.ids.length >= limit) return true;
    const perShop = new Map<string, number>();
    for (const row of work.rows.values()) {
      const n = (perShop.get(row.shop) ?? 0) + 1;
      if (n >= perShopLimit) return true;
      perShop.set(row.shop, n);
    }
    return false;
  };

  /** After a claim that took all there was: until something may be due for this worker. */
  const idleWait = async (work: ClaimedWork, bound: string[]): Promise<number> => {
    const nowMs = config.now().getTime();
    let ms = config.idlePollMs;
    // With a shop ahead of its pace the loop claims again within that shop's pace anyway: what else comes due
    // meanwhile waits at most that long, and the query is saved.
    if (bound.length === 0) {
      const due = await claimStoreOf(config.prisma).nextDue(work.excludedShops, work.heldBackfills);
      if (due) ms = Math.min(ms, Math.max(10, due.getTime() - nowMs));
    }
    // A shop ahead of its pace is claimable again when half of its queue has gone; one cooling down after a 429, when
    // its cooldown ends.
    for (const shop of bound) ms = Math.min(ms, Math.max(10, pacing.timeFor(shop, (unsentByShop.get(shop) ?? 0) - PACE_REFILL_AT)));
    for (const shop of cooldowns.active(nowMs)) ms = Math.min(ms, Math.max(10, cooldowns.until(shop) - nowMs));
    return ms;
  };

  const loop = (async () => {
    config.logger.info({ workerId: config.workerId, concurrency: config.concurrency }, "delivery worker started");
    while (!stopping) {
      if (held() > refillAt) {
        await wait(config.idlePollMs);
        continue;
      }
      try {
        const bound = paceBound();
        const limit = Math.min(config.batchSize, holdLimit - held());
        const work = await claimWork(config, cooldowns, limit, bound, perShopLimit, leaseSweep(config.now().getTime()));
        for (const id of work.ids) hold(work, id, work.rows.get(id)!.shop);
        fillLanes();
        if (mayHaveMore(work, limit)) continue;
        waitingOnPace = new Set(bound);
        try {
          const ms = await idleWait(work, bound);
          if (bound.length > 0) config.logger.debug({ shops: bound, ms }, "delivery worker waits for shops ahead of their pace");
          await wait(ms, bound.length > 0);
        } finally {
          waitingOnPace = NO_SHOPS;
        }
      } catch (error) {
        config.logger.error({ err: describeUnexpected(error).summary }, "delivery worker pass failed; retrying shortly");
        // Within a second even when the idle poll is long (a worker woken by NOTIFY polls slowly).
        await wait(Math.min(config.idlePollMs, 1_000));
      }
    }
    await Promise.all(inHand);
    await Promise.all(settling);
    await releaseWaiting();
    config.logger.info({ workerId: config.workerId }, "delivery worker stopped");
  })();

  return {
    id: config.workerId,
    wake: () => signal("work"),
    async stop() {
      stopping = true;
      signal("work");
      await loop;
    },
  };
}

/**
 * One delivery: prepare (the shop, the mapping, the rendered event), send under the
 * shop's pace, settle. Every status written comes from the settle step.
 */
async function processDelivery(
  config: Resolved,
  cooldowns: Cooldowns,
  pacing: Pacing,
  cache: PassCache,
  delivery: DeliveryRow,
  sending?: () => void,
  delivered?: () => void,
): Promise<void> {
  const startedAt = config.now();

  // Attentive said this shop's key is at its limit while the batch was under way: put
  // the delivery back for when the window has passed, without spending an attempt.
  const coolUntil = cooldowns.until(delivery.shop);
  if (coolUntil > startedAt.getTime()) {
    sending?.();
    await settle(config, delivery, { kind: "held-back", until: new Date(coolUntil) }, { startedAt: null });
    return;
  }

  const prepared = await prepare(config, cache, delivery);
  // Nothing reads the body's text after the render: let it go now rather than when the lane ends.
  delivery.webhook.body = null;
  if ("kind" in prepared) {
    // It will not take a turn of the shop's pace (skipped, failed, or waiting): no longer queued for one.
    sending?.();
    // A wait for the order's webhook is not an attempt: nothing was tried.
    await settle(config, delivery, prepared, { startedAt: prepared.kind === "waiting" ? null : startedAt });
    return;
  }

  const { input, apiKey, orderName, email } = prepared;
  const stale = startedAt.getTime() - new Date(input.occurredAt).getTime() > STALE_AFTER_MS;
  const request = JSON.stringify(customEventRequestBody(input, config.attentive.propertiesEncoding));
  const sent: SentRecord = { request, stale, orderName, email, eventType: input.type };
  // Send only under a lease that will outlast the send. Early in a pass the claim's
  // lease does (no query needed); a pass that ran long renews it first, and gives the
  // delivery up when the lease already ran out: another worker may have taken it.
  const leaseLeftMs = delivery.leaseExpiresAt.getTime() - startedAt.getTime();
  if (leaseLeftMs < 2 * config.attentive.timeoutMs + LEASE_MARGIN_MS && !(await renewLease(config, delivery, config.leaseMs, sent))) return;

  const outcome = await send(pacing, delivery, () => {
    sending?.();
    return sendCustomEvent(apiKey, input, config.attentive, request);
  });
  const answer = { httpStatus: outcome.httpStatus ?? null, response: outcome.ok ? outcome.responseBody : (outcome.responseBody ?? null) };
  // Attentive took it: nothing the outcome's write decides (a cooldown, a retry) bears on the shop's next send.
  if (outcome.ok) delivered?.();
  const settled = await settle(config, delivery, attemptEnd(config, delivery, outcome), { startedAt, sent, answer });
  if (settled?.status === "pending" && settled.shopCooldownUntil) cooldowns.set(delivery.shop, settled.shopCooldownUntil.getTime());
}

/** Time a lease must have left beyond two Attentive timeouts for a send to go without renewing it. */
const LEASE_MARGIN_MS = 5_000;

/** One send in the shop's turn, with what Attentive said about its limit passed back to the pacing. */
async function send(pacing: Pacing, delivery: DeliveryRow, go: () => Promise<SendOutcome>): Promise<SendOutcome> {
  // A history backfill's event takes only what live events leave of the shop's limit (docs/decisions/016).
  const answered = await pacing.take(delivery.shop, { background: delivery.backfillId !== null });
  let outcome: SendOutcome;
  try {
    outcome = await go();
  } catch (error) {
    answered();
    throw error;
  }
  answered({ ...outcome.rateLimit, rateLimited: isRateLimited(outcome) });
  return outcome;
}

function isRateLimited(outcome: SendOutcome): boolean {
  return !outcome.ok && outcome.httpStatus === 429;
}

/** How Attentive's answer ended the attempt, for the retry decision. */
function attemptEnd(config: Resolved, delivery: DeliveryRow, outcome: SendOutcome): AttemptEnd {
  if (outcome.ok) return { kind: "delivered" };
  const retryAfter = outcome.retryAfterMs === undefined ? {} : { retryAfterMs: outcome.retryAfterMs };
  if (isRateLimited(outcome)) {
    // Busy, not broken: not counted against the retry budget (for 24 hours).
    return { kind: "rate-limited", reason: outcome.reason, waitingMs: config.now().getTime() - delivery.createdAt.getTime(), ...retryAfter };
  }
  return { kind: "failed", errorKind: outcome.kind, reason: outcome.reason, ...retryAfter };
}

/** A claimed delivery with its webhook, as the claim reads it. */
type DeliveryRow = ClaimedDelivery;

type Prepared =
  | Extract<AttemptEnd, { kind: "skipped" | "failed" | "waiting" }>
  | { input: CustomEventInput; apiKey: string; orderName: string | null; email: string | null };

async function prepare(config: Resolved, cache: PassCache, delivery: DeliveryRow): Promise<Prepared> {
  const shop = cache.shop(delivery.shop);
  if (!shop || shop.uninstalled) {
    return { kind: "skipped", reason: "The app was uninstalled from the shop before this event was sent." };
  }
  if (delivery.topic === FLOW_ACTION_TOPIC) return prepareFlowAction(cache, delivery, await withBody(config, delivery), shop);
  const mappingRow = cache.mapping(delivery.shop, delivery.mappingId);
  if (!mappingRow) return { kind: "skipped", reason: "The mapping was deleted before this event was sent." };
  const mapping = mappingCache.get(mappingRow);
  if (!mapping.enabled) return { kind: "skipped", reason: `The mapping "${mapping.eventType}" was turned off before this event was sent.` };
  if (!shop.keyCipher) return NO_KEY;
  const topic = delivery.topic;
  if (!isMappableTopic(topic)) return { kind: "skipped", reason: `Topic ${topic} is not mapped by this version of the app.` };

  const entry = CATALOG[topic];
  // An order topic's body is its own order: nothing here reads it, so only the render parses it (and says the
  // order's name), unless the event was rendered when the webhook came, with the mapping as it is now (decision 054).
  // Other topics read ids from it to find their order, once per webhook in the claim.
  const readsBody = !rendersFromBodyAlone(entry);
  if (!readsBody) {
    const ahead = usablePrerendered(delivery.prerendered, mapping);
    if (ahead !== null) cache.release(delivery.webhook);
    if (ahead?.kind === "skipped") return { kind: "skipped", reason: ahead.reason };
    if (ahead?.kind === "event") return ready(cache, delivery, shop.keyCipher, ahead.event, ahead.bodyName);
  }
  const webhook = await withBody(config, delivery);
  const body = readsBody ? cache.body(webhook) : null;
  const unusable = isJsonObject(body) ? (entry.validate?.(body) ?? null) : null;
  if (unusable !== null) return { kind: "skipped", reason: unusable };
  const found = await findRelated(config, entry, delivery, body, config.now());
  if (found.kind === "waiting") {
    config.logger.info({ deliveryId: delivery.id, shop: delivery.shop, topic }, "delivery waits for its order's webhook");
    return found;
  }
  const { related, problem: lookupProblem } = found;
  const order = related.order;
  // Shopify could not say who the order's customer is right now: try again later rather than send an event
  // without the order (a parcel would still have its own email, but not the order's name or customer).
  if (lookupProblem?.retryable) {
    return { kind: "failed", errorKind: "retryable", reason: `${capitalized(entry.orderNoun)} could not be read: ${lookupProblem.reason}` };
  }

  const context = { topic, shop: delivery.shop, order, fulfillment: related.fulfillment };
  const { outcome: rendered, bodyName } = rendersInline(mapping, webhook.body.length)
    ? renderHere(config, mapping, delivery, { ...context, body: body ?? cache.body(webhook) })
    : // The render thread parses the text itself: cheaper for this thread than a structured copy of `body`.
      await renderMappingDetailed(mapping, { ...context, body, bodyText: webhook.body });
  if (rendered.kind === "skipped") return { kind: "skipped", reason: rendered.reason };
  if (rendered.kind === "error") {
    // An event without a customer is explained by the order look-up when that failed.
    if (lookupProblem) {
      return {
        kind: "failed",
        errorKind: "terminal",
        reason: `${rendered.reason} ${capitalized(entry.orderNoun)} could not be read: ${lookupProblem.reason}`,
      };
    }
    // A full render queue or a render thread that died says nothing about the mapping: try again later.
    return { kind: "failed", errorKind: rendered.retryable ? "retryable" : "terminal", reason: rendered.reason };
  }

  // The related order's name when there is one, else the body's own (as the render thread read it).
  const orderName = order !== null ? nameOf(order) : bodyName;
  return ready(cache, delivery, shop.keyCipher, rendered.event, orderName);
}

/** A mapping none of whose templates can run away, on this thread (decision 024). */
function renderHere(config: Resolved, mapping: MappingDefinition, delivery: DeliveryRow, input: RenderContextInput & { body: JsonValue }) {
  const detail = renderInline(mapping, input);
  if (detail.demoted === true && detail.slowMs !== undefined) {
    config.logger.warn(
      { mappingId: delivery.mappingId, shop: delivery.shop, ms: Math.round(detail.slowMs) },
      "a mapping rendered slowly on the worker's thread again: it renders on the render threads from now on",
    );
  }
  return detail;
}

/**
 * The delivery's webhook with its body: read now when the claim left it unread for an event rendered ahead
 * (decision 054) that could not be used, the mapping having changed since. A webhook stays while a delivery of it
 * is pending (retention keeps both), so a missing one is the database's fault: the attempt fails and is retried.
 */
async function withBody(config: Resolved, delivery: DeliveryRow): Promise<{ id: string; body: string }> {
  const { webhook } = delivery;
  if (webhook.body !== null) return { id: webhook.id, body: webhook.body };
  const row = await config.prisma.webhook.findUnique({ where: { id: webhook.id }, select: { body: true } });
  if (row === null) throw new Error(`The webhook ${webhook.id} of delivery ${delivery.id} is no longer recorded.`);
  webhook.body = row.body;
  return { id: webhook.id, body: row.body };
}

/** The event ready to send with the shop's key, or why the key cannot be read. */
function ready(cache: PassCache, delivery: DeliveryRow, keyCipher: string, event: Omit<CustomEventInput, "externalEventId" | "occurredAt">, orderName: string | null): Prepared {
  let apiKey: string;
  try {
    apiKey = cache.apiKey(keyCipher);
  } catch (error) {
    return { kind: "failed", errorKind: "terminal", reason: `The stored Attentive API key cannot be read: ${errorText(error)}` };
  }
  const input: CustomEventInput = {
    type: event.type,
    properties: event.properties,
    externalEventId: delivery.externalEventId,
    occurredAt: (delivery.occurredAt ?? delivery.createdAt).toISOString(),
    user: event.user,
  };
  // Lower-cased for the log search only; Attentive gets the address as given.
  return { input, apiKey, orderName, email: event.user.email?.toLowerCase() ?? null };
}

/**
 * A Flow action run: the merchant wrote the event in Flow, so there is no mapping to render. The recorded request is
 * read with the same function that accepted it (app/flow/action.ts), so what is sent is what was checked.
 */
function prepareFlowAction(cache: PassCache, delivery: DeliveryRow, webhook: { id: string; body: string }, shop: ShopState): Prepared {
  if (!shop.keyCipher) return NO_KEY;
  const parsed = parseFlowAction(cache.body(webhook));
  // Checked before it was recorded: only a request recorded by another version of the app can fail here.
  if (!parsed.ok) return { kind: "failed", errorKind: "terminal", reason: parsed.reason };
  return ready(cache, delivery, shop.keyCipher, parsed.event, null);
}

const NO_KEY: Prepared = {
  kind: "failed",
  errorKind: "terminal",
  reason: "No Attentive API key is connected for this shop: connect one in Settings, then retry this delivery.",
};

function nameOf(value: JsonValue): string | null {
  return isJsonObject(value) && typeof value.name === "string" ? value.name : null;
}

function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
