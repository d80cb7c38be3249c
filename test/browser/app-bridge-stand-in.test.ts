/**
 * The App Bridge stand-in itself, exercised in the running app's page with elements shaped like the ones
 * @shopify/app-bridge-react renders (so page tests can rely on it before the pages use every feature).
 */
import { expect, test } from "vitest";
import { describeBrowser, useBrowserHarness } from "./harness";

describeBrowser("the App Bridge stand-in", () => {
  const app = useBrowserHarness();

  test("toasts are visible role=status elements and are logged", async () => {
    const { page, openApp } = app();
    await openApp("/app");
    await page.evaluate(() => {
      window.shopify.toast.show("Settings saved");
      window.shopify.toast.show("Attentive rejected the key", { isError: true });
    });
    const status = page.getByRole("status").filter({ hasText: "Settings saved" });
    await expect.poll(() => status.isVisible()).toBe(true);
    expect(await page.getByRole("status").filter({ hasText: "Attentive rejected the key" }).getAttribute("data-tone")).toBe("critical");
    expect((await app().toasts()).map((toast) => [toast.message, toast.isError])).toEqual([
      ["Settings saved", false],
      ["Attentive rejected the key", true],
    ]);
    await app().screenshot("stand-in-toasts");
  });

  test("ui-save-bar shows Save and Discard that click the app's own buttons", async () => {
    const { page, openApp } = app();
    await openApp("/app");
    await page.evaluate(() => {
      const bar = document.createElement("ui-save-bar");
      bar.id = "settings-save-bar";
      bar.innerHTML = '<button variant="primary">Save</button><button>Discard</button>';
      const clicks: string[] = [];
      (window as unknown as { clicks: string[] }).clicks = clicks;
      bar.querySelectorAll("button").forEach((button) => button.addEventListener("click", () => clicks.push(button.textContent ?? "")));
      document.body.appendChild(bar);
      return window.shopify.saveBar.show("settings-save-bar");
    });
    const saveBar = page.getByRole("region", { name: "Unsaved changes" });
    await expect.poll(() => saveBar.isVisible()).toBe(true);
    // Only the stand-in's buttons are visible; the app's own buttons stay hidden in the element.
    expect(await page.getByRole("button", { name: "Save" }).count()).toBe(1);
    await app().screenshot("stand-in-save-bar");
    await saveBar.getByRole("button", { name: "Discard" }).click();
    await saveBar.getByRole("button", { name: "Save" }).click();
    expect(await page.evaluate(() => (window as unknown as { clicks: string[] }).clicks)).toEqual(["Discard", "Save"]);
    await page.evaluate(() => window.shopify.saveBar.hide("settings-save-bar"));
    await expect.poll(() => saveBar.isVisible()).toBe(false);
    expect((await app().standInLog()).saveBar.map((entry) => entry.action)).toEqual(["show", "hide"]);
  });

  test("ui-modal shows its content, title and title-bar buttons", async () => {
    const { page, openApp } = app();
    await openApp("/app");
    await page.evaluate(() => {
      const modal = document.createElement("ui-modal");
      modal.id = "confirm-modal";
      modal.innerHTML = '<ui-title-bar title="Disconnect Attentive?"><button variant="primary" tone="critical">Disconnect</button><button>Cancel</button></ui-title-bar>';
      document.body.appendChild(modal);
      const content = (modal as unknown as { content: HTMLElement }).content;
      content.innerHTML = "<p>Events stop being sent.</p>";
      modal.querySelector("ui-title-bar button")?.addEventListener("click", () => {
        (window as unknown as { disconnected: boolean }).disconnected = true;
      });
      return window.shopify.modal.show("confirm-modal");
    });
    const dialog = page.getByRole("dialog", { name: "Disconnect Attentive?" });
    await expect.poll(() => dialog.isVisible()).toBe(true);
    // The content is the app's own DOM (styled by Polaris), slotted into the dialog: scope to the ui-modal element.
    expect(await page.locator("ui-modal#confirm-modal").getByText("Events stop being sent.").isVisible()).toBe(true);
    await app().screenshot("stand-in-modal");
    await dialog.getByRole("button", { name: "Disconnect" }).click();
    expect(await page.evaluate(() => (window as unknown as { disconnected?: boolean }).disconnected)).toBe(true);
    await dialog.getByRole("button", { name: "Close" }).click();
    await expect.poll(() => dialog.isVisible()).toBe(false);
  });

  test("scopes.request asks in a permission dialog, for optional scopes only, and the grant reaches Shopify's side", async () => {
    const { page, openApp, appBridge } = app();
    await openApp("/app");
    type Outcome = { ok: true; value: { result: string; detail: { granted: string[] } } } | { ok: false; error: string };
    const request = (scopes: unknown) =>
      page.evaluate(
        (requested) =>
          window.shopify.scopes.request(requested as string[]).then(
            (value): Outcome => ({ ok: true, value }),
            (error: Error): Outcome => ({ ok: false, error: error.message }),
          ),
        scopes,
      );
    // Refused as the real API documents: scope handles declared optional in the app's configuration.
    expect(await request([])).toMatchObject({ ok: false, error: expect.stringMatching(/non-empty array/) });
    expect(await request(["read_orders"])).toMatchObject({ ok: false, error: expect.stringMatching(/not optional scopes of this app: read_orders/) });
    expect(await request(["write_products", "read_returns"])).toMatchObject({ ok: false, error: expect.stringMatching(/: write_products$/) });

    const dialog = page.getByRole("dialog", { name: "Grant access to this app?" });
    const declined = request(["read_returns"]);
    await expect.poll(() => dialog.isVisible()).toBe(true);
    expect(await dialog.getByRole("listitem").allTextContents()).toEqual(["read_returns"]);
    // One dialog at a time.
    expect(await request(["read_fulfillments"])).toMatchObject({ ok: false, error: expect.stringMatching(/already open/) });
    await app().screenshot("stand-in-permission-dialog");
    await dialog.getByRole("button", { name: "Decline" }).click();
    expect(await declined).toEqual({ ok: true, value: { result: "declined-all", detail: { granted: ["read_orders"], required: ["read_orders"], optional: ["read_fulfillments", "read_returns", "read_all_orders"] } } });
    expect(appBridge.grantedScopes).toEqual(["read_orders"]);

    const granted = request(["read_returns"]);
    await dialog.getByRole("button", { name: "Grant" }).click();
    expect(await granted).toMatchObject({ ok: true, value: { result: "granted-all", detail: { granted: ["read_orders", "read_returns"] } } });
    expect(appBridge.grantedScopes).toEqual(["read_orders", "read_returns"]);
    expect(await page.evaluate(() => window.shopify.scopes.query())).toMatchObject({ granted: ["read_orders", "read_returns"] });
    expect((await app().standInLog()).scopeRequests.map((entry) => [entry.scopes, entry.result])).toEqual([
      [["read_returns"], "declined-all"],
      [["read_returns"], "granted-all"],
    ]);

    // Revoked again, so the shop is as the harness made it.
    expect(await page.evaluate(() => window.shopify.scopes.revoke(["read_returns"]))).toMatchObject({ detail: { granted: ["read_orders"] } });
    expect(appBridge.grantedScopes).toEqual(["read_orders"]);
  });

  test("the nav menu is kept for the admin to draw, hidden in the page", async () => {
    const { page, openApp } = app();
    await openApp("/app");
    const links = await page.evaluate(() =>
      (window as unknown as { __appBridgeStandIn: { navMenu(): { label: string; href: string }[] } }).__appBridgeStandIn.navMenu(),
    );
    expect(links[0]).toMatchObject({ label: "Home", href: "/app" });
    expect(await page.getByRole("link", { name: "Home" }).count()).toBe(0);
  });
});
