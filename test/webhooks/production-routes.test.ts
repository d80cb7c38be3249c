/**
 * The webhook routes and the auth route as `npm start` serves them (test/webhooks/production-server.ts),
 * over real HTTP: each route accepts only the topics shopify.app.toml sends it, the shop header
 * must be a shop's myshopify.com domain, GET on a webhook route is a quiet 405, and /auth/login
 * answers with its form instead of a 500.
 */
import { Session } from "@shopify/shopify-api";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { db } from "~/db.server";
import { sessionStorage } from "~/shopify.server";
import { WEBHOOK_ROUTES } from "~/webhooks/topics";
import { fixtureText, TEST_SHOP, webhookHeaders } from "../support/webhooks";
import { startProductionServer, type RunningServer } from "./production-server";

let app: RunningServer;

beforeAll(async () => {
  app = await startProductionServer();
});

afterAll(async () => {
  await app.close();
});

afterEach(() => {
  vi.restoreAllMocks();
});

async function post(path: string, topic: string, body: string, shop = TEST_SHOP): Promise<{ status: number; text: string }> {
  const response = await fetch(`${app.origin}${path}`, { method: "POST", headers: webhookHeaders({ topic, body, shop }), body });
  return { status: response.status, text: await response.text() };
}

/** Everything a forged topic or shop could store, erase or create. */
async function snapshot() {
  return {
    webhooks: await db().webhook.count(),
    deliveries: await db().delivery.count(),
    mappings: await db().mapping.count(),
    sessions: await db().session.count(),
    shops: await db().shop.findMany({ select: { domain: true, uninstalledAt: true }, orderBy: { domain: "asc" } }),
    bodies: (await db().webhook.findMany({ select: { body: true } })).map((row) => row.body.length),
  };
}

const order = fixtureText("orders_fulfilled.json");

describe("each webhook route accepts only the topics shopify.app.toml sends it", () => {
  beforeAll(async () => {
    await sessionStorage.storeSession(
      new Session({ id: `offline_${TEST_SHOP}`, shop: TEST_SHOP, state: "s", isOnline: false, accessToken: "shpat_x" }),
    );
    expect((await post("/webhooks/commerce", "orders/fulfilled", order)).status).toBe(200);
  });

  // A captured order body, authentic (its HMAC covers only the body), re-posted with another topic.
  const wrong: Array<[string, string]> = [
    ["/webhooks/commerce", "shop/redact"],
    ["/webhooks/commerce", "app/uninstalled"],
    ["/webhooks/commerce", "customers/redact"],
    ["/webhooks/commerce", "orders/updated"],
    ["/webhooks/app", "shop/redact"],
    ["/webhooks/app", "orders/fulfilled"],
    ["/webhooks/compliance", "app/uninstalled"],
    ["/webhooks/compliance", "orders/fulfilled"],
  ];

  it.each(wrong)("%s refuses %s with a reason, storing, erasing and creating nothing", async (path, topic) => {
    const before = await snapshot();
    expect(before.webhooks).toBeGreaterThan(0);
    const answer = await post(path, topic, order);
    expect(answer.status).toBe(400);
    expect(answer.text).toBe(`Topic "${topic}" is not accepted on ${path}`);
    expect(await snapshot()).toEqual(before);
  });

  it("still accepts each route's own topics", async () => {
    for (const route of Object.values(WEBHOOK_ROUTES)) {
      for (const topic of route.topics) {
        // shop/redact is accepted, and is tested where it erases (lifecycle-and-privacy.test.ts).
        if (topic === "shop/redact") continue;
        const body = topic === "app/uninstalled" ? fixtureText("app_uninstalled.json") : order;
        expect({ topic, status: (await post(route.path, topic, body)).status }).toEqual({ topic, status: 200 });
      }
    }
  });
});

describe("the shop header must be a shop's <name>.myshopify.com domain", () => {
  const bad = [
    ["two domains", "test-shop.myshopify.com, other-shop.myshopify.com"],
    ["a path", "test-shop.myshopify.com/admin"],
    ["5,000 characters", `${"a".repeat(4_985)}.myshopify.com`],
    ["upper-case", "Test-Shop.myshopify.com"],
    ["another domain", "evil.com"],
    ["a look-alike", "test-shop.myshopify.com.evil.com"],
    ["a name of 64 characters", `${"a".repeat(64)}.myshopify.com`],
  ];

  it.each(bad)("refuses %s with 400 and a reason, on every route, storing and creating nothing", async (_what, shop) => {
    const before = await snapshot();
    for (const [path, topic] of [
      ["/webhooks/commerce", "orders/fulfilled"],
      ["/webhooks/app", "app/uninstalled"],
      ["/webhooks/compliance", "shop/redact"],
    ] as const) {
      const answer = await post(path, topic, order, shop!);
      expect({ path, status: answer.status, text: answer.text }).toEqual({
        path,
        status: 400,
        text: "X-Shopify-Shop-Domain is not a shop's <name>.myshopify.com domain",
      });
    }
    expect(await snapshot()).toEqual(before);
  });

  it("accepts a new shop with a valid domain", async () => {
    expect((await post("/webhooks/commerce", "orders/fulfilled", order, "new-shop-1.myshopify.com")).status).toBe(200);
    expect(await db().shop.count({ where: { domain: "new-shop-1.myshopify.com" } })).toBe(1);
  });
});

describe("methods other than POST on a webhook route", () => {
  it("are a quiet 405 with Allow: POST, on the direct commerce route and the Remix routes", async () => {
    const errors = vi.spyOn(console, "error");
    const warnings = vi.spyOn(console, "warn");
    for (const route of Object.values(WEBHOOK_ROUTES)) {
      for (const method of ["GET", "HEAD", "PUT", "DELETE", "PATCH"]) {
        const response = await fetch(`${app.origin}${route.path}`, { method, ...(method === "GET" || method === "HEAD" ? {} : { body: "{}" }) });
        await response.arrayBuffer();
        expect({ path: route.path, method, status: response.status, allow: response.headers.get("allow") }).toEqual({
          path: route.path,
          method,
          status: 405,
          allow: "POST",
        });
      }
    }
    expect(errors).not.toHaveBeenCalled();
    expect(warnings).not.toHaveBeenCalled();
  });
});

describe("/auth/login", () => {
  it("shows the login form instead of a 500", async () => {
    const response = await fetch(`${app.origin}/auth/login`);
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).toContain('name="shop"');
  });

  it("says what is wrong with a shop that is not a domain", async () => {
    const response = await fetch(`${app.origin}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ shop: "not a shop!" }),
    });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain("That is not a shop domain");
  });

  it("sends a shop's domain on to Shopify's install and sign-in page", async () => {
    const response = await fetch(`${app.origin}/auth/login?shop=my-store.myshopify.com`, { redirect: "manual" });
    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toBe("https://admin.shopify.com/store/my-store/oauth/install?client_id=test-api-key");
  });
});
