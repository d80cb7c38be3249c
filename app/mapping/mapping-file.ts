/**
 * The mapping file: reading it (with errors a merchant can act on), writing it back, and the Liquid syntax rules
 * that both validation and rendering must agree on.
 */
import { Liquid, type TagToken, type TopLevelToken } from "liquidjs";
import { z } from "zod";
import { MAX_EVENT_TYPE_LENGTH, MAX_PROPERTY_KEYS, eventTypeProblem, hiddenCharacter, propertyKeyProblem } from "~/attentive/rules";
import { MAX_IMPORT_FILE_BYTES, MAX_TEMPLATE_LENGTH, importSizeProblem, mappingCountProblem, utf8Length } from "./limits";
import { MAPPABLE_TOPICS, type MappingDefinition } from "./types";

export interface MappingFileError {
  /** 0-based position in the file's `mappings` list; -1 for problems with the file as a whole. */
  mapping: number;
  /** Dotted path inside the mapping, e.g. `properties.orderName` or `user.phone`; "" for the mapping itself. */
  field: string;
  message: string;
  /** The message without the mapping and field it names, for showing inline on that field. */
  detail?: string;
}

export type MappingFileResult = { ok: true; mappings: MappingDefinition[] } | { ok: false; errors: MappingFileError[] };
export type MappingResult = { ok: true; mapping: MappingDefinition } | { ok: false; errors: MappingFileError[] };

export { MAX_TEMPLATE_LENGTH };

export interface LiquidLimits {
  renderLimit?: number;
  memoryLimit?: number;
}

const FILE_TAGS = ["include", "render", "layout"] as const;

/**
 * A Liquid engine with the syntax mappings allow. Templates come from merchants, so: no reading files (include,
 * render and layout would otherwise reach the server's disk), no JS prototype access, and unknown filters are
 * errors rather than silently skipped.
 */
export function createLiquidEngine(limits: LiquidLimits = {}): Liquid {
  const engine = new Liquid({
    ownPropertyOnly: true,
    strictFilters: true,
    strictVariables: false,
    // Shopify sends times in the shop's own offset; printing them in the server's zone would show wrong days.
    preserveTimezones: true,
    // An empty in-memory file map: even if a file tag slipped through, there is nothing to read.
    templates: {},
    // Conditions are parsed inside a short `{% if %}` wrapper, hence the allowance.
    parseLimit: MAX_TEMPLATE_LENGTH + conditionTemplate("").length,
    ...limits,
  });
  for (const name of FILE_TAGS) {
    engine.registerTag(name, {
      parse(_token: TagToken, _remaining: TopLevelToken[]) {
        throw new Error(`the {% ${name} %} tag is not available in mappings: write the text into the template itself`);
      },
      render() {
        return "";
      },
    });
  }
  return engine;
}

const CONDITION_PREFIX = "{% if ";

/** `when` is the inside of an `{% if %}` tag; rendering it this way gives exactly Liquid's truthiness. */
export function conditionTemplate(when: string): string {
  return `${CONDITION_PREFIX}${when} %}true{% endif %}`;
}

/** Delimiters in a condition could close the wrapping `if` and smuggle in other markup. */
function conditionShapeProblem(when: string): string | null {
  if (when.trim() === "") return 'The condition is empty: remove "when" to always send the event, or write one such as total_price > 0.';
  if (/\{%|%\}|\{\{|\}\}/.test(when)) {
    return "Write the condition without {% %} or {{ }}: just what would stand inside {% if ... %}, such as total_price > 0.";
  }
  return null;
}

const POSITION = /,? ?line:(\d+), col:(\d+)/;

/** Liquid's message, with its position made readable (and shifted back when the source was wrapped). */
export function describeLiquidError(error: unknown, columnShift = 0): string {
  const raw = error instanceof Error ? error.message : String(error);
  const match = POSITION.exec(raw);
  if (!match) return raw;
  const line = Number(match[1]);
  const column = Math.max(1, Number(match[2]) - (line === 1 ? columnShift : 0));
  return `${raw.replace(POSITION, "").trim()} (line ${line}, column ${column})`;
}

const syntaxEngine = createLiquidEngine();

function templateProblem(source: string): string | null {
  if (source.length > MAX_TEMPLATE_LENGTH) {
    return `The template is ${source.length} characters long; the limit is ${MAX_TEMPLATE_LENGTH}. Shorten it.`;
  }
  try {
    syntaxEngine.parse(source);
    return null;
  } catch (error) {
    return `This is not valid Liquid: ${describeLiquidError(error)}. Fix the template.`;
  }
}

