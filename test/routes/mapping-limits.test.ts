/**
 * The merchant-input limits where mappings are written through the admin: the import's size is checked before the
 * body is buffered or the file parsed, the shop's mapping count on import, create and duplicate, the editor's field
 * limits, and rows stored before the limits existed (docs/decisions/010-merchant-input-limits.md).
 */
import { beforeEach, describe, expect, it } from "vitest";
import { MAX_EDITOR_REQUEST_BYTES, MAX_IMPORT_REQUEST_BYTES } from "~/admin/bounded-form.server";
import { db } from "~/db.server";
import { MAX_EVENT_TYPE_LENGTH, MAX_IMPORT_FILE_BYTES, MAX_MAPPINGS_PER_SHOP, MAX_PROPERTY_KEYS } from "~/mapping/limits";
import { renderMapping } from "~/mapping/render.server";
import type { MappingDefinition } from "~/mapping/types";
import { createMapping, mappingRows, replaceMappings } from "~/models/Mapping.server";
import * as mappingPage from "~/routes/app.mappings.$id";
import * as mappings from "~/routes/app.mappings._index";
import * as newMapping from "~/routes/app.mappings.new";
import { APP_ORIGIN, adminRequest, call, storeOfflineSession } from "../support/admin-requests";
import { SPEC_EXAMPLE_MAPPING, specExampleMapping } from "../support/mappings";
import { TEST_SHOP } from "../support/webhooks";

const FIVE_MB = 5 * 1024 * 1024;
const CHUNK = new Uint8Array(64 * 1024).fill(0x7b); // "{{{{…": never valid JSON, never a valid form

beforeEach(async () => {
  await db().mapping.deleteMany();
  await storeOfflineSession(TEST_SHOP);
  await replaceMappings(db(), TEST_SHOP, [specExampleMapping()]);
});

function mapping(i: number): MappingDefinition {
  return { topic: "orders/fulfilled", eventType: `Event ${i}`, enabled: true, properties: { orderName: "{{ name }}" } };
}

async function mappingsOfShop(): Promise<string[]> {
  return (await db().mapping.findMany({ where: { shop: TEST_SHOP }, orderBy: { position: "asc" } })).map((row) => row.eventType);
}

/** A POST signed like the embedded app's, with any body: the helper's form encoding would hide what is tested. */
async function signedPost(path: string, body: BodyInit, headers: Record<string, string> = {}): Promise<Request> {
  const signed = await adminRequest(TEST_SHOP, path);
  // `duplex: "half"` is what a stream body needs.
  const init: RequestInit = { method: "POST", body, headers: { authorization: signed.headers.get("authorization")!, ...headers }, duplex: "half" };
  return new Request(`${APP_ORIGIN}${path}`, init);
}

/**
 * A body of `bytes` (the ceiling and 1 MiB more: finite, so the code before the fix read it all and failed rather
 * than reading forever) that counts how often it was read.
 */
function oversizedBody(ceiling: number) {
  const chunks = Math.ceil((ceiling + 1024 * 1024) / CHUNK.byteLength);
  const state = { reads: 0 };
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        state.reads++;
        if (state.reads > chunks) controller.close();
        else controller.enqueue(CHUNK);
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, state };
}

function multipartImport(text: string): FormData {
  const form = new FormData();
  form.set("intent", "import");
  form.set("file", new File([text], "mappings.json", { type: "application/json" }));
  return form;
}

function errorsOf(result: { body: unknown }): string[] {
  return (result.body as { errors?: string[] }).errors ?? [];
}

