/**
 * The Flow action's route as `npm start` serves it (through Express and Remix, test/webhooks/production-server.ts),
 * over real HTTP: a signed run is recorded and answered 200 within Flow's 10 s, a forged one 401, an oversized one
 * 413 with the connection closed, and a run the database cannot take right now 429 with Retry-After, which Flow
 * documents as "send it again after that long" (docs/decisions/015-shopify-flow.md).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { db } from "~/db.server";
import { FLOW_ACTION_PATH, FLOW_ACTION_TOPIC, MAX_FLOW_ACTION_BYTES } from "~/flow/action";
import { receiveFlowAction, RETRY_AFTER_SECONDS } from "~/flow/action-route.server";
import { fetchWebhookRequest } from "~/webhooks/receive.server";
import { storeOfflineSession } from "../support/admin-requests";
import { flowRunBody, flowRunRequest } from "../support/flow";
import { clearDatabase } from "../support/pipeline";
import { shopifyHmac, TEST_SECRET, TEST_SHOP } from "../support/webhooks";
import { startProductionServer, type RunningServer } from "../webhooks/production-server";

let app: RunningServer;

beforeAll(async () => {
  app = await startProductionServer();
});

afterAll(async () => {
  await app.close();
});

beforeEach(async () => {
  await clearDatabase();
  await storeOfflineSession(TEST_SHOP);
});

async function post(body: string, hmac = shopifyHmac(body)) {
  const response = await fetch(`${app.origin}${FLOW_ACTION_PATH}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-shopify-hmac-sha256": hmac },
    body,
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

describe("the Flow action on the production server", () => {
  it("records a signed run and answers 200 with JSON", async () => {
    const answer = await post(flowRunBody({ actionRunId: "prod-run-1" }));
    expect(answer.status).toBe(200);
    expect(answer.headers.get("content-type")).toMatch(/application\/json/);
    const row = await db().webhook.findFirstOrThrow({ where: { topic: FLOW_ACTION_TOPIC } });
    expect(row.eventKey).toBe("prod-run-1");
    expect(await db().delivery.count({ where: { webhookRecordId: row.id } })).toBe(1);
  });

  it("refuses a forged run with 401", async () => {
    const body = flowRunBody();
    expect((await post(body, shopifyHmac(body, "not-the-secret"))).status).toBe(401);
    expect(await db().webhook.count()).toBe(0);
  });

  it("refuses a body over the limit with 413 before reading it all, and closes the connection", async () => {
    const body = JSON.stringify({ padding: "x".repeat(MAX_FLOW_ACTION_BYTES + 10) });
    const answer = await post(body);
    expect(answer.status).toBe(413);
    expect(answer.headers.get("connection")).toBe("close");
    expect(await db().webhook.count()).toBe(0);
  });

  it("answers GET with a quiet 405", async () => {
    const response = await fetch(`${app.origin}${FLOW_ACTION_PATH}`);
    await response.arrayBuffer();
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("POST");
  });
});

describe("a run the database cannot record", () => {
  it("is answered 429 with Retry-After so Flow sends it again, and the resent run is recorded once", async () => {
    const body = flowRunBody({ actionRunId: "run-during-outage" });
    const real = db();
    // The database refuses the write once, as a dropped connection does; everything else is the real database.
    let refuse = true;
    const webhook = new Proxy(real.webhook, {
      get(target, property, receiver) {
        if (property === "create" && refuse) {
          refuse = false;
          return () => Promise.reject(Object.assign(new Error("Can't reach database server"), { code: "P1001" }));
        }
        return Reflect.get(target, property, receiver) as unknown;
      },
    });
    const prisma = new Proxy(real, { get: (target, property, receiver) => (property === "webhook" ? webhook : (Reflect.get(target, property, receiver) as unknown)) });
    const first = await receiveFlowAction(fetchWebhookRequest(flowRunRequest(body)), { prisma, secret: TEST_SECRET });
    expect(first.status).toBe(429);
    expect(first.headers?.["retry-after"]).toBe(String(RETRY_AFTER_SECONDS));
    expect(await db().webhook.count()).toBe(0);

    const again = await receiveFlowAction(fetchWebhookRequest(flowRunRequest(body)), { prisma, secret: TEST_SECRET });
    expect(again.status).toBe(200);
    expect(await db().delivery.count({ where: { topic: FLOW_ACTION_TOPIC } })).toBe(1);
  });
});
