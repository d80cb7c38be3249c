/**
 * The topic catalog in the admin, clicked through in Chromium against the production build: the home page and the
 * Mappings page name the mappings that wait for a scope, "Grant access" asks through App Bridge's Scopes API (the
 * stand-in's permission dialog, answered like a merchant), the catalog section adds a mapping with one click, and
 * the editor's and the delivery log's topic pickers are grouped by stage. Screenshots go to
 * test-output/screenshots/.
 */
import { expect, test } from "vitest";
import { shopifyHmac } from "../support/webhooks";
import { describeBrowser, useBrowserHarness } from "./harness";

const KEY = "attentive-test-key";

describeBrowser("the catalog and access scopes in the admin", () => {
  const app = useBrowserHarness({ attentive: { apiKeys: [KEY], companyName: "Acme Outfitters" } });

  const toastMessages = async () => (await app().toasts()).map((toast) => toast.message);

  test("home names the mappings that wait for access and leads to the Mappings page", async () => {
    const { page, openApp, screenshot } = app();
    // Unverified: the CLI runs synchronously, so the Attentive stand-in in this process could not answer it.
    expect(app().cli("shops", "connect", app().shop, "--api-key", KEY, "--skip-verify").status).toBe(0);
    await openApp("/app");
    const banner = page.locator(".Polaris-Banner", { hasText: "Some mappings wait for access" });
    await expect.poll(() => banner.isVisible()).toBe(true);
    expect(await banner.textContent()).toContain("Parcel shipped, Delivery update wait for access to fulfillments");
    await screenshot("home-access-waiting");
    await banner.getByRole("link", { name: "Grant access on the Mappings page" }).click();
    await page.waitForURL(/\/app\/mappings(\?|$)/);
    await expect.poll(() => page.getByRole("heading", { level: 1, name: "Mappings" }).isVisible()).toBe(true);
  });

  test("adds a catalog mapping with one click and shows it in the list, marked while it waits", async () => {
    const { page, openApp, screenshot } = app();
    await openApp("/app/mappings");
    // The defaults a new shop starts with that need read_fulfillments are marked in the list.
    const shippedRow = page.getByRole("row").filter({ has: page.getByRole("link", { name: "Order Shipped", exact: true }) });
    expect(await shippedRow.getByText("Waits for access to fulfillments").isVisible()).toBe(true);
    const fulfilledRow = page.getByRole("row").filter({ has: page.getByRole("link", { name: "Order Fulfilled", exact: true }) });
    expect(await fulfilledRow.getByText("Waits for access", { exact: false }).count()).toBe(0);

    const catalog = page.getByRole("region", { name: "More events to send" });
    await screenshot("mappings-catalog");
    expect(await catalog.locator("th[scope=colgroup]").allTextContents()).toEqual(["Placed", "Paid", "Delivered", "Returned"]);

    const before = await app().db.mapping.count({ where: { shop: app().shop } });
    await catalog.getByRole("button", { name: "Add Return Requested" }).click();
    await expect.poll(toastMessages).toContain("“Return Requested” added and turned on: it waits for access to returns (grant it above)");
    const added = page.getByRole("row").filter({ has: page.getByRole("link", { name: "Return Requested", exact: true }) });
    await expect.poll(() => added.isVisible()).toBe(true);
    expect(await added.getByText("Waits for access to returns").isVisible()).toBe(true);
    expect(await added.getByRole("button", { name: "Turn off Return Requested" }).isVisible()).toBe(true);
    expect(await added.locator(".Polaris-Badge", { hasText: /On$/ }).isVisible()).toBe(true);
    await expect.poll(() => catalog.getByRole("button", { name: "Add Return Requested" }).count()).toBe(0);
    expect(await app().db.mapping.count({ where: { shop: app().shop } })).toBe(before + 1);
    expect(await app().db.mapping.findFirstOrThrow({ where: { shop: app().shop, eventType: "Return Requested" } })).toMatchObject({ topic: "returns/request", enabled: true });

    const banner = page.locator(".Polaris-Banner", { hasText: "Some mappings wait for access" });
    await expect.poll(() => banner.textContent()).toContain("Return requested waits for access to returns");
    await screenshot("mappings-catalog-added");
    expect(app().pageErrors).toEqual([]);
  });

  test("Grant access asks Shopify for the missing scopes; declined, they keep waiting; granted, the page shows it", async () => {
    const { page, openApp, screenshot } = app();
    await openApp("/app/mappings");
    const banner = page.locator(".Polaris-Banner", { hasText: "Some mappings wait for access" });
    const dialog = page.getByRole("dialog", { name: "Grant access to this app?" });

    await banner.getByRole("button", { name: "Grant access" }).click();
    await expect.poll(() => dialog.isVisible()).toBe(true);
    expect(await dialog.getByRole("listitem").allTextContents()).toEqual(["read_fulfillments", "read_returns"]);
    await screenshot("mappings-grant-dialog");
    await dialog.getByRole("button", { name: "Decline" }).click();
    await expect.poll(toastMessages).toContain("Access not granted: those mappings keep waiting");
    expect(await banner.isVisible()).toBe(true);
    expect(app().shopifyAdmin.calls).toHaveLength(0);

    await banner.getByRole("button", { name: "Grant access" }).click();
    await dialog.getByRole("button", { name: "Grant" }).click();
    await expect.poll(toastMessages).toContain("Access granted");
    await expect.poll(() => banner.count()).toBe(0);
    expect(await page.getByText("Waits for access", { exact: false }).count()).toBe(0);
    expect((await app().standInLog()).scopeRequests.map((entry) => [entry.scopes, entry.result])).toEqual([
      [["read_fulfillments", "read_returns"], "declined-all"],
      [["read_fulfillments", "read_returns"], "granted-all"],
    ]);
    // The app asked Shopify's Admin API, with the shop's offline token, and recorded its answer.
    expect(app().shopifyAdmin.calls.map((call) => [call.shop, call.operationName, call.accessToken])).toEqual([
      [app().shop, "FetchAccessScopes", "shpat_browser_test_token"],
    ]);
    expect(app().shopifyAdmin.unexpected).toEqual([]);
    const session = await app().db.session.findFirstOrThrow({ where: { shop: app().shop, isOnline: false } });
    expect(session.scope?.split(",").sort()).toEqual(["read_fulfillments", "read_orders", "read_returns"]);
    await screenshot("mappings-access-granted");
    expect(app().pageErrors).toEqual([]);
  });

  test("the editor's topic picker is grouped by stage, describes the chosen topic and offers its default properties", async () => {
    const { page, openApp, screenshot } = app();
    await openApp("/app/mappings/new");
    const picker = page.getByLabel("Shopify event");
    expect(await picker.locator("optgroup").evaluateAll((groups) => groups.map((group) => group.getAttribute("label")))).toEqual([
      "Placed",
      "Paid",
      "Shipped",
      "Delivered",
      "Cancelled",
      "Refunded",
      "Returned",
    ]);
    expect(await picker.locator('optgroup[label="Shipped"] option').allTextContents()).toEqual(["Parcel shipped (fulfillments/create)", "Order fulfilled (orders/fulfilled)"]);
    await expect.poll(() => page.getByText("Every item of the order has shipped", { exact: false }).isVisible()).toBe(true);

    await picker.selectOption("fulfillments/create");
    await expect.poll(() => page.getByText("A fulfillment was created: one parcel of the order", { exact: false }).isVisible()).toBe(true);
    await page.getByRole("button", { name: "Use the default properties of Parcel shipped (8)" }).click();
    const names = page.getByLabel("Property name");
    await expect.poll(() => names.evaluateAll((inputs) => inputs.map((input) => (input as HTMLInputElement).value))).toEqual([
      "orderName",
      "firstName",
      "trackingNumber",
      "trackingUrl",
      "trackingCompany",
      "itemTitles",
      "itemCount",
      "orderStatusUrl",
    ]);
    expect(await page.getByRole("button", { name: /^Use the default properties/ }).count()).toBe(0);
    await screenshot("editor-topic-groups");
    expect(app().pageErrors).toEqual([]);
  });

  test("the delivery log filters by every catalog topic, grouped by stage, by Flow and by past orders", async () => {
    const { page, openApp } = app();
    await openApp("/app/deliveries");
    // The Source filter of the log's search-and-filter bar (Polaris IndexFilters): one group of choices per stage.
    await page.getByRole("button", { name: "Search and filter deliveries" }).click();
    await page.getByRole("button", { name: "Source", exact: true }).click();
    const choices = (group: string) => page.getByRole("group", { name: group, exact: true }).getByRole("radio");
    const labels = (group: string) => choices(group).evaluateAll((radios) => radios.map((radio) => radio.closest("label")?.textContent ?? ""));
    await expect.poll(() => labels("Returned")).toEqual(["Return requested", "Return approved", "Return declined", "Return closed"]);
    expect(await labels("Shopify Flow")).toEqual(["Flow action"]);
    expect(await labels("Past orders")).toEqual(["Backfill (past orders)"]);
    // The 11 catalog topics, Flow and past orders.
    expect(await page.locator('input[type="radio"][name="delivery-log-source"]').count()).toBe(13);
    // Polaris draws its own radio over the input: the merchant clicks the choice's label.
    await page.locator("label", { has: page.getByRole("radio", { name: "Return requested" }) }).click();
    await page.waitForURL(/topic=returns%2Frequest/);
    expect(await page.getByRole("button", { name: "Source: Return requested" }).isVisible()).toBe(true);
    await expect.poll(() => page.getByText("No deliveries match").isVisible()).toBe(true);
  });

  test("a Flow run shows in the log by its run, and Settings explains Flow with a link to it", async () => {
    const { page, openApp, screenshot } = app();
    const body = JSON.stringify({
      shop_id: 1,
      shopify_domain: app().shop,
      action_run_id: "browser-run-1",
      handle: "send-attentive-event",
      properties: { event_type: "Loyalty Tier Reached", properties: "", email: "jane@example.com", phone: "", customer_id: "" },
    });
    const posted = await fetch(`${app().appUrl}/flow/actions/send-attentive-event`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-shopify-hmac-sha256": shopifyHmac(body, app().apiSecret), "user-agent": app().userAgent },
      body,
    });
    expect(posted.status).toBe(200);

    await openApp("/app/deliveries?topic=flow%2Faction");
    const row = page.getByRole("row").filter({ hasText: "Loyalty Tier Reached" });
    await expect.poll(() => row.count()).toBe(1);
    expect(await row.getByText("Run browser-run-1").isVisible()).toBe(true);
    expect(await row.getByText("Flow action").isVisible()).toBe(true);
    await expect.poll(() => page.getByText(/Matching, last 7 days: 0 from Shopify webhooks · 1 from Flow/).isVisible()).toBe(true);
    await screenshot("delivery-log-flow");

    await openApp("/app/settings");
    await expect.poll(() => page.getByRole("heading", { name: "Shopify Flow" }).isVisible()).toBe(true);
    expect(await page.getByText("Trigger: Attentive event failed").isVisible()).toBe(true);
    expect(await page.getByRole("link", { name: "Open Shopify Flow" }).getAttribute("href")).toBe("shopify://admin/apps/flow");
    await screenshot("settings-flow");
    expect(app().pageErrors).toEqual([]);
  });
});
