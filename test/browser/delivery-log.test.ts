/**
 * The delivery log's search and filter bar (Polaris IndexFilters), in Chromium against the production build: search by
 * order name and by email, a status filter shown as a pill and held in the URL, the saved views as tabs, a reload of a
 * shared URL showing the same view, pages to older deliveries and back, and a row opening its delivery; then the
 * mappings list's search, filter and tabs, the same pattern. The log is
 * seeded through signed webhooks that the real worker delivers to the Attentive stand-in, then given fixed dates and
 * the statuses the views are about. Screenshots go to test-output/screenshots/ and, for the README, the desktop and
 * 375 px ones to docs/screenshots/.
 */
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { expect, test } from "vitest";
import { describeBrowser, DOCS_SCREENSHOT_DIR, useBrowserHarness } from "./harness";

const KEY = "attentive-test-key";
const order = readFileSync(new URL("../fixtures/shopify/orders_fulfilled.derived.json", import.meta.url), "utf8");
const cancelled = readFileSync(new URL("../fixtures/shopify/orders_cancelled.derived.json", import.meta.url), "utf8");
const PHONE = { width: 375, height: 812 };
const DESKTOP = { width: 1280, height: 800 };

/** An order's webhook with its own id, name and email; it happened now, so it is not stale when sent. */
function orderBody(text: string, id: number): string {
  const body = JSON.parse(text) as Record<string, unknown>;
  body.id = id;
  body.admin_graphql_api_id = `gid://shopify/Order/${id}`;
  body.name = `#${id}`;
  body.email = body.contact_email = `buyer${id}@example.com`;
  const customer = body.customer as Record<string, unknown> | undefined;
  if (customer) customer.email = `buyer${id}@example.com`;
  const now = new Date().toISOString();
  for (const fulfillment of (body.fulfillments as Array<Record<string, unknown>> | undefined) ?? []) fulfillment.created_at = now;
  if (body.cancelled_at) body.cancelled_at = now;
  return JSON.stringify(body);
}

/** Received at fixed times (UTC) so the page and its screenshots are the same on every run. */
const receivedAt = (index: number) => new Date(Date.UTC(2026, 10, 2, 9, 15) + index * 47 * 60_000);

