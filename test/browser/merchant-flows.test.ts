/**
 * What a merchant clicks through, in Chromium against the production build: connect a
 * key, create a mapping and watch its preview, send a test event, find the event in the
 * delivery log, and retry a failed one. Screenshots of each page go to
 * test-output/screenshots/ (looked at when the UI changes; README shows two).
 */
import { readFileSync } from "node:fs";
import { expect, test } from "vitest";
import { describeBrowser, useBrowserHarness } from "./harness";

const KEY = "attentive-test-key";
const order = readFileSync(new URL("../fixtures/shopify/orders_fulfilled.derived.json", import.meta.url), "utf8");

function orderWithId(id: number): string {
  return order
    .replace(/"admin_graphql_api_id": "gid:\/\/shopify\/Order\/\d+"/, `"admin_graphql_api_id": "gid://shopify/Order/${id}"`)
    .replace(/"name": "#9999"/, `"name": "#${id}"`)
    .replaceAll("2022-01-03T10:15:00-05:00", new Date().toISOString());
}

describeBrowser("a merchant's flows", () => {
  const app = useBrowserHarness({ attentive: { apiKeys: [KEY], companyName: "Acme Outfitters" } });

  async function waitForStatus(status: string, count: number) {
    await expect
      .poll(() => app().db.delivery.count({ where: { status } }), { timeout: 15_000, interval: 100 })
      .toBe(count);
  }

  test("connects an Attentive key in Settings", async () => {
    const { page, openApp, screenshot } = app();
    await openApp("/app/settings");
    await page.getByLabel("API key").fill(KEY);
    await page.getByRole("button", { name: "Verify and connect" }).click();
    await expect.poll(async () => (await app().toasts()).map((toast) => toast.message)).toContain("Connected to Acme Outfitters");
    await expect.poll(() => page.getByText("Connected to Acme Outfitters", { exact: false }).first().isVisible()).toBe(true);
    expect(await page.content()).not.toContain(KEY);
    await screenshot("settings");
  });

  test("shows a wrong key's error on the field and keeps the connected one", async () => {
    const { page, openApp } = app();
    await openApp("/app/settings");
    await page.getByLabel("Replace with a new API key").fill("wrong-key-0000");
    await page.getByRole("button", { name: "Verify and replace" }).click();
    const error = page.getByText("The key was not saved", { exact: false });
    await expect.poll(() => error.isVisible()).toBe(true);
    expect(await error.textContent()).not.toContain("wrong-key-0000");
    expect((await app().db.shop.findUniqueOrThrow({ where: { domain: app().shop } })).attentiveKeyLast4).toBe(KEY.slice(-4));
  });

  test("changes the settings through the save bar: Discard restores them, Save stores them", async () => {
    const { page, openApp } = app();
    await openApp("/app/settings");
    const saveBar = page.getByRole("region", { name: "Unsaved changes" });
    expect(await saveBar.isVisible()).toBe(false);

    await page.getByLabel("Keep delivery logs for").selectOption("90");
    await expect.poll(() => saveBar.isVisible()).toBe(true);
    await saveBar.getByRole("button", { name: "Discard" }).click();
    await expect.poll(() => saveBar.isVisible()).toBe(false);
    expect(await page.getByLabel("Keep delivery logs for").inputValue()).toBe("30");

    await page.getByLabel("Pause sending to Attentive").check();
    await page.getByLabel("Keep delivery logs for").selectOption("90");
    await saveBar.getByRole("button", { name: "Save" }).click();
    await expect.poll(async () => (await app().toasts()).map((toast) => toast.message)).toContain("Settings saved");
    await expect.poll(() => saveBar.isVisible()).toBe(false);
    const shop = await app().db.shop.findUniqueOrThrow({ where: { domain: app().shop } });
    expect([shop.sendingPaused, shop.logRetentionDays]).toEqual([true, 90]);

    // Back as they were, for the tests after this one.
    await page.getByLabel("Pause sending to Attentive").uncheck();
    await page.getByLabel("Keep delivery logs for").selectOption("30");
    await saveBar.getByRole("button", { name: "Save" }).click();
    await expect.poll(async () => (await app().db.shop.findUniqueOrThrow({ where: { domain: app().shop } })).sendingPaused).toBe(false);
  });

  test("creates a mapping: inline errors, live preview, test event, save", async () => {
    const { page, openApp, screenshot } = app();
    await openApp("/app/mappings");
    await screenshot("mappings");
    await page.getByRole("link", { name: "Create mapping" }).first().click();
    await page.waitForURL(/\/app\/mappings\/new/);

    await page.getByLabel("Attentive event type").fill("Order (Shipped)");
    await expect.poll(() => page.getByText("parenthesis", { exact: false }).first().isVisible(), { timeout: 10_000 }).toBe(true);

    await page.getByLabel("Attentive event type").fill("Order Complete");
    await page.getByRole("button", { name: "Add property" }).click();
    await page.getByLabel("Property name").nth(1).fill("total");
    await page.getByLabel("Liquid template").nth(1).fill("{{ total_price | plus: 0 }}");
    const preview = page.getByTestId("preview-request");
    await expect.poll(async () => (await preview.isVisible()) && (await preview.textContent()), { timeout: 10_000 }).toContain('"total": 404.95');
    expect(await preview.textContent()).toContain('"type": "Order Complete"');
    expect(await preview.textContent()).toContain('"orderName": "#9999"');
    await expect.poll(() => page.getByRole("region", { name: "Unsaved changes" }).isVisible()).toBe(true);
    await screenshot("mapping-editor");

    await page.getByRole("button", { name: "Send test event" }).click();
    await expect.poll(async () => (await page.getByTestId("test-result").textContent()) ?? "", { timeout: 10_000 }).toContain("accepted");
    expect(app().attentive.received.map((event) => event.input.type)).toContain("Order Complete");

    await page.getByRole("region", { name: "Unsaved changes" }).getByRole("button", { name: "Save" }).click();
    await page.waitForURL(/\/app\/mappings\/(?!new)[^/?]+/);
    await expect.poll(async () => (await app().toasts()).map((toast) => toast.message)).toContain("Mapping saved");
    const saved = await app().db.mapping.findFirstOrThrow({ where: { shop: app().shop, eventType: "Order Complete" } });
    expect(JSON.parse(saved.properties)).toEqual({ orderName: "{{ name }}", total: "{{ total_price | plus: 0 }}" });

    await app().setViewport("mobile");
    await screenshot("mapping-editor-mobile");
    await app().setViewport("desktop");
  });

  test("opens a saved mapping with its preview in the server's HTML, and previews again as it changes", async () => {
    const { page, openApp } = app();
    const saved = await app().db.mapping.findFirstOrThrow({ where: { shop: app().shop, eventType: "Order Complete" } });
    const previews: string[] = [];
    const onRequest = (request: { method(): string; url(): string }) => {
      if (request.method() === "POST" && request.url().includes(`/app/mappings/${saved.id}`)) previews.push(request.url());
    };
    page.on("request", onRequest);
    try {
      const response = await openApp(`/app/mappings/${saved.id}`);
      // The loader rendered it (decision 033): the page's largest element is there before any script runs.
      expect(await response!.text()).toContain('data-testid="preview-request"');
      const preview = page.getByTestId("preview-request");
      expect(await preview.textContent()).toContain('"total": 404.95');
      expect(previews).toEqual([]);

      await page.getByLabel("Liquid template").nth(1).fill("{{ total_price | plus: 1 }}");
      await expect.poll(async () => (await preview.textContent()) ?? "", { timeout: 10_000 }).toContain('"total": 405.95');
      expect(previews.length).toBeGreaterThanOrEqual(1);
    } finally {
      page.off("request", onRequest);
    }
  });

  test("rearranges properties (move, remove, add from the field list, rename) into the preview and the saved mapping", async () => {
    const { page, openApp } = app();
    await openApp("/app/mappings/new");
    await page.getByLabel("Attentive event type").fill("Order Rearranged");
    await page.getByRole("button", { name: "Add property" }).click();
    await page.getByLabel("Property name").nth(1).fill("total");
    await page.getByLabel("Liquid template").nth(1).fill("{{ total_price }}");
    const preview = page.getByTestId("preview-request");
    const previewKeys = async () => {
      const text = (await preview.isVisible()) ? await preview.textContent() : null;
      return text ? Object.keys((JSON.parse(text) as { properties: Record<string, unknown> }).properties) : [];
    };
    await expect.poll(previewKeys, { timeout: 10_000 }).toEqual(["orderName", "total"]);

    // Each row is drawn on its own (memoised): its buttons must act on where it is now, not where it was drawn.
    await page.getByRole("button", { name: "Move total up" }).click();
    await expect.poll(previewKeys, { timeout: 10_000 }).toEqual(["total", "orderName"]);
    expect(await page.getByRole("button", { name: "Move total up" }).isDisabled()).toBe(true);
    expect(await page.getByRole("button", { name: "Move orderName down" }).isDisabled()).toBe(true);

    await page.getByRole("button", { name: "Show" }).click();
    await page.getByLabel("Find a field").fill("email");
    await page.getByRole("button", { name: "Add email as a property", exact: true }).click();
    await expect.poll(previewKeys, { timeout: 10_000 }).toEqual(["total", "orderName", "email"]);

    await page.getByRole("button", { name: "Remove orderName" }).click();
    await page.getByLabel("Property name").nth(0).fill("amount");
    await expect.poll(previewKeys, { timeout: 10_000 }).toEqual(["amount", "email"]);

    // Off, so that it sends nothing to the tests after this one.
    await page.getByLabel("Sending on").uncheck();
    await page.getByRole("region", { name: "Unsaved changes" }).getByRole("button", { name: "Save" }).click();
    await page.waitForURL(/\/app\/mappings\/(?!new)[^/?]+/);
    const saved = await app().db.mapping.findFirstOrThrow({ where: { shop: app().shop, eventType: "Order Rearranged" } });
    expect(JSON.parse(saved.properties)).toEqual({ amount: "{{ total_price }}", email: "{{ email }}" });
    expect(saved.enabled).toBe(false);
    await app().db.mapping.delete({ where: { id: saved.id } });
  });

  test("finds the delivered event in the log and opens it", async () => {
    const { page, openApp, screenshot } = app();
    const response = await app().signedWebhook("orders/fulfilled", orderWithId(5001));
    expect(response.status).toBe(200);
    await waitForStatus("delivered", 2); // the default "Order Fulfilled" and "Order Complete", made above
    expect(app().attentive.received.filter((event) => event.input.type === "Order Complete" && event.properties.orderName === "#5001")).toHaveLength(1);

    await openApp("/app/deliveries");
    await expect.poll(() => page.getByText("#5001").first().isVisible()).toBe(true);
    await expect.poll(() => page.locator(".Polaris-Badge", { hasText: "Delivered" }).first().isVisible()).toBe(true);
    await screenshot("delivery-log");

    // The log's search (Polaris IndexFilters): opened from its search-and-filter button, applied as the merchant types.
    await page.getByRole("button", { name: "Search and filter deliveries" }).click();
    await page.getByRole("textbox", { name: "Search by order name or email" }).fill("#5001");
    await page.waitForURL(/q=%235001/);
    await expect.poll(() => page.locator("a[data-primary-link]").count()).toBe(2);
    await page.locator("a[data-primary-link]").first().click();
    await page.waitForURL(/\/app\/deliveries\/[^/?]+/);
    await expect.poll(() => page.getByText("Request sent to Attentive", { exact: false }).isVisible()).toBe(true);
    await screenshot("delivery-detail");

    await app().setViewport("mobile");
    await openApp("/app/deliveries");
    await screenshot("delivery-log-mobile");
    await app().setViewport("desktop");
  });

  test("retries a failed delivery from its page", async () => {
    const { page, openApp, screenshot } = app();
    app().attentive.injectFaults({ kind: "status", status: 400, body: '{"error":{"id":1,"message":"temporarily refused in test"}}' });
    await app().db.mapping.updateMany({ where: { shop: app().shop, eventType: "Order Fulfilled" }, data: { enabled: false } });
    await app().signedWebhook("orders/fulfilled", orderWithId(5002));
    await waitForStatus("failed", 1);

    await openApp("/app/deliveries?status=failed");
    await expect.poll(() => page.getByText("#5002").first().isVisible()).toBe(true);
    await page.locator("a[data-primary-link]").first().click();
    await page.waitForURL(/\/app\/deliveries\/[^/?]+/);
    await expect.poll(() => page.getByText("temporarily refused in test", { exact: false }).first().isVisible()).toBe(true);
    await screenshot("delivery-failed");

    await page.getByRole("button", { name: "Retry" }).click();
    await expect.poll(async () => (await app().toasts()).map((toast) => toast.message)).toContain("Delivery queued for another attempt");
    await waitForStatus("failed", 0);
    await waitForStatus("delivered", 3);
    const sent = app().attentive.received.filter((event) => event.properties.orderName === "#5002");
    expect(sent).toHaveLength(1);
  });

  test("manages mappings from the list: switch off, duplicate, delete, export, import", async () => {
    const { page, openApp, screenshot } = app();
    await openApp("/app/mappings");
    const complete = await app().db.mapping.findFirstOrThrow({ where: { shop: app().shop, eventType: "Order Complete" } });

    await page.getByRole("button", { name: "Turn off Order Complete" }).click();
    await expect.poll(async () => (await app().db.mapping.findUniqueOrThrow({ where: { id: complete.id } })).enabled).toBe(false);

    await page.getByRole("button", { name: "Duplicate Order Complete" }).click();
    await expect.poll(() => page.getByText("Order Complete copy").isVisible()).toBe(true);

    await page.getByRole("button", { name: "Delete Order Complete copy" }).click();
    const confirm = page.getByRole("dialog");
    await expect.poll(() => confirm.isVisible()).toBe(true);
    await screenshot("mappings-delete-confirm");
    await confirm.getByRole("button", { name: "Delete mapping" }).click();
    await expect.poll(() => app().db.mapping.count({ where: { shop: app().shop, eventType: "Order Complete copy" } })).toBe(0);

    const download = page.waitForEvent("download");
    await page.getByRole("button", { name: "Export" }).click();
    const exported = JSON.parse(readFileSync(await (await download).path(), "utf8")) as { mappings: Array<{ eventType: string }> };
    expect(exported.mappings.map((mapping) => mapping.eventType)).toContain("Order Complete");

    const before = await app().db.mapping.count({ where: { shop: app().shop } });
    await page.getByRole("button", { name: "Import" }).click();
    await page.locator('input[type="file"]').setInputFiles({
      name: "broken.json",
      mimeType: "application/json",
      buffer: Buffer.from(JSON.stringify({ mappings: [{ topic: "orders/fulfilled", eventType: "Bad, name", properties: {} }] })),
    });
    await expect.poll(() => page.getByText("The file was not imported; nothing was changed.").isVisible()).toBe(true);
    await expect.poll(() => page.getByText("comma", { exact: false }).first().isVisible()).toBe(true);
    expect(await app().db.mapping.count({ where: { shop: app().shop } })).toBe(before);
    await screenshot("mappings-import-error");
  });

  test("home shows the figures, the chart and what needs attention", async () => {
    const { page, openApp, screenshot } = app();
    await openApp("/app");
    await expect.poll(() => page.getByText("Deliveries per hour", { exact: false }).isVisible()).toBe(true);
    await expect.poll(() => page.getByText("Success rate (7 days)").isVisible()).toBe(true);
    await expect.poll(() => page.locator("svg").count()).toBeGreaterThan(0);
    // The status card: whether the app is set up and working, check by check.
    expect(await page.locator("#status-key").textContent()).toContain("Attentive key accepted");
    expect(await page.locator("#status-flowing").textContent()).toContain("Events are reaching Attentive");
    // Mappings the tests before this one made wait for access to fulfillments: the mappings check is a warning.
    expect(await page.locator("#status-mappings").textContent()).toMatch(/mappings? waits? for access/);
    const failed = await app().db.delivery.count({ where: { shop: app().shop, status: "failed" } });
    expect(await page.locator("#status-failures").textContent()).toContain(failed === 0 ? "Nothing failed" : `failed in the last 24 hours`);
    // The headline counts the checks that are not OK.
    const notOk = await page.locator('li[id^="status-"]:not([data-state="ok"])').count();
    const headline = notOk === 0 ? "Set up and working" : `${notOk} thing${notOk === 1 ? " needs" : "s need"} your attention`;
    expect(notOk).toBeGreaterThan(0);
    expect(await page.getByRole("heading", { level: 2, name: headline }).isVisible()).toBe(true);
    await screenshot("home-connected");
    expect(app().pageErrors).toEqual([]);
  });
});
