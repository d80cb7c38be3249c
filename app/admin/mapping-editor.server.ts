/**
 * The mapping editor's server side, shared by /app/mappings/new and /app/mappings/:id:
 * the form's JSON is validated with the same rules as the mapping file, previewed
 * against a real or sample body, sent as a test event, or saved.
 */
import { json, redirect } from "@remix-run/node";
import { z } from "zod";
import { validateMapping } from "~/mapping/mapping-file";
import { bodyPaths, templateScope, previewBody, previewMapping, sendTestEvent, type PreviewSource } from "~/mapping/preview.server";
import type { MappableTopic, MappingDefinition } from "~/mapping/types";
import { MAX_MAPPINGS_PER_SHOP } from "~/mapping/limits";
import { rendersInline } from "~/mapping/inline";
import { warmRenderPoolSoon } from "~/mapping/render.server";
import { createMapping, updateMapping } from "~/models/Mapping.server";
import { attentiveApiKey } from "~/models/Shop.server";
import { secretBoxFromEnv } from "~/secrets/secret-box.server";
import { createOrderLookup } from "~/shopify/order-lookup.server";
import { CATALOG } from "~/topics/catalog";
import { unauthenticated } from "~/shopify.server";
import { MAX_EDITOR_REQUEST_BYTES, readFormWithLimit } from "./bounded-form.server";
import { type AdminContext, attentiveOptions, notFound } from "./context.server";

/** What the editor's form posts: rows keep their order and may be half filled in. */
export const editorForm = z.object({
  topic: z.string(),
  eventType: z.string(),
  enabled: z.boolean(),
  when: z.string(),
  properties: z.array(z.object({ key: z.string(), template: z.string() })).max(1000),
  user: z.object({ email: z.string(), phone: z.string(), clientUserId: z.string() }),
});
export type EditorForm = z.infer<typeof editorForm>;

export type FieldErrors = Record<string, string>;

/** What a merchant reads when a new mapping would pass the shop's limit (`existing` may exceed it: older rows). */
export function mappingLimitMessage(existing: number): string {
  return `This shop already has ${existing} mappings; a shop can have at most ${MAX_MAPPINGS_PER_SHOP} (each one sends an event for every matching order). Delete one you no longer need, or add properties to an existing mapping instead.`;
}

export function formFromDefinition(mapping: MappingDefinition): EditorForm {
  return {
    topic: mapping.topic,
    eventType: mapping.eventType,
    enabled: mapping.enabled,
    when: mapping.when ?? "",
    properties: Object.entries(mapping.properties).map(([key, template]) => ({ key, template })),
    user: { email: mapping.user?.email ?? "", phone: mapping.user?.phone ?? "", clientUserId: mapping.user?.clientUserId ?? "" },
  };
}

/**
 * The form as a mapping, or errors keyed by editor field: "eventType", "when",
 * "properties.<row>.key" / "properties.<row>.template", "user.email", …
 * An empty user field means "use the default", so it is left out.
 */
export function definitionFromForm(form: EditorForm): { ok: true; mapping: MappingDefinition } | { ok: false; errors: FieldErrors } {
  const errors: FieldErrors = {};
  const rowOfKey = new Map<string, number>();
  form.properties.forEach((row, index) => {
    const key = row.key.trim();
    if (key === "" && row.template.trim() === "") return;
    if (key === "") errors[`properties.${index}.key`] = "Give this property a name.";
    else if (rowOfKey.has(key)) errors[`properties.${index}.key`] = `"${key}" is used twice: property names must be unique.`;
    else rowOfKey.set(key, index);
  });
  const user = Object.fromEntries(Object.entries(form.user).filter(([, template]) => template.trim() !== ""));
  const candidate = {
    topic: form.topic,
    eventType: form.eventType.trim(),
    enabled: form.enabled,
    ...(form.when.trim() !== "" ? { when: form.when.trim() } : {}),
    // The first row of a key counts; a repeated key is reported above.
    properties: Object.fromEntries(
      form.properties.filter((row, index) => rowOfKey.get(row.key.trim()) === index).map((row) => [row.key.trim(), row.template]),
    ),
    ...(Object.keys(user).length > 0 ? { user } : {}),
  };
  const validated = validateMapping(candidate);
  if (!validated.ok) {
    for (const error of validated.errors) {
      const field = error.field;
      const text = error.detail ?? error.message;
      const property = /^properties\.(.+)$/.exec(field);
      if (property && rowOfKey.has(property[1]!)) {
        const row = rowOfKey.get(property[1]!)!;
        errors[`properties.${row}.${/property key/i.test(text) ? "key" : "template"}`] ??= text;
      } else {
        errors[field || "form"] ??= text;
      }
    }
  }
  if (Object.keys(errors).length > 0 || !validated.ok) return { ok: false, errors };
  return { ok: true, mapping: validated.mapping };
}

export type PreviewResult = Extract<EditorActionResult, { intent: "preview"; ok: true }>;