describeBrowser("the delivery log's search, filters and views", () => {
  const app = useBrowserHarness({ attentive: { apiKeys: [KEY], companyName: "Acme Outfitters" } });

  const rows = () => app().page.locator(".Polaris-IndexTable__TableRow");
  const shownOrders = () => rows().evaluateAll((found) => found.map((row) => row.querySelectorAll("td")[1]?.textContent ?? "").sort());
  const query = () => new URL(app().page.url()).searchParams;
  const tab = (name: string) => app().page.getByRole("tab", { name, exact: true });
  const selectedTab = () => app().page.getByRole("tab", { selected: true }).textContent();
  const searchField = () => app().page.getByRole("textbox", { name: "Search by order name or email" });

  async function waitForDeliveries(count: number) {
    await expect.poll(() => app().db.delivery.count({ where: { status: { in: ["delivered", "failed", "skipped"] } } }), { timeout: 20_000, interval: 100 }).toBe(count);
  }

  /** WCAG 2.1 A and AA as axe-core checks them, on the page as it is. */
  async function accessibilityViolations(page: Page): Promise<string[]> {
    const axePath = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
    if (!(await page.evaluate(() => "axe" in window))) await page.addScriptTag({ path: axePath });
    return page.evaluate(async () => {
      const axe = (window as unknown as { axe: { run(context: unknown, options: unknown): Promise<{ violations: Array<{ id: string; nodes: Array<{ target: unknown }> }> }> } }).axe;
      const result = await axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } });
      return result.violations.map((violation) => `${violation.id}: ${violation.nodes.map((node) => JSON.stringify(node.target)).join(", ")}`);
    });
  }

  /** Six orders' deliveries, sent for real, then dated and given the statuses the views are about. */
  async function seed() {
    const harness = app();
    expect(harness.cli("shops", "connect", harness.shop, "--api-key", KEY, "--skip-verify").status).toBe(0);
    // The shop's first admin page gives it the default mappings (Order Fulfilled, Order Cancelled, …).
    await harness.openApp("/app");
    for (const id of [4101, 4102, 4103, 4104, 4105]) expect((await harness.signedWebhook("orders/fulfilled", orderBody(order, id))).status).toBe(200);
    expect((await harness.signedWebhook("orders/cancelled", orderBody(cancelled, 4106))).status).toBe(200);
    const live = await harness.db.delivery.count();
    expect(live).toBeGreaterThanOrEqual(6);
    await waitForDeliveries(live);

    const byOrder = async (name: string) => harness.db.delivery.findMany({ where: { orderName: name }, select: { id: true } });
    const ids = async (name: string) => (await byOrder(name)).map((row) => row.id);
    const all = await harness.db.delivery.findMany({ orderBy: [{ orderName: "asc" }, { eventType: "asc" }], select: { id: true, email: true, orderName: true } });
    expect(all.map((row) => [row.orderName, row.email])).toContainEqual(["#4103", "buyer4103@example.com"]);
    for (const [index, row] of all.entries()) await harness.db.delivery.update({ where: { id: row.id }, data: { createdAt: receivedAt(index) } });
    // #4102 failed, #4103 was sent late, #4104 waits for its next attempt, #4105 came from a backfill of past orders.
    await harness.db.delivery.updateMany({
      where: { id: { in: await ids("#4102") } },
      data: { status: "failed", attempts: 5, errorKind: "retryable", lastError: "Gave up after 5 attempts: Attentive answered HTTP 503" },
    });
    await harness.db.delivery.updateMany({ where: { id: { in: await ids("#4103") } }, data: { stale: true } });
    await harness.db.delivery.updateMany({
      where: { id: { in: await ids("#4104") } },
      data: { status: "pending", attempts: 1, finishedAt: null, nextAttemptAt: new Date(Date.now() + 24 * 3_600_000), errorKind: "retryable", lastError: "Attentive answered HTTP 503: trying again" },
    });
    const backfill = await harness.db.backfill.create({
      data: { shop: harness.shop, status: "completed", since: new Date(Date.UTC(2026, 9, 1)), until: new Date(Date.UTC(2026, 10, 1)), mappingIds: "[]", topics: '["orders/fulfilled"]' },
    });
    await harness.db.delivery.updateMany({ where: { id: { in: await ids("#4105") } }, data: { backfillId: backfill.id, stale: true } });

    // Dates in the page in one time zone, whatever the machine's.
    const cdp = await harness.page.context().newCDPSession(harness.page);
    await cdp.send("Emulation.setTimezoneOverride", { timezoneId: "UTC" });
  }

  test("opens on the All view, with the saved views as tabs and the deliveries newest first", async () => {
    const { page, openApp } = app();
    await seed();
    await openApp("/app/deliveries");
    await expect.poll(() => page.getByRole("heading", { level: 1, name: "Delivery log" }).isVisible()).toBe(true);
    expect(await page.getByRole("tab").allTextContents()).toEqual(["All", "Failed", "Stale", "Waiting", "Past orders"]);
    expect(await selectedTab()).toBe("All");
    expect(await shownOrders()).toEqual(["#4101", "#4102", "#4103", "#4104", "#4105", "#4106"]);
    // The row keeps a real link to its delivery (keyboard users and "open in new tab").
    expect(await rows().first().locator("a[data-primary-link]").getAttribute("href")).toMatch(/^\/app\/deliveries\/[^/?]+$/);
    expect(await accessibilityViolations(page)).toEqual([]);
    expect(app().pageErrors).toEqual([]);
  });

  test("searches by order name and by email, and the URL holds the search", async () => {
    const { page } = app();
    await page.getByRole("button", { name: "Search and filter deliveries" }).click();
    await expect.poll(() => searchField().isVisible()).toBe(true);
    await searchField().fill("#4102");
    await expect.poll(() => query().get("q")).toBe("#4102");
    await expect.poll(shownOrders).toEqual(["#4102"]);

    await searchField().fill("buyer4103@example.com");
    await searchField().press("Enter");
    await expect.poll(() => query().get("q")).toBe("buyer4103@example.com");
    await expect.poll(shownOrders).toEqual(["#4103"]);
    expect(await page.getByText("Matching, last 7 days", { exact: false }).isVisible()).toBe(true);

    await searchField().fill("");
    await expect.poll(() => query().has("q")).toBe(false);
    await expect.poll(() => rows().count()).toBe(6);
    expect(app().pageErrors).toEqual([]);
  });

  test("a status filter shows as a pill and in the URL, and removing the pill clears it", async () => {
    const { page, screenshot } = app();
    await page.getByRole("button", { name: "Status", exact: true }).click();
    await page.getByRole("checkbox", { name: "Failed" }).click();
    await expect.poll(() => page.getByRole("checkbox", { name: "Failed" }).isChecked()).toBe(true);
    await expect.poll(() => query().getAll("status")).toEqual(["failed"]);
    await expect.poll(shownOrders).toEqual(["#4102"]);
    // Escape closes the popover and keeps the filter (and the filter bar).
    await page.keyboard.press("Escape");
    await expect.poll(() => page.getByRole("checkbox", { name: "Failed" }).count()).toBe(0);
    expect(query().getAll("status")).toEqual(["failed"]);
    expect(await searchField().isVisible()).toBe(true);
    const pill = page.getByRole("button", { name: "Status: Failed" });
    await expect.poll(() => pill.isVisible()).toBe(true);
    expect(await page.getByText("Matching, last 7 days", { exact: false }).textContent()).toContain("Matching, last 7 days");
    await screenshot("delivery-log-status-pill");

    // The pill's own remove button (its popover has a Clear too).
    await pill.locator("xpath=following-sibling::button").click();
    await expect.poll(() => query().has("status")).toBe(false);
    await expect.poll(() => rows().count()).toBe(6);
    await expect.poll(() => pill.count()).toBe(0);
    expect(app().pageErrors).toEqual([]);
  });

  test("two changes made before the page shows the first both count: two boxes ticked, or a tab right after another", async () => {
    const { page, openApp } = app();
    await openApp("/app/deliveries");
    await page.getByRole("button", { name: "Search and filter deliveries" }).click();
    await page.getByRole("button", { name: "Status", exact: true }).click();
    const [delivered, failed] = [await page.getByRole("checkbox", { name: "Delivered" }).elementHandle(), await page.getByRole("checkbox", { name: "Failed" }).elementHandle()];
    // Both clicks in one task: React cannot render the first change (its navigation) before the second click.
    await page.evaluate(([first, second]) => {
      (first as HTMLElement).click();
      (second as HTMLElement).click();
    }, [delivered, failed] as const);
    await expect.poll(() => query().getAll("status")).toEqual(["delivered", "failed"]);
    // #4101 was sent, #4102 failed, #4104 waits.
    await expect.poll(async () => (await shownOrders()).filter((name) => ["#4101", "#4102", "#4104"].includes(name))).toEqual(["#4101", "#4102"]);
    await page.keyboard.press("Escape");

    // A tab clicked right after another, as a person clicks (each click its own task), without waiting for the first
    // tab's URL: the first tab shows as selected at once, so Polaris passes the second click on.
    await openApp("/app/deliveries");
    await tab("Past orders").click();
    await tab("All").click();
    await expect.poll(() => query().toString()).toBe("");
    await expect.poll(selectedTab).toBe("All");
    await expect.poll(() => rows().count()).toBe(6);
    expect(app().pageErrors).toEqual([]);
  });

  test("a tab clicked while the log loads reaches the tab: the table's loading panel stays off the filter bar", async () => {
    const { page, openApp } = app();
    await openApp("/app/deliveries");
    // Polaris slides the loading panel in from just above the table over 100 ms; a busy machine (or a quick second
    // click) catches it there. Slowed to 1,000 s, it stays there while the Past orders view's data is held back.
    await page.addStyleTag({ content: ".Polaris-IndexTable__LoadingPanel { transition-duration: 1000s !important; }" });
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    await page.route(
      (url) => url.searchParams.get("topic") === "backfill" && url.searchParams.has("_data"),
      async (route) => {
        await held;
        await route.continue().catch(() => undefined);
      },
    );
    try {
      await tab("Past orders").click();
      await expect.poll(() => page.locator(".Polaris-IndexTable__LoadingPanel").evaluateAll((panels) => panels.some((panel) => getComputedStyle(panel).visibility === "visible"))).toBe(true);
      // What a click at the All tab's centre lands on: the tab, not the panel.
      const box = await tab("All").boundingBox();
      expect(box).not.toBeNull();
      const hit = await page.evaluate(({ x, y }) => document.elementFromPoint(x, y)?.closest('[role="tab"]')?.textContent ?? document.elementFromPoint(x, y)?.textContent, { x: box!.x + box!.width / 2, y: box!.y + box!.height / 2 });
      expect(hit).toBe("All");
      await tab("All").click({ timeout: 5_000 });
      await expect.poll(() => query().toString()).toBe("");
      await expect.poll(selectedTab).toBe("All");
      await expect.poll(() => rows().count()).toBe(6);
    } finally {
      release();
      await page.unrouteAll({ behavior: "ignoreErrors" });
    }
    expect(app().pageErrors).toEqual([]);
  });

  test("the Failed, Stale, Waiting and Past orders tabs are views of the log, each with its URL", async () => {
    const { page, openApp } = app();
    await openApp("/app/deliveries");
    await tab("Failed").click();
    await expect.poll(() => query().toString()).toBe("status=failed");
    await expect.poll(selectedTab).toBe("Failed");
    await expect.poll(shownOrders).toEqual(["#4102"]);
    expect(await page.getByRole("button", { name: "Retry failed deliveries matching the filter" }).isVisible()).toBe(true);

    await tab("Stale").click();
    await expect.poll(() => query().toString()).toBe("stale=1");
    await expect.poll(selectedTab).toBe("Stale");
    // Live late events: the backfill's past orders are late by design and stay out.
    await expect.poll(shownOrders).toEqual(["#4103"]);

    await tab("Waiting").click();
    await expect.poll(() => query().toString()).toBe("status=pending&status=sending");
    await expect.poll(shownOrders).toEqual(["#4104"]);

    await tab("Past orders").click();
    await expect.poll(() => query().toString()).toBe("topic=backfill");
    await expect.poll(shownOrders).toEqual(["#4105"]);

    await tab("All").click();
    await expect.poll(() => query().toString()).toBe("");
    await expect.poll(() => rows().count()).toBe(6);
    expect(app().pageErrors).toEqual([]);
  });

  test("a reload of a view's URL shows the same view: its tab, or its pills and search", async () => {
    const { page, openApp } = app();
    await openApp("/app/deliveries?stale=1");
    expect(await selectedTab()).toBe("Stale");
    expect(await shownOrders()).toEqual(["#4103"]);

    // The home page's "See what is waiting" link.
    await openApp("/app/deliveries?status=pending&status=sending");
    expect(await selectedTab()).toBe("Waiting");

    await openApp(`/app/deliveries?status=failed&topic=${encodeURIComponent("orders/fulfilled")}&q=${encodeURIComponent("#4102")}`);
    expect(await searchField().inputValue()).toBe("#4102");
    expect(await page.getByRole("button", { name: "Status: Failed" }).isVisible()).toBe(true);
    expect(await page.getByRole("button", { name: "Source: Order fulfilled" }).isVisible()).toBe(true);
    expect(await shownOrders()).toEqual(["#4102"]);

    // Cancel leaves the filters for the view they started from (All here).
    await page.getByRole("button", { name: "Cancel" }).click();
    await expect.poll(() => query().toString()).toBe("");
    await expect.poll(selectedTab).toBe("All");
    await expect.poll(() => rows().count()).toBe(6);
    expect(app().pageErrors).toEqual([]);
  });

  test("the home page's banner about late events opens the Stale view", async () => {
    const { page, openApp, db } = app();
    // The banner counts the last 24 hours: #4103's late delivery is made recent for this test, then put back.
    const late = await db.delivery.findMany({ where: { orderName: "#4103" }, select: { id: true, createdAt: true } });
    expect(late).toHaveLength(1);
    await db.delivery.update({ where: { id: late[0]!.id }, data: { createdAt: new Date() } });
    try {
      await openApp("/app");
      await expect.poll(() => page.getByText("1 event sent more than 12 hours late today").isVisible()).toBe(true);
      await page.getByRole("link", { name: "See the late events" }).click();
      await expect.poll(() => query().toString()).toBe("stale=1");
      await expect.poll(selectedTab).toBe("Stale");
      await expect.poll(shownOrders).toEqual(["#4103"]);
    } finally {
      await db.delivery.update({ where: { id: late[0]!.id }, data: { createdAt: late[0]!.createdAt } });
    }
    expect(app().pageErrors).toEqual([]);
  });

  test("Clear all and the Clear filters button empty the view", async () => {
    const { page, openApp } = app();
    await openApp("/app/deliveries?status=failed&stale=1");
    await expect.poll(() => page.getByText("No deliveries match").isVisible()).toBe(true);
    await page.getByRole("button", { name: "Clear all" }).click();
    await expect.poll(() => query().toString()).toBe("");
    await expect.poll(() => rows().count()).toBe(6);

    await openApp("/app/deliveries?eventType=Order%20Cancelled");
    await expect.poll(shownOrders).toEqual(["#4106"]);
    expect(await page.getByRole("button", { name: "Event type: Order Cancelled" }).isVisible()).toBe(true);
    await page.getByRole("button", { name: "Clear filters" }).click();
    await expect.poll(() => query().toString()).toBe("");
    await expect.poll(selectedTab).toBe("All");
    expect(app().pageErrors).toEqual([]);
  });

  test("a click anywhere on a row opens its delivery", async () => {
    const { page, openApp } = app();
    await openApp("/app/deliveries?status=failed");
    const id = (await app().db.delivery.findFirstOrThrow({ where: { orderName: "#4102" } })).id;
    // The attempts cell, not the link: the whole row is the link's target.
    await rows().first().locator("td").nth(4).click();
    await page.waitForURL(new RegExp(`/app/deliveries/${id}$`));
    await expect.poll(() => page.getByText("Gave up after 5 attempts", { exact: false }).first().isVisible()).toBe(true);
    expect(app().pageErrors).toEqual([]);
  });

  test("pages to older deliveries and back, keeping the filter", async () => {
    const { page, openApp, db } = app();
    // 55 more deliveries of one event type, older than the others.
    const template = await db.delivery.findFirstOrThrow({ where: { orderName: "#4101" } });
    await db.delivery.createMany({
      data: Array.from({ length: 55 }, (_, index) => ({
        shop: template.shop,
        webhookRecordId: template.webhookRecordId,
        mappingId: `paging-${index}`,
        topic: template.topic,
        eventType: "Paging Check",
        externalEventId: `paging-${index}`,
        status: "delivered",
        attempts: 1,
        orderName: `#${5000 + index}`,
        createdAt: new Date(Date.UTC(2026, 9, 1, 12, index)),
      })),
    });
    await openApp("/app/deliveries?eventType=Paging%20Check");
    expect(await rows().count()).toBe(50);
    const older = page.getByRole("link", { name: "Older deliveries" });
    expect(await page.getByRole("button", { name: "Newer deliveries" }).isDisabled()).toBe(true);
    await older.click();
    await expect.poll(() => query().has("after")).toBe(true);
    expect(query().get("eventType")).toBe("Paging Check");
    await expect.poll(shownOrders).toEqual(["#5000", "#5001", "#5002", "#5003", "#5004"]);
    await app().screenshot("delivery-log-older-page");
    await page.getByRole("link", { name: "Newer deliveries" }).click();
    await expect.poll(() => query().has("before")).toBe(true);
    await expect.poll(() => rows().count()).toBe(50);
    expect(await page.getByRole("button", { name: "Newer deliveries" }).isDisabled()).toBe(true);
    await db.delivery.deleteMany({ where: { eventType: "Paging Check" } });
    expect(app().pageErrors).toEqual([]);
  });

  test("fits a 375 px phone without sideways scrolling, and the screenshots for the README", async () => {
    const { page, openApp, screenshot } = app();
    await openApp("/app/deliveries");
    await page.mouse.move(0, 0);
    const desktop = await screenshot("delivery-log-views");
    mkdirSync(DOCS_SCREENSHOT_DIR, { recursive: true });
    copyFileSync(desktop, join(DOCS_SCREENSHOT_DIR, "delivery-log.png"));

    await page.setViewportSize(PHONE);
    await openApp("/app/deliveries");
    await expect.poll(() => rows().count()).toBe(6);
    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(await overflow()).toBe(0);
    // Stacked rows on a phone: event type, order, status, date and source together.
    const stacked = await rows().first().innerText();
    for (const part of ["Order Cancelled #4106", "Delivered", "Nov 2, 2026", "· Order cancelled"]) expect(stacked).toContain(part);
    await page.mouse.move(0, 0);
    const phone = await screenshot("delivery-log-views-mobile");
    copyFileSync(phone, join(DOCS_SCREENSHOT_DIR, "delivery-log-mobile.png"));

    // Filtering on a phone: the search field and pills fit too.
    await page.getByRole("button", { name: "Search and filter deliveries" }).click();
    await expect.poll(() => searchField().isVisible()).toBe(true);
    expect(await overflow()).toBe(0);
    expect(await accessibilityViolations(page)).toEqual([]);
    await page.setViewportSize(DESKTOP);
    expect(app().pageErrors).toEqual([]);
  });

  test("retries the failed deliveries of the Failed view", async () => {
    const { page, openApp } = app();
    await openApp("/app/deliveries?status=failed");
    await page.getByRole("button", { name: "Retry failed deliveries matching the filter" }).click();
    await expect.poll(async () => (await app().toasts()).map((toast) => toast.message)).toContain("1 failed delivery queued again");
    await expect.poll(() => app().db.delivery.count({ where: { orderName: "#4102", status: "failed" } }), { timeout: 15_000 }).toBe(0);
  });

  test("the mappings list has the same bar: search by event type, a Shopify event filter, Sending and Turned off tabs", async () => {
    const { page, openApp, db, shop, screenshot } = app();
    const listed = () => page.locator(".Polaris-IndexTable__TableRow a[data-primary-link]").allTextContents();
    await openApp("/app/mappings");
    expect(await page.getByRole("tab").allTextContents()).toEqual(["All", "Sending", "Turned off"]);
    // The shop has the default mappings, all on: one is turned off from the list.
    await page.getByRole("button", { name: "Turn off Order Cancelled" }).click();
    await expect.poll(() => db.mapping.count({ where: { shop, eventType: "Order Cancelled", enabled: false } })).toBe(1);
    const mappings = await db.mapping.findMany({ where: { shop } });
    const names = (keep: (mapping: (typeof mappings)[number]) => boolean) => mappings.filter(keep).map((mapping) => mapping.eventType).sort();
    expect(names((mapping) => !mapping.enabled)).toEqual(["Order Cancelled"]);
    expect((await listed()).sort()).toEqual(names(() => true));
    await tab("Turned off").click();
    await expect.poll(() => query().toString()).toBe("sending=off");
    await expect.poll(async () => (await listed()).sort()).toEqual(names((mapping) => !mapping.enabled));

    await page.getByRole("button", { name: "Search and filter mappings" }).click();
    await page.getByRole("textbox", { name: "Search by event type" }).fill("cancel");
    await expect.poll(listed).toEqual(["Order Cancelled"]);
    await expect.poll(() => query().toString()).toBe("sending=off&q=cancel");
    await page.getByRole("textbox", { name: "Search by event type" }).fill("fulfilled");
    await expect.poll(listed).toEqual([]);
    expect(await page.getByText("No mappings match").isVisible()).toBe(true);
    expect(await page.getByRole("button", { name: "Sending: turned off" }).isVisible()).toBe(true);
    await screenshot("mappings-filtered");

    await openApp(`/app/mappings?topic=${encodeURIComponent("orders/fulfilled")}`);
    expect(await page.getByRole("button", { name: "Shopify event: Order fulfilled" }).isVisible()).toBe(true);
    expect((await listed()).sort()).toEqual(names((mapping) => mapping.topic === "orders/fulfilled"));
    await page.getByRole("button", { name: "Clear all" }).click();
    await expect.poll(() => query().toString()).toBe("");
    await expect.poll(async () => (await listed()).length).toBe(mappings.length);
    expect(app().pageErrors).toEqual([]);
  });
});
