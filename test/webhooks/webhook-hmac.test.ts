/**
 * The commerce route's own webhook check (decision 007) gives the same verdict as the
 * library's `authenticate.webhook` for every kind of request the library tells apart.
 */
import { describe, expect, it } from "vitest";
import { authenticate } from "~/shopify.server";
import { verifyShopifyWebhook } from "~/shopify/webhook-hmac.server";
import { fetchWebhookRequest } from "~/webhooks/receive.server";
import { fixtureText, shopifyHmac, signedWebhookRequest, TEST_SECRET } from "../support/webhooks";

const body = fixtureText("orders_fulfilled.json");

async function libraryVerdict(request: Request): Promise<number | Record<string, unknown>> {
  try {
    const context = await authenticate.webhook(request);
    return { shop: context.shop, topic: context.topic, webhookId: context.webhookId, apiVersion: context.apiVersion, eventId: context.eventId, triggeredAt: context.triggeredAt };
  } catch (error) {
    if (error instanceof Response) return error.status;
    throw error;
  }
}

async function ownVerdict(request: Request): Promise<number | Record<string, unknown>> {
  const input = fetchWebhookRequest(request);
  try {
    const context = await verifyShopifyWebhook(TEST_SECRET)(input, await input.readBody(1 << 22));
    return { eventId: undefined, triggeredAt: undefined, ...context };
  } catch (error) {
    if (error instanceof Response) return error.status;
    throw error;
  }
}

const cases: Array<[string, () => Request]> = [
  ["a signed webhook", () => signedWebhookRequest({ topic: "orders/fulfilled", body, eventId: "e-1", triggeredAt: "2026-11-27T10:00:00Z" })],
  ["a signed webhook without the optional headers", () => signedWebhookRequest({ topic: "orders/fulfilled", body })],
  ["a wrong secret", () => signedWebhookRequest({ topic: "orders/fulfilled", body, secret: "another-secret" })],
  ["an HMAC of another body", () => signedWebhookRequest({ topic: "orders/fulfilled", body, hmac: shopifyHmac(`${body} `) })],
  ["an HMAC that is not base64", () => signedWebhookRequest({ topic: "orders/fulfilled", body, hmac: "not base64 at all" })],
  ["the right HMAC with junk after it", () => signedWebhookRequest({ topic: "orders/fulfilled", body, hmac: `${shopifyHmac(body)}!!` })],
  ["no HMAC header", () => signedWebhookRequest({ topic: "orders/fulfilled", body, hmac: null })],
  ...["x-shopify-topic", "x-shopify-shop-domain", "x-shopify-api-version", "x-shopify-webhook-id"].map(
    (header): [string, () => Request] => [`no ${header}`, () => signedWebhookRequest({ topic: "orders/fulfilled", body, omitHeaders: [header] })],
  ),
  ["an empty body, signed", () => signedWebhookRequest({ topic: "orders/fulfilled", body: "" })],
  ["a GET", () => new Request("https://app.example/webhooks/commerce", { method: "GET", headers: signedWebhookRequest({ topic: "orders/fulfilled", body }).headers })],
];

describe("the commerce route's webhook check", () => {
  it.each(cases)("agrees with authenticate.webhook on %s", async (_name, make) => {
    const request = make();
    const library = await libraryVerdict(request.clone());
    expect(await ownVerdict(request)).toEqual(library);
  });

  it("tells the cases apart (the comparison above is not between two constant answers)", async () => {
    const verdicts = await Promise.all(cases.map(([, make]) => ownVerdict(make())));
    expect(new Set(verdicts.map((verdict) => (typeof verdict === "number" ? verdict : 200)))).toEqual(new Set([200, 400, 401, 405]));
  });
});
