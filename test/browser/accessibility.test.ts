/**
 * Accessibility and phones, for every admin page (issue 12, Built for Shopify), in Chromium against the production
 * build:
 *
 * - each page has a title of its own, and axe-core with the WCAG 2.0/2.1 A and AA rules finds nothing serious or
 *   critical on it, at 1280 px and at 375 px (no rule is switched off and no node left out: home's polaris-viz chart,
 *   whose ARIA is broken, is hidden from screen readers by the app itself, with a table in its place);
 * - a mapping can be made with the keyboard alone (Tab, Shift+Tab, typing, Enter, Space), through the App Bridge
 *   save bar, and every element the keyboard stops on shows its focus;
 * - at 375 px wide no page scrolls sideways, and each page's primary actions are reached by scrolling down only, are
 *   at least 24 px across (WCAG 2.2's 2.5.8; links in text excepted) and take a tap where they are drawn. Each page's
 *   full-page screenshot at that width is written to docs/screenshots/mobile-<page>.png.
 *
 * The data is made as a merchant's shop would make it: the key connected, the default mappings, an order's webhook
 * delivered and another one's refused by Attentive (a failure on home, in the log and on its own page).
 */
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { JSHandle, Locator, Page } from "playwright-core";
import { expect, test } from "vitest";
import { describeBrowser, DOCS_SCREENSHOT_DIR, formatViolations, useBrowserHarness, violationsAtLeast, type BrowserHarness } from "./harness";

const KEY = "attentive-test-key";
const order = readFileSync(new URL("../fixtures/shopify/orders_fulfilled.derived.json", import.meta.url), "utf8");
const MOBILE_SCREENSHOTS = DOCS_SCREENSHOT_DIR;

function orderWithId(id: number): string {
  return order
    .replace(/"admin_graphql_api_id": "gid:\/\/shopify\/Order\/\d+"/, `"admin_graphql_api_id": "gid://shopify/Order/${id}"`)
    .replace(/"name": "#9999"/, `"name": "#${id}"`)
    .replaceAll("2022-01-03T10:15:00-05:00", new Date().toISOString());
}

interface AdminPage {
  name: string;
  /** The path, once the data exists (ids are looked up in the database). */
  path(app: BrowserHarness): Promise<string>;
  /** What shows once the page is drawn with its data. */
  ready(page: Page): Locator;
  /** The page's primary actions: what a merchant on a phone must be able to reach. */
  actions(page: Page): Locator[];
}

const byName = (page: Page, role: "button" | "link" | "textbox" | "combobox", name: string | RegExp) => page.getByRole(role, { name, exact: typeof name === "string" }).first();

/** Every admin page once the shop is connected and has deliveries (home not connected is checked first, apart). */
const PAGES: AdminPage[] = [
  {
    name: "home",
    path: async () => "/app",
    ready: (page) => page.getByRole("heading", { name: "Deliveries per hour, last 24 hours" }),
    actions: (page) => [byName(page, "link", "see the failures")],
  },
  {
    name: "mappings",
    path: async () => "/app/mappings",
    ready: (page) => page.getByRole("heading", { level: 1, name: "Mappings" }),
    actions: (page) => [
      byName(page, "link", "Create mapping"),
      // On a phone a mapping is a list item that opens it wherever it is tapped (Polaris's condensed IndexTable).
      page.getByRole("listitem").filter({ has: byName(page, "link", "Order Fulfilled") }),
      byName(page, "button", "Turn off Order Fulfilled"),
      byName(page, "button", "Delete Order Fulfilled"),
      byName(page, "button", "Add Order Placed"),
    ],
  },
  {
    name: "new-mapping",
    path: async () => "/app/mappings/new",
    // No event type yet: the preview asks for it.
    ready: (page) => page.getByText("Fix the marked fields to see the request"),
    actions: (page) => [
      byName(page, "textbox", "Attentive event type"),
      byName(page, "button", "Add property"),
      byName(page, "textbox", "Liquid template"),
      byName(page, "button", "Send test event"),
    ],
  },
  {
    name: "mapping-editor",
    path: async (app) => `/app/mappings/${(await app.db.mapping.findFirstOrThrow({ where: { shop: app.shop, eventType: "Order Fulfilled" } })).id}`,
    ready: (page) => page.getByTestId("preview-request"),
    actions: (page) => [
      byName(page, "textbox", "Attentive event type"),
      byName(page, "button", "Add property"),
      page.getByRole("textbox", { name: "Liquid template" }).last(),
      byName(page, "button", "Remove orderStatusUrl"),
      byName(page, "button", "Send test event"),
    ],
  },
  {
    name: "delivery-log",
    path: async () => "/app/deliveries",
    ready: (page) => page.getByText("#7002").first(),
    // On a phone a delivery is a list item that opens it wherever it is tapped.
    actions: (page) => [page.getByRole("listitem").filter({ hasText: "#7002" })],
  },
  {
    name: "delivery-detail",
    path: async (app) => `/app/deliveries/${(await app.db.delivery.findFirstOrThrow({ where: { shop: app.shop, status: "failed" } })).id}`,
    ready: (page) => page.getByText("refused in the accessibility test", { exact: false }).first(),
    actions: (page) => [byName(page, "button", "Retry")],
  },
  {
    name: "settings",
    path: async () => "/app/settings",
    ready: (page) => page.getByText("Connected to Acme Outfitters", { exact: false }).first(),
    actions: (page) => [byName(page, "textbox", "Replace with a new API key"), byName(page, "button", "Verify and replace")],
  },
  {
    name: "past-orders",
    path: async () => "/app/backfill",
    ready: (page) => page.getByRole("heading", { level: 1, name: "Send past orders" }),
    actions: (page) => [byName(page, "button", "Count orders"), byName(page, "button", "Start sending")],
  },
  {
    name: "not-found",
    path: async () => "/app/deliveries/does-not-exist",
    ready: (page) => page.getByText("This page does not exist"),
    actions: (page) => [byName(page, "link", "Go to the delivery log")],
  },
];

