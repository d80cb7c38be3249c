/**
 * Issue 8, breaks 4 and 5 and the "Also" items about the HTTP side, on the production server:
 * - a captured order body re-posted to /webhooks/commerce with another topic (shop/redact, app/uninstalled,
 *   customers/redact) is refused with a 4xx and erases nothing;
 * - an X-Shopify-Shop-Domain that is not one *.myshopify.com name is refused and creates no shop;
 * - customers/redact naming 5,000 orders is answered 200 and erases the customer's orders;
 * - a body over the limit gets its 413 (or a reset that destroys it) and the connection is closed early
 *   (not 200 MB read);
 * - a body sent one byte at a time is cut by the server's request timeout (bound: RELIABILITY_SLOW_BODY_BOUND_MS,
 *   default 90 s: Node checks requestTimeout every 30 s, so a 30-60 s timeout may take that long to fire;
 *   today Node's default holds it 5 minutes);
 * - GET on a webhook route is a 405 and logs no error; GET /auth/login is not a 500.
 */
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAttentiveStandIn, type AttentiveStandIn } from "../stand-ins/attentive";
import { loadOrderId, orderBody, reportFigures } from "../support/load";
import { envInteger } from "../support/seeded-random";
import { fixtureText, webhookHeaders } from "../support/webhooks";
import { rawRequest, SETUP_TIMEOUT_MS, startProductionServer, type ProductionServer } from "./production-server";

const SHOP = "routes-test.myshopify.com";
const KEY = "routes-test-key-0001";
const SLOW_BODY_BOUND_MS = envInteger("RELIABILITY_SLOW_BODY_BOUND_MS", 90_000);
const OVERSIZED_BYTES = 200 * 1024 * 1024;
const READ_BOUND_BYTES = 32 * 1024 * 1024;

let standIn: AttentiveStandIn;
let app: ProductionServer | undefined;
let slowBody: Promise<SlowBodyResult> | undefined;

interface SlowBodyResult {
  closedAfterMs: number | null;
  status: string | null;
  bytesSent: number;
}

beforeAll(async () => {
  standIn = await startAttentiveStandIn({ apiKeys: [KEY] });
  app = await startProductionServer({ attentiveUrl: standIn.graphqlUrl });
  await app.connectShop(SHOP, KEY);
  // Runs beside the other tests; the last test collects it.
  slowBody = sendSlowBody(app.origin);
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await app?.stop();
  await standIn?.close();
});

