/**
 * The two Shopify Flow extension files (extensions/send-attentive-event and extensions/attentive-event-failed),
 * read with a real TOML parser and held to two things:
 * - what Shopify CLI accepts for `flow_action` and `flow_trigger` (its loader and zod schemas, at
 *   packages/app/src/cli/models/extensions/specifications/flow_*.ts and services/flow/ in Shopify/cli), plus a few
 *   rules of Flow's own documentation that the CLI does not enforce (handles of at most 30 characters);
 * - the app's code: the action's field keys and required flags against FLOW_ACTION_FIELDS and parseFlowAction, the
 *   trigger's keys against FLOW_TRIGGER_FIELDS, the handles, and the route file that answers runtime_url's path.
 * Every rule is run once on the real files (no complaint) and once on a copy broken for that rule (its complaint),
 * so a rule that stopped checking anything would fail here.
 */
import { mkdtemp, readFile, rm, writeFile, mkdir } from "node:fs/promises";
import path from "node:path";
import { flatRoutes } from "@remix-run/dev/dist/config/flat-routes.js";
import { parse, stringify } from "smol-toml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FLOW_ACTION_FIELDS, FLOW_ACTION_HANDLE, FLOW_ACTION_PATH, parseFlowAction } from "~/flow/action";
import { FLOW_TRIGGER_FIELDS, FLOW_TRIGGER_HANDLE } from "~/flow/trigger-contract";
import { FORBIDDEN_IN_EVENT_TYPE, isE164 } from "~/attentive/rules";
import type { JsonValue } from "~/shopify/json";

const ROOT = path.resolve(import.meta.dirname, "../..");
const ACTION_FILE = path.join(ROOT, "extensions/send-attentive-event/shopify.extension.toml");
const TRIGGER_FILE = path.join(ROOT, "extensions/attentive-event-failed/shopify.extension.toml");
const APP_TOML = path.join(ROOT, "shopify.app.toml");

// ---------------------------------------------------------------------------------------------------------------
// Shopify CLI's rules (services/flow/constants.ts, validation.ts, serialize-fields.ts; schemas.ts for handles)
// ---------------------------------------------------------------------------------------------------------------

type FlowType = "flow_action" | "flow_trigger";
type Table = Record<string, unknown>;

/** Field types Flow takes that are not references to a Shopify object. */
const PLAIN_TYPES: Record<FlowType, readonly string[]> = {
  flow_action: ["single_line_text_field", "multi_line_text_field", "number_integer", "number_decimal", "boolean", "email", "url"],
  flow_trigger: ["single_line_text_field", "number_decimal", "boolean", "email", "url"],
};
/** Every reference type the CLI knows; each extension type supports only some of them. */
const ALL_REFERENCE_TYPES = [
  "customer_reference",
  "order_reference",
  "product_reference",
  "marketing_activity_reference",
  "abandonment_reference",
  "company_reference",
  "company_contact_reference",
] as const;
const REFERENCE_TYPES: Record<FlowType, readonly string[]> = {
  flow_action: ALL_REFERENCE_TYPES,
  flow_trigger: ["customer_reference", "order_reference", "product_reference", "company_reference", "company_contact_reference"],
};
/** Keys each extension type reads; the CLI drops any other key without a word, so a typo would go unnoticed. */
const EXTENSION_KEYS: Record<FlowType, readonly string[]> = {
  flow_action: [
    "type", "handle", "name", "description", "uid", "api_version", "settings", "runtime_url", "validation_url",
    "config_page_url", "config_page_preview_url", "schema", "return_type_ref",
  ],
  flow_trigger: ["type", "handle", "name", "description", "uid", "api_version", "settings", "schema"],
};
/** Keys that may stand beside [[extensions]] at the top of the file: the loader merges these into the extension. */
const TOP_LEVEL_KEYS = ["extensions", "settings", "description", "api_version"];
/** Flow's docs cap handles at 30 characters (the CLI allows 50); a deployed handle cannot be renamed. */
const MAX_HANDLE_LENGTH = 30;
/**
 * Our bound, not Flow's (its limit is not documented): descriptions show in the Flow editor's narrow side panel, so
 * a long one is cut or wraps into a wall of text.
 */
const MAX_DESCRIPTION_LENGTH = 160;

/** A field as Flow will see it: the name its value travels under in the payload, and what the file says of it. */
interface FlowField {
  payloadName: string;
  type: string;
  reference: boolean;
  required: boolean;
  description: string | undefined;
}

interface CheckedExtension {
  /** The extension entry with the file's top-level keys merged in, as the CLI's loader does. */
  config: Table;
  fields: FlowField[];
  problems: string[];
}

