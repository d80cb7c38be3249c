/**
 * Issue 8, break 3: a redirect from Attentive's URL must not carry the key or the customer's event to
 * another host. Each redirect status ends the delivery failed, with a reason a merchant can read, and the
 * other host (a recording server on loopback) receives nothing; the same for the key check in Settings.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAttentiveStandIn, type AttentiveStandIn } from "../stand-ins/attentive";
import { loadOrderId, orderBody } from "../support/load";
import { startRecordingServer, type RecordingServer } from "../support/recording-server";
import { deliveries, SETUP_TIMEOUT_MS, startProductionServer, type ProductionServer } from "./production-server";

const SHOP = "redirect-test.myshopify.com";
const KEY = "redirect-test-key-0001";
const STATUSES = [301, 302, 307, 308] as const;

let standIn: AttentiveStandIn;
let elsewhere: RecordingServer;
let app: ProductionServer | undefined;

beforeAll(async () => {
  standIn = await startAttentiveStandIn({ apiKeys: [KEY] });
  elsewhere = await startRecordingServer();
  app = await startProductionServer({ attentiveUrl: standIn.graphqlUrl });
  await app.connectShop(SHOP, KEY);
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await app?.stop();
  await standIn?.close();
  await elsewhere?.close();
});

function leaked(since: number): string[] {
  return elsewhere.received.slice(since).map((request) => `${request.method} ${request.url} authorization=${request.headers.authorization ? "present" : "absent"}`);
}

describe("redirects from Attentive", () => {
  it.each(STATUSES)("HTTP %i: the delivery fails with a readable reason and nothing reaches the other host", async (status) => {
    const server = app!;
    const before = elsewhere.received.length;
    standIn.injectFaults({ kind: "redirect", status, location: `${elsewhere.origin}/v1/graphql` });
    const orderId = loadOrderId(40_000 + status);
    const answer = await server.postWebhook({ topic: "orders/fulfilled", shop: SHOP, body: orderBody(orderId) });
    expect(answer.status).toBe(200);
    const webhook = await server.sql.all<{ id: string }>(`SELECT "id" FROM "Webhook" WHERE "body" LIKE $1`, `%${orderId}%`);
    expect(webhook).toHaveLength(1);
    await server.waitFor(
      `the redirected delivery (${status}) to settle`,
      async () => {
        const [row] = await server.sql.all<{ status: string }>(`SELECT "status" FROM "Delivery" WHERE "webhookRecordId" = $1`, webhook[0]!.id);
        return row !== undefined && row.status !== "pending" && row.status !== "sending";
      },
      30_000,
    );
    const [row] = await server.sql.all<{ status: string; lastError: string | null }>(
      `SELECT "status", "lastError" FROM "Delivery" WHERE "webhookRecordId" = $1`,
      webhook[0]!.id,
    );
    expect(leaked(before), "requests that reached the other host").toEqual([]);
    expect(row!.status).toBe("failed");
    expect(row!.lastError).toMatch(/redirect/i);
    expect(row!.lastError).not.toContain(KEY);
  });

  it("the key check in Settings does not follow a redirect with the key", async () => {
    const server = app!;
    const before = elsewhere.received.length;
    standIn.injectFaults({ kind: "redirect", status: 307, location: `${elsewhere.origin}/v1/me` });
    const answer = await server.whileAlive(
      server.admin(SHOP, "/app/settings?_data=routes%2Fapp.settings", { intent: "connect", apiKey: "replacement-key-0002" }),
    );
    expect(leaked(before)).toEqual([]);
    expect(answer.status, answer.body).toBe(400);
    expect(answer.body).not.toContain("Somebody Else");
  });

  it("left no delivery marked delivered", async () => {
    const rows = await deliveries(app!, SHOP);
    expect(rows.filter((row) => row.status === "delivered")).toEqual([]);
  });
});