describe("the admin import's size", () => {
  it("is checked before the file is parsed: a file over 1 MiB whose JSON breaks past the limit gets the size error", async () => {
    const opening = `{"mappings": [${JSON.stringify(SPEC_EXAMPLE_MAPPING)}`;
    const text = `${opening}${" ".repeat(MAX_IMPORT_FILE_BYTES - opening.length)}{ not json`;
    const result = await call(mappings.action, await signedPost("/app/mappings", multipartImport(text)));
    expect(result.status).toBe(413);
    expect(result.body).toMatchObject({ ok: false, message: "The file was not imported; nothing was changed." });
    expect(errorsOf(result)).toEqual([expect.stringMatching(/^The mapping file is too large: the limit is 1 MiB \(1,048,576 bytes\) and this one is 1,048,5\d\d bytes/)]);
    expect(JSON.stringify(result.body)).not.toMatch(/JSON/);
    expect(await mappingsOfShop()).toEqual(["Order Shipped"]);
  });

  it("is refused from Content-Length before a byte of the body is read", async () => {
    const { stream, state } = oversizedBody(MAX_IMPORT_REQUEST_BYTES);
    const request = await signedPost("/app/mappings", stream, {
      "content-type": "application/x-www-form-urlencoded",
      "content-length": String(64 * 1024 * 1024),
    });
    const result = await call(mappings.action, request);
    expect(result.status).toBe(413);
    expect(errorsOf(result)[0]).toMatch(/too large: the limit is 1 MiB/);
    expect(state.reads).toBe(0);
    expect(await mappingsOfShop()).toEqual(["Order Shipped"]);
  });

  it("stops reading a body without a length once it passes the limit", async () => {
    const { stream, state } = oversizedBody(MAX_IMPORT_REQUEST_BYTES);
    const result = await call(mappings.action, await signedPost("/app/mappings", stream, { "content-type": "application/x-www-form-urlencoded" }));
    expect(result.status).toBe(413);
    // The rest is left unread and the connection closed after the answer (cancelling would destroy the socket
    // before the 413 is written on Node's server: decision 011).
    expect(result.headers.get("connection")).toBe("close");
    // What was read: at most the request ceiling and the chunk that crossed it.
    expect(state.reads * CHUNK.byteLength).toBeLessThanOrEqual(MAX_IMPORT_REQUEST_BYTES + CHUNK.byteLength);
    expect(await mappingsOfShop()).toEqual(["Order Shipped"]);
  });

  it("lets a file within the limit through, sent as the page sends it (multipart)", async () => {
    const text = JSON.stringify({ mappings: [mapping(1), mapping(2)] });
    const result = await call(mappings.action, await signedPost("/app/mappings", multipartImport(text)));
    expect(result).toMatchObject({ status: 200, body: { ok: true, message: "Imported 2 mappings" } });
    expect(await mappingsOfShop()).toEqual(["Event 1", "Event 2"]);
  });
});

