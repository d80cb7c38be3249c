/**
 * An Admin API order look-up that never answers ends at its deadline as a retryable "unavailable" (the delivery tries
 * again later) instead of holding the worker's lane for good; the request is aborted, and the next look-up of that
 * order asks again rather than waiting on the abandoned one.
 */
import { Session } from "@shopify/shopify-api";
import { beforeEach, describe, expect, it } from "vitest";
import { db } from "~/db.server";
import { createOrderLookup } from "~/shopify/order-lookup.server";
import { sessionStorage, unauthenticated } from "~/shopify.server";
import { fakeAdminApi as admin } from "../stand-ins/shopify-admin";
import { waitUntil } from "../support/load";
import { clearDatabase } from "../support/pipeline";
import { TEST_SHOP } from "../support/webhooks";

beforeEach(async () => {
  await clearDatabase();
  admin.reset();
  await sessionStorage.storeSession(
    new Session({ id: `offline_${TEST_SHOP}`, shop: TEST_SHOP, state: "state", isOnline: false, accessToken: "shpat_test_token", scope: "read_orders" }),
  );
});

describe("an Admin API look-up that hangs", () => {
  it("ends at the deadline as retryable, aborts the request, and asks again next time", async () => {
    let aborted = 0;
    admin.answerLate({
      RefundOrderIdentity: (_variables, _call, signal) =>
        new Promise((resolve) => {
          signal.addEventListener("abort", () => {
            aborted++;
            resolve({ status: 504, body: {} });
          });
        }),
    });
    const lookup = createOrderLookup(db(), (shop) => unauthenticated.admin(shop), { timeoutMs: 300 });

    const first = await lookup(TEST_SHOP, "820982911946154508", { from: "admin-api" });
    expect(first).toEqual({ kind: "unavailable", retryable: true, reason: "Shopify's Admin API did not answer the order look-up within 300 ms: will retry." });
    await waitUntil("the hanging request aborted", async () => aborted === 1, 10_000);

    const second = await lookup(TEST_SHOP, "820982911946154508", { from: "admin-api" });
    expect(second.kind).toBe("unavailable");
    expect(admin.calls.filter((call) => call.operationName === "RefundOrderIdentity")).toHaveLength(2);
    expect(admin.unexpected).toEqual([]);
  });
});
