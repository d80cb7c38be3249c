/**
 * Issue 8, "Also": a NUL character in order data, on PostgreSQL (whose text type cannot hold one), gave
 * 10 sends of one event and a failure that blamed the mapping. Attentive accepts the event; the app must
 * record that once: one send, the delivery delivered. Always runs on PostgreSQL (TEST_POSTGRES_URL),
 * whatever TEST_DATABASE says, since SQLite stores a NUL without complaint.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAttentiveStandIn, type AttentiveStandIn } from "../stand-ins/attentive";
import { loadOrderId, orderBody } from "../support/load";
import { SETUP_TIMEOUT_MS, startProductionServer, type ProductionServer } from "./production-server";

const SHOP = "nul-test.myshopify.com";
const KEY = "nul-test-key-0001";

let standIn: AttentiveStandIn;
let app: ProductionServer | undefined;

beforeAll(async () => {
  standIn = await startAttentiveStandIn({ apiKeys: [KEY] });
  app = await startProductionServer({ attentiveUrl: standIn.graphqlUrl, provider: "postgresql" });
  await app.connectShop(SHOP, KEY);
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await app?.stop();
  await standIn?.close();
});

describe("a NUL in order data on PostgreSQL", () => {
  it("is sent at most once and the delivery settles", async () => {
    const server = app!;
    // \u0000 escaped in the JSON text, as Shopify would send it: the name, a line item title and the first name.
    const body = orderBody(loadOrderId(95_000))
      .replace(/"name":\s*"#9999"/, '"name": "#9999\\u0000evil"')
      .replace(/"first_name":\s*"([^"]*)"/, '"first_name": "$1\\u0000"');
    expect(body).toContain("\\u0000");
    const answer = await server.postWebhook({ topic: "orders/fulfilled", shop: SHOP, body });
    expect(answer.status, answer.body).toBe(200);
    const [delivery] = await server.sql.all<{ externalEventId: string }>(`SELECT "externalEventId" FROM "Delivery" WHERE "shop" = $1`, SHOP);
    // Settled one way or the other, or sent a second time (today's break): whichever comes first.
    await server.waitFor(
      "the delivery to settle or be sent again",
      async () => {
        const sends = standIn.requestLog.filter((request) => request.externalEventId === delivery!.externalEventId).length;
        const status = await server.sql.all<{ status: string }>(`SELECT "status" FROM "Delivery" WHERE "shop" = $1`, SHOP);
        return sends > 1 || (status[0]?.status !== "pending" && status[0]?.status !== "sending");
      },
      60_000,
      100,
    );
    const sends = standIn.requestLog.filter((request) => request.externalEventId === delivery!.externalEventId).length;
    const [row] = await server.sql.all<{ status: string; lastError: string | null }>(`SELECT "status", "lastError" FROM "Delivery" WHERE "shop" = $1`, SHOP);
    // Attentive takes a NUL in a string, so delivered is the expected end; a fix that refuses the data
    // before sending may end it failed instead, but then with a reason that does not blame the mapping.
    expect(sends, "sends of the event").toBeLessThanOrEqual(1);
    if (sends === 1) {
      expect({ status: row!.status, lastError: row!.lastError }).toEqual({ status: "delivered", lastError: null });
    } else {
      expect(row!.status).toBe("failed");
      expect(row!.lastError ?? "").not.toMatch(/mapping/i);
    }
  });
});