/**
 * What the editor's page needs besides the form: the fields a template can read, whether a real webhook backs them,
 * and, when it costs no wait, the stored mapping's first preview.
 *
 * The preview is the page's largest element. Rendered here it is in the server's HTML, rather than asked for once
 * the page has loaded: for a mapping that renders on this thread (decision 033) of a topic whose body is all its
 * templates read. Others (a parcel's order comes from the database or the Admin API) are asked for by the page, and
 * for a mapping that will render on the pool's threads, which start on demand, those are started now.
 */
export async function editorSources(context: AdminContext, topic: MappableTopic, mapping: MappingDefinition | null = null) {
  const source = await previewBody(context.prisma, context.shop, topic, "latest");
  const paths = bodyPaths(templateScope(topic, source));
  let initialPreview: PreviewResult | null = null;
  if (mapping !== null) {
    const needs = CATALOG[mapping.topic].needs;
    if (!rendersInline(mapping, source.bodyChars)) warmRenderPoolSoon();
    else if (needs.order === "body" && needs.fulfillment !== true && mapping.topic === topic) {
      const outcome = await previewMapping(mapping, context.shop, source, attentiveOptions().propertiesEncoding);
      initialPreview = { intent: "preview", ok: true, source: source.source, receivedAt: source.receivedAt?.toISOString() ?? null, outcome, paths };
    }
  }
  return { hasLatest: source.source === "webhook", paths, initialPreview };
}

const actionForm = z.object({
  intent: z.enum(["save", "preview", "test"]),
  form: z.string(),
  source: z.enum(["latest", "sample"]).default("latest"),
});

export type EditorActionResult =
  | { intent: "save"; ok: false; errors: FieldErrors }
  | { intent: "preview" | "test"; ok: false; errors: FieldErrors }
  | { intent: "preview"; ok: true; source: "webhook" | "sample"; receivedAt: string | null; outcome: Awaited<ReturnType<typeof previewMapping>>; paths: Array<{ path: string; example: string }> }
  | { intent: "test"; ok: true; sent: boolean; message: string };

export async function editorAction(context: AdminContext, request: Request, mappingId: string | null) {
  const body = await readFormWithLimit(request, MAX_EDITOR_REQUEST_BYTES);
  if (!body.ok && body.reason === "too-large") {
    const form = "The mapping is larger than the editor accepts: shorten its event type or templates, or remove properties, then try again.";
    return json<EditorActionResult>({ intent: "save", ok: false, errors: { form } }, { status: 413 });
  }
  const parsed = actionForm.safeParse(body.ok ? Object.fromEntries(body.form) : {});
  if (!parsed.success) return json<EditorActionResult>({ intent: "save", ok: false, errors: { form: "The form was incomplete: reload the page and try again." } }, { status: 400 });
  let formJson: unknown;
  try {
    formJson = JSON.parse(parsed.data.form);
  } catch {
    formJson = null;
  }
  const form = editorForm.safeParse(formJson);
  if (!form.success) return json<EditorActionResult>({ intent: parsed.data.intent, ok: false, errors: { form: "The form was incomplete: reload the page and try again." } }, { status: 400 });
  const definition = definitionFromForm(form.data);
  const { intent } = parsed.data;
  if (!definition.ok) return json<EditorActionResult>({ intent, ok: false, errors: definition.errors }, { status: 400 });

  if (intent === "save") {
    if (mappingId) {
      const updated = await updateMapping(context.prisma, context.shop, mappingId, definition.mapping);
      if (!updated) throw notFound("Mapping");
      return redirect(`/app/mappings/${updated.id}?saved=1`);
    }
    const created = await createMapping(context.prisma, context.shop, definition.mapping);
    if (!created.ok) {
      return json<EditorActionResult>({ intent, ok: false, errors: { form: `${mappingLimitMessage(created.limit.count - 1)} This mapping was not saved.` } }, { status: 400 });
    }
    return redirect(`/app/mappings/${created.mapping.id}?saved=1`);
  }

  const orderLookup = createOrderLookup(context.prisma, (shop) => unauthenticated.admin(shop));
  const source = await previewBody(context.prisma, context.shop, definition.mapping.topic, parsed.data.source as PreviewSource, orderLookup);
  if (intent === "preview") {
    const outcome = await previewMapping(definition.mapping, context.shop, source, attentiveOptions().propertiesEncoding);
    return json<EditorActionResult>({
      intent,
      ok: true,
      source: source.source,
      receivedAt: source.receivedAt?.toISOString() ?? null,
      outcome,
      paths: bodyPaths(templateScope(definition.mapping.topic, source)),
    });
  }
  const apiKey = await attentiveApiKey(context.prisma, secretBoxFromEnv(), context.shop);
  if (!apiKey) return json<EditorActionResult>({ intent, ok: true, sent: false, message: "Connect an Attentive API key in Settings first." });
  const result = await sendTestEvent(definition.mapping, context.shop, source, apiKey, attentiveOptions());
  return json<EditorActionResult>({
    intent,
    ok: true,
    sent: result.ok,
    message: result.ok ? `Attentive accepted the test event (externalEventId ${result.externalEventId}).` : result.reason,
  });
}
