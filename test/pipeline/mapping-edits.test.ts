/**
 * The worker keeps each mapping's parsed form between claims (app/delivery/reuse.server.ts): an edit must still
 * apply from the next claim, including one that leaves `updatedAt` as it was.
 */
import { describe, expect, it } from "vitest";
import { db } from "~/db.server";
import { replaceMappings } from "~/models/Mapping.server";
import { drain, postWebhook, usePipeline, workerOptions } from "../support/pipeline";
import { fixtureWith, TEST_SHOP } from "../support/webhooks";

const pipeline = usePipeline();

function order(n: number): string {
  return fixtureWith("orders_fulfilled.derived.json", (body) => {
    body.id = 4_500_000_000 + n;
    body.admin_graphql_api_id = `gid://shopify/Order/${4_500_000_000 + n}`;
    body.name = `#${1000 + n}`;
  });
}

describe("a mapping edited between deliveries", () => {
  it("is rendered with its new templates from the next claim, even when updatedAt did not change", async () => {
    const [mapping] = await replaceMappings(db(), TEST_SHOP, [
      { topic: "orders/fulfilled", eventType: "Order Shipped", enabled: true, properties: { label: "{{ name }} v1" } },
    ]);
    const options = workerOptions(pipeline.standIn);

    expect((await postWebhook({ topic: "orders/fulfilled", body: order(1) })).status).toBe(200);
    await drain(options);

    await db().mapping.update({ where: { id: mapping!.id }, data: { properties: JSON.stringify({ label: "{{ name }} v2" }) } });
    expect((await postWebhook({ topic: "orders/fulfilled", body: order(2) })).status).toBe(200);
    await drain(options);

    const { updatedAt } = await db().mapping.findUniqueOrThrow({ where: { id: mapping!.id } });
    await db().mapping.update({ where: { id: mapping!.id }, data: { properties: JSON.stringify({ label: "{{ name }} v3" }), eventType: "Order Sent", updatedAt } });
    expect((await postWebhook({ topic: "orders/fulfilled", body: order(3) })).status).toBe(200);
    await drain(options);

    const sent = pipeline.standIn.received.map((event) => [event.input.type, event.input.properties]);
    expect(sent).toEqual([
      ["Order Shipped", { label: "#1001 v1" }],
      ["Order Shipped", { label: "#1002 v2" }],
      ["Order Sent", { label: "#1003 v3" }],
    ]);
    const names = (await db().delivery.findMany({ orderBy: { createdAt: "asc" }, select: { orderName: true } })).map((row) => row.orderName);
    expect(names).toEqual(["#1001", "#1002", "#1003"]);
  });
});
