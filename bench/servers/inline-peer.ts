/**
 * The straightforward design, as a peer to compare with: the webhook request itself checks the HMAC, parses
 * the order and calls Attentive's createCustomEvent, and answers Shopify only when Attentive has answered.
 *
 * node --import tsx bench/servers/inline-peer.ts <port> <secret> <attentive graphql url> <attentive key>
 */
import { createServer } from "node:http";
import { readBody, validHmac } from "./reference-ingest-lib";

const port = Number(process.argv[2] ?? 0);
const secret = process.argv[3] ?? "";
const attentiveUrl = process.argv[4] ?? "";
const apiKey = process.argv[5] ?? "";

const MUTATION = `mutation ($input: CreateCustomEventInput!) { createCustomEvent(input: $input) { externalEventId } }`;

interface Order {
  admin_graphql_api_id?: string;
  name?: string;
  email?: string;
  total_price?: string;
  currency?: string;
}

const server = createServer((req, res) => {
  if (req.method === "GET") {
    res.writeHead(200).end("ok");
    return;
  }
  void (async () => {
    const body = await readBody(req);
    if (!validHmac(body, req.headers["x-shopify-hmac-sha256"], secret)) {
      res.writeHead(401).end();
      return;
    }
    const order = JSON.parse(body.toString("utf8")) as Order;
    const input = {
      type: "Order Fulfilled",
      properties: { orderName: order.name ?? "", totalPrice: order.total_price ?? "", currency: order.currency ?? "" },
      externalEventId: order.admin_graphql_api_id ?? "",
      occurredAt: new Date().toISOString(),
      user: { email: order.email ?? "nobody@example.com" },
    };
    const answer = await fetch(attentiveUrl, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${apiKey}` },
      body: JSON.stringify({ query: MUTATION, variables: { input } }),
    });
    await answer.text();
    res.writeHead(answer.ok ? 200 : 502).end();
  })().catch(() => {
    if (!res.headersSent) res.writeHead(500).end();
  });
});
server.listen(port, "127.0.0.1");
process.on("SIGTERM", () => server.close(() => process.exit(0)));
