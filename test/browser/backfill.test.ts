/**
 * The Past orders page on the production server, in Chromium: a merchant counts a range's orders and starts a
 * backfill, which reads a generated history of 150 orders through Shopify's bulk operation (the strict fake of
 * test/stand-ins/shopify-bulk.ts behind the out-of-process Admin API stand-in) and sends its events to the Attentive
 * stand-in; the page's progress bar moves as the page reloads its own data, the finished counts agree with the
 * delivery log filtered to past orders, and a second backfill, held while Shopify "collects", is cancelled from the
 * page (and its bulk operation with it). Screenshots go to test-output/screenshots/.
 */
import { beforeAll, afterAll, expect, test } from "vitest";
import { FLOW_TRIGGER_OPERATION } from "~/flow/trigger-mutation";
import type { OperationHandler } from "../stand-ins/shopify-admin";
import { historyAnswers, startBulkStandIn, type BulkStandIn } from "../stand-ins/shopify-bulk";
import { flowTriggerReceiveStandIn } from "../support/flow-trigger";
import { historyOrders, type HistoryOptions } from "../support/history";
import { BROWSER_SHOP, describeBrowser, useBrowserHarness } from "./harness";

const KEY = "attentive-test-key";
const ORDERS = 150;
const DAY = 86_400_000;
const NOW = Date.now();
const HISTORY: HistoryOptions = { orders: ORDERS, seed: 21, since: new Date(NOW - 20 * DAY), until: new Date(NOW - 2 * 3_600_000), shop: BROWSER_SHOP };


