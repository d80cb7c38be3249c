/**
 * Issue 8, "Also" items about what Attentive answers: absurd or malformed rate-limit headers, and errors
 * that echo the API key. On the production server:
 * - 429 with `Retry-After` 99999999999, 10^20, "1e20", -1 or garbage: the delivery's next attempt stays a
 *   valid date within a week (so the shop's pause, which follows the same value, is not years either), and
 *   no log line or stored error carries the customer's email or an Invalid Date.
 * - `x-ratelimit-limit` 1000000000 or garbage on successful answers: every event is still sent, promptly.
 * - GraphQL errors and HTTP error bodies echoing the key raw, base64, URL-encoded and JSON \u-escaped,
 *   with the customer's email and phone: none of it in the process's output or the database's text, and
 *   stored answers stay short.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keyEchoingAnswer, startAttentiveStandIn, unicodeEscaped, type AttentiveStandIn } from "../stand-ins/attentive";
import { loadOrderId, orderBody, reportFigures } from "../support/load";
import { storedTime, SETUP_TIMEOUT_MS, startProductionServer, type ProductionServer } from "./production-server";

/** Characters that change under base64 and URL encoding, all valid in a header. */
const ECHO_KEY = "att+Key/9Zq=s3cret~Tx7";
const CUSTOMER_EMAIL = "jon@example.com"; // the order fixture's
const CUSTOMER_PHONE = "+13115552368";
/** 10^20 written out is what a date cannot hold (the "1e20"); the literal "1e20" is a malformed value. */
const ABSURD_RETRY_AFTER = ["99999999999", "100000000000000000000", "1e20", "-1", "soon, maybe"];
const RATE_SHOPS = ABSURD_RETRY_AFTER.map((_, i) => `retry-after-${i}.myshopify.com`);
const RATE_KEYS = ABSURD_RETRY_AFTER.map((_, i) => `retry-after-key-${i}`);
const PACING_SHOP = "pacing-test.myshopify.com";
const PACING_KEY = "pacing-test-key-0001";
const ECHO_SHOP = "echo-test.myshopify.com";
/** Generous on purpose (the clamp is the fix's to choose and document): the break was the year 5195. */
const WEEK_MS = 7 * 24 * 60 * 60_000;
/** Generous: an error text is a paragraph, a stored answer a few kB. */
const STORED_TEXT_BOUND = 16 * 1024;

let standIn: AttentiveStandIn;
let app: ProductionServer | undefined;

beforeAll(async () => {
  standIn = await startAttentiveStandIn({ apiKeys: [...RATE_KEYS, PACING_KEY, ECHO_KEY] });
  app = await startProductionServer({ attentiveUrl: standIn.graphqlUrl, logLevel: "debug" });
  await Promise.all([
    ...RATE_SHOPS.map((shop, i) => app!.connectShop(shop, RATE_KEYS[i]!)),
    app.connectShop(PACING_SHOP, PACING_KEY),
    app.connectShop(ECHO_SHOP, ECHO_KEY),
  ]);
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await app?.stop();
  await standIn?.close();
});

async function deliveryOf(server: ProductionServer, orderId: string) {
  const [row] = await server.sql.all<{ id: string; status: string; attempts: number; nextAttemptAt: unknown; lastError: string | null }>(
    `SELECT d."id", d."status", d."attempts", d."nextAttemptAt", d."lastError" FROM "Delivery" d JOIN "Webhook" w ON w."id" = d."webhookRecordId" WHERE w."body" LIKE $1`,
    `%${orderId}%`,
  );
  return row;
}