/** The focused element, inside shadow roots too (the App Bridge stand-in draws its save bar in one). */
function deepActiveElement(): Element | null {
  let active = document.activeElement;
  while (active?.shadowRoot?.activeElement) active = active.shadowRoot.activeElement;
  return active;
}

/** What a keyboard user has focused: its label (a field's label, else its accessible name or text) and where it is. */
interface Focused {
  tag: string;
  label: string;
  value: string | null;
  /** The custom element whose shadow root holds it (e.g. UI-SAVE-BAR), or null in the page's own DOM. */
  host: string | null;
}

function describeFocused(): Focused | null {
  let element = document.activeElement;
  while (element?.shadowRoot?.activeElement) element = element.shadowRoot.activeElement;
  if (!element || element === document.body) return null;
  const labels = "labels" in element ? Array.from((element as HTMLInputElement).labels ?? []) : [];
  const labelledBy = element.getAttribute("aria-labelledby");
  const label =
    labels.map((each) => each.textContent?.trim() ?? "").find(Boolean) ??
    element.getAttribute("aria-label") ??
    (labelledBy ? document.getElementById(labelledBy)?.textContent?.trim() : undefined) ??
    element.textContent?.trim() ??
    "";
  const root = element.getRootNode();
  return {
    tag: element.tagName.toLowerCase(),
    label,
    value: "value" in element ? String((element as HTMLInputElement).value) : null,
    host: root instanceof ShadowRoot ? root.host.tagName : null,
  };
}

/**
 * The visible focus indicators of an element: an outline, or a box shadow, on it, its parent, or its siblings (Polaris
 * draws a field's ring on the backdrop beside the <input>), or their ::before/::after. Compared focused against
 * unfocused, what only the focused state has is the focus indicator.
 */
function focusIndicators(element: Element | null): string[] {
  // Runs in the page: no helpers from this module (and no named inner functions, which the test transform wraps).
  const found: string[] = [];
  if (!element) return found;
  const parent = element.parentElement;
  const siblings = parent ? Array.from(parent.children) : [];
  const candidates = [element, ...(parent ? [parent, ...siblings] : [])];
  for (const candidate of new Set(candidates)) {
    // Where it is drawn, relative to the element: a sibling's own focus ring is not the element's.
    const where = candidate === element ? "itself" : candidate === parent ? "parent" : `sibling ${siblings.indexOf(candidate)}`;
    for (const pseudo of [null, "::before", "::after"]) {
      const style = getComputedStyle(candidate, pseudo);
      if (pseudo && (style.content === "none" || style.content === "normal")) continue;
      const name = `${where} ${candidate.tagName.toLowerCase()}.${String(candidate.className).split(" ")[0] ?? ""}${pseudo ?? ""}`;
      const transparentOutline = style.outlineColor === "transparent" || /rgba\([^)]*,\s*0\)$/.test(style.outlineColor);
      if (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0 && !transparentOutline) {
        found.push(`${name} outline ${style.outlineWidth} ${style.outlineStyle} ${style.outlineColor}`);
      }
      if (style.boxShadow !== "none") found.push(`${name} box-shadow ${style.boxShadow}`);
    }
  }
  return found;
}