describeBrowser("sending past orders", () => {
  const app = useBrowserHarness({
    // Attentive answers in 40 ms and the worker sends two at a time: the ~300 events take seconds, so the page's
    // reloads every 2 s see the bar on its way. Shopify's bulk operation "runs" for five polls of 1 s.
    attentive: { apiKeys: [KEY], latencyMs: 40 },
    env: { BACKFILL_POLL_SECONDS: "1", BACKFILL_INTERVAL_SECONDS: "0.5", DELIVERY_CONCURRENCY: "2" },
  });
  let bulk: BulkStandIn;
  /** While set, Shopify's bulk operation stays RUNNING whatever the polls (the cancel test holds the backfill there). */
  let holdRunning = false;

  beforeAll(async () => {
    bulk = await startBulkStandIn({ ...historyAnswers(() => historyOrders(HISTORY)), pollsToComplete: 5 });
    const poll = bulk.handlers.BackfillBulkOperation!;
    const held: OperationHandler = (variables, call) => {
      const op = bulk.operations.find((candidate) => candidate.id === variables.id);
      if (holdRunning && op && (op.status === "CREATED" || op.status === "RUNNING")) {
        op.status = "RUNNING";
        return { body: { data: { bulkOperation: { id: op.id, status: "RUNNING", errorCode: null, objectCount: "0", url: null } } } };
      }
      return poll(variables, call);
    };
    const { appBridge } = app();
    const handles = (scopes: readonly string[]) => scopes.map((handle) => ({ handle }));
    app().shopifyAdmin.answer({
      ...bulk.handlers,
      BackfillBulkOperation: held,
      [FLOW_TRIGGER_OPERATION]: flowTriggerReceiveStandIn().handler,
      // What Shopify says is granted after the page's permission dialog (the App Bridge stand-in records the grant).
      FetchAccessScopes: () => ({
        body: {
          data: {
            app: {
              requestedAccessScopes: handles(appBridge.requiredScopes),
              optionalAccessScopes: handles(appBridge.optionalScopes),
              installation: { accessScopes: handles(appBridge.grantedScopes) },
            },
          },
        },
      }),
    });
    expect(app().cli("shops", "connect", app().shop, "--api-key", KEY, "--skip-verify").status).toBe(0);
  });
  afterAll(() => bulk?.close());

  const toastMessages = async () => (await app().toasts()).map((toast) => toast.message);
  const progressValue = () => app().page.locator(".Polaris-ProgressBar progress").first().evaluate((element) => (element as HTMLProgressElement).value);
  const badge = (label: string) => app().page.locator(".Polaris-Badge", { hasText: label });

  /** The backfill card's figures: { "Orders read": 150, "Sent": 290, … }. */
  const figures = () =>
    app().page.evaluate(() => {
      const found: Record<string, number> = {};
      for (const term of document.querySelectorAll(".Polaris-DescriptionList dt")) {
        const value = term.nextElementSibling?.textContent ?? "";
        found[term.textContent ?? ""] = Number(value.replace(/,/g, ""));
      }
      return found;
    });

  /** The delivery log's "… N from past orders" (0 when the part is left out). */
  const pastOrdersCounted = async () => {
    const line = await app().page.getByText(/from Shopify webhooks/).textContent();
    return Number(/(\d+) from past orders/.exec(line ?? "")?.[1] ?? 0);
  };

  test("counts the range, starts, and follows the backfill to completed as the page reloads its own data", async () => {
    const { page, openApp, screenshot } = app();
    await openApp("/app");
    expect(await page.locator("ui-nav-menu a[href='/app/backfill']").textContent()).toBe("Past orders");
    await openApp("/app/backfill");
    await expect.poll(() => page.getByRole("heading", { level: 1, name: "Send past orders" }).isVisible()).toBe(true);
    // The enabled mappings with a history are pre-checked; the topics without one are listed, collapsed.
    const shipped = page.getByLabel("Order Shipped (Parcel shipped)");
    expect(await shipped.isChecked()).toBe(true);
    const unavailable = page.getByRole("button", { name: /Events that cannot be sent from past orders/ });
    expect(await unavailable.getAttribute("aria-expanded")).toBe("false");
    await unavailable.click();
    await expect.poll(() => unavailable.getAttribute("aria-expanded")).toBe("true");
    expect(await page.getByText("Attentive marks events older than 12 hours as stale", { exact: false }).isVisible()).toBe(true);

    await page.getByRole("button", { name: "Count orders" }).click();
    await expect.poll(() => page.getByText(`${ORDERS} orders in this range`).isVisible()).toBe(true);
    await screenshot("backfill-counted");

    // A marker that a full reload would lose: the bar must move by the page's own data reloads.
    await page.evaluate(() => ((window as unknown as { __sameDocument: boolean }).__sameDocument = true));
    await page.getByRole("button", { name: "Start sending" }).click();
    await expect.poll(toastMessages, { timeout: 10_000 }).toContain("Backfill started");
    await expect.poll(() => page.locator(".Polaris-ProgressBar").count(), { timeout: 10_000 }).toBe(1);

    const seen: number[] = [];
    let shotMidway = false;
    const completed = async () => {
      const value = await progressValue();
      if (seen.at(-1) !== value) seen.push(value);
      if (!shotMidway && value > 5 && value < 100) {
        shotMidway = true;
        await screenshot("backfill-progress");
      }
      return (await badge("Completed").count()) > 0 && value === 100;
    };
    try {
      await expect.poll(completed, { timeout: 90_000, interval: 100 }).toBe(true);
    } catch (error) {
      const rows = await app().db.backfill.findMany({ select: { status: true, lastError: true, ordersRead: true, linesRead: true } });
      throw new Error(`${(error as Error).message}; progress seen ${seen.join(", ")}; backfills ${JSON.stringify(rows)}`);
    }
    // It went up, never down, through values between the start and the end, without a reload.
    expect(seen.length, `progress values seen: ${seen.join(", ")}`).toBeGreaterThanOrEqual(3);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
    expect(seen.some((value) => value > 0 && value < 100)).toBe(true);
    expect(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(true);
    await screenshot("backfill-completed");
    expect(bulk.violations).toEqual([]);
    expect(app().shopifyAdmin.unexpected).toEqual([]);

    // The finished figures: every order read, everything recorded sent, and the same numbers the database holds.
    const shown = await figures();
    const backfill = await app().db.backfill.findFirstOrThrow({ where: { shop: app().shop }, orderBy: { createdAt: "desc" } });
    expect(backfill.status).toBe("completed");
    const recorded = await app().db.delivery.count({ where: { backfillId: backfill.id } });
    const delivered = await app().db.delivery.count({ where: { backfillId: backfill.id, status: "delivered" } });
    expect(recorded).toBeGreaterThan(ORDERS);
    expect(shown).toEqual({
      "Orders read": ORDERS,
      "Events recorded": recorded,
      Sent: delivered,
      Failed: await app().db.delivery.count({ where: { backfillId: backfill.id, status: "failed" } }),
      Skipped: await app().db.delivery.count({ where: { backfillId: backfill.id, status: "skipped" } }),
      "Waiting to send": 0,
    });
    expect(app().attentive.received.length).toBe(delivered);
    expect(app().pageErrors).toEqual([]);
  });

  test("the delivery log filtered to past orders shows the same numbers, each row marked", async () => {
    const { page, screenshot } = app();
    const shown = await figures();
    expect(shown["Events recorded"]).toBeGreaterThan(0);
    await page.getByRole("link", { name: "See these events in the log" }).click();
    await page.waitForURL(/\/app\/deliveries\?topic=backfill/);
    await expect.poll(() => page.getByRole("heading", { level: 1, name: "Delivery log" }).isVisible()).toBe(true);
    // The log's saved view of past orders is selected (Polaris IndexFilters tabs).
    expect(await page.getByRole("tab", { selected: true }).textContent()).toBe("Past orders");
    await expect.poll(pastOrdersCounted).toBe(shown["Events recorded"]);
    expect(await page.getByText(/from Shopify webhooks/).textContent()).toContain("0 from Shopify webhooks · 0 from Flow");
    const rows = page.locator(".Polaris-IndexTable__TableRow");
    expect(await rows.count()).toBe(Math.min(50, shown["Events recorded"]!));
    expect(await rows.filter({ has: page.locator(".Polaris-Badge", { hasText: "Past order" }) }).count()).toBe(await rows.count());
    await screenshot("backfill-log");

    // The status filter of the search-and-filter bar: one status at a time, with the source kept.
    await page.getByRole("button", { name: "Search and filter deliveries" }).click();
    let previous: string | null = null;
    for (const [status, label, choice] of [["delivered", "Sent", "Delivered"], ["failed", "Failed", "Failed"], ["skipped", "Skipped", "Skipped"]] as const) {
      // The pill's button toggles its popover: open it only once the last one is seen closed.
      await page.getByRole("button", { name: /^Status/ }).click();
      await expect.poll(() => page.getByRole("checkbox", { name: choice }).isVisible(), { message: `${status} popover` }).toBe(true);
      if (previous) await page.getByRole("checkbox", { name: previous }).click();
      await page.getByRole("checkbox", { name: choice }).click();
      await expect.poll(() => new URL(page.url()).searchParams.getAll("status"), { message: status }).toEqual([status]);
      expect(new URL(page.url()).searchParams.get("topic")).toBe("backfill");
      await page.keyboard.press("Escape");
      await expect.poll(() => page.getByRole("checkbox", { name: choice }).count(), { message: `${status} popover closed` }).toBe(0);
      await expect.poll(pastOrdersCounted, { message: status }).toBe(shown[label]);
      previous = choice;
    }
    expect(app().pageErrors).toEqual([]);
  });

  test("a second backfill shows on Home while it runs, and is cancelled from the page with Shopify's bulk operation", async () => {
    const { page, openApp, screenshot } = app();
    holdRunning = true;
    await openApp("/app/backfill");
    await page.getByRole("button", { name: "Start sending" }).click();
    await expect.poll(() => badge("Shopify is collecting orders").count(), { timeout: 20_000 }).toBe(1);
    const second = await app().db.backfill.findFirstOrThrow({ where: { shop: app().shop, status: "querying" } });
    expect(second.bulkOperationId).toBe(bulk.operations[1]!.id);

    await openApp("/app");
    // A Polaris Card is a ShadowBevel around a Box.
    const card = page.locator(".Polaris-ShadowBevel", { has: page.getByRole("heading", { name: "Sending past orders" }) });
    await expect.poll(() => card.isVisible()).toBe(true);
    expect(await card.locator(".Polaris-ProgressBar progress").evaluate((element) => (element as HTMLProgressElement).value)).toBe(5);
    await screenshot("home-backfill-card");
    await card.getByRole("link", { name: "See the backfill" }).click();
    await page.waitForURL(/\/app\/backfill/);

    await page.getByRole("button", { name: "Cancel backfill" }).click();
    const dialog = page.getByRole("dialog");
    await expect.poll(() => dialog.isVisible()).toBe(true);
    await screenshot("backfill-cancel-confirm");
    await dialog.getByRole("button", { name: "Cancel backfill" }).click();
    await expect.poll(() => badge("Cancelled").count()).toBe(1);
    await expect.poll(toastMessages).toContain("Backfill cancelled: events not yet sent will not be sent.");
    expect((await app().db.backfill.findUniqueOrThrow({ where: { id: second.id } })).status).toBe("cancelled");
    expect(app().shopifyAdmin.calls.filter((call) => call.operationName === "BackfillBulkOperationCancel").map((call) => call.variables)).toEqual([{ id: second.bulkOperationId }]);
    expect(bulk.operations[1]!.status).toBe("CANCELING");
    // Finished: the form is back, and Home has no card.
    await expect.poll(() => page.getByRole("button", { name: "Start sending" }).isVisible()).toBe(true);
    await screenshot("backfill-cancelled");
    await openApp("/app");
    expect(await page.getByRole("heading", { name: "Sending past orders" }).count()).toBe(0);
    expect(await page.getByRole("heading", { level: 1, name: "Attentive events" }).isVisible()).toBe(true);
    holdRunning = false;
    expect(bulk.violations).toEqual([]);
    expect(app().shopifyAdmin.unexpected).toEqual([]);
    expect(app().pageErrors).toEqual([]);
  });

  test("a first day more than 60 days back asks for access to all orders, through Shopify's permission dialog", async () => {
    const { page, openApp, screenshot } = app();
    await openApp("/app/backfill");
    const banner = page.locator(".Polaris-Banner", { hasText: "Orders older than 60 days need access to all orders" });
    expect(await banner.count()).toBe(0);
    await page.getByLabel("First day").fill(new Date(Date.now() - 90 * DAY).toISOString().slice(0, 10));
    await expect.poll(() => banner.isVisible()).toBe(true);
    await screenshot("backfill-all-orders-banner");

    const dialog = page.getByRole("dialog", { name: "Grant access to this app?" });
    await banner.getByRole("button", { name: "Grant access to all orders" }).click();
    await expect.poll(() => dialog.isVisible()).toBe(true);
    expect(await dialog.getByRole("listitem").allTextContents()).toEqual(["read_all_orders"]);
    await dialog.getByRole("button", { name: "Grant" }).click();
    await expect.poll(toastMessages).toContain("Access granted");
    await expect.poll(() => banner.count()).toBe(0);
    const session = await app().db.session.findFirstOrThrow({ where: { shop: app().shop, isOnline: false } });
    expect(session.scope?.split(",")).toContain("read_all_orders");
    // The older range counts as any other now.
    await page.getByRole("button", { name: "Count orders" }).click();
    await expect.poll(() => page.getByText(`${ORDERS} orders in this range`).isVisible()).toBe(true);
    expect(app().shopifyAdmin.unexpected).toEqual([]);
    expect(app().pageErrors).toEqual([]);
  });
}, 180_000);
