/**
 * Promise 4: hostile or broken webhooks never crash the route, always get the right status,
 * and anything recorded ends as delivered, skipped or failed with a reason. Property tests
 * (fast-check, fixed seed) over headers and bodies, through the real route action.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { db } from "~/db.server";
import { replaceMappings } from "~/models/Mapping.server";
import { DEFAULT_MAX_WEBHOOK_BYTES } from "~/webhooks/receive.server";
import { loadOrderId, orderBody } from "../support/load";
import { clearDatabase, connectTestShop, drain, postWebhook, usePipeline, workerOptions } from "../support/pipeline";
import { shopifyHmac, signedWebhookRequest, TEST_SHOP, webhookHeaders } from "../support/webhooks";

const pipeline = usePipeline();
const SEED = 4242;
const validOrder = orderBody(loadOrderId(1));

/** Headers Shopify always sends; without one of them the library answers 400. */
const REQUIRED_HEADERS = ["x-shopify-hmac-sha256", "x-shopify-topic", "x-shopify-shop-domain", "x-shopify-api-version", "x-shopify-webhook-id"];
const OPTIONAL_HEADERS = ["x-shopify-event-id", "x-shopify-triggered-at", "content-type"];

async function openDeliveries() {
  return db().delivery.count({ where: { status: { in: ["pending", "sending"] } } });
}

describe("headers", () => {
  it("answers 400 without a required header, 401 with a wrong HMAC, 200 otherwise; records only the last", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.subarray([...REQUIRED_HEADERS, ...OPTIONAL_HEADERS]),
        fc.constantFrom("right", "wrong-secret", "garbage", "empty"),
        async (omitted, hmacKind) => {
          await clearDatabase();
          await connectTestShop();
          const hmac =
            hmacKind === "right"
              ? undefined
              : hmacKind === "wrong-secret"
                ? shopifyHmac(validOrder, "not-the-app-secret")
                : hmacKind === "garbage"
                  ? "%%%not base64\u00e9"
                  : "";
          const request = signedWebhookRequest({ topic: "orders/fulfilled", body: validOrder, omitHeaders: omitted, ...(hmac !== undefined ? { hmac } : {}) });
          const response = await postWebhook(request);
          // The library checks the HMAC before the other headers.
          const noHmac = omitted.includes("x-shopify-hmac-sha256") || hmacKind === "empty";
          const missingOther = omitted.some((name) => REQUIRED_HEADERS.includes(name));
          const expected = noHmac ? 400 : hmacKind !== "right" ? 401 : missingOther ? 400 : 200;
          expect(response.status).toBe(expected);
          expect(await db().webhook.count()).toBe(expected === 200 ? 1 : 0);
        },
      ),
      { seed: SEED, numRuns: 60 },
    );
  });
});

/** JSON values with unicode (astral, combining, NUL, RTL), big numbers and nesting. */
const hostileString = fc.oneof(
  fc.string({ unit: "grapheme" }),
  fc.string({ unit: "binary" }),
  fc.constantFrom("\u0000", "\u202e\u0635\u0648\u0631\u0629", "e\u0301", "\ud83d\ude00", "{{ name }}", "{% raw %}", "'\";--", "a".repeat(10_000)),
);
const hostileJson: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    hostileString,
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(hostileString, tie("value"), { maxKeys: 4 }),
  ),
})).value;

/** Numbers JSON.stringify cannot write: spliced into the text as raw digits. */
const BIG_NUMBER_MARK = "__big_number__";

