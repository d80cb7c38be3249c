/**
 * Issue 8, break 1: an Attentive that hangs, or answers after the client's timeout, must not kill the
 * production server (today: "Cannot cancel a stream that already has a reader", unhandled, under the
 * fetch polyfill app/serve.ts installs). The same for "Send test event" in the mapping editor, which
 * sends from the web request itself. Each test waits for the stand-in to see the request and for the
 * delivery's attempt to be recorded, with the process watched all along.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startAttentiveStandIn, type AttentiveStandIn } from "../stand-ins/attentive";
import { loadOrderId, orderBody } from "../support/load";
import { deliveries, startProductionServer, type ProductionServer } from "./production-server";

const SHOP = "hang-test.myshopify.com";
const KEY = "hang-test-key-0001";
const TIMEOUT_MS = 1000;

let standIn: AttentiveStandIn;
let app: ProductionServer | undefined;

beforeAll(async () => {
  standIn = await startAttentiveStandIn({ apiKeys: [KEY] });
});

afterEach(async () => {
  const stopping = app;
  app = undefined;
  standIn.reset();
  if (stopping) {
    const exit = await stopping.stop();
    // A graceful stop exits 0; anything else means the process was already gone or broke on the way out.
    expect(exit, stopping.output()).toEqual({ code: 0, signal: null });
  }
});

afterAll(async () => {
  await standIn?.close();
});

async function freshServer(): Promise<ProductionServer> {
  const started = await startProductionServer({ attentiveUrl: standIn.graphqlUrl, attentiveTimeoutMs: TIMEOUT_MS });
  app = started;
  await started.connectShop(SHOP, KEY);
  return started;
}

/** The mapping editor's form as the page posts it (JSON in a `form` field). */
export function editorForm(): string {
  return JSON.stringify({
    topic: "orders/fulfilled",
    eventType: "Order Shipped",
    enabled: true,
    when: "",
    properties: [{ key: "orderName", template: "{{ name }}" }],
    user: { email: "", phone: "", clientUserId: "" },
  });
}

describe("an Attentive that hangs", () => {
  it("hanging forever: the attempt ends as a timeout, the process lives, the event is sent once it answers", async () => {
    const app = await freshServer();
    standIn.injectFaults({ kind: "hang" });
    const answer = await app.postWebhook({ topic: "orders/fulfilled", shop: SHOP, body: orderBody(loadOrderId(1)) });
    expect(answer.status).toBe(200);
    await app.whileAlive(standIn.waitForRequests(1, 30_000));
    // The worker's timeout fires; the attempt is recorded as a retryable failure and put back.
    await app.waitFor("the timed-out attempt to be recorded", async () => {
      const [row] = await deliveries(app, SHOP);
      return row !== undefined && row.attempts >= 1 && row.status === "pending" && /did not answer|timed out|time/i.test(row.lastError ?? "");
    }, 30_000);
    // Its retry (production backoff: 2.5-5 s) finds Attentive healthy.
    await app.waitFor("the retry to deliver", async () => (await deliveries(app, SHOP))[0]?.status === "delivered", 30_000);
    app.assertAlive();
    expect(standIn.received.map((event) => event.input.externalEventId)).toHaveLength(1);
  });

  it("answering after the timeout: the late answer is not taken, the process lives, the event is sent once", async () => {
    const app = await freshServer();
    standIn.injectFaults({ kind: "hang", ms: TIMEOUT_MS + 1500 });
    const answer = await app.postWebhook({ topic: "orders/fulfilled", shop: SHOP, body: orderBody(loadOrderId(2)) });
    expect(answer.status).toBe(200);
    await app.waitFor("the timed-out attempt to be recorded", async () => ((await deliveries(app, SHOP))[0]?.attempts ?? 0) >= 1, 30_000);
    await app.waitFor("the retry to deliver", async () => (await deliveries(app, SHOP))[0]?.status === "delivered", 30_000);
    app.assertAlive();
    // The client hung up on the late one, so the stand-in processed only the retry.
    expect(standIn.received).toHaveLength(1);
  });
});

describe("an Attentive that hangs while a merchant waits", () => {
  it('"Send test event" answers with a timeout the merchant can read, and the process lives', async () => {
    const app = await freshServer();
    standIn.injectFaults({ kind: "hang" });
    const answer = await app.whileAlive(
      app.admin(SHOP, "/app/mappings/new?_data=routes%2Fapp.mappings.new", { intent: "test", source: "sample", form: editorForm() }),
    );
    expect(answer.status, answer.body).toBe(200);
    expect(answer.body).toMatch(/did not answer|timed out|time/i);
    // The client's timeout plus the admin request's own work, generously: 12 s was seen on a machine with a
    // load average of 20; what matters is that it ends, with words, instead of hanging or killing the process.
    expect(answer.ms).toBeLessThan(TIMEOUT_MS + 30_000);
    // The abort happens after the answer; give the process the chance to die of it before declaring it alive.
    await app.whileAlive(app.admin(SHOP, "/app/mappings/new?_data=routes%2Fapp.mappings.new", { intent: "preview", source: "sample", form: editorForm() }));
    app.assertAlive();
  });

  it("the key check in Settings answers with a timeout, saves nothing, and the process lives", async () => {
    const app = await freshServer();
    standIn.injectFaults({ kind: "hang", ms: TIMEOUT_MS + 1_000 });
    const answer = await app.whileAlive(app.admin(SHOP, "/app/settings?_data=routes%2Fapp.settings", { intent: "connect", apiKey: "another-key-0002" }));
    expect(answer.status, answer.body).toBe(400);
    expect(answer.body).toMatch(/not saved/i);
    await app.whileAlive(standIn.waitForRequests(1));
    await app.whileAlive(app.admin(SHOP, "/app/settings?_data=routes%2Fapp.settings"));
    app.assertAlive();
  });
});