describeBrowser("accessibility and phones", () => {
  const app = useBrowserHarness({ attentive: { apiKeys: [KEY], companyName: "Acme Outfitters" } });

  async function open(path: string, ready: (page: Page) => Locator, viewport: "desktop" | "phone" = "desktop") {
    const { page, openApp } = app();
    const response = await openApp(path, { viewport }).catch((error: Error) => {
      throw new Error(`${path}: ${error.message}\nat ${page.url()}\npage errors: ${app().pageErrors.join("\n")}\nconsole errors: ${app().consoleErrors.join("\n")}`);
    });
    await expect.poll(() => ready(page).isVisible(), { timeout: 10_000, message: `${path} is drawn` }).toBe(true);
    return response;
  }

  async function expectNoSeriousViolations(what: string) {
    const serious = violationsAtLeast(await app().axe(), "serious");
    expect(serious, `${what}:\n${formatViolations(serious)}`).toEqual([]);
  }

  /** At 375 px: nothing scrolls sideways, the primary actions are on screen and take a click where drawn; a screenshot. */
  async function checkPhone(adminPage: Pick<AdminPage, "name" | "ready" | "actions">, path: string) {
    const { page } = app();
    await open(path, adminPage.ready, "phone");
    const widths = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth }));
    expect(widths.scroll, `${adminPage.name} scrolls sideways at ${widths.inner} px`).toBeLessThanOrEqual(widths.inner);
    for (const action of adminPage.actions(page)) {
      await action.scrollIntoViewIfNeeded();
      const box = await action.boundingBox();
      const what = `${adminPage.name}: ${action.toString()}`;
      expect(box, `${what} has a box`).not.toBeNull();
      expect(box!.width * box!.height, `${what} has a size`).toBeGreaterThan(0);
      // At least WCAG 2.2's minimum target (2.5.8), 24 by 24 CSS pixels, but for a link in a line of text (its exception).
      if ((await action.evaluate((element) => getComputedStyle(element).display)) !== "inline") {
        expect(Math.min(box!.width, box!.height), `${what} is at least 24 px across`).toBeGreaterThanOrEqual(24);
      }
      // A text field leaves room to read what is typed in it: at least 40% of the screen's width.
      if (await action.evaluate((element) => element instanceof HTMLTextAreaElement || (element instanceof HTMLInputElement && ["text", "search", "email", "url", "password", ""].includes(element.type)))) {
        expect(box!.width, `${what} is wide enough to type in`).toBeGreaterThanOrEqual(0.4 * widths.inner);
      }
      expect(box!.x, `${what} starts on screen`).toBeGreaterThanOrEqual(0);
      expect(box!.x + box!.width, `${what} ends on screen`).toBeLessThanOrEqual(widths.inner);
      // Nothing covers it: a tap at its middle lands on it (or inside it).
      const hit = await action.evaluate((element, point) => {
        const top = document.elementFromPoint(point.x, point.y);
        return top !== null && (element === top || element.contains(top) || top.contains(element));
      }, { x: box!.x + box!.width / 2, y: box!.y + box!.height / 2 });
      expect(hit, `${what} takes a tap at its middle`).toBe(true);
      // Reached by scrolling down only: no container (a wide table) had to be scrolled sideways to bring it on screen.
      const sideways = await action.evaluate((element) => {
        let scrolled = 0;
        for (let node = element.parentElement; node; node = node.parentElement) scrolled += node.scrollLeft;
        return scrolled;
      });
      expect(sideways, `${what} is reached without scrolling sideways`).toBe(0);
    }
    await expectNoSeriousViolations(`${adminPage.name} at 375 px`);
    mkdirSync(MOBILE_SCREENSHOTS, { recursive: true });
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: join(MOBILE_SCREENSHOTS, `mobile-${adminPage.name}.png`), fullPage: true, animations: "disabled" });
    await app().setViewport("desktop");
  }

  const homeNotConnected = {
    name: "home-not-connected",
    ready: (page: Page) => page.getByText("Not connected yet.", { exact: false }),
    actions: (page: Page) => [byName(page, "link", "Go to Settings")],
  };

  test("home, not connected yet: a title, no serious WCAG violations, and usable on a phone", async () => {
    await open("/app", homeNotConnected.ready);
    expect(await app().page.title()).toBe("Home · Attentive events");
    await expectNoSeriousViolations("home, not connected");
    await checkPhone(homeNotConnected, "/app");
  });

  test("the shop connects and its orders are delivered, one of them refused by Attentive", async () => {
    const { attentive, db, shop, cli, signedWebhook } = app();
    expect(cli("shops", "connect", shop, "--api-key", KEY, "--skip-verify").status).toBe(0);
    await db.shop.update({ where: { domain: shop }, data: { attentiveCompanyName: "Acme Outfitters" } });
    expect((await signedWebhook("orders/fulfilled", orderWithId(7001))).status).toBe(200);
    await expect.poll(() => db.delivery.count({ where: { shop, status: "delivered" } }), { timeout: 15_000 }).toBeGreaterThan(0);
    attentive.injectFaults({ kind: "status", status: 400, body: '{"error":{"id":1,"message":"refused in the accessibility test"}}' });
    expect((await signedWebhook("orders/fulfilled", orderWithId(7002))).status).toBe(200);
    await expect.poll(() => db.delivery.count({ where: { shop, status: "failed" } }), { timeout: 15_000 }).toBe(1);
  });

  for (const adminPage of PAGES) {
    test(`${adminPage.name}: a title of its own and no serious WCAG violations`, async () => {
      await open(await adminPage.path(app()), adminPage.ready);
      expect(await app().page.title()).toMatch(/^.+ · Attentive events$/);
      await expectNoSeriousViolations(adminPage.name);
    });
  }

  test("every page has a different title", async () => {
    const titles = new Map<string, string>();
    for (const adminPage of PAGES) {
      await open(await adminPage.path(app()), adminPage.ready);
      titles.set(adminPage.name, await app().page.title());
    }
    expect(Object.fromEntries(titles)).toMatchObject({
      home: "Home · Attentive events",
      mappings: "Mappings · Attentive events",
      "new-mapping": "New mapping · Mappings · Attentive events",
      "mapping-editor": "Order Fulfilled · Mappings · Attentive events",
      "delivery-log": "Delivery log · Attentive events",
      "delivery-detail": "Order Fulfilled #7002 · Delivery log · Attentive events",
      settings: "Settings · Attentive events",
      "past-orders": "Past orders · Attentive events",
      "not-found": "Not found · Attentive events",
    });
  });

  test("the mapping editor while editing (save bar, field help open, errors shown): no serious WCAG violations", async () => {
    const { page } = app();
    await open("/app/mappings/new", (p) => p.getByText("Fix the marked fields to see the request"));
    await page.getByLabel("Attentive event type").fill("Bad (name)");
    await expect.poll(() => page.getByText("parenthesis", { exact: false }).first().isVisible(), { timeout: 10_000 }).toBe(true);
    await page.getByRole("button", { name: "Show" }).click();
    await expect.poll(() => page.getByLabel("Find a field").isVisible()).toBe(true);
    await expect.poll(() => page.getByRole("region", { name: "Unsaved changes" }).isVisible()).toBe(true);
    await expectNoSeriousViolations("mapping editor with errors and the field help open");
    await page.getByLabel("Attentive event type").fill("Order Complete");
    await expect.poll(() => page.getByTestId("preview-request").isVisible(), { timeout: 10_000 }).toBe(true);
    await expectNoSeriousViolations("mapping editor with a preview");
  });

  test("a mapping is made with the keyboard alone, through the save bar, and each field shows its focus", async () => {
    const { page } = app();
    await open("/app/mappings/new", (p) => p.getByText("Fix the marked fields to see the request"));
    app().clearPageErrors();
    const focused = () => page.evaluate(describeFocused);
    /** Every element the keyboard stopped on, with the focus indicators it had while focused. */
    const stops: { name: string; indicators: string[]; handle: JSHandle<Element | null> }[] = [];
    /** Stops that looked the same focused as once the focus had moved on. */
    const unmarked: string[] = [];

    /** Tab (or Shift+Tab) until `wanted` has focus, recording each stop on the way. */
    async function tabTo(what: string, wanted: (element: Focused) => boolean, backwards = false) {
      const passed: string[] = [];
      for (let presses = 0; presses < 40; presses++) {
        await press(backwards ? "Shift+Tab" : "Tab");
        const element = await focused();
        if (!element) continue;
        passed.push(stops.at(-1)!.name);
        if (wanted(element)) return element;
      }
      throw new Error(`${what} not reached with ${backwards ? "Shift+Tab" : "Tab"}; focus went: ${passed.join(" → ")}`);
    }
    /** Presses a key; if it moved the focus, compares the element it left, now unfocused, with how it looked focused. */
    async function press(key: string) {
      await page.keyboard.press(key);
      const handle = await page.evaluateHandle(deepActiveElement);
      const left = stops.at(-1);
      if (left && !(await handle.evaluate((element, previous) => element === previous, left.handle))) {
        if (await left.handle.evaluate((element) => element?.isConnected ?? false)) {
          const unfocused = await left.handle.evaluate(focusIndicators);
          if (!left.indicators.some((indicator) => !unfocused.includes(indicator))) unmarked.push(left.name);
        }
      }
      const element = await focused();
      if (element && (!left || !(await handle.evaluate((node, previous) => node === previous, left.handle)))) {
        stops.push({ name: `${element.host ? `${element.host} ` : ""}${element.tag} "${element.label}"`, indicators: await handle.evaluate(focusIndicators), handle });
      }
    }

    await tabTo("the event type", (element) => element.label === "Attentive event type");
    await page.keyboard.type("Keyboard Order");
    // The sending checkbox, off and on again with Space.
    await tabTo("the Sending on checkbox", (element) => element.label === "Sending on");
    await page.keyboard.press("Space");
    await expect.poll(() => page.getByLabel("Sending on").isChecked()).toBe(false);
    await page.keyboard.press("Space");
    await expect.poll(() => page.getByLabel("Sending on").isChecked()).toBe(true);
    await tabTo("the Add property button", (element) => element.tag === "button" && element.label === "Add property");
    await page.keyboard.press("Enter");
    await tabTo("the new property's name", (element) => element.label === "Property name" && element.value === "");
    await page.keyboard.type("total");
    await press("Tab");
    expect(await focused()).toMatchObject({ label: "Liquid template", value: "" });
    await page.keyboard.type("{{ total_price }}");
    // The preview of the finished form, as a merchant would read it before saving. (Saving while a preview is still on
    // its way can end in React Router's "Didn't find any matches after fetcher action": the save's redirect goes to a
    // route the page has not discovered yet, remix-run/react-router#13114 and the like.)
    await expect.poll(async () => (await page.getByTestId("preview-request").textContent()) ?? "", { timeout: 10_000 }).toContain('"total": "404.95"');

    // The save bar (drawn by the admin; the stand-in's is in the page's tab order where the app renders <ui-save-bar>,
    // before the form) is reached from the form with Shift+Tab, and Enter on its Save saves.
    await expect.poll(() => page.getByRole("region", { name: "Unsaved changes" }).isVisible()).toBe(true);
    const save = await tabTo("the save bar's Save", (element) => element.host === "UI-SAVE-BAR" && element.label === "Save", true);
    expect(save).toMatchObject({ tag: "button", host: "UI-SAVE-BAR" });

    // Every stop on the way showed its focus: an outline or shadow that was not there once the focus moved on.
    expect(stops.map(({ name }) => name)).toEqual(
      expect.arrayContaining(['select "Shopify event"', 'input "Attentive event type"', 'input "Property name"', 'input "Liquid template"', 'input "Sending on"']),
    );
    expect(unmarked, `focused without a visible focus indicator; stops: ${stops.map(({ name }) => name).join(" → ")}`).toEqual([]);

    await page.keyboard.press("Enter");
    await page.waitForURL(/\/app\/mappings\/(?!new)[^/?]+/);
    await expect.poll(async () => (await app().toasts()).map((toast) => toast.message)).toContain("Mapping saved");
    const saved = await app().db.mapping.findFirstOrThrow({ where: { shop: app().shop, eventType: "Keyboard Order" } });
    expect(JSON.parse(saved.properties)).toEqual({ orderName: "{{ name }}", total: "{{ total_price }}" });
    expect(saved.enabled).toBe(true);
    expect(app().pageErrors).toEqual([]);
  });

  for (const adminPage of PAGES) {
    test(`${adminPage.name}: usable on a phone`, async () => {
      await checkPhone(adminPage, await adminPage.path(app()));
    });
  }
});