describe(`a shop's mappings are at most MAX_MAPPINGS_PER_SHOP (${MAX_MAPPINGS_PER_SHOP})`, () => {
  it("an import of one more is refused and changes nothing", async () => {
    const file = JSON.stringify({ mappings: Array.from({ length: MAX_MAPPINGS_PER_SHOP + 1 }, (_, i) => mapping(i)) });
    const result = await call(mappings.action, await adminRequest(TEST_SHOP, "/app/mappings", { form: { intent: "import", file } }));
    expect(result.status).toBe(400);
    expect(errorsOf(result)).toEqual([expect.stringContaining(`The file has ${MAX_MAPPINGS_PER_SHOP + 1} mappings; a shop can have at most ${MAX_MAPPINGS_PER_SHOP}`)]);
    expect(await mappingsOfShop()).toEqual(["Order Shipped"]);
  });

  it("creating one more in the editor is refused with the limit and what to do, and nothing is saved", async () => {
    await replaceMappings(db(), TEST_SHOP, Array.from({ length: MAX_MAPPINGS_PER_SHOP }, (_, i) => mapping(i)));
    const result = await call(newMapping.action, await adminRequest(TEST_SHOP, "/app/mappings/new", { form: { intent: "save", form: JSON.stringify(editorForm()) } }));
    expect(result.status).toBe(400);
    const errors = (result.body as { errors: Record<string, string> }).errors;
    expect(errors.form).toMatch(new RegExp(`^This shop already has ${MAX_MAPPINGS_PER_SHOP} mappings; a shop can have at most ${MAX_MAPPINGS_PER_SHOP}`));
    expect(errors.form).toMatch(/Delete one you no longer need/);
    expect(await db().mapping.count({ where: { shop: TEST_SHOP } })).toBe(MAX_MAPPINGS_PER_SHOP);
  });

  it("duplicating one more is refused and nothing is saved", async () => {
    const stored = await replaceMappings(db(), TEST_SHOP, Array.from({ length: MAX_MAPPINGS_PER_SHOP }, (_, i) => mapping(i)));
    const result = await call(mappings.action, await adminRequest(TEST_SHOP, "/app/mappings", { form: { intent: "duplicate", id: stored[0]!.id } }));
    expect(result.status).toBe(400);
    expect(result.body).toMatchObject({ ok: false, message: expect.stringMatching(/^Not duplicated: This shop already has 50 mappings/) });
    expect(await db().mapping.count({ where: { shop: TEST_SHOP } })).toBe(MAX_MAPPINGS_PER_SHOP);
  });

  it("two creates at once with room for one: one is saved, the other refused", async () => {
    await db().shop.upsert({ where: { domain: TEST_SHOP }, create: { domain: TEST_SHOP, mappingsSeeded: true }, update: {} });
    await replaceMappings(db(), TEST_SHOP, Array.from({ length: MAX_MAPPINGS_PER_SHOP - 1 }, (_, i) => mapping(i)));
    const outcomes = await Promise.all([createMapping(db(), TEST_SHOP, mapping(100)), createMapping(db(), TEST_SHOP, mapping(101))]);
    expect(outcomes.map((outcome) => outcome.ok).sort()).toEqual([false, true]);
    expect(await db().mapping.count({ where: { shop: TEST_SHOP } })).toBe(MAX_MAPPINGS_PER_SHOP);
  });

  it("creating up to the limit still works", async () => {
    await replaceMappings(db(), TEST_SHOP, Array.from({ length: MAX_MAPPINGS_PER_SHOP - 1 }, (_, i) => mapping(i)));
    const result = await call(newMapping.action, await adminRequest(TEST_SHOP, "/app/mappings/new", { form: { intent: "save", form: JSON.stringify(editorForm()) } }));
    expect(result.status).toBe(302);
    expect(await db().mapping.count({ where: { shop: TEST_SHOP } })).toBe(MAX_MAPPINGS_PER_SHOP);
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

async function save(form: ReturnType<typeof editorForm>) {
  return call(newMapping.action, await adminRequest(TEST_SHOP, "/app/mappings/new", { form: { intent: "save", form: JSON.stringify(form) } }));
}

describe("the editor refuses, on the field, and saves nothing", () => {
  it("a 5 MB event type, with a message that does not repeat it", async () => {
    const result = await save({ ...editorForm(), eventType: "x".repeat(FIVE_MB) });
    expect(result.status).toBe(400);
    const errors = (result.body as { errors: Record<string, string> }).errors;
    expect(errors.eventType).toBe(`The event type is ${FIVE_MB} characters long; the limit is ${MAX_EVENT_TYPE_LENGTH}. Use a short name such as "Order Shipped".`);
    expect(await db().mapping.count({ where: { shop: TEST_SHOP } })).toBe(1);
  });

  it("NUL, BEL and NEXT LINE in the event type and in property keys", async () => {
    for (const char of ["\u0000", "\u0007", "\u0085"]) {
      const result = await save({
        ...editorForm(),
        eventType: `Order${char}Shipped`,
        properties: [
          { key: "orderName", template: "{{ name }}" },
          { key: `total${char}Price`, template: "{{ total_price }}" },
        ],
      });
      expect(result.status).toBe(400);
      const errors = (result.body as { errors: Record<string, string> }).errors;
      expect(errors.eventType).toMatch(/invisible or control character \(U\+00(00|07|85)\) at position 6/);
      expect(errors["properties.1.key"]).toMatch(/^The property key "total\?Price" contains an invisible or control character/);
    }
    expect(await db().mapping.count({ where: { shop: TEST_SHOP } })).toBe(1);
  });

  it(`${MAX_PROPERTY_KEYS + 1} properties`, async () => {
    const properties = Array.from({ length: MAX_PROPERTY_KEYS + 1 }, (_, i) => ({ key: `p${i}`, template: "{{ name }}" }));
    const result = await save({ ...editorForm(), properties });
    expect(result.status).toBe(400);
    expect((result.body as { errors: Record<string, string> }).errors.properties).toMatch(`at most ${MAX_PROPERTY_KEYS} per event type. Remove 1.`);
    expect(await db().mapping.count({ where: { shop: TEST_SHOP } })).toBe(1);
  });

  it("a form body past the editor's ceiling, without reading it all", async () => {
    const { stream, state } = oversizedBody(MAX_EDITOR_REQUEST_BYTES);
    const result = await call(newMapping.action, await signedPost("/app/mappings/new", stream, { "content-type": "application/x-www-form-urlencoded" }));
    expect(result.status).toBe(413);
    expect((result.body as { errors: Record<string, string> }).errors.form).toMatch(/larger than the editor accepts/);
    expect(state.reads * CHUNK.byteLength).toBeLessThanOrEqual(MAX_EDITOR_REQUEST_BYTES + CHUNK.byteLength);
    expect(await db().mapping.count({ where: { shop: TEST_SHOP } })).toBe(1);
  });
});

describe("rows stored before the limits", () => {
  async function storeUnchecked(definitions: MappingDefinition[]) {
    // Written as an older version did, past today's checks.
    await db().mapping.deleteMany({ where: { shop: TEST_SHOP } });
    await db().mapping.createMany({ data: mappingRows(TEST_SHOP, definitions) });
  }

  it("load: the list shows every row with long types cut, the editor opens and its preview names the problem", async () => {
    const hugeType = "Order Shipped".padEnd(FIVE_MB, "x");
    await storeUnchecked([
      { ...mapping(0), eventType: hugeType },
      { ...mapping(1), properties: { "bad\u0000key": "{{ name }}" } },
      ...Array.from({ length: MAX_MAPPINGS_PER_SHOP - 1 }, (_, i) => mapping(i + 2)),
    ]);
    const list = await call(mappings.loader, await adminRequest(TEST_SHOP, "/app/mappings"));
    expect(list.status).toBe(200);
    const rows = (list.body as { mappings: Array<{ id: string; eventType: string }> }).mappings;
    expect(rows).toHaveLength(MAX_MAPPINGS_PER_SHOP + 1);
    expect(rows[0]!.eventType).toBe(`${hugeType.slice(0, MAX_EVENT_TYPE_LENGTH)}…`);

    const id = rows[0]!.id;
    const page = await call(mappingPage.loader, await adminRequest(TEST_SHOP, `/app/mappings/${id}`), { id });
    expect(page.status).toBe(200);
    const initial = (page.body as { initial: ReturnType<typeof editorForm> }).initial;
    const preview = await call(
      mappingPage.action,
      await adminRequest(TEST_SHOP, `/app/mappings/${id}`, { form: { intent: "preview", form: JSON.stringify(initial), source: "sample" } }),
      { id },
    );
    expect(preview.status).toBe(400);
    expect((preview.body as { errors: Record<string, string> }).errors.eventType).toMatch(/the limit is 128/);
  });

  it("still fail when rendered, on the rules Attentive's names follow, with a short reason", async () => {
    const input = { shop: TEST_SHOP, topic: "orders/fulfilled" as const, body: { name: "#1001", email: "a@example.com" } };
    const huge = await renderMapping({ ...mapping(0), eventType: "x".repeat(FIVE_MB) }, input);
    expect(huge).toEqual({ kind: "error", reason: expect.stringMatching(/the limit is 128/) });
    expect(JSON.stringify(huge).length).toBeLessThan(300);
    const hiddenKey = await renderMapping({ ...mapping(0), properties: { "a\u0085b": "{{ name }}" } }, input);
    expect(hiddenKey).toEqual({ kind: "error", reason: expect.stringMatching(/U\+0085/) });
    expect(await renderMapping(mapping(0), input)).toMatchObject({ kind: "event" });
  });

  it("refuse a new mapping while the shop is over the limit", async () => {
    await storeUnchecked(Array.from({ length: MAX_MAPPINGS_PER_SHOP + 5 }, (_, i) => mapping(i)));
    const result = await save(editorForm());
    expect(result.status).toBe(400);
    expect((result.body as { errors: Record<string, string> }).errors.form).toMatch(/^This shop already has 55 mappings; a shop can have at most 50/);
    expect(await db().mapping.count({ where: { shop: TEST_SHOP } })).toBe(MAX_MAPPINGS_PER_SHOP + 5);
  });
});