function conditionProblem(when: string): string | null {
  const shape = conditionShapeProblem(when);
  if (shape !== null) return shape;
  if (when.length > MAX_TEMPLATE_LENGTH) {
    return `The condition is ${when.length} characters long; the limit is ${MAX_TEMPLATE_LENGTH}. Shorten it.`;
  }
  try {
    syntaxEngine.parse(conditionTemplate(when));
    return null;
  } catch (error) {
    return `This is not a valid Liquid condition: ${describeLiquidError(error, CONDITION_PREFIX.length)}. Write it as it would stand inside {% if ... %}, such as total_price > 0.`;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const template = z.string().superRefine((source, ctx) => {
  const problem = templateProblem(source);
  if (problem !== null) ctx.addIssue({ code: "custom", message: problem });
});

/**
 * Checked by hand on the raw value: zod's record type drops a `__proto__` key unseen and stops checking values
 * once a key fails, and every problem should be reported at once.
 */
const properties = z
  .unknown()
  .superRefine((value, ctx) => {
    if (!isRecord(value)) {
      ctx.addIssue({
        code: "custom",
        message: 'properties must be an object from property name to Liquid template, such as { "orderName": "{{ name }}" }.',
      });
      return;
    }
    const keys = Object.keys(value);
    if (keys.length > MAX_PROPERTY_KEYS) {
      ctx.addIssue({
        code: "custom",
        message: `There are ${keys.length} properties; Attentive can use at most ${MAX_PROPERTY_KEYS} per event type. Remove ${keys.length - MAX_PROPERTY_KEYS}.`,
      });
    }
    for (const key of keys) {
      const keyProblem = key === "__proto__" ? 'The property key "__proto__" is reserved: rename it.' : propertyKeyProblem(key);
      if (keyProblem !== null) ctx.addIssue({ code: "custom", message: keyProblem, path: [key] });
      const source = value[key];
      if (typeof source !== "string") {
        ctx.addIssue({
          code: "custom",
          message: `The value must be a Liquid template in a string, such as "{{ name }}"; found ${typeName(source)}.`,
          path: [key],
        });
        continue;
      }
      const problem = templateProblem(source);
      if (problem !== null) ctx.addIssue({ code: "custom", message: problem, path: [key] });
    }
  })
  .transform((value): Record<string, string> => {
    if (!isRecord(value)) return {};
    return Object.fromEntries(Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === "string"));
  });

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "an object";
  return `a ${typeof value}`;
}

const FIELD_HINTS: Record<string, string> = {
  topic: `Set topic to one of: ${MAPPABLE_TOPICS.join(", ")}.`,
  eventType: 'Set eventType to the name of the Attentive event, such as "Order Shipped".',
  enabled: "Set enabled to true or false (or leave it out: it defaults to true).",
  when: "Set when to a Liquid condition in a string, such as \"total_price > 0\", or leave it out.",
  properties: 'Set properties to an object from property name to Liquid template, such as { "orderName": "{{ name }}" }.',
  user: "Set user to an object with any of email, phone and clientUserId (each a Liquid template), or leave it out.",
  "user.email": 'Set user.email to a Liquid template in a string, such as "{{ email }}", or leave it out.',
  "user.phone": 'Set user.phone to a Liquid template in a string, such as "{{ phone }}", or leave it out.',
  "user.clientUserId": 'Set user.clientUserId to a Liquid template in a string, such as "{{ customer.id }}", or leave it out.',
};

const mappingSchema = z.strictObject({
  topic: z.enum(MAPPABLE_TOPICS),
  eventType: z.string().superRefine((type, ctx) => {
    const problem = eventTypeProblem(type);
    if (problem !== null) ctx.addIssue({ code: "custom", message: problem });
  }),
  enabled: z.boolean().default(true),
  when: z
    .string()
    .superRefine((when, ctx) => {
      const problem = conditionProblem(when);
      if (problem !== null) ctx.addIssue({ code: "custom", message: problem });
    })
    .optional(),
  properties,
  user: z
    .strictObject({
      email: template.optional(),
      phone: template.optional(),
      clientUserId: template.optional(),
    })
    .optional(),
});

function pathText(path: ReadonlyArray<PropertyKey>): string {
  return path.map((part) => String(part)).join(".");
}

function issueMessages(issue: z.core.$ZodIssue, raw: unknown): Array<{ field: string; text: string }> {
  const field = pathText(issue.path);
  if (issue.code === "custom") return [{ field, text: issue.message }];
  if (issue.code === "unrecognized_keys") {
    const allowed = field === "" ? "topic, eventType, enabled, when, properties, user" : "email, phone, clientUserId";
    return issue.keys.map((key) => ({
      field: field === "" ? key : `${field}.${key}`,
      text: `Unknown field "${key}": remove it (allowed here: ${allowed}).`,
    }));
  }
  const value = valueAt(raw, issue.path);
  const hint = FIELD_HINTS[field] ?? "Fix this value.";
  if (value === undefined) return [{ field, text: `${field} is missing. ${hint}` }];
  if (field === "topic" && typeof value === "string") {
    return [{ field, text: `"${value}" is not a topic this app can map. ${hint}` }];
  }
  return [{ field, text: `${field} cannot be ${typeName(value)}. ${hint}` }];
}

