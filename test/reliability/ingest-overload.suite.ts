/**
 * Decision 034 on the production server (`npm start`): when the database stops keeping up, the process holds at
 * most INGEST_MAX_WAITING webhooks. Another connection holds SQLite's write lock (as a backup or the operator CLI
 * can), with SQLITE_LOCK_WAIT_MS long, so the order of events is fixed by the lock, not by timing:
 * - while it is held, the first INGEST_MAX_WAITING webhooks wait and every later one is answered 503 at once,
 *   with a Retry-After, and one log line says why; the server still answers its health check;
 * - once it is released, the waiting ones are answered 200 and recorded;
 * - the refused ones, sent again as Shopify would, are recorded too, and every event reaches Attentive once.
 * SQLite only: the bound sits in front of both stores (app/webhooks/receive.server.ts), and a held PostgreSQL
 * answers 503 by itself after the driver's 4 s query timeout, so a hold there would race that timeout.
 */
import Sqlite from "better-sqlite3";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OVERLOADED } from "~/webhooks/receive.server";
import { startAttentiveStandIn, type AttentiveStandIn } from "../stand-ins/attentive";
import { loadOrderId, orderBody } from "../support/load";
import { webhookHeaders } from "../support/webhooks";
import { SETUP_TIMEOUT_MS, startProductionServer, type ProductionServer, type WebhookAnswer } from "./production-server";

const SHOP = "overload-test.myshopify.com";
const KEY = "overload-test-key-0001";
const MAX_WAITING = 6;
const REFUSED = 10;

let standIn: AttentiveStandIn;
let app: ProductionServer | undefined;

beforeAll(async () => {
  standIn = await startAttentiveStandIn({ apiKeys: [KEY] });
  app = await startProductionServer({
    attentiveUrl: standIn.graphqlUrl,
    logLevel: "warn",
    env: {
      INGEST_MAX_WAITING: String(MAX_WAITING),
      // The held lock, not this wait, decides when the waiting webhooks are written.
      SQLITE_LOCK_WAIT_MS: "600000",
    },
  });
  await app.connectShop(SHOP, KEY);
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await app?.stop();
  await standIn?.close();
});

/** Holds SQLite's write lock, as another process's transaction would, until `release`. */
function holdWriteLock(server: ProductionServer): { release(): void } {
  const sqlite = new Sqlite((server.env.DATABASE_URL ?? "").replace(/^file:/, ""), { fileMustExist: true });
  sqlite.pragma("busy_timeout = 60000");
  // Every write of the app's writer thread comes back busy until the transaction ends.
  sqlite.exec("BEGIN IMMEDIATE");
  return {
    release() {
      sqlite.exec("ROLLBACK");
      sqlite.close();
    },
  };
}

