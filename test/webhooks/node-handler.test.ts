/**
 * POST /webhooks/commerce as production serves it (app/serve.ts hands it to
 * handleCommerceWebhook), over real HTTP: the same answers as the Remix route, a body
 * over the limit refused without being buffered, and a webhook stored before its 200.
 */
import { createHmac } from "node:crypto";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { db } from "~/db.server";
import { ensureShop } from "~/models/Shop.server";
import { DEFAULT_MAX_WEBHOOK_BYTES } from "~/webhooks/receive.server";
import { handleCommerceWebhook } from "~/webhooks/route.server";
import { fixtureText, TEST_SECRET, TEST_SHOP, webhookHeaders } from "../support/webhooks";

let server: Server;
let port: number;

beforeAll(async () => {
  await ensureShop(db(), TEST_SHOP);
  server = createServer(handleCommerceWebhook);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

/** Posts headers, then the body in chunks, until the server answers (a declared length only if given). */
function post(headers: Record<string, string>, chunks: Iterable<Buffer>): Promise<{ status: number; text: string; sent: number }> {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered = false;
    const req = request({ host: "127.0.0.1", port, method: "POST", path: "/webhooks/commerce", headers }, (res) => {
      answered = true;
      let text = "";
      res.on("data", (chunk: Buffer) => (text += chunk.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text, sent }));
    });
    // The server may answer 413 and close while we still write.
    req.on("error", (error) => (answered ? undefined : reject(error)));
    const iterator = chunks[Symbol.iterator]();
    const writeMore = () => {
      for (let next = iterator.next(); !next.done && !answered; next = iterator.next()) {
        sent += next.value.length;
        if (!req.write(next.value)) {
          req.once("drain", writeMore);
          return;
        }
      }
      if (!answered) req.end();
    };
    writeMore();
  });
}

describe("the production commerce webhook handler", () => {
  const body = fixtureText("orders_fulfilled.json");

  it("stores a signed webhook with its delivery before answering 200", async () => {
    const headers = webhookHeaders({ topic: "orders/fulfilled", body });
    const answer = await post({ ...headers, "content-length": String(Buffer.byteLength(body)) }, [Buffer.from(body)]);
    expect(answer.status).toBe(200);
    const webhook = await db().webhook.findFirstOrThrow({ where: { webhookId: headers["x-shopify-webhook-id"] }, include: { deliveries: true } });
    expect(webhook.body).toBe(body);
    expect(webhook.deliveries.length).toBeGreaterThan(0);
  });

  it("stores the text its bytes decode to, multi-byte characters and bytes that are not UTF-8 alike", async () => {
    // The row keeps the request's bytes while the write waits and the writer thread decodes them (IngestRow.body):
    // the stored text must be what the route parsed, split characters and stray bytes included. Orders of their
    // own: another webhook of the first test's order would be a duplicate, not stored again.
    const order = (id: number) =>
      body
        .replace(/"id":\s*\d+/, `"id": ${id}`)
        .replace(/"gid:\/\/shopify\/Order\/\d+"/, `"gid://shopify/Order/${id}"`)
        .replace(/"note":\s*(null|"[^"]*")/, '"note": "Zoë 🚚 ça va — 配達"');
    const text = order(7_100_001);
    expect(text).toContain("配達");
    const [before, after] = order(7_100_002).split("配達") as [string, string];
    const bytes = Buffer.concat([Buffer.from(before), Buffer.from([0xff, 0xfe]), Buffer.from(after)]);
    const stray = bytes.toString("utf8");
    expect(stray).toContain("🚚 ça va — \uFFFD\uFFFD");
    for (const [sent, stored] of [
      [Buffer.from(text), text],
      [bytes, stray],
    ] as const) {
      const headers = webhookHeaders({ topic: "orders/fulfilled", body: "", hmac: createHmac("sha256", TEST_SECRET).update(sent).digest("base64") });
      // In two pieces that cut a multi-byte character in two.
      const cut = sent.indexOf(Buffer.from("🚚")) + 1;
      const answer = await post({ ...headers, "content-length": String(sent.length) }, [sent.subarray(0, cut), sent.subarray(cut)]);
      expect(answer.status, answer.text).toBe(200);
      const webhook = await db().webhook.findFirstOrThrow({ where: { webhookId: headers["x-shopify-webhook-id"] } });
      expect(webhook.body).toBe(stored);
    }
  });

  it("answers 401 to a wrong HMAC and 400 to a missing header, storing nothing", async () => {
    const before = await db().webhook.count();
    const forged = webhookHeaders({ topic: "orders/fulfilled", body, secret: "not-the-app-secret" });
    expect((await post(forged, [Buffer.from(body)])).status).toBe(401);
    const headless = webhookHeaders({ topic: "orders/fulfilled", body, omitHeaders: ["x-shopify-shop-domain"] });
    expect((await post(headless, [Buffer.from(body)])).status).toBe(400);
    expect(await db().webhook.count()).toBe(before);
  });

  it("answers 413 to a streamed body over the limit, and to a declared length over it", async () => {
    const headers = webhookHeaders({ topic: "orders/fulfilled", body });
    const chunk = Buffer.alloc(256 * 1024, 0x20);
    const streamed = (function* () {
      for (let i = 0; i < (DEFAULT_MAX_WEBHOOK_BYTES / chunk.length) * 4; i++) yield chunk;
    })();
    const answer = await post(headers, streamed);
    expect(answer.status).toBe(413);
    // Refused while the body was still coming: it was not read to the end first.
    expect(answer.sent).toBeLessThan(DEFAULT_MAX_WEBHOOK_BYTES * 4);
    const declared = await post({ ...headers, "content-length": String(DEFAULT_MAX_WEBHOOK_BYTES + 1) }, []);
    expect(declared.status).toBe(413);
  });
});