describe("bodies", () => {
  it("records any signed JSON order body, and every delivery ends with a reason", async () => {
    const topLevelFields = Object.keys(JSON.parse(validOrder) as Record<string, unknown>);
    await fc.assert(
      fc.asyncProperty(
        fc.subarray(topLevelFields),
        fc.dictionary(fc.constantFrom(...topLevelFields, "note", "unicode_field"), hostileJson, { maxKeys: 5 }),
        fc.bigInt({ min: 2n ** 53n, max: 2n ** 64n }),
        // Real bodies are a few levels deep; past MAX_JSON_DEPTH (2,500) the parser refuses (next test).
        fc.integer({ min: 0, max: 2000 }),
        async (removed, replaced, bigNumber, nesting) => {
          await clearDatabase();
          await connectTestShop();
          const body = JSON.parse(validOrder) as Record<string, unknown>;
          for (const field of removed) delete body[field];
          Object.assign(body, replaced);
          body.total_weight = BIG_NUMBER_MARK;
          let nested: unknown = "bottom";
          for (let i = 0; i < nesting; i++) nested = [nested];
          body.note_attributes = nested;
          const text = JSON.stringify(body).replace(`"${BIG_NUMBER_MARK}"`, bigNumber.toString());

          const response = await postWebhook({ topic: "orders/fulfilled", body: text });
          expect(response.status).toBe(200);
          expect(await db().webhook.findFirstOrThrow()).toMatchObject({ body: text });
          await drain(workerOptions(pipeline.standIn));
          expect(await openDeliveries()).toBe(0);
          const deliveries = await db().delivery.findMany();
          for (const delivery of deliveries) {
            expect(["delivered", "skipped", "failed"]).toContain(delivery.status);
            if (delivery.status !== "delivered") expect(delivery.lastError?.length ?? 0).toBeGreaterThan(10);
          }
        },
      ),
      { seed: SEED, numRuns: 40 },
    );
  });

  it("answers 400 to a signed body that is not JSON, and records nothing", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string().filter((text) => !isJson(text)),
          fc.constantFrom("", "{", '{"id": 1,}', "\ufeff{}", "[1, 2", '{"a": "\ud800"', "NaN", "undefined"),
        ),
        async (text) => {
          await clearDatabase();
          const response = await postWebhook({ topic: "orders/fulfilled", body: text });
          expect([400, 401]).toContain(response.status);
          expect(await db().webhook.count()).toBe(0);
        },
      ),
      { seed: SEED, numRuns: 40 },
    );
  });

  it("answers 400 to an authentic body nested 100000 deep, without crashing or recording it", async () => {
    const text = `{"id": 1, "note_attributes": ${"[".repeat(100_000)}1${"]".repeat(100_000)}}`;
    const response = await postWebhook({ topic: "orders/fulfilled", body: text });
    expect(response.status).toBe(400);
    expect(await response.text()).toMatch(/nested too deeply/);
    expect(await db().webhook.count()).toBe(0);
  });

  it("keeps ids beyond 2^53 exact from the webhook to Attentive", async () => {
    const orderId = "18446744073709551615"; // 2^64 - 1
    await replaceMappings(db(), TEST_SHOP, [
      { topic: "orders/fulfilled", eventType: "Order Shipped", enabled: true, properties: { orderId: "{{ id }}", weight: "{{ total_weight }}" } },
    ]);
    const text = orderBody(orderId).replace(/"total_weight":\s*\d+/, '"total_weight": 9007199254740993');
    expect((await postWebhook({ topic: "orders/fulfilled", body: text })).status).toBe(200);
    await drain(workerOptions(pipeline.standIn));
    expect((await db().webhook.findFirstOrThrow()).eventKey).toBe(`gid://shopify/Order/${orderId}`);
    expect(pipeline.standIn.received[0]?.properties).toEqual({ orderId, weight: "9007199254740993" });
  });

  it("fails, with what is missing, a mapping whose identity fields the body lacks", async () => {
    await replaceMappings(db(), TEST_SHOP, [
      { topic: "orders/fulfilled", eventType: "Order Shipped", enabled: true, properties: { n: "{{ name }}" }, user: { email: "{{ customer.email }}", phone: "{{ customer.phone }}" } },
    ]);
    const body = JSON.parse(validOrder) as Record<string, unknown>;
    for (const field of ["email", "contact_email", "phone", "customer", "shipping_address", "billing_address"]) delete body[field];
    expect((await postWebhook({ topic: "orders/fulfilled", body: JSON.stringify(body) })).status).toBe(200);
    await drain(workerOptions(pipeline.standIn));
    const delivery = await db().delivery.findFirstOrThrow();
    expect(delivery).toMatchObject({ status: "failed", errorKind: "terminal" });
    expect(delivery.lastError).toMatch(/email|phone|identif/i);
    expect(pipeline.standIn.received).toHaveLength(0);
  });
});