function valueAt(raw: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let current = raw;
  for (const part of path) {
    if (!isRecord(current) || typeof part !== "string" || !Object.hasOwn(current, part)) return undefined;
    current = current[part];
  }
  return current;
}

function mappingLabel(def: unknown, index: number | undefined): string {
  // Only a type fit to quote names the mapping: a page of text or hidden characters would hide the message.
  const type =
    isRecord(def) &&
    typeof def.eventType === "string" &&
    def.eventType.trim() !== "" &&
    def.eventType.length <= MAX_EVENT_TYPE_LENGTH &&
    hiddenCharacter(def.eventType) === null
      ? def.eventType
      : undefined;
  const base = index === undefined ? "This mapping" : `Mapping ${index + 1}`;
  return type === undefined ? base : `${base} ("${type}")`;
}

/**
 * Checks one mapping (as when it is saved on its own). `index` is its position in a file, used to name it;
 * without it, errors carry mapping 0 and say "This mapping".
 */
export function validateMapping(def: unknown, index?: number): MappingResult {
  const label = mappingLabel(def, index);
  const mapping = index ?? 0;
  if (!isRecord(def)) {
    return {
      ok: false,
      errors: [{ mapping, field: "", message: `${label}: must be an object with topic, eventType and properties; found ${typeName(def)}.` }],
    };
  }
  const parsed = mappingSchema.safeParse(def);
  if (parsed.success) {
    const { when, user, ...rest } = parsed.data;
    const result: MappingDefinition = { ...rest };
    if (when !== undefined) result.when = when;
    if (user !== undefined) result.user = withoutUndefined(user);
    return { ok: true, mapping: result };
  }
  const errors = parsed.error.issues.flatMap((issue) =>
    issueMessages(issue, def).map(({ field, text }) => ({
      mapping,
      field,
      message: field === "" ? `${label}: ${text}` : `${label}, ${field}: ${text}`,
      detail: text,
    })),
  );
  return { ok: false, errors };
}

function withoutUndefined(user: { email?: string | undefined; phone?: string | undefined; clientUserId?: string | undefined }) {
  const clean: NonNullable<MappingDefinition["user"]> = {};
  if (user.email !== undefined) clean.email = user.email;
  if (user.phone !== undefined) clean.phone = user.phone;
  if (user.clientUserId !== undefined) clean.clientUserId = user.clientUserId;
  return clean;
}

function fileError(field: string, message: string): MappingFileError {
  return { mapping: -1, field, message };
}

/**
 * Accepts the file's text or its already-parsed JSON. Reports every problem, not just the first, except that a file
 * over a size or count limit is refused before its contents are looked at.
 */
export function parseMappingFile(input: unknown): MappingFileResult {
  let data = input;
  if (typeof input === "string") {
    const bytes = utf8Length(input, MAX_IMPORT_FILE_BYTES);
    const tooBig = importSizeProblem(bytes > MAX_IMPORT_FILE_BYTES ? null : bytes);
    if (tooBig !== null) return { ok: false, errors: [fileError("", tooBig)] };
    try {
      data = JSON.parse(input);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      return { ok: false, errors: [fileError("", `The mapping file is not valid JSON (${reason}). Fix the syntax and try again.`)] };
    }
  }
  if (!isRecord(data)) {
    return { ok: false, errors: [fileError("", `The mapping file must be an object like { "mappings": [ ... ] }; found ${typeName(data)}.`)] };
  }
  const errors: MappingFileError[] = [];
  for (const key of Object.keys(data)) {
    if (key !== "mappings") errors.push(fileError(key, `Unknown field "${key}" at the top of the mapping file: remove it (only "mappings" is allowed).`));
  }
  const list = data.mappings;
  if (!Array.isArray(list)) {
    const found = list === undefined ? "it is missing" : `found ${typeName(list)}`;
    errors.push(fileError("mappings", `The mapping file needs a "mappings" list ([ ... ]); ${found}.`));
    return { ok: false, errors };
  }
  const tooMany = mappingCountProblem(list.length);
  if (tooMany !== null) {
    errors.push(fileError("mappings", tooMany));
    return { ok: false, errors };
  }
  const mappings: MappingDefinition[] = [];
  list.forEach((def: unknown, index) => {
    const result = validateMapping(def, index);
    if (result.ok) mappings.push(result.mapping);
    else errors.push(...result.errors);
  });
  return errors.length > 0 ? { ok: false, errors } : { ok: true, mappings };
}

/** Pretty JSON in the file format; `parseMappingFile(formatMappingFile(m))` gives `m` back. */
export function formatMappingFile(mappings: MappingDefinition[]): string {
  const ordered = mappings.map((mapping) => {
    const out: Record<string, unknown> = { topic: mapping.topic, eventType: mapping.eventType, enabled: mapping.enabled };
    if (mapping.when !== undefined) out.when = mapping.when;
    out.properties = mapping.properties;
    if (mapping.user !== undefined) out.user = mapping.user;
    return out;
  });
  return `${JSON.stringify({ mappings: ordered }, null, 2)}\n`;
}