function rawHead(origin: string, path: string, headers: Record<string, string>): string {
  const url = new URL(origin);
  const lines = [`POST ${path} HTTP/1.1`, `Host: ${url.host}`, ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`)];
  return `${lines.join("\r\n")}\r\n\r\n`;
}

/** A signed webhook whose body trickles in one byte a second; resolves when the server closes the connection. */
function sendSlowBody(origin: string): Promise<SlowBodyResult> {
  const body = orderBody(loadOrderId(90_000));
  const headers = { ...webhookHeaders({ topic: "orders/fulfilled", shop: SHOP, body }), "content-length": String(Buffer.byteLength(body)) };
  const url = new URL(origin);
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect(Number(url.port), url.hostname);
    let sent = 0;
    let answer = "";
    let settled = false;
    const finish = (closedAfterMs: number | null) => {
      if (settled) return;
      settled = true;
      clearInterval(trickle);
      clearTimeout(safety);
      socket.destroy();
      resolve({ closedAfterMs, status: /^HTTP\/1\.1 (\d+)/.exec(answer)?.[1] ?? null, bytesSent: sent });
    };
    const trickle = setInterval(() => {
      if (sent < body.length && socket.writable) socket.write(body[sent++]!);
    }, 1_000);
    const safety = setTimeout(() => finish(null), SLOW_BODY_BOUND_MS);
    socket.on("data", (chunk: Buffer) => (answer += chunk.toString()));
    socket.on("close", () => finish(Date.now() - started));
    socket.on("error", () => finish(Date.now() - started));
    socket.write(rawHead(origin, "/webhooks/commerce", headers));
  });
}

/** Streams `total` bytes as fast as the server takes them; stops when it answers and closes. */
function sendOversized(origin: string, declareLength: boolean): Promise<{ bytesSent: number; status: string | null; closed: boolean }> {
  const url = new URL(origin);
  const body = "x".repeat(64 * 1024);
  const signed = webhookHeaders({ topic: "orders/fulfilled", shop: SHOP, body: "{}" });
  const headers: Record<string, string> = { ...signed, ...(declareLength ? { "content-length": String(OVERSIZED_BYTES) } : { "transfer-encoding": "chunked" }) };
  return new Promise((resolve) => {
    const socket = connect(Number(url.port), url.hostname);
    let sent = 0;
    let answer = "";
    let closed = false;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(safety);
      socket.destroy();
      resolve({ bytesSent: sent, status: /^HTTP\/1\.1 (\d+)/.exec(answer)?.[1] ?? null, closed });
    };
    // A safety net only: once everything is written, a server that keeps the connection is given 5 s to close it.
    let safety: NodeJS.Timeout = setTimeout(finish, 120_000);
    socket.on("data", (chunk: Buffer) => (answer += chunk.toString()));
    socket.on("close", () => {
      closed = true;
      finish();
    });
    socket.on("error", () => {
      closed = true;
      finish();
    });
    const pump = () => {
      while (!socket.destroyed && sent < OVERSIZED_BYTES) {
        const piece = declareLength ? body : `${body.length.toString(16)}\r\n${body}\r\n`;
        sent += body.length;
        if (!socket.write(piece)) {
          socket.once("drain", pump);
          return;
        }
      }
      if (!socket.destroyed) {
        if (!declareLength) socket.write("0\r\n\r\n");
        clearTimeout(safety);
        safety = setTimeout(finish, 5_000);
      }
    };
    socket.write(rawHead(origin, "/webhooks/commerce", headers));
    pump();
  });
}

async function counts(server: ProductionServer) {
  return {
    shops: await server.sql.count(`SELECT COUNT(*) FROM "Shop"`),
    webhooks: await server.sql.count(`SELECT COUNT(*) FROM "Webhook"`),
    deliveries: await server.sql.count(`SELECT COUNT(*) FROM "Delivery"`),
    mappings: await server.sql.count(`SELECT COUNT(*) FROM "Mapping"`),
    uninstalled: await server.sql.count(`SELECT COUNT(*) FROM "Shop" WHERE "uninstalledAt" IS NOT NULL`),
    redacted: await server.sql.count(`SELECT COUNT(*) FROM "Webhook" WHERE "body" LIKE '%redacted%'`),
  };
}

describe("topic and shop checked against the route", () => {
  it.each(["shop/redact", "app/uninstalled", "customers/redact"])(
    "an order body re-posted to /webhooks/commerce as %s is refused and erases nothing",
    async (topic) => {
      const server = app!;
      const body = orderBody(loadOrderId(91_000));
      const first = await server.postWebhook({ topic: "orders/fulfilled", shop: SHOP, body });
      expect(first.status).toBe(200);
      const before = await counts(server);
      const replay = await server.postWebhook({ topic, shop: SHOP, body }, "/webhooks/commerce");
      expect(replay.status, replay.body).toBeGreaterThanOrEqual(400);
      expect(replay.status).toBeLessThan(500);
      expect(await counts(server)).toEqual(before);
    },
  );

  it.each([
    ["two domains", "a-shop.myshopify.com,b-shop.myshopify.com"],
    ["a path", "evil.myshopify.com/admin/../x"],
    ["5,000 characters", `${"x".repeat(5_000)}.myshopify.com`],
    ["another domain", "shop.example.com"],
    ["upper case and a port", "Routes-Test.myshopify.com:443"],
  ])("X-Shopify-Shop-Domain with %s is refused and creates no shop", async (_, domain) => {
    const server = app!;
    const before = await counts(server);
    const answer = await server.postWebhook({ topic: "orders/fulfilled", shop: domain, body: orderBody(loadOrderId(92_000)) });
    expect(answer.status, answer.body).toBeGreaterThanOrEqual(400);
    expect(answer.status).toBeLessThan(500);
    expect(await counts(server)).toEqual(before);
  });
});

describe("compliance", () => {
  it("customers/redact naming 5,000 orders is answered 200 and erases the customer's orders", async () => {
    const server = app!;
    const named = [loadOrderId(93_000), loadOrderId(93_001)];
    for (const orderId of named) {
      expect((await server.postWebhook({ topic: "orders/fulfilled", shop: SHOP, body: orderBody(orderId) })).status).toBe(200);
    }
    const redact = JSON.parse(fixtureText("customers_redact.json")) as Record<string, unknown>;
    redact.shop_domain = SHOP;
    const others = Array.from({ length: 5_000 - named.length }, (_, i) => (1_000_000 + i).toString());
    // Ids are numbers in Shopify's body; ours are beyond 2^53, so they are spliced in as text.
    const text = JSON.stringify({ ...redact, orders_to_redact: ["@@IDS@@"] }).replace('"@@IDS@@"', [...named, ...others].join(","));
    const answer = await server.postWebhook({ topic: "customers/redact", shop: SHOP, body: text });
    reportFigures("prod-customers-redact", { orders: 5_000, status: answer.status, ms: Math.round(answer.ms) });
    expect(answer.status, answer.body).toBe(200);
    for (const orderId of named) {
      const rows = await server.sql.all<{ body: string }>(`SELECT "body" FROM "Webhook" WHERE "orderId" = $1`, orderId);
      expect(rows.length).toBeGreaterThan(0);
      expect(rows.every((row) => !row.body.includes(orderId)), `order ${orderId} still in a stored body`).toBe(true);
    }
  });
});

describe("the HTTP server's limits", () => {
  it.each([true, false])("a body over the limit (length declared: %s) is refused and the connection closed early", async (declareLength) => {
    const server = app!;
    const result = await server.whileAlive(sendOversized(server.origin, declareLength));
    reportFigures(`prod-413-${declareLength ? "declared" : "chunked"}`, { ...result, bytesSentMb: Math.round(result.bytesSent / 1024 / 1024) });
    // A server that closes while our bytes are still arriving resets the connection, and the reset can
    // destroy its 413 before we read it (TCP discards what is unread): a 413 or nothing, never a 2xx.
    expect([null, "413"]).toContain(result.status);
    expect(result.closed, "the server closed the connection").toBe(true);
    expect(result.bytesSent).toBeLessThan(READ_BOUND_BYTES);
  });

  it("GET on the webhook routes is a 405 and logs no error", async () => {
    const server = app!;
    const outputBefore = server.output().length;
    for (const path of ["/webhooks/commerce", "/webhooks/app", "/webhooks/compliance"]) {
      const answer = await rawRequest(server.origin, { method: "GET", path });
      expect(answer.status, `GET ${path}`).toBe(405);
    }
    const logs = server.output().slice(outputBefore);
    expect(logs).not.toMatch(/"level":(50|60)|Error:|\n\s+at /);
  });

  it("GET /auth/login is not a 500", async () => {
    const answer = await rawRequest(app!.origin, { method: "GET", path: "/auth/login" });
    expect(answer.status).toBeLessThan(500);
  });

  it("a body that trickles in is cut by the server's request timeout", async () => {
    const result = await app!.whileAlive(slowBody!);
    reportFigures("prod-slow-body", { ...result, boundMs: SLOW_BODY_BOUND_MS });
    expect(result.closedAfterMs, `the connection was still open after ${SLOW_BODY_BOUND_MS} ms`).not.toBeNull();
    expect(result.closedAfterMs!).toBeLessThan(SLOW_BODY_BOUND_MS);
  });
});
