/**
 * A Flow action run through the app's route and the real worker to the Attentive stand-in: exactly one event with
 * the merchant's type and typed properties, de-duplicated on action_run_id, refused (401 or Flow's error answer)
 * with nothing recorded when it cannot be sent. Runs on SQLite and, under test:postgres, on PostgreSQL.
 */
import { describe, expect, it } from "vitest";
import { db } from "~/db.server";
import { externalEventId } from "~/delivery/external-event-id";
import { FLOW_ACTION_MAPPING_ID, FLOW_ACTION_TOPIC } from "~/flow/action";
import { storeOfflineSession } from "../support/admin-requests";
import { flowRunBody, postFlowRun } from "../support/flow";
import { drain, TEST_ATTENTIVE_KEY, usePipeline, workerOptions } from "../support/pipeline";
import { TEST_SHOP } from "../support/webhooks";

const pipeline = usePipeline();

async function installed() {
  await storeOfflineSession(TEST_SHOP);
}

async function nothingRecorded() {
  expect(await db().webhook.count({ where: { topic: FLOW_ACTION_TOPIC } })).toBe(0);
  expect(await db().delivery.count({ where: { topic: FLOW_ACTION_TOPIC } })).toBe(0);
}

describe("Flow action: Send Attentive event", () => {
  it("records a signed run, answers 200, and sends exactly one event with the merchant's type and typed properties", async () => {
    await installed();
    const body = flowRunBody({ actionRunId: "run-0001" });
    const answer = await postFlowRun(body);
    expect(answer.status).toBe(200);
    expect(pipeline.standIn.received).toHaveLength(0); // sent by the worker, not inside Flow's request

    const delivery = await db().delivery.findFirstOrThrow({ where: { topic: FLOW_ACTION_TOPIC } });
    expect(delivery).toMatchObject({ status: "pending", eventType: "VIP Tagged", mappingId: FLOW_ACTION_MAPPING_ID });

    await drain(workerOptions(pipeline.standIn));
    expect(pipeline.standIn.received).toHaveLength(1);
    const [sent] = pipeline.standIn.received;
    expect(sent!.apiKey).toBe(TEST_ATTENTIVE_KEY);
    expect(sent!.input.type).toBe("VIP Tagged");
    // JSON types survive: the number stays a number, the text stays text.
    expect(sent!.properties).toEqual({ tier: "gold", points: 1200, since: "2026-01-02" });
    expect(sent!.input.user.email).toBe("vip@example.com");
    expect(sent!.input.user.externalIdentifiers?.clientUserId).toBe("115310627314723954");
    expect(sent!.input.externalEventId).toBe(
      externalEventId({ shop: TEST_SHOP, topic: FLOW_ACTION_TOPIC, eventKey: "run-0001", mappingId: FLOW_ACTION_MAPPING_ID }),
    );
    const done = await db().delivery.findUniqueOrThrow({ where: { id: delivery.id } });
    expect(done).toMatchObject({ status: "delivered", attempts: 1, lastError: null });
    expect(done.request).not.toContain(TEST_ATTENTIVE_KEY);
  });

  it("sends nothing more when Flow sends the same action_run_id again, before or after the first was sent", async () => {
    await installed();
    const body = flowRunBody({ actionRunId: "run-again" });
    expect((await postFlowRun(body)).status).toBe(200);
    expect((await postFlowRun(body)).status).toBe(200);
    await drain(workerOptions(pipeline.standIn));
    expect((await postFlowRun(body)).status).toBe(200);
    await drain(workerOptions(pipeline.standIn));
    expect(pipeline.standIn.received).toHaveLength(1);
    expect(await db().delivery.count({ where: { topic: FLOW_ACTION_TOPIC } })).toBe(1);
  });

  it("normalises a phone to E.164 and sends it as the identifier when there is no email", async () => {
    await installed();
    const body = flowRunBody({ settings: { event_type: "Back In Stock", phone: "+1 (415) 555-2671" } });
    expect((await postFlowRun(body)).status).toBe(200);
    await drain(workerOptions(pipeline.standIn));
    const [sent] = pipeline.standIn.received;
    expect(sent!.input.user).toEqual({ phone: "+14155552671" });
    expect(sent!.properties).toEqual({});
  });

  it("refuses a bad signature with 401 and records nothing", async () => {
    await installed();
    const body = flowRunBody();
    expect((await postFlowRun(body, { hmac: "AAAA" })).status).toBe(401);
    expect((await postFlowRun(body, { hmac: null })).status).toBe(401);
    // Signed for another body: a captured signature does not carry over to changed settings.
    const other = flowRunBody({ settings: { event_type: "Other", email: "a@example.com" } });
    const { shopifyHmac } = await import("../support/webhooks");
    expect((await postFlowRun(other, { hmac: shopifyHmac(body) })).status).toBe(401);
    await nothingRecorded();
  });

  it.each([
    ["a type with forbidden characters", { event_type: "VIP (gold)", email: "a@example.com" }, /parenthesis/],
    ["an empty type", { event_type: "  ", email: "a@example.com" }, /event type is empty/i],
    ["properties that are not JSON", { event_type: "VIP", properties: "{tier: gold}", email: "a@example.com" }, /not valid JSON/],
    ["properties that are a list", { event_type: "VIP", properties: "[1, 2]", email: "a@example.com" }, /must be a JSON object.*list/],
    ["a property key Attentive forbids", { event_type: "VIP", properties: '{"a,b": 1}', email: "a@example.com" }, /comma/],
    ["no identifier at all", { event_type: "VIP" }, /No email, phone or customer/],
    ["only unusable identifiers", { event_type: "VIP", email: "not-an-address", phone: "12" }, /No email, phone or customer.*not an email address/],
  ])("refuses %s with Flow's error answer (400 and a message) and records nothing", async (_name, settings, message) => {
    await installed();
    const answer = await postFlowRun(flowRunBody({ settings }));
    expect(answer.status).toBe(400);
    expect(answer.message).toMatch(message);
    await nothingRecorded();
    await drain(workerOptions(pipeline.standIn));
    expect(pipeline.standIn.received).toHaveLength(0);
  });

  it("refuses a run for another action's handle, a body that is not JSON, and a shop the app is not installed on", async () => {
    await installed();
    expect((await postFlowRun(flowRunBody({ handle: "some-other-action" }))).status).toBe(400);
    expect((await postFlowRun("not json")).status).toBe(400);
    const elsewhere = await postFlowRun(flowRunBody({ shop: "never-installed.myshopify.com" }));
    expect(elsewhere.status).toBe(400);
    expect(elsewhere.message).toMatch(/not installed/);
    await nothingRecorded();
  });

  it("answers a GET with 405 and records nothing", async () => {
    const { action: _unused, loader } = await import("~/routes/flow.actions.send-attentive-event");
    const response = loader();
    expect(response.status).toBe(405);
    await nothingRecorded();
  });
});
