import { expect, test } from "vitest";
import { describeBrowser, useBrowserHarness } from "./harness";

describeBrowser("the embedded home page", () => {
  const app = useBrowserHarness();

  test("opens as Shopify admin opens it: Polaris page, App Bridge stand-in, not connected yet", async () => {
    const { page, openApp, screenshot } = app();
    const response = await openApp("/app");
    expect(response?.status()).toBe(200);

    await expect.poll(() => page.getByRole("heading", { level: 1, name: "Attentive events" }).isVisible()).toBe(true);
    await expect.poll(() => page.getByText("Not connected yet.", { exact: false }).isVisible()).toBe(true);
    // Polaris's stylesheet is applied (not unstyled HTML): the page background is Polaris's bg-surface-secondary token.
    const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(background).not.toBe("rgba(0, 0, 0, 0)");
    expect(await page.locator(".Polaris-Page").count()).toBe(1);
    // The App Bridge stand-in loaded in place of the CDN script, and the nav menu is there for the admin to draw.
    expect(await page.evaluate(() => typeof window.shopify?.idToken)).toBe("function");
    expect(await page.evaluate(() => window.shopify.config.apiKey)).toBe(app().apiKey);

    await screenshot("home-desktop");
    await app().setViewport("mobile");
    await expect.poll(() => page.getByRole("heading", { level: 1, name: "Attentive events" }).isVisible()).toBe(true);
    await screenshot("home-mobile");
    await app().setViewport("desktop");

    expect(app().pageErrors).toEqual([]);
    expect(app().consoleErrors).toEqual([]);
    expect(app().blockedRequests).toEqual([]);
  });

  test("client-side data requests carry the stand-in's session token", async () => {
    const { page, openApp, appUrl } = app();
    await openApp("/app");
    // What Remix does on a client navigation: fetch the route's loader data from the app's origin.
    const status = await page.evaluate(async (origin) => {
      const response = await fetch(`${origin}/app?_data=routes%2Fapp._index`);
      return response.status;
    }, appUrl);
    expect(status).toBe(200);
    expect((await app().standInLog()).authorizedFetches).toBeGreaterThan(0);
  });

  test("an id_token signed with the wrong secret gets no app page", async () => {
    const harness = app();
    const forged = harness.sessionToken({ secret: "not-the-app-secret" });

    // The document request Shopify admin would make: bounced to the session-token page, without the token.
    const document = await fetch(harness.adminUrl("/app", forged), {
      redirect: "manual",
      headers: { "user-agent": harness.userAgent },
    });
    expect(document.status).toBe(302);
    const location = new URL(document.headers.get("location") ?? "", harness.appUrl);
    expect(location.pathname).toBe("/auth/session-token");
    expect(location.searchParams.has("id_token")).toBe(false);
    expect(await document.text()).not.toContain("Attentive events");

    // A data request with the forged token in its Authorization header: 401, asking App Bridge to retry.
    const data = await fetch(`${harness.appUrl}/app?_data=routes%2Fapp._index`, {
      headers: { authorization: `Bearer ${forged}`, "user-agent": harness.userAgent },
    });
    expect(data.status).toBe(401);
    expect(data.headers.get("x-shopify-retry-invalid-session-request")).toBe("1");

    // In the browser, with the stand-in told not to fetch a fresh token on the bounce page: no app page.
    harness.appBridge.bounce = false;
    try {
      await harness.openApp("/app", { idToken: forged, hydrate: false });
      expect(new URL(harness.page.url()).pathname).toBe("/auth/session-token");
      // The bounce page is rendered by shopify-app-remix on the server, which honours APP_BRIDGE_URL.
      expect(await harness.page.locator("script[data-api-key]").getAttribute("src")).toBe(harness.appBridge.scriptUrl);
      expect(await harness.page.getByText("Attentive events").count()).toBe(0);
    } finally {
      harness.appBridge.bounce = true;
    }

    // The real App Bridge gets a fresh, valid token on the bounce page and reloads: the app opens.
    await harness.page.goto(harness.adminUrl("/app", forged));
    await harness.page.waitForURL((url) => url.pathname === "/app" && url.searchParams.has("id_token"));
    await harness.waitForHydration();
    await expect.poll(() => harness.page.getByRole("heading", { level: 1, name: "Attentive events" }).isVisible()).toBe(true);
    expect(new URL(harness.page.url()).pathname).toBe("/app");
  });
});
