import { Session } from "@shopify/shopify-api";
import { beforeEach, describe, expect, it } from "vitest";
import { db } from "~/db.server";
import { sessionStorage } from "~/shopify.server";
import { fakeAdminApi as admin } from "../stand-ins/shopify-admin";
import { drain, postWebhook, usePipeline, workerOptions } from "../support/pipeline";
import { fixtureText, fixtureWith, TEST_SHOP } from "../support/webhooks";

const refundText = fixtureText("refunds_create.json");
const orderText = fixtureText("orders_fulfilled.derived.json");
const order = JSON.parse(orderText) as { email: string; name: string };
/** The refunded order's id, exactly as in the refund body's text (beyond 2^53). */
const refundOrderId = /"order_id":\s*(\d+)/.exec(refundText)![1]!;

const pipeline = usePipeline();
let adminOrders: Record<string, unknown>;

beforeEach(() => {
  admin.reset();
  adminOrders = {};
  admin.answer({
    RefundOrderIdentity: (variables) => ({ body: { data: { order: adminOrders[String(variables.id)] ?? null } } }),
  });
});

/** The refunded order as the Admin API's RefundOrderIdentity query returns it. */
function adminOrder(fields: Record<string, unknown>) {
  return {
    id: `gid://shopify/Order/${refundOrderId}`,
    legacyResourceId: refundOrderId,
    name: "#1001",
    email: "buyer@example.com",
    ...fields,
  };
}

async function storeOfflineSession() {
  await sessionStorage.storeSession(
    new Session({ id: `offline_${TEST_SHOP}`, shop: TEST_SHOP, state: "state", isOnline: false, accessToken: "shpat_test_token", scope: "read_orders" }),
  );
}

describe("refunds/create identity", () => {
  it("uses the order seen in an earlier order webhook", async () => {
    // The derived order carries the same id as the refund's order_id in the sample bodies.
    expect(orderText).toContain(refundOrderId.slice(0, 10));
    const sameOrder = fixtureWith("orders_fulfilled.derived.json", () => undefined).replace(/"id":\s*\d+/, `"id": ${refundOrderId}`);
    await postWebhook({ topic: "orders/fulfilled", body: sameOrder.replace(/"admin_graphql_api_id":\s*"gid:\/\/shopify\/Order\/\d+"/, `"admin_graphql_api_id": "gid://shopify/Order/${refundOrderId}"`) });
    await postWebhook({ topic: "refunds/create", body: refundText });
    await drain(workerOptions(pipeline.standIn));

    const refundEvent = pipeline.standIn.received.find((event) => event.input.type === "Order Refunded");
    expect(refundEvent?.input.user.email).toBe(order.email);
    expect(admin.calls).toHaveLength(0);
  });

  it("asks the Admin API with the offline session when no order webhook was seen", async () => {
    await storeOfflineSession();
    adminOrders[`gid://shopify/Order/${refundOrderId}`] = adminOrder({
      phone: null,
      customer: { id: "gid://shopify/Customer/9007199254740993", legacyResourceId: "9007199254740993", firstName: "Ada", defaultEmailAddress: null, defaultPhoneNumber: { phoneNumber: "+16135550135" } },
      shippingAddress: { phone: null, countryCodeV2: "CA" },
      billingAddress: null,
    });
    await postWebhook({ topic: "refunds/create", body: refundText });
    await drain(workerOptions(pipeline.standIn));

    expect(admin.calls).toHaveLength(1);
    expect(admin.calls[0]).toMatchObject({ shop: TEST_SHOP, apiVersion: "2026-10", accessToken: "shpat_test_token" });
    expect(admin.unexpected).toEqual([]);
    expect(pipeline.standIn.received).toHaveLength(1);
    expect(pipeline.standIn.received[0]!.input.user).toMatchObject({
      email: "buyer@example.com",
      externalIdentifiers: { clientUserId: "9007199254740993" },
    });
    // The default "Order Refunded" mapping reads the order the same way as from a webhook.
    expect(pipeline.standIn.received[0]!.properties).toMatchObject({ orderName: "#1001", firstName: "Ada" });
    const delivery = await db().delivery.findFirstOrThrow();
    expect(delivery).toMatchObject({ status: "delivered", orderName: "#1001" });
  });

  it("fails with a reason, never silently, when neither source knows the customer", async () => {
    await postWebhook({ topic: "refunds/create", body: refundText }); // no order webhook, no offline session
    await drain(workerOptions(pipeline.standIn));
    const delivery = await db().delivery.findFirstOrThrow();
    expect(delivery.status).toBe("failed");
    expect(delivery.lastError).toMatch(/offline session|reinstall/i);
    expect(pipeline.standIn.received).toHaveLength(0);
  });

  it("sends two events for two refunds of one order", async () => {
    await storeOfflineSession();
    adminOrders[`gid://shopify/Order/${refundOrderId}`] = adminOrder({ customer: null });
    const second = refundText.replace(/"admin_graphql_api_id":\s*"gid:\/\/shopify\/Refund\/\d+"/, '"admin_graphql_api_id": "gid://shopify/Refund/42"');
    expect(second).not.toBe(refundText);
    await postWebhook({ topic: "refunds/create", body: refundText });
    await postWebhook({ topic: "refunds/create", body: second });
    await drain(workerOptions(pipeline.standIn));
    expect(pipeline.standIn.received).toHaveLength(2);
    expect(new Set(pipeline.standIn.received.map((event) => event.input.externalEventId)).size).toBe(2);
  });
});
