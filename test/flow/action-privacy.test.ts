/**
 * Flow runs name their customer in the merchant's settings, not by order: customers/redact must find them by the
 * customer's id or email (case aside) and erase what they hold, and a data request must include them.
 */
import { describe, expect, it } from "vitest";
import { db } from "~/db.server";
import { FLOW_ACTION_TOPIC } from "~/flow/action";
import { exportCustomerData } from "~/models/CustomerData.server";
import { REDACTED_BODY } from "~/webhooks/compliance.server";
import { storeOfflineSession } from "../support/admin-requests";
import { flowRunBody, postFlowRun } from "../support/flow";
import { drain, postWebhook, usePipeline, workerOptions } from "../support/pipeline";
import { fixtureText, TEST_SHOP } from "../support/webhooks";

const pipeline = usePipeline();

// customers_redact.json names customer 191167, john@example.com.
const runs = {
  byId: flowRunBody({ actionRunId: "about-john-by-id", settings: { event_type: "VIP", customer_id: "gid://shopify/Customer/191167", properties: '{"note": "secret-1"}' } }),
  byEmail: flowRunBody({ actionRunId: "about-john-by-email", settings: { event_type: "VIP", email: "John@Example.com", properties: '{"note": "secret-2"}' } }),
  other: flowRunBody({ actionRunId: "about-someone-else", settings: { event_type: "VIP", email: "other@example.com", customer_id: "1911670", properties: '{"note": "kept"}' } }),
};

async function recordRuns() {
  await storeOfflineSession(TEST_SHOP);
  for (const body of Object.values(runs)) expect((await postFlowRun(body)).status).toBe(200);
  await drain(workerOptions(pipeline.standIn));
  expect(pipeline.standIn.received).toHaveLength(3);
}

describe("Flow runs and the privacy webhooks", () => {
  it("customers/redact erases the customer's runs, found by customer id or email, and keeps other customers'", async () => {
    await recordRuns();
    const redact = fixtureText("customers_redact.json").replace("{shop}.myshopify.com", TEST_SHOP);
    expect((await postWebhook({ topic: "customers/redact", body: redact })).status).toBe(200);

    const rows = await db().webhook.findMany({ where: { topic: FLOW_ACTION_TOPIC }, include: { deliveries: { include: { attemptLog: true } } } });
    const byKey = new Map(rows.map((row) => [row.eventKey, row]));
    for (const key of ["about-john-by-id", "about-john-by-email"]) {
      const row = byKey.get(key)!;
      expect(row.body).toBe(REDACTED_BODY);
      expect(row.deliveries[0]).toMatchObject({ request: null, response: null, email: null });
    }
    const everything = JSON.stringify(rows);
    expect(everything).not.toMatch(/secret-1|secret-2|john@example\.com/i);
    expect(byKey.get("about-someone-else")!.body).toContain("kept");
    expect(byKey.get("about-someone-else")!.deliveries[0]!.request).toContain("other@example.com");
  });

  it("a data request's export includes the customer's runs and not others'", async () => {
    await recordRuns();
    const byId = await exportCustomerData(db(), TEST_SHOP, { customerId: "191167" });
    expect(byId.webhooks.map((webhook) => JSON.stringify(webhook.body))).toEqual([expect.stringContaining("about-john-by-id")]);
    const byEmail = await exportCustomerData(db(), TEST_SHOP, { email: "john@example.com" });
    expect(byEmail.webhooks.map((webhook) => JSON.stringify(webhook.body))).toEqual([expect.stringContaining("about-john-by-email")]);
    expect(byEmail.eventsSentToAttentive).toHaveLength(1);
  });
});
