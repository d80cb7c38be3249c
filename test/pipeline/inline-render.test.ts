/**
 * The worker renders a mapping none of whose templates can run away on its own thread, without the render pool, and
 * hands any other to the pool (decision 024). Which path ran is read from the pool itself: it exists only once a
 * render has needed it.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { db } from "~/db.server";
import { closeRenderPool, renderPoolStats } from "~/mapping/render.server";
import { replaceMappings } from "~/models/Mapping.server";
import { drain, postWebhook, usePipeline, workerOptions } from "../support/pipeline";
import { fixtureWith, TEST_SHOP } from "../support/webhooks";

const pipeline = usePipeline();

beforeEach(() => closeRenderPool());

function order(n: number): string {
  return fixtureWith("orders_fulfilled.derived.json", (body) => {
    body.id = 4_600_000_000 + n;
    body.admin_graphql_api_id = `gid://shopify/Order/${4_600_000_000 + n}`;
    body.name = `#${2000 + n}`;
  });
}

async function deliverOne(properties: Record<string, string>): Promise<unknown> {
  await replaceMappings(db(), TEST_SHOP, [{ topic: "orders/fulfilled", eventType: "Order Fulfilled", enabled: true, properties }]);
  expect((await postWebhook({ topic: "orders/fulfilled", body: order(1) })).status).toBe(200);
  await drain(workerOptions(pipeline.standIn));
  const delivery = await db().delivery.findFirstOrThrow({ select: { status: true, orderName: true } });
  expect(delivery).toEqual({ status: "delivered", orderName: "#2001" });
  expect(pipeline.standIn.received).toHaveLength(1);
  return pipeline.standIn.received[0]!.input.properties;
}

describe("where the worker renders a mapping", () => {
  it("renders outputs and linear filters on its own thread: no render thread is started", async () => {
    const properties = await deliverOne({ label: "{{ name | upcase }}", items: "{{ line_items | map: 'title' | join: ', ' }}" });
    expect(properties).toMatchObject({ label: "#2001" });
    expect(typeof (properties as { items: unknown }).items).toBe("string");
    expect(renderPoolStats()).toBeNull();
  });

  it("hands a mapping with a loop to the render threads", async () => {
    const properties = await deliverOne({ label: "{{ name }}", items: "{% for item in line_items %}{{ item.title }};{% endfor %}" });
    expect(properties).toMatchObject({ label: "#2001" });
    expect(renderPoolStats()).toMatchObject({ started: expect.any(Number) as number, inFlight: 0 });
    expect(renderPoolStats()!.started).toBeGreaterThanOrEqual(1);
  });
});