describe("size", () => {
  function streamedBody(totalBytes: number, chunkBytes: number) {
    let pulled = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulled >= totalBytes) {
          controller.close();
          return;
        }
        const chunk = new Uint8Array(Math.min(chunkBytes, totalBytes - pulled)).fill(0x20);
        pulled += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    return { stream, pulled: () => pulled };
  }

  it("answers 413 to a body of several MB without a length, having read little more than the limit", async () => {
    const total = 50 * 1024 * 1024;
    const chunk = 64 * 1024;
    const { stream, pulled } = streamedBody(total, chunk);
    const headers = webhookHeaders({ topic: "orders/fulfilled", body: "" });
    const init: RequestInit & { duplex: "half" } = { method: "POST", headers, body: stream, duplex: "half" };
    const response = await postWebhook(new Request("https://app.example.test/webhooks/commerce", init));
    expect(response.status).toBe(413);
    expect(pulled()).toBeLessThanOrEqual(DEFAULT_MAX_WEBHOOK_BYTES + 2 * chunk);
    expect(await db().webhook.count()).toBe(0);
  });

  it("answers 413 at once to a declared length over the limit, reading nothing", async () => {
    const { stream, pulled } = streamedBody(10 * 1024 * 1024, 64 * 1024);
    const headers = { ...webhookHeaders({ topic: "orders/fulfilled", body: "" }), "content-length": String(10 * 1024 * 1024) };
    const init: RequestInit & { duplex: "half" } = { method: "POST", headers, body: stream, duplex: "half" };
    const response = await postWebhook(new Request("https://app.example.test/webhooks/commerce", init));
    expect(response.status).toBe(413);
    expect(pulled()).toBeLessThanOrEqual(64 * 1024 * 2);
  });

  it("accepts a body just under the limit", async () => {
    const body = JSON.parse(validOrder) as Record<string, unknown>;
    body.note = "n".repeat(DEFAULT_MAX_WEBHOOK_BYTES - validOrder.length - 100);
    const text = JSON.stringify(body);
    expect(Buffer.byteLength(text)).toBeLessThan(DEFAULT_MAX_WEBHOOK_BYTES);
    expect((await postWebhook({ topic: "orders/fulfilled", body: text })).status).toBe(200);
  });
});

describe("hostile templates, through the pipeline", () => {
  it.each([
    ["a loop of a trillion steps", "{% for a in (1..1000000) %}{% for b in (1..1000000) %}x{% endfor %}{% endfor %}"],
    ["output doubling until memory runs out", "{% assign s = 'xxxxxxxxxx' %}{% for i in (1..40) %}{% assign s = s | append: s %}{% endfor %}{{ s }}"],
    ["a huge range", "{{ (1..100000000) | join: ',' }}"],
    ["a prototype walk", "{{ constructor.constructor }}{{ __proto__ }}"],
  ])("ends %s as a failed delivery with the reason, or harmlessly, in bounded time", async (_name, template) => {
    await replaceMappings(db(), TEST_SHOP, [
      { topic: "orders/fulfilled", eventType: "Order Shipped", enabled: true, properties: { evil: template } },
    ]);
    expect((await postWebhook({ topic: "orders/fulfilled", body: validOrder })).status).toBe(200);
    const startedAt = Date.now();
    await drain(workerOptions(pipeline.standIn));
    expect(Date.now() - startedAt).toBeLessThan(5_000);
    const delivery = await db().delivery.findFirstOrThrow();
    if (delivery.status === "delivered") {
      // Harmless after all (the prototype walk renders nothing): then nothing leaked into the event.
      expect(JSON.stringify(pipeline.standIn.received[0]?.properties)).not.toMatch(/function|native code/);
    } else {
      expect(delivery).toMatchObject({ status: "failed", errorKind: "terminal" });
      expect(delivery.lastError).toMatch(/could not be rendered: .*so it was stopped/);
    }
  });
});

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
