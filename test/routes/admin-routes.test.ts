/**
 * Admin routes, called with signed session tokens against the real database: each
 * shop reads and changes only its own data, bad forms get 400 with field errors, and
 * the Attentive key never reaches the browser.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { db } from "~/db.server";
import { closeRenderPool, renderPoolStats } from "~/mapping/render.server";
import { createMapping, replaceMappings } from "~/models/Mapping.server";
import * as home from "~/routes/app._index";
import * as deliveries from "~/routes/app.deliveries._index";
import * as deliveryPage from "~/routes/app.deliveries.$id";
import * as mappingPage from "~/routes/app.mappings.$id";
import * as mappingExport from "~/routes/app.mappings.export";
import * as mappings from "~/routes/app.mappings._index";
import * as newMapping from "~/routes/app.mappings.new";
import * as settings from "~/routes/app.settings";
import { adminRequest, call, storeOfflineSession } from "../support/admin-requests";
import { SPEC_EXAMPLE_MAPPING, specExampleMapping } from "../support/mappings";
import { drain, postWebhook, TEST_ATTENTIVE_KEY, usePipeline, workerOptions } from "../support/pipeline";
import { fixtureText, TEST_SHOP } from "../support/webhooks";

const OTHER_SHOP = "other-shop.myshopify.com";
const pipeline = usePipeline();

let ownMappingId: string;
let otherMappingId: string;
let otherDeliveryId: string;
let ownDeliveryId: string;

beforeEach(async () => {
  process.env.ATTENTIVE_API_URL = pipeline.standIn.graphqlUrl;
  await storeOfflineSession(TEST_SHOP);
  await storeOfflineSession(OTHER_SHOP);
  const [own] = await replaceMappings(db(), TEST_SHOP, [specExampleMapping()]);
  ownMappingId = own!.id;
  await postWebhook({ topic: "orders/fulfilled", body: fixtureText("orders_fulfilled.derived.json") });
  await postWebhook({ topic: "orders/fulfilled", body: fixtureText("orders_fulfilled.derived.json"), shop: OTHER_SHOP });
  await drain(workerOptions(pipeline.standIn));
  otherMappingId = (await db().mapping.findFirstOrThrow({ where: { shop: OTHER_SHOP } })).id;
  otherDeliveryId = (await db().delivery.findFirstOrThrow({ where: { shop: OTHER_SHOP } })).id;
  ownDeliveryId = (await db().delivery.findFirstOrThrow({ where: { shop: TEST_SHOP } })).id;
});

describe("another shop's ids are 404, exactly like missing ones", () => {
  it("on the mapping editor's loader and action", async () => {
    for (const id of [otherMappingId, "does-not-exist"]) {
      const loaded = await call(mappingPage.loader, await adminRequest(TEST_SHOP, `/app/mappings/${id}`), { id });
      expect(loaded.status).toBe(404);
      const saved = await call(
        mappingPage.action,
        await adminRequest(TEST_SHOP, `/app/mappings/${id}`, { form: { intent: "save", form: JSON.stringify({ ...editorForm(), eventType: "Hijacked" }) } }),
        { id },
      );
      expect(saved.status).toBe(404);
    }
    expect((await db().mapping.findUniqueOrThrow({ where: { id: otherMappingId } })).eventType).not.toBe("Hijacked");
  });

  it("on the mappings list's toggle, duplicate and delete", async () => {
    for (const intent of ["disable", "duplicate", "delete"]) {
      const result = await call(mappings.action, await adminRequest(TEST_SHOP, "/app/mappings", { form: { intent, id: otherMappingId } }));
      expect(result.status).toBe(404);
    }
    expect(await db().mapping.findUnique({ where: { id: otherMappingId } })).toMatchObject({ enabled: true });
  });

  it("on the delivery page and its retry", async () => {
    for (const id of [otherDeliveryId, "does-not-exist"]) {
      expect((await call(deliveryPage.loader, await adminRequest(TEST_SHOP, `/app/deliveries/${id}`), { id })).status).toBe(404);
      expect((await call(deliveryPage.action, await adminRequest(TEST_SHOP, `/app/deliveries/${id}`, { form: {} }), { id })).status).toBe(404);
    }
    const own = await call(deliveryPage.loader, await adminRequest(TEST_SHOP, `/app/deliveries/${ownDeliveryId}`), { id: ownDeliveryId });
    expect(own.status).toBe(200);
  });

  it("in lists: the delivery log and export hold only the session's shop", async () => {
    const log = await call(deliveries.loader, await adminRequest(TEST_SHOP, "/app/deliveries"));
    const ids = (log.body as { deliveries: Array<{ id: string }> }).deliveries.map((delivery) => delivery.id);
    expect(ids).toEqual([ownDeliveryId]);
    const exported = await call(mappingExport.loader, await adminRequest(TEST_SHOP, "/app/mappings/export"));
    expect(exported.body).toEqual({ mappings: [SPEC_EXAMPLE_MAPPING] });
  });

  it("bulk retry touches only the session's shop", async () => {
    await db().delivery.updateMany({ data: { status: "failed", lastError: "x" } });
    const result = await call(deliveries.action, await adminRequest(TEST_SHOP, "/app/deliveries", { form: { intent: "retry-failed", filter: "" } }));
    expect(result.status).toBe(200);
    expect((await db().delivery.findUniqueOrThrow({ where: { id: ownDeliveryId } })).status).toBe("pending");
    expect((await db().delivery.findUniqueOrThrow({ where: { id: otherDeliveryId } })).status).toBe("failed");
  });
});

describe("the Attentive key never reaches the browser", () => {
  it("is absent from every loader's data", async () => {
    const shop = await db().shop.findUniqueOrThrow({ where: { domain: TEST_SHOP } });
    const pages = [
      await call(home.loader, await adminRequest(TEST_SHOP, "/app")),
      await call(settings.loader, await adminRequest(TEST_SHOP, "/app/settings")),
      await call(deliveryPage.loader, await adminRequest(TEST_SHOP, `/app/deliveries/${ownDeliveryId}`), { id: ownDeliveryId }),
      await call(mappingPage.loader, await adminRequest(TEST_SHOP, `/app/mappings/${ownMappingId}`), { id: ownMappingId }),
    ];
    for (const page of pages) {
      expect(page.status).toBe(200);
      const text = JSON.stringify(page.body);
      expect(text).not.toContain(TEST_ATTENTIVE_KEY);
      expect(text).not.toContain(shop.attentiveKeyCipher!);
    }
    expect(pages[1]!.body).toMatchObject({ connected: true, keyLast4: TEST_ATTENTIVE_KEY.slice(-4) });
  });
});

describe("the home page", () => {
  type HomeStatus = { status: { state: string; headline: string; checks: Array<{ id: string; state: string; title: string }> } };
  const homeStatus = async () => {
    const result = await call(home.loader, await adminRequest(TEST_SHOP, "/app"));
    expect(result.status).toBe(200);
    const { status } = result.body as HomeStatus;
    return { ...status, byId: Object.fromEntries(status.checks.map((entry) => [entry.id, entry])) };
  };

  it("says the app is set up and working once an event reached Attentive, and what broke when it did not", async () => {
    const working = await homeStatus();
    expect([working.state, working.headline]).toEqual(["ok", "Set up and working"]);
    expect(working.byId.flowing).toMatchObject({ state: "ok", title: "Events are reaching Attentive" });

    // Attentive refuses the key on a later attempt, and the delivery fails.
    const delivery = await db().delivery.update({ where: { id: ownDeliveryId }, data: { status: "failed", lastError: "Attentive rejected the API key." } });
    await db().deliveryAttempt.create({ data: { deliveryId: delivery.id, number: 9, startedAt: new Date(), durationMs: 40, outcome: "failed", httpStatus: 401, error: "unauthorized" } });
    const broken = await homeStatus();
    expect(broken.state).toBe("critical");
    expect(broken.byId.key).toMatchObject({ state: "critical", title: "Attentive refused the API key" });
    expect(broken.byId.failures).toMatchObject({ state: "critical", title: "1 event failed in the last 24 hours" });
    // Nothing delivered is left: events were recorded but none reached Attentive.
    expect(broken.byId.flowing).toMatchObject({ state: "warning", title: "No event has reached Attentive yet" });

    await db().mapping.updateMany({ where: { shop: TEST_SHOP }, data: { enabled: false } });
    expect((await homeStatus()).byId.mappings).toMatchObject({ state: "critical", title: "No mapping is on" });
  });

  it("warns about live events waiting too long, but not about a backfill's, which wait by design", async () => {
    const longAgo = new Date(Date.now() - 2 * 60 * 60_000);
    await db().delivery.update({ where: { id: ownDeliveryId }, data: { status: "pending", createdAt: longAgo } });
    expect((await homeStatus()).byId.flowing).toMatchObject({ state: "warning", title: "1 event is waiting to be sent" });

    const backfill = await db().backfill.create({
      data: { shop: TEST_SHOP, activeShop: TEST_SHOP, status: "sending", since: longAgo, until: new Date(), topics: "[]", mappingIds: "[]" },
    });
    await db().delivery.update({ where: { id: ownDeliveryId }, data: { backfillId: backfill.id } });
    // The long wait is not reported; what is left to say is that nothing live was delivered.
    expect((await homeStatus()).byId.flowing).toMatchObject({ state: "warning", title: "No event has reached Attentive yet" });
  });

  it("names the enabled mappings waiting for a scope the shop has not granted, until it is granted", async () => {
    await createMapping(db(), TEST_SHOP, { topic: "fulfillments/create", eventType: "Parcel Out", enabled: true, properties: {} });
    await createMapping(db(), TEST_SHOP, { topic: "returns/request", eventType: "Return Asked", enabled: false, properties: {} });
    const waiting = await call(home.loader, await adminRequest(TEST_SHOP, "/app"));
    expect(waiting.status).toBe(200);
    expect((waiting.body as { scopeWaits: Array<{ message: string }> }).scopeWaits.map((wait) => wait.message)).toEqual([
      "Parcel shipped waits for access to fulfillments",
    ]);

    await db().session.updateMany({ where: { shop: TEST_SHOP }, data: { scope: "read_orders,read_fulfillments" } });
    const granted = await call(home.loader, await adminRequest(TEST_SHOP, "/app"));
    expect((granted.body as { scopeWaits: unknown[] }).scopeWaits).toEqual([]);
  });
});

function editorForm() {
  return {
    topic: "orders/fulfilled",
    eventType: "Order Shipped",
    enabled: true,
    when: "",
    properties: [{ key: "orderName", template: "{{ name }}" }],
    user: { email: "", phone: "", clientUserId: "" },
  };
}

describe("invalid forms get 400 with field errors and change nothing", () => {
  it("a mapping with a forbidden character, a broken template and a duplicate key", async () => {
    const form = {
      ...editorForm(),
      eventType: "Order (Shipped)",
      properties: [
        { key: "orderName", template: "{{ name " },
        { key: "orderName", template: "{{ name }}" },
        { key: "bad,key", template: "{{ id }}" },
      ],
    };
    const result = await call(newMapping.action, await adminRequest(TEST_SHOP, "/app/mappings/new", { form: { intent: "save", form: JSON.stringify(form) } }));
    expect(result.status).toBe(400);
    const errors = (result.body as { errors: Record<string, string> }).errors;
    expect(errors.eventType).toMatch(/parenthesis/);
    expect(errors["properties.0.template"]).toMatch(/Liquid/);
    expect(errors["properties.1.key"]).toMatch(/used twice/);
    expect(errors["properties.2.key"]).toMatch(/comma/);
    expect(await db().mapping.count({ where: { shop: TEST_SHOP } })).toBe(1);
  });

  it("settings with a retention that is not offered", async () => {
    const result = await call(settings.action, await adminRequest(TEST_SHOP, "/app/settings", { form: { intent: "settings", logRetentionDays: "3" } }));
    expect(result.status).toBe(400);
    expect((result.body as { errors: Record<string, string> }).errors.logRetentionDays).toMatch(/7, 30, 90, 365/);
  });

  it("a key Attentive rejects is not saved, and the error does not echo it", async () => {
    const result = await call(settings.action, await adminRequest(TEST_SHOP, "/app/settings", { form: { intent: "connect", apiKey: "not-a-real-key-xyz" } }));
    expect(result.status).toBe(400);
    expect(JSON.stringify(result.body)).not.toContain("not-a-real-key-xyz");
    expect((await db().shop.findUniqueOrThrow({ where: { domain: TEST_SHOP } })).attentiveKeyLast4).toBe(TEST_ATTENTIVE_KEY.slice(-4));
  });

  it("the save bar's save is all or nothing: a refused key saves none of the page's other changes", async () => {
    const form = { intent: "save", apiKey: "not-a-real-key-xyz", logRetentionDays: "90", sendingPaused: "on" };
    const refused = await call(settings.action, await adminRequest(TEST_SHOP, "/app/settings", { form }));
    expect(refused.status).toBe(400);
    expect((refused.body as { errors: Record<string, string> }).errors.apiKey).toMatch(/^The key was not saved/);
    expect(JSON.stringify(refused.body)).not.toContain("not-a-real-key-xyz");
    const unchanged = await db().shop.findUniqueOrThrow({ where: { domain: TEST_SHOP } });
    expect([unchanged.attentiveKeyLast4, unchanged.logRetentionDays, unchanged.sendingPaused]).toEqual([TEST_ATTENTIVE_KEY.slice(-4), 30, false]);

    const badRetention = await call(settings.action, await adminRequest(TEST_SHOP, "/app/settings", { form: { ...form, logRetentionDays: "3" } }));
    expect(badRetention.status).toBe(400);
    expect(Object.keys((badRetention.body as { errors: Record<string, string> }).errors)).toEqual(["logRetentionDays"]);

    pipeline.standIn.addKey("replacement-key-0002");
    const saved = await call(settings.action, await adminRequest(TEST_SHOP, "/app/settings", { form: { ...form, apiKey: "replacement-key-0002" } }));
    expect(saved.status).toBe(200);
    const after = await db().shop.findUniqueOrThrow({ where: { domain: TEST_SHOP } });
    expect([after.attentiveKeyLast4, after.logRetentionDays, after.sendingPaused]).toEqual(["0002", 90, true]);

    // Without a key, the save changes the settings only.
    const settingsOnly = await call(settings.action, await adminRequest(TEST_SHOP, "/app/settings", { form: { intent: "save", apiKey: "", logRetentionDays: "7" } }));
    expect(settingsOnly.body).toEqual({ ok: true, message: "Settings saved" });
    const last = await db().shop.findUniqueOrThrow({ where: { domain: TEST_SHOP } });
    expect([last.attentiveKeyLast4, last.logRetentionDays, last.sendingPaused]).toEqual(["0002", 7, false]);
  });

  it("an invalid mapping file names the problem and changes nothing", async () => {
    const file = JSON.stringify({ mappings: [{ ...SPEC_EXAMPLE_MAPPING, topic: "orders/exploded" }] });
    const result = await call(mappings.action, await adminRequest(TEST_SHOP, "/app/mappings", { form: { intent: "import", file } }));
    expect(result.status).toBe(400);
    expect(JSON.stringify(result.body)).toMatch(/orders\/exploded/);
    expect(await db().mapping.findUnique({ where: { id: ownMappingId } })).not.toBeNull();
  });
});

describe("the mapping editor", () => {
  it("previews the exact request against the shop's latest webhook", async () => {
    const result = await call(
      newMapping.action,
      await adminRequest(TEST_SHOP, "/app/mappings/new", { form: { intent: "preview", form: JSON.stringify(editorForm()), source: "latest" } }),
    );
    expect(result.status).toBe(200);
    const body = result.body as { source: string; outcome: { kind: string; request: { variables: { input: { type: string; properties: unknown; user: { email?: string } } } } } };
    expect(body.source).toBe("webhook");
    expect(body.outcome.kind).toBe("request");
    expect(body.outcome.request.variables.input).toMatchObject({ type: "Order Shipped", properties: { orderName: "#9999" } });
  });

  it("says precisely why an event would fail", async () => {
    const form = { ...editorForm(), user: { email: "{{ nothing_here }}", phone: "{{ nothing_here }}", clientUserId: "{{ nothing_here }}" } };
    const result = await call(
      newMapping.action,
      await adminRequest(TEST_SHOP, "/app/mappings/new", { form: { intent: "preview", form: JSON.stringify(form), source: "sample" } }),
    );
    expect((result.body as { outcome: { kind: string; reason: string } }).outcome).toMatchObject({ kind: "error", reason: expect.stringMatching(/email, phone or customer id/) });
  });

  it("sends a real test event to Attentive and reports Attentive's answer", async () => {
    const before = pipeline.standIn.received.length;
    const result = await call(
      newMapping.action,
      await adminRequest(TEST_SHOP, "/app/mappings/new", { form: { intent: "test", form: JSON.stringify(editorForm()), source: "sample" } }),
    );
    expect(result.body).toMatchObject({ sent: true, message: expect.stringMatching(/accepted/) });
    expect(pipeline.standIn.received.length).toBe(before + 1);
    expect(pipeline.standIn.received.at(-1)!.input.type).toBe("Order Shipped");
  });

  it("previews a mapping that cannot loop on the request's own thread, and one that loops on the render threads (decision 033)", { timeout: 60_000 }, async () => {
    await closeRenderPool();
    const preview = async (form: ReturnType<typeof editorForm>) => {
      const result = await call(newMapping.action, await adminRequest(TEST_SHOP, "/app/mappings/new", { form: { intent: "preview", form: JSON.stringify(form), source: "sample" } }));
      return (result.body as { outcome: { kind: string; request?: { variables: { input: { properties: Record<string, string> } } } } }).outcome;
    };
    expect((await preview(editorForm())).request?.variables.input.properties).toEqual({ orderName: "#9999" });
    // No render thread started for it: the pool was never needed.
    expect(renderPoolStats()).toBeNull();

    const looping = { ...editorForm(), properties: [{ key: "skus", template: "{% for item in line_items %}{{ item.sku }};{% endfor %}" }] };
    const outcome = await preview(looping);
    expect(outcome.kind).toBe("request");
    // Shopify's sample order (app/topics/samples/orders_fulfilled.json), rendered on a render thread.
    expect(outcome.request?.variables.input.properties.skus).toBe("SKU2006-001;LENS-PROTECT-2YR;CASE-LEATHER-PREM;SKU2006-020;SKU2006-035;");
    expect(renderPoolStats()!.started).toBeGreaterThanOrEqual(1);
    await closeRenderPool();
  });

  it("renders the first preview in the editor's loader, and starts the render threads only for a mapping that will need them", { timeout: 60_000 }, async () => {
    await closeRenderPool();
    const load = async (id: string) => call(mappingPage.loader, await adminRequest(TEST_SHOP, `/app/mappings/${id}`), { id });
    const own = await load(ownMappingId);
    expect(own.status).toBe(200);
    // Rendered on the request's thread, into the page's data: the page need not ask for it.
    const ownPreview = (own.body as { initialPreview: { outcome: { kind: string; request: { variables: { input: { type: string } } } } } | null }).initialPreview;
    expect(ownPreview?.outcome.kind).toBe("request");
    expect(ownPreview?.outcome.request.variables.input.type).toBe(SPEC_EXAMPLE_MAPPING.eventType);
    expect(renderPoolStats()).toBeNull();
    const created = await createMapping(db(), TEST_SHOP, {
      topic: "orders/fulfilled",
      eventType: "Order Lines",
      enabled: true,
      properties: { skus: "{% for item in line_items %}{{ item.sku }};{% endfor %}" },
      user: { email: "{{ email }}" },
    });
    if (!created.ok) throw new Error("the shop is at its mapping limit");
    const looped = await load(created.mapping.id);
    expect(looped.status).toBe(200);
    // Its preview is left to the page, which asks for it once loaded, by when the threads have started.
    expect((looped.body as { initialPreview: unknown }).initialPreview).toBeNull();
    expect(renderPoolStats()!.started).toBeGreaterThanOrEqual(1);
    await closeRenderPool();
  });

  it("saves a valid mapping for the session's shop and redirects to it", async () => {
    const result = await call(newMapping.action, await adminRequest(TEST_SHOP, "/app/mappings/new", { form: { intent: "save", form: JSON.stringify(editorForm()) } }));
    expect(result.status).toBe(302);
    const id = /\/app\/mappings\/([^?]+)/.exec(result.headers.get("location") ?? "")![1]!;
    expect(await db().mapping.findUniqueOrThrow({ where: { id } })).toMatchObject({ shop: TEST_SHOP, eventType: "Order Shipped" });
  });
});