function isTable(value: unknown): value is Table {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function has(table: Table, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(table, key);
}

/** The CLI's URL rule for flow actions, narrowed to absolute https URLs (relative ones need CLI 4.2 or newer). */
function urlProblem(key: string, value: unknown): string | null {
  if (typeof value !== "string") return `${key} must be a string URL.`;
  if (/[\r\n\t]/.test(value)) return `${key} contains a control character (newline or tab): remove it.`;
  if (value.startsWith("/")) {
    return `${key} must be an absolute https URL, the app's URL followed by the path: Shopify CLI before 4.2 accepts nothing else.`;
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `${key} is not a URL: write the app's https URL followed by the path.`;
  }
  if (url.protocol !== "https:") return `${key} must use https: Flow only calls https endpoints.`;
  return null;
}

function fieldLabel(field: Table, index: number): string {
  const key = typeof field.key === "string" ? ` "${field.key}"` : "";
  return `settings.fields[${index}]${key} (${String(field.type)})`;
}

function checkField(field: unknown, index: number, type: FlowType, problems: string[]): FlowField | null {
  if (!isTable(field)) {
    problems.push(`settings.fields[${index}] is not a table: write it as [[settings.fields]].`);
    return null;
  }
  const label = fieldLabel(field, index);
  if (typeof field.type !== "string") {
    problems.push(`settings.fields[${index}] has no type: every field needs one.`);
    return null;
  }
  const kind = type === "flow_action" ? "Flow actions" : "Flow triggers";
  const fieldType = field.type;
  if (has(field, "required") && typeof field.required !== "boolean") problems.push(`${label}: required must be true or false.`);
  if (has(field, "description")) {
    if (typeof field.description !== "string") problems.push(`${label}: description must be a string.`);
    else if (field.description.length > MAX_DESCRIPTION_LENGTH) {
      problems.push(`${label}: description is ${field.description.length} characters; keep it under ${MAX_DESCRIPTION_LENGTH} for Flow's side panel.`);
    }
  }
  const description = typeof field.description === "string" ? field.description : undefined;
  const required = field.required === true;

  if ((ALL_REFERENCE_TYPES as readonly string[]).includes(fieldType)) {
    if (!REFERENCE_TYPES[type].includes(fieldType)) problems.push(`${label}: ${fieldType} is not supported on ${kind}.`);
    const marketing = fieldType === "marketing_activity_reference" ? ["marketingActivityCreateUrl", "marketingActivityDeleteUrl"] : [];
    for (const key of Object.keys(field)) {
      if (key === "key" || key === "name") {
        problems.push(`${label}: a reference field takes no key or name (Flow names it and sends it as ${fieldType.replace(/_reference$/, "_id")}); remove "${key}".`);
      } else if (!["type", "description", "required", ...marketing].includes(key)) {
        problems.push(`${label}: "${key}" is not allowed on a reference field.`);
      }
    }
    return { payloadName: fieldType.replace(/_reference$/, "_id"), type: fieldType, reference: true, required, description };
  }

  const schemaType = type === "flow_trigger" && fieldType.startsWith("schema.");
  if (!schemaType && !PLAIN_TYPES[type].includes(fieldType)) {
    problems.push(`${label}: field type ${fieldType} is not supported on ${kind}; use one of ${PLAIN_TYPES[type].join(", ")}.`);
  }
  const allowed = ["type", "key", "name", "description", "required"];
  for (const key of Object.keys(field)) {
    if (!allowed.includes(key)) {
      problems.push(
        type === "flow_action"
          ? `${label}: "${key}" is not allowed on a Flow action field (only ${allowed.join(", ")}).`
          : `${label}: "${key}" is not used by Flow triggers (they read only type, key and description).`,
      );
    }
  }
  if (typeof field.key !== "string" || field.key === "") {
    problems.push(`${label}: key is missing: it is the name the value travels under in the payload.`);
    return null;
  }
  if (type === "flow_trigger" && !/^[A-Za-z]+( [A-Za-z]+)*$/.test(field.key)) {
    problems.push(`${label}: a trigger key may hold only letters and single spaces (like "Event type"), because Flow turns it into a variable name.`);
  }
  if (type === "flow_action" && (typeof field.name !== "string" || field.name.trim() === "")) {
    problems.push(`${label}: name is missing: it is the label the merchant sees in Flow.`);
  }
  return { payloadName: field.key, type: fieldType, reference: false, required, description };
}

/** Everything Shopify CLI (and Flow's naming rules) would object to in one extension file's text. */
function checkExtensionFile(text: string): CheckedExtension {
  const problems: string[] = [];
  let file: Table;
  try {
    file = parse(text);
  } catch (error) {
    return { config: {}, fields: [], problems: [`The file is not valid TOML: ${(error as Error).message.split("\n")[0]}`] };
  }
  for (const key of Object.keys(file)) {
    if (!TOP_LEVEL_KEYS.includes(key)) {
      problems.push(`Top-level key "${key}" is not read by Shopify CLI in a file with [[extensions]]: move it under [[extensions]].`);
    }
  }
  const entries = file.extensions;
  if (!Array.isArray(entries) || entries.length === 0) {
    return { config: {}, fields: [], problems: [...problems, "The file needs one [[extensions]] table with the extension's type, handle and name."] };
  }
  if (entries.length > 1) {
    problems.push(`The file holds ${entries.length} extensions: keep one per file, since the top-level [settings] would apply to every one.`);
  }
  const entry: unknown = entries[0];
  if (!isTable(entry)) return { config: {}, fields: [], problems: [...problems, "[[extensions]] must be a table."] };
  // The CLI's loader: the top-level keys it reads first, the entry's own keys win.
  const topLevel = Object.fromEntries(Object.entries(file).filter(([key]) => key !== "extensions" && TOP_LEVEL_KEYS.includes(key)));
  const config: Table = { ...topLevel, ...entry };

  if (config.type !== "flow_action" && config.type !== "flow_trigger") {
    return { config, fields: [], problems: [...problems, `type must be "flow_action" or "flow_trigger", not ${JSON.stringify(config.type)}.`] };
  }
  const type: FlowType = config.type;
  for (const key of Object.keys(config)) {
    if (!EXTENSION_KEYS[type].includes(key)) problems.push(`"${key}" is not a ${type} key: Shopify CLI ignores it.`);
  }

  const handle = config.handle;
  if (typeof handle !== "string" || handle === "") {
    problems.push("handle is missing: Flow and the app know the extension by it.");
  } else {
    if (handle.length > MAX_HANDLE_LENGTH) problems.push(`handle is ${handle.length} characters; Flow allows at most ${MAX_HANDLE_LENGTH}.`);
    if (!/^[a-z0-9-]+$/.test(handle)) problems.push(`handle "${handle}" may hold only a-z, 0-9 and hyphens.`);
    if (handle.startsWith("-") || handle.endsWith("-")) problems.push(`handle "${handle}" cannot start or end with a hyphen.`);
  }

  const name = config.name;
  if (typeof name !== "string" || name.trim() === "") {
    problems.push("name is missing: it is the title merchants see in Flow.");
  } else if (!/^[A-Z][A-Za-z0-9]*( [A-Za-z0-9]+)*$/.test(name)) {
    problems.push(`name "${name}" should be in sentence case, words separated by single spaces, without punctuation (Flow's naming rule).`);
  }
  if (has(config, "description")) {
    if (typeof config.description !== "string") problems.push("description must be a string.");
    else if (config.description.length > MAX_DESCRIPTION_LENGTH) {
      problems.push(`description is ${config.description.length} characters; keep it under ${MAX_DESCRIPTION_LENGTH} for Flow's side panel.`);
    }
  }
  for (const key of ["uid", "api_version", "schema", "return_type_ref"]) {
    if (has(config, key) && typeof config[key] !== "string") problems.push(`${key} must be a string.`);
  }

  if (type === "flow_action") {
    if (!has(config, "runtime_url")) problems.push("runtime_url is missing: Flow posts each run of the action there.");
    for (const key of ["runtime_url", "validation_url", "config_page_url", "config_page_preview_url"]) {
      if (!has(config, key)) continue;
      const problem = urlProblem(key, config[key]);
      if (problem !== null) problems.push(problem);
    }
    if (has(config, "config_page_url") || has(config, "config_page_preview_url")) {
      for (const key of ["config_page_url", "config_page_preview_url", "validation_url"]) {
        if (!has(config, key)) problems.push(`A custom configuration page needs config_page_url, config_page_preview_url and validation_url; ${key} is missing.`);
      }
    }
    if (has(config, "schema") !== has(config, "return_type_ref")) {
      problems.push("schema and return_type_ref go together: set both (a return value) or neither.");
    }
  }

  const fields: FlowField[] = [];
  const settings = config.settings;
  if (settings !== undefined) {
    if (!isTable(settings)) problems.push("settings must be a table ([settings]).");
    else if (settings.fields !== undefined && !Array.isArray(settings.fields)) problems.push("settings.fields must be an array of tables ([[settings.fields]]).");
    else {
      const list: unknown[] = Array.isArray(settings.fields) ? settings.fields : [];
      list.forEach((field, index) => {
        const checked = checkField(field, index, type, problems);
        if (checked !== null) fields.push(checked);
      });
    }
  }
  if (type === "flow_trigger" && fields.some((field) => field.type.startsWith("schema.")) && !has(config, "schema")) {
    problems.push("A field of type schema.<Type> needs the extension's schema (a GraphQL file that defines the type).");
  }
  const seen = new Set<string>();
  for (const field of fields) {
    if (seen.has(field.payloadName)) problems.push(`Two fields are sent as "${field.payloadName}": each needs its own key.`);
    seen.add(field.payloadName);
  }
  return { config, fields, problems };
}

// ---------------------------------------------------------------------------------------------------------------
// The app's side of the contract
// ---------------------------------------------------------------------------------------------------------------

function setProblems(what: string, declared: string[], expected: string[]): string[] {
  const problems: string[] = [];
  for (const name of expected) if (!declared.includes(name)) problems.push(`${what}: the file has no field sent as "${name}", which the app reads.`);
  for (const name of declared) if (!expected.includes(name)) problems.push(`${what}: the file's field "${name}" is not one the app knows.`);
  return problems;
}

const SAMPLE_SETTINGS: Record<string, JsonValue> = {
  [FLOW_ACTION_FIELDS.eventType]: "Loyalty Tier Changed",
  [FLOW_ACTION_FIELDS.properties]: '{"tier": "gold", "points": 120}',
  [FLOW_ACTION_FIELDS.email]: "ada@example.com",
  [FLOW_ACTION_FIELDS.phone]: "+14155552671",
  [FLOW_ACTION_FIELDS.customerId]: "gid://shopify/Customer/1001",
};

function sampleRun(settings: Record<string, JsonValue>): JsonValue {
  return { shop_id: "1", shopify_domain: "flow-shop.myshopify.com", action_run_id: "run-1", handle: FLOW_ACTION_HANDLE, properties: settings };
}

/**
 * Which settings parseFlowAction cannot do without: starting from a run with every field filled, a field is required
 * when leaving it out alone makes the run refused. (Email, phone and customer are each optional on their own: the
 * parser needs one of the three, which no flag can say, so the descriptions say it.)
 */
function requiredByParser(): Map<string, boolean> {
  const full = parseFlowAction(sampleRun(SAMPLE_SETTINGS));
  if (!full.ok) throw new Error(`The sample Flow run is refused: ${full.reason}`);
  const required = new Map<string, boolean>();
  for (const key of Object.values(FLOW_ACTION_FIELDS)) {
    const { [key]: _left, ...rest } = SAMPLE_SETTINGS;
    required.set(key, !parseFlowAction(sampleRun(rest)).ok);
  }
  return required;
}

function actionContractProblems(checked: CheckedExtension, applicationUrl: string): string[] {
  const { config, fields } = checked;
  const problems: string[] = [];
  if (config.handle !== FLOW_ACTION_HANDLE) {
    problems.push(`handle is ${JSON.stringify(config.handle)} but the app's FLOW_ACTION_HANDLE is "${FLOW_ACTION_HANDLE}": the route refuses runs of any other handle.`);
  }
  if (typeof config.runtime_url === "string" && URL.canParse(config.runtime_url)) {
    const url = new URL(config.runtime_url);
    if (url.pathname !== FLOW_ACTION_PATH || url.search !== "" || url.hash !== "") {
      problems.push(`runtime_url's path is ${url.pathname}${url.search}${url.hash} but the app answers Flow at FLOW_ACTION_PATH (${FLOW_ACTION_PATH}).`);
    }
    if (url.origin !== new URL(applicationUrl).origin) {
      problems.push(`runtime_url points at ${url.origin} but shopify.app.toml's application_url is ${applicationUrl}: set both to the app's URL.`);
    }
  }
  problems.push(...setProblems("Flow action", fields.map((field) => field.payloadName), Object.values(FLOW_ACTION_FIELDS)));
  const required = requiredByParser();
  for (const field of fields) {
    const needed = required.get(field.payloadName);
    if (needed === undefined || needed === field.required) continue;
    problems.push(
      needed
        ? `Flow action field "${field.payloadName}" must be required = true: the app refuses a run without it.`
        : `Flow action field "${field.payloadName}" must not be required: the app sends events without it, and Flow would make merchants fill it.`,
    );
  }
  return problems;
}

/** The trigger's payload holds only strings (FlowTriggerPayload), so each field needs a type whose value is text. */
const TEXT_TRIGGER_TYPES = ["single_line_text_field", "url", "email"];

function triggerContractProblems(checked: CheckedExtension): string[] {
  const { config, fields } = checked;
  const problems: string[] = [];
  if (config.handle !== FLOW_TRIGGER_HANDLE) {
    problems.push(`handle is ${JSON.stringify(config.handle)} but the app sends the trigger as FLOW_TRIGGER_HANDLE "${FLOW_TRIGGER_HANDLE}".`);
  }
  problems.push(...setProblems("Flow trigger", fields.map((field) => field.payloadName), Object.values(FLOW_TRIGGER_FIELDS)));
  for (const field of fields) {
    if (!TEXT_TRIGGER_TYPES.includes(field.type)) {
      problems.push(`Flow trigger field "${field.payloadName}" is ${field.type}, but the app sends it as text: use single_line_text_field, url or email.`);
    }
  }
  return problems;
}

/** The Remix patterns vite.config.ts gives `ignoredRouteFiles`. */
const IGNORED_ROUTE_FILES = ["**/.*", "**/*.test.*"];

/** The route file (relative to the app directory) that Remix's flat routes send `urlPath` to, or why there is none. */
function routeFileFor(appDirectory: string, urlPath: string): { file?: string; problems: string[] } {
  const manifest = flatRoutes(appDirectory, IGNORED_ROUTE_FILES);
  const fullPath = (id: string | undefined): string => {
    const route = id === undefined ? undefined : manifest[id];
    if (route === undefined) return "";
    const parent = fullPath(route.parentId);
    return route.path ? `${parent}/${route.path}` : parent;
  };
  const matches = Object.values(manifest).filter((route) => !route.index && fullPath(route.id) === urlPath);
  if (matches.length === 0) {
    const expected = `routes/${urlPath.slice(1).replaceAll("/", ".")}.tsx`;
    return { problems: [`No route in ${path.basename(appDirectory)}/routes answers ${urlPath}: Remix expects it in ${path.basename(appDirectory)}/${expected}.`] };
  }
  if (matches.length > 1) return { problems: [`${matches.length} routes answer ${urlPath}: ${matches.map((route) => route.file).join(", ")}.`] };
  return { file: matches[0]!.file, problems: [] };
}

async function routeModuleProblems(file: string): Promise<string[]> {
  const module = (await import(/* @vite-ignore */ file)) as Record<string, unknown>;
  return typeof module.action === "function" ? [] : [`${path.basename(file)} exports no action: Flow's POST would get a 405.`];
}

// ---------------------------------------------------------------------------------------------------------------

let actionText: string;
let triggerText: string;
let applicationUrl: string;

beforeAll(async () => {
  [actionText, triggerText] = await Promise.all([readFile(ACTION_FILE, "utf8"), readFile(TRIGGER_FILE, "utf8")]);
  const app = parse(await readFile(APP_TOML, "utf8"));
  if (typeof app.application_url !== "string") throw new Error("shopify.app.toml has no application_url");
  applicationUrl = app.application_url;
});

/** The file's parsed tables, changed by `edit`, written back as TOML. */
function edited(text: string, edit: (file: { extensions: Table[]; settings: { fields: Table[] } }) => void): string {
  const file = parse(text) as unknown as { extensions: Table[]; settings: { fields: Table[] } };
  edit(file);
  return stringify(file);
}

function fieldByKey(fields: Table[], key: string): Table {
  const field = fields.find((candidate) => candidate.key === key || candidate.type === key);
  if (field === undefined) throw new Error(`No field ${key} in the file`);
  return field;
}

describe("extensions/send-attentive-event: what Shopify CLI accepts", () => {
  it("has no complaint", () => {
    const checked = checkExtensionFile(actionText);
    expect(checked.problems).toEqual([]);
    expect(checked.config.type).toBe("flow_action");
    expect(checked.config.name).toBe("Send Attentive event");
  });

  const cases: Array<[string, (text: string) => string, RegExp]> = [
    ["text that is not TOML", (text) => `${text}\n[[settings.fields]\n`, /not valid TOML/],
    ["no [[extensions]] table", (text) => text.replace("[[extensions]]", ""), /needs one \[\[extensions\]\]/],
    ["two extensions in one file", (text) => `${text}\n[[extensions]]\ntype = "flow_action"\nhandle = "other"\nname = "Other"\n`, /2 extensions: keep one per file/],
    ["a stray top-level key", (text) => `runtime_url = "https://example.com/x"\n${text}`, /Top-level key "runtime_url"/],
    ["an unknown extension key", (text) => edited(text, (file) => { file.extensions[0]!.runtime = "x"; }), /"runtime" is not a flow_action key/],
    ["another type", (text) => edited(text, (file) => { file.extensions[0]!.type = "flow_trigger_lifecycle_callback"; }), /type must be "flow_action" or "flow_trigger"/],
    ["no handle", (text) => edited(text, (file) => { delete file.extensions[0]!.handle; }), /handle is missing/],
    ["a handle over 30 characters", (text) => edited(text, (file) => { file.extensions[0]!.handle = "send-attentive-event-from-flow-x"; }), /handle is 32 characters; Flow allows at most 30/],
    ["a handle with capitals or underscores", (text) => edited(text, (file) => { file.extensions[0]!.handle = "Send_event"; }), /may hold only a-z, 0-9 and hyphens/],
    ["a handle ending in a hyphen", (text) => edited(text, (file) => { file.extensions[0]!.handle = "send-event-"; }), /cannot start or end with a hyphen/],
    ["no name", (text) => edited(text, (file) => { delete file.extensions[0]!.name; }), /name is missing/],
    ["a name with punctuation", (text) => edited(text, (file) => { file.extensions[0]!.name = "Send Attentive event!"; }), /sentence case.*without punctuation/],
    ["a long description", (text) => edited(text, (file) => { file.extensions[0]!.description = "x".repeat(161); }), /description is 161 characters/],
    ["no runtime_url", (text) => edited(text, (file) => { delete file.extensions[0]!.runtime_url; }), /runtime_url is missing/],
    ["an http runtime_url", (text) => edited(text, (file) => { file.extensions[0]!.runtime_url = "http://example.com/flow/actions/send-attentive-event"; }), /runtime_url must use https/],
    ["a relative runtime_url", (text) => edited(text, (file) => { file.extensions[0]!.runtime_url = FLOW_ACTION_PATH; }), /runtime_url must be an absolute https URL/],
    ["a runtime_url with a tab", (text) => edited(text, (file) => { file.extensions[0]!.runtime_url = "https://example.com/flow\t"; }), /control character/],
    ["a runtime_url that is not a URL", (text) => edited(text, (file) => { file.extensions[0]!.runtime_url = "example dot com"; }), /runtime_url is not a URL/],
    ["a config page without its preview and validation URLs", (text) => edited(text, (file) => { file.extensions[0]!.config_page_url = "https://example.com/config"; }), /config_page_preview_url is missing/],
    ["a schema without return_type_ref", (text) => edited(text, (file) => { file.extensions[0]!.schema = "./schema.graphql"; }), /schema and return_type_ref go together/],
    ["a key on the customer reference", (text) => edited(text, (file) => { fieldByKey(file.settings.fields, "customer_reference").key = "customer"; }), /reference field takes no key or name .*customer_id.*remove "key"/],
    ["a name on the customer reference", (text) => edited(text, (file) => { fieldByKey(file.settings.fields, "customer_reference").name = "Customer"; }), /reference field takes no key or name .*remove "name"/],
    ["a plain field without key", (text) => edited(text, (file) => { delete fieldByKey(file.settings.fields, "email").key; }), /key is missing/],
    ["a plain field without name", (text) => edited(text, (file) => { delete fieldByKey(file.settings.fields, "email").name; }), /"email".*name is missing/],
    ["a key the CLI's strict field shape refuses", (text) => edited(text, (file) => { fieldByKey(file.settings.fields, "email").default_value = "x"; }), /"default_value" is not allowed on a Flow action field/],
    ["a field type Flow actions do not have", (text) => edited(text, (file) => { fieldByKey(file.settings.fields, "email").type = "date"; }), /field type date is not supported on Flow actions/],
    ["a field with no type", (text) => edited(text, (file) => { delete fieldByKey(file.settings.fields, "email").type; }), /has no type/],
    ["required that is not a boolean", (text) => edited(text, (file) => { fieldByKey(file.settings.fields, "email").required = "yes"; }), /required must be true or false/],
    ["a field description too long for Flow's panel", (text) => edited(text, (file) => { fieldByKey(file.settings.fields, "email").description = "y".repeat(200); }), /"email".*description is 200 characters/],
    ["two fields sent under one name", (text) => edited(text, (file) => { fieldByKey(file.settings.fields, "phone").key = "email"; }), /Two fields are sent as "email"/],
  ];
  it.each(cases)("complains about %s", (_what, breakIt, complaint) => {
    const broken = breakIt(actionText);
    expect(broken).not.toBe(actionText);
    expect(checkExtensionFile(broken).problems.join("\n")).toMatch(complaint);
  });
});

describe("extensions/attentive-event-failed: what Shopify CLI accepts", () => {
  it("has no complaint", () => {
    const checked = checkExtensionFile(triggerText);
    expect(checked.problems).toEqual([]);
    expect(checked.config.type).toBe("flow_trigger");
    expect(checked.config.name).toBe("Attentive event failed");
  });

  const cases: Array<[string, (text: string) => string, RegExp]> = [
    ["a multi-line text field, which triggers do not have", (text) => edited(text, (file) => { fieldByKey(file.settings.fields, "Reason").type = "multi_line_text_field"; }), /field type multi_line_text_field is not supported on Flow triggers/],
    ["a whole number field, which triggers do not have", (text) => edited(text, (file) => { fieldByKey(file.settings.fields, "Reason").type = "number_integer"; }), /field type number_integer is not supported on Flow triggers/],
    ["a key with an underscore", (text) => edited(text, (file) => { fieldByKey(file.settings.fields, "Event type").key = "event_type"; }), /only letters and single spaces/],
    ["a field without key", (text) => edited(text, (file) => { delete fieldByKey(file.settings.fields, "Reason").key; }), /key is missing/],
    ["a runtime_url, which triggers have not", (text) => edited(text, (file) => { file.extensions[0]!.runtime_url = "https://example.com/x"; }), /"runtime_url" is not a flow_trigger key/],
    ["a reference type triggers do not support", (text) => edited(text, (file) => { file.settings.fields.push({ type: "abandonment_reference" }); }), /abandonment_reference is not supported on Flow triggers/],
    ["a schema type without a schema", (text) => edited(text, (file) => { fieldByKey(file.settings.fields, "Reason").type = "schema.Failure"; }), /needs the extension's schema/],
    ["a key triggers do not read", (text) => edited(text, (file) => { fieldByKey(file.settings.fields, "Reason").validations = []; }), /"validations" is not used by Flow triggers/],
  ];
  it.each(cases)("complains about %s", (_what, breakIt, complaint) => {
    const broken = breakIt(triggerText);
    expect(broken).not.toBe(triggerText);
    expect(checkExtensionFile(broken).problems.join("\n")).toMatch(complaint);
  });
});

describe("the action's file and the app's code agree", () => {
  it("has the app's handle, runtime path, field keys and required flags", () => {
    const checked = checkExtensionFile(actionText);
    expect(actionContractProblems(checked, applicationUrl)).toEqual([]);
    // Spelled out once, so the derived rule itself is seen to say what the descriptions promise.
    expect(Object.fromEntries(requiredByParser())).toEqual({ event_type: true, properties: false, email: false, phone: false, customer_id: false });
    expect(checked.fields.find((field) => field.reference)?.payloadName).toBe(FLOW_ACTION_FIELDS.customerId);
  });

  const cases: Array<[string, (text: string) => string, RegExp]> = [
    ["another handle", (text) => edited(text, (file) => { file.extensions[0]!.handle = "send-attentive-events"; }), /FLOW_ACTION_HANDLE/],
    ["another path", (text) => edited(text, (file) => { file.extensions[0]!.runtime_url = "https://example.com/flow/send-attentive-event"; }), /path is \/flow\/send-attentive-event but .*FLOW_ACTION_PATH/],
    ["a query string", (text) => edited(text, (file) => { file.extensions[0]!.runtime_url = `https://example.com${FLOW_ACTION_PATH}?x=1`; }), /FLOW_ACTION_PATH/],
    ["another host than application_url", (text) => edited(text, (file) => { file.extensions[0]!.runtime_url = `https://other.example${FLOW_ACTION_PATH}`; }), /application_url is https:\/\/example.com/],
    ["a renamed key", (text) => edited(text, (file) => { fieldByKey(file.settings.fields, "event_type").key = "event"; }), /no field sent as "event_type"[\s\S]*"event" is not one the app knows/],
    ["an order reference instead of the customer", (text) => edited(text, (file) => { fieldByKey(file.settings.fields, "customer_reference").type = "order_reference"; }), /no field sent as "customer_id"[\s\S]*"order_id" is not one the app knows/],
    ["event type not required", (text) => edited(text, (file) => { fieldByKey(file.settings.fields, "event_type").required = false; }), /"event_type" must be required = true/],
    ["email required", (text) => edited(text, (file) => { fieldByKey(file.settings.fields, "email").required = true; }), /"email" must not be required/],
    ["the customer required", (text) => edited(text, (file) => { fieldByKey(file.settings.fields, "customer_reference").required = true; }), /"customer_id" must not be required/],
  ];
  it.each(cases)("complains about %s", (_what, breakIt, complaint) => {
    const broken = breakIt(actionText);
    expect(broken).not.toBe(actionText);
    expect(actionContractProblems(checkExtensionFile(broken), applicationUrl).join("\n")).toMatch(complaint);
  });

  it("tells merchants the rules parseFlowAction applies", () => {
    const fields = new Map(checkExtensionFile(actionText).fields.map((field) => [field.payloadName, field.description ?? ""]));

    // Each forbidden character of an event type is named, and that the name is case-sensitive.
    const eventType = fields.get(FLOW_ACTION_FIELDS.eventType)!;
    for (const char of FORBIDDEN_IN_EVENT_TYPE) expect(eventType).toContain(` ${char}`);
    expect(eventType).toMatch(/case-sensitive/);

    // Any one of customer, email and phone is enough, none is refused: all three descriptions say so.
    const { email, phone, customerId: customer } = FLOW_ACTION_FIELDS;
    for (const alone of [email, phone, customer]) {
      const only = { [FLOW_ACTION_FIELDS.eventType]: "Loyalty Tier Changed", [alone]: SAMPLE_SETTINGS[alone]! };
      expect(parseFlowAction(sampleRun(only)).ok).toBe(true);
      expect(fields.get(alone)).toMatch(/customer, an email or a phone/);
    }
    expect(parseFlowAction(sampleRun({ [FLOW_ACTION_FIELDS.eventType]: "Loyalty Tier Changed" })).ok).toBe(false);

    // The phone example is in the form Attentive takes.
    const example = /\+\d+/.exec(fields.get(phone)!)?.[0];
    expect(example !== undefined && isE164(example)).toBe(true);

    // The properties example works once Flow has filled in its variable.
    const properties = fields.get(FLOW_ACTION_FIELDS.properties)!;
    const written = properties.slice(properties.indexOf("{"));
    const filled = written.replace(/\{\{[^}]*\}\}/g, "VIP");
    const run = parseFlowAction(sampleRun({ ...SAMPLE_SETTINGS, [FLOW_ACTION_FIELDS.properties]: filled }));
    expect(run.ok && run.event.properties).toEqual({ tier: "VIP", points: 120 });
  });
});

describe("the trigger's file and the app's code agree", () => {
  it("has the app's handle and exactly its payload keys, each typed as text", () => {
    const checked = checkExtensionFile(triggerText);
    expect(triggerContractProblems(checked)).toEqual([]);
    expect(checked.fields.find((field) => field.payloadName === FLOW_TRIGGER_FIELDS.deliveryUrl)?.type).toBe("url");
  });

  const cases: Array<[string, (text: string) => string, RegExp]> = [
    ["another handle", (text) => edited(text, (file) => { file.extensions[0]!.handle = "attentive-event-failure"; }), /FLOW_TRIGGER_HANDLE/],
    ["a renamed key", (text) => edited(text, (file) => { fieldByKey(file.settings.fields, "Order name").key = "Order"; }), /no field sent as "Order name"[\s\S]*"Order" is not one the app knows/],
    ["a missing key", (text) => edited(text, (file) => { file.settings.fields = file.settings.fields.filter((field) => field.key !== "Source"); }), /no field sent as "Source"/],
    ["a field that is not text", (text) => edited(text, (file) => { fieldByKey(file.settings.fields, "Reason").type = "boolean"; }), /"Reason" is boolean, but the app sends it as text/],
  ];
  it.each(cases)("complains about %s", (_what, breakIt, complaint) => {
    const broken = breakIt(triggerText);
    expect(broken).not.toBe(triggerText);
    expect(triggerContractProblems(checkExtensionFile(broken)).join("\n")).toMatch(complaint);
  });
});

describe("the route file that answers runtime_url's path", () => {
  let scratch: string;
  beforeAll(async () => {
    // Inside the project (test-output/ is ignored by git): vitest loads modules from the project's folder only.
    await mkdir(path.join(ROOT, "test-output"), { recursive: true });
    scratch = await mkdtemp(path.join(ROOT, "test-output", "flow-routes-"));
  });
  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it("is one Remix route module in app/routes, with an action", async () => {
    const found = routeFileFor(path.join(ROOT, "app"), FLOW_ACTION_PATH);
    expect(found.problems).toEqual([]);
    expect(found.file).toBe(`routes/${FLOW_ACTION_PATH.slice(1).replaceAll("/", ".")}.tsx`);
    expect(await routeModuleProblems(path.join(ROOT, "app", found.file!))).toEqual([]);
  });

  it("is not found when named as folders, which flat routes do not read as a path", async () => {
    const app = path.join(scratch, "folders");
    await mkdir(path.join(app, "routes/flow/actions"), { recursive: true });
    await writeFile(path.join(app, "root.tsx"), "export default function Root() { return null; }\n");
    await writeFile(path.join(app, "routes/flow/actions/send-attentive-event.tsx"), "export const action = () => null;\n");
    expect(routeFileFor(app, FLOW_ACTION_PATH).problems.join("\n")).toMatch(/No route in folders\/routes answers \/flow\/actions\/send-attentive-event: .*routes\/flow\.actions\.send-attentive-event\.tsx/);
  });

  it("is not found for a path no route has", () => {
    expect(routeFileFor(path.join(ROOT, "app"), "/flow/actions/other-action").problems.join("\n")).toMatch(/No route .* answers \/flow\/actions\/other-action/);
  });

  it("is refused when the module has no action", async () => {
    const file = path.join(scratch, "flow.actions.no-action.ts");
    await writeFile(file, "export const loader = () => null;\n");
    expect(await routeModuleProblems(file)).toEqual(["flow.actions.no-action.ts exports no action: Flow's POST would get a 405."]);
  });
});