describe("absurd Retry-After on a 429", () => {
  it.each(ABSURD_RETRY_AFTER.map((value, i) => ({ value, i })))("Retry-After: $value keeps times sane and the shop sending", async ({ value, i }) => {
    const server = app!;
    const shop = RATE_SHOPS[i]!;
    const outputBefore = server.output().length;
    const requestsBefore = standIn.requests;
    standIn.injectFaults({ kind: "rate-limited", retryAfter: value });
    const orderId = loadOrderId(50_000 + i);
    expect((await server.postWebhook({ topic: "orders/fulfilled", shop, body: orderBody(orderId) })).status).toBe(200);
    await server.whileAlive(standIn.waitForRequests(requestsBefore + 1));
    await server.waitFor(
      "the 429 to be recorded",
      async () => (await server.sql.count(`SELECT COUNT(*) FROM "DeliveryAttempt" a JOIN "Delivery" d ON d."id" = a."deliveryId" WHERE d."shop" = $1`, shop)) > 0,
      30_000,
    );
    const row = (await deliveryOf(server, orderId))!;
    const next = storedTime(row.nextAttemptAt);
    expect(Number.isNaN(next), `nextAttemptAt ${String(row.nextAttemptAt)}`).toBe(false);
    expect(next - Date.now(), `nextAttemptAt ${String(row.nextAttemptAt)}`).toBeLessThan(WEEK_MS);
    expect(row.lastError ?? "").not.toMatch(/invalid date/i);
    expect(row.lastError ?? "").not.toContain(CUSTOMER_EMAIL);
    const logs = server.output().slice(outputBefore);
    expect(logs).not.toContain(CUSTOMER_EMAIL);
    expect(logs).not.toMatch(/invalid date|Invalid time value/i);
    expect(await server.sql.count(`SELECT COUNT(*) FROM "Shop" WHERE "domain" = $1 AND "sendingPaused" = $2`, shop, server.provider === "sqlite" ? 1 : true)).toBe(0);
  });
});

describe("absurd x-ratelimit-* on successful answers", () => {
  it("x-ratelimit-limit 1000000000 or garbage: every event is still sent promptly", async () => {
    const server = app!;
    const count = 30;
    const headers = [
      { "x-ratelimit-limit": "1000000000", "x-ratelimit-remaining": "999999999" },
      { "x-ratelimit-limit": "garbage", "x-ratelimit-remaining": "-5" },
    ];
    const requestsBefore = standIn.requests;
    standIn.setFaultPlan((n) => (n > requestsBefore ? { kind: "ok-with-headers", headers: headers[n % 2]! } : undefined));
    const started = Date.now();
    try {
      await Promise.all(
        Array.from({ length: count }, async (_, i) => {
          const answer = await server.postWebhook({ topic: "orders/fulfilled", shop: PACING_SHOP, body: orderBody(loadOrderId(60_000 + i)) });
          expect(answer.status).toBe(200);
        }),
      );
      await server.waitFor(
        "every paced event to be delivered",
        async () => (await server.sql.count(`SELECT COUNT(*) FROM "Delivery" WHERE "shop" = $1 AND "status" = 'delivered'`, PACING_SHOP)) === count,
        30_000,
      );
    } finally {
      standIn.setFaultPlan(null);
    }
    const ms = Date.now() - started;
    reportFigures("prod-absurd-ratelimit", { events: count, allDeliveredMs: ms });
    expect(ms).toBeLessThan(15_000);
  });
});