describe.runIf(process.env.TEST_DATABASE !== "postgresql")("more webhooks than the process holds while SQLite is locked", () => {
  it("answers the excess 503 at once, records the waiting ones after, and loses nothing once Shopify retries", async () => {
    const server = app!;
    // Shopify retries with the original payload: each webhook's body is made once.
    const bodies = new Map<number, string>();
    const bodyOf = (index: number) => bodies.get(index) ?? bodies.set(index, orderBody(loadOrderId(index))).get(index)!;
    const post = (index: number, webhookId: string) =>
      server.postWebhook({ topic: "orders/fulfilled", shop: SHOP, body: bodyOf(index), webhookId, eventId: webhookId });

    // The shop's first webhook creates it with its default mappings (through Prisma): before the hold.
    const first = await post(0, randomUUID());
    expect(first.status).toBe(200);
    // Its outcome committed too, so no write of the worker's is caught by the hold and the event sent twice.
    await server.waitFor("the first event to be delivered", async () => (await server.sql.count(`SELECT COUNT(*) FROM "Delivery" WHERE "status" = 'delivered'`)) === 1);

    const total = MAX_WAITING + REFUSED;
    const ids = Array.from({ length: total }, () => randomUUID());
    const hold = holdWriteLock(server);
    const answers: Array<WebhookAnswer | undefined> = new Array(total);
    let released = false;
    let refusedSeen = 0;
    let allRefusedSeen!: () => void;
    const refusedArrived = new Promise<void>((resolve) => (allRefusedSeen = resolve));
    const sent = ids.map((id, i) =>
      post(1 + i, id).then((answer) => {
        answers[i] = answer;
        if (!released && answer.status === 503) {
          refusedSeen++;
          if (refusedSeen === REFUSED) allRefusedSeen();
        }
        return answer;
      }),
    );
    try {
      // The bound is a safety net: refusals come at once, and without the limit none would come while the lock is held.
      let giveUp: NodeJS.Timeout | undefined;
      const stalled = new Promise<never>((_, reject) => {
        giveUp = setTimeout(() => reject(new Error(`only ${refusedSeen} of ${REFUSED} webhooks were refused within 60 s while ${total} waited`)), 60_000);
      });
      await server.whileAlive(Promise.race([refusedArrived, stalled])).finally(() => clearTimeout(giveUp));
      // While the hold lasts nothing can have been written: whatever has an answer was refused.
      const answered = answers.filter((answer): answer is WebhookAnswer => answer !== undefined);
      expect(answered).toHaveLength(REFUSED);
      for (const answer of answered) expect(answer).toMatchObject({ status: 503, body: OVERLOADED.body });
      expect(await server.sql.count(`SELECT COUNT(*) FROM "Webhook"`)).toBe(1);
      // The event loop is free: the refusals were immediate and the health check answers.
      const health = await fetch(`${server.origin}/healthz`, { signal: AbortSignal.timeout(30_000) });
      expect(health.status).toBe(200);
      // A refusal carries Retry-After (asked here directly, a new webhook, while the others still wait).
      const extraBody = orderBody(loadOrderId(999));
      const extra = await fetch(`${server.origin}/webhooks/commerce`, {
        method: "POST",
        headers: webhookHeaders({ topic: "orders/fulfilled", shop: SHOP, body: extraBody, webhookId: randomUUID() }),
        body: extraBody,
        signal: AbortSignal.timeout(30_000),
      });
      expect(extra.status).toBe(503);
      expect(extra.headers.get("retry-after")).toBe("5");
      await extra.text();
    } finally {
      released = true;
      hold.release();
    }

    const all = await server.whileAlive(Promise.all(sent));
    const refusedIndexes = all.flatMap((answer, i) => (answer.status === 503 ? [i] : []));
    const recordedIndexes = all.flatMap((answer, i) => (answer.status === 200 ? [i] : []));
    expect(refusedIndexes).toHaveLength(REFUSED);
    expect(recordedIndexes).toHaveLength(MAX_WAITING);
    expect(await server.sql.count(`SELECT COUNT(*) FROM "Webhook"`)).toBe(1 + MAX_WAITING);

    // One line, not one per refusal, says what happened and what the limits are.
    const lines = server.output().split("\n").filter((line) => line.includes("webhooks answered 503"));
    expect(lines.length).toBeGreaterThanOrEqual(1);
    expect(lines[0]).toContain(`"maxWaiting":${MAX_WAITING}`);
    expect(lines.length).toBeLessThan(REFUSED);

    // Shopify sends the refused ones again with the same ids: each is recorded now.
    for (const i of refusedIndexes) expect((await post(1 + i, ids[i]!)).status).toBe(200);
    expect(await server.sql.count(`SELECT COUNT(*) FROM "Webhook"`)).toBe(1 + total);

    // Every event once at Attentive: the first, the waiting ones and the retried ones (the extra one was refused and
    // never sent again, as a webhook Shopify had not yet retried).
    await server.waitFor("every recorded event to reach Attentive", async () => standIn.received.length >= 1 + total, 120_000);
    expect(new Set(standIn.received.map((event) => event.input.externalEventId)).size).toBe(1 + total);
    expect(standIn.received).toHaveLength(1 + total);
    expect(await server.sql.count(`SELECT COUNT(*) FROM "Webhook" WHERE "orderId" = $1`, loadOrderId(999))).toBe(0);
  });
});

describe("the bound's settings", () => {
  it("a bad INGEST_MAX_WAITING stops `npm start` at start, saying what to set", async () => {
    await expect(startProductionServer({ attentiveUrl: standIn.graphqlUrl, env: { INGEST_MAX_WAITING: "0" } })).rejects.toThrow(
      /INGEST_MAX_WAITING must be a whole number of at least 1 .*not "0": leave it unset for 500/,
    );
  }, SETUP_TIMEOUT_MS);
});