describe("errors that echo the key", () => {
  const forms = {
    raw: ECHO_KEY,
    base64: Buffer.from(ECHO_KEY).toString("base64"),
    urlEncoded: encodeURIComponent(ECHO_KEY),
    unicodeEscaped: unicodeEscaped(ECHO_KEY),
    unicodeEscapedUpper: unicodeEscaped(ECHO_KEY).replace(/\\u([0-9a-f]{4})/g, (_, hex: string) => `\\u${hex.toUpperCase()}`),
  };

  it("keeps the key in every encoding, the email and the phone out of logs and stored text", async () => {
    const server = app!;
    const body = keyEchoingAnswer(ECHO_KEY, CUSTOMER_EMAIL, CUSTOMER_PHONE);
    // Each fault is for this shop's key: a retry of another shop's delivery in flight must not take one (it would
    // store the echo redacted with its own key, not this one, and the test would blame the app).
    const faults = [
      { kind: "status" as const, status: 200, body, forKey: ECHO_KEY },
      { kind: "status" as const, status: 400, body, forKey: ECHO_KEY },
      { kind: "status" as const, status: 500, body, forKey: ECHO_KEY },
      { kind: "status" as const, status: 200, body: keyEchoingAnswer(ECHO_KEY, CUSTOMER_EMAIL, CUSTOMER_PHONE, "INTERNAL_SERVER_ERROR"), forKey: ECHO_KEY },
    ];
    const requestsBefore = standIn.requests;
    standIn.injectFaults(...faults);
    for (const [i] of faults.entries()) {
      expect((await server.postWebhook({ topic: "orders/fulfilled", shop: ECHO_SHOP, body: orderBody(loadOrderId(70_000 + i)) })).status).toBe(200);
    }
    await server.whileAlive(standIn.waitForRequests(requestsBefore + faults.length));
    await server.waitFor(
      "an attempt recorded for each echoing answer",
      async () =>
        (await server.sql.count(`SELECT COUNT(*) FROM "DeliveryAttempt" a JOIN "Delivery" d ON d."id" = a."deliveryId" WHERE d."shop" = $1`, ECHO_SHOP)) >=
        faults.length,
      30_000,
    );

    const output = server.output();
    const inLogs = Object.entries(forms).filter(([, form]) => output.includes(form)).map(([name]) => name);
    expect(inLogs, "key encodings in the process's output").toEqual([]);
    expect(output.includes(CUSTOMER_EMAIL), "customer email in the process's output").toBe(false);
    expect(output.includes(CUSTOMER_PHONE), "customer phone in the process's output").toBe(false);

    // Every text column of every table except the key's ciphertext: no form of the key anywhere.
    const texts = await allStoredText(server);
    const inDb = texts.flatMap(({ where, text }) =>
      Object.entries(forms)
        .filter(([, form]) => text.includes(form))
        .map(([name]) => `${where}: ${name}`),
    );
    expect(inDb, "key encodings stored in the database").toEqual([]);

    // What the app wrote about Attentive's answers: no email or phone, and short.
    const errors = await server.sql.all<{ text: string | null }>(
      `SELECT "lastError" AS "text" FROM "Delivery" WHERE "shop" = $1
       UNION ALL SELECT "response" FROM "Delivery" WHERE "shop" = $2
       UNION ALL SELECT a."error" FROM "DeliveryAttempt" a JOIN "Delivery" d ON d."id" = a."deliveryId" WHERE d."shop" = $3
       UNION ALL SELECT a."response" FROM "DeliveryAttempt" a JOIN "Delivery" d ON d."id" = a."deliveryId" WHERE d."shop" = $4`,
      ECHO_SHOP,
      ECHO_SHOP,
      ECHO_SHOP,
      ECHO_SHOP,
    );
    const stored = errors.map((row) => row.text ?? "");
    expect(stored.filter((text) => text.includes(CUSTOMER_EMAIL) || text.includes(CUSTOMER_PHONE)), "email or phone in stored errors").toEqual([]);
    expect(Math.max(...stored.map((text) => Buffer.byteLength(text)))).toBeLessThanOrEqual(STORED_TEXT_BOUND);
  });
});

/** Every text value in the app's tables, with where it was found; the key's ciphertext column is left out. */
async function allStoredText(server: ProductionServer): Promise<Array<{ where: string; text: string }>> {
  const tables = ["Shop", "Mapping", "Webhook", "Delivery", "DeliveryAttempt", "Session"];
  const found: Array<{ where: string; text: string }> = [];
  for (const table of tables) {
    const rows = await server.sql.all(`SELECT * FROM "${table}"`);
    for (const row of rows) {
      for (const [column, value] of Object.entries(row)) {
        if (column === "attentiveKeyCipher" || typeof value !== "string") continue;
        found.push({ where: `${table}.${column}`, text: value });
      }
    }
  }
  return found;
}
