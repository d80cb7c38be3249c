/**
 * Turns a mapping and a webhook body into the Attentive event to send, synchronously. Templates are merchants'
 * text, so every render runs under time, memory and output-size limits and any failure becomes a reason a merchant
 * can act on. This module runs inside the render threads (render-thread.ts); the app calls renderMapping
 * (render.server.ts), which adds the hard deadline that liquidjs's own limits cannot give (decision 009).
 */
import { Context, Output, TokenKind, toValue, toValueSync, type Emitter, type Template } from "liquidjs";
import { MAX_SHORTENABLE_URL_LENGTH, eventTypeProblem, propertyKeyProblem } from "~/attentive/rules";
import { isJsonObject, type JsonValue } from "~/shopify/json";
import { defaultClientUserId, defaultEmail, defaultPhone, looksLikeEmail, normalizePhone, orderCountry, phoneWarning } from "./identity";
import { MAX_TEMPLATE_LENGTH, conditionTemplate, createLiquidEngine, describeLiquidError } from "./mapping-file";
import type { MappableTopic, MappingDefinition } from "./types";
import { CATALOG } from "~/topics/catalog";
import type { Related } from "~/topics/entry";

export interface RenderContextInput {
  topic: MappableTopic;
  shop: string;
  body: JsonValue;
  /**
   * The text `body` was parsed from, when the caller has it (the delivery worker does): the render thread gets
   * and parses this string instead of a structured copy of `body`, which costs the main thread far less.
   */
  bodyText?: string;
  /** The order, for topics whose body is not the order (the worker or the preview found it). */
  order?: JsonValue | null;
  /** The fulfillment, for topics that need it (fulfillment events). */
  fulfillment?: JsonValue | null;
}

export interface RenderedEvent {
  type: string;
  properties: Record<string, unknown>;
  user: { email?: string; phone?: string; externalIdentifiers?: { clientUserId?: string } };
  warnings: string[];
}

/**
 * `retryable` is set only when the app, not the mapping, kept the render from happening (too many renders queued,
 * a render thread that did not start): trying again later can succeed. `stoppedByTime` says liquidjs stopped it on
 * its clock (RENDER_TIME_LIMIT_MS): a runaway template, or a machine that stalled during a render (the clock runs
 * whether or not the thread has the core).
 */
export type RenderOutcome =
  | { kind: "event"; event: RenderedEvent }
  | { kind: "skipped"; reason: string }
  | { kind: "error"; reason: string; retryable?: true; stoppedByTime?: true };

/**
 * What a render is busy with, so that a render stopped from outside (its thread terminated) can still name the
 * template at fault. Properties are numbered from PROPERTY_STEP in the mapping's key order.
 */
export const RenderStep = { none: 0, condition: 1, email: 2, phone: 3, clientUserId: 4, identityDefaults: 5 } as const;
export const PROPERTY_STEP = 16;
export type StepTracker = (step: number) => void;

/** Budget for all templates of one mapping together; a normal mapping needs well under a millisecond. */
export const RENDER_TIME_LIMIT_MS = 100;
/** liquidjs's allocation units (characters, array items) for all templates of one mapping together. */
export const RENDER_MEMORY_LIMIT = 5_000_000;
/** Longest text one template may produce; far beyond any sensible message property. */
export const MAX_RENDERED_LENGTH = 100_000;
/** Deeper values are refused rather than walked: real order data is a handful of levels deep. */
const MAX_VALUE_DEPTH = 64;
/** Distinct templates kept parsed; mappings of many shops share one process. */
const PARSE_CACHE_SIZE = 2_000;

/** Room for the `{% if %}` wrapped around a condition, whose own length is checked on saving. */
const WRAPPER_ALLOWANCE = conditionTemplate("").length;

const engine = createLiquidEngine({ renderLimit: RENDER_TIME_LIMIT_MS, memoryLimit: RENDER_MEMORY_LIMIT });

type Parsed =
  | { ok: true; templates: Template[]; single: Output | null; path: string[] | null; shortcut: Shortcut | null }
  | { ok: false; message: string };

const parseCache = new Map<string, Parsed>();

/** A template whose only non-blank content is one `{{ }}` output keeps its value's type. */
function singleOutput(templates: Template[]): Output | null {
  const meaningful = templates.filter((tpl) => !(tpl.token.kind === TokenKind.HTML && tpl.token.getText().trim() === ""));
  const [only] = meaningful;
  return meaningful.length === 1 && only instanceof Output ? only : null;
}

/**
 * A template that is only `{{ a.b.c }}` (names of letters, digits and underscores, no filter, no index): its value
 * can be read from the scope directly (readPath) instead of through liquidjs's evaluator, which costs several times
 * more for the same result. Most properties merchants write, and most of the defaults, are of this kind.
 */
const PLAIN_PATH = /^\s*\{\{-?\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*-?\}\}\s*$/;
/** Liquid reads these as literals, or `size` as a count of its own: liquidjs reads them. */
const NOT_PLAIN = new Set(["nil", "null", "true", "false", "empty", "blank", "size"]);

function plainPath(source: string): string[] | null {
  const match = PLAIN_PATH.exec(source);
  return match ? pathOf(match[1]!) : null;
}

function pathOf(dotted: string): string[] | null {
  const path = dotted.split(".");
  return path.some((name) => NOT_PLAIN.has(name) || name in Object.prototype) ? null : path;
}

/**
 * Three more shapes of a lone output, which the catalog's defaults use for a name with a fallback, an order's item
 * titles and its item count: `{{ a.b | default: c.d }}`, `{{ a.b | map: 'key' | join: 'text' }}` and
 * `{{ a.b | map: 'key' | sum }}`. Read from the scope directly (MappingRenderer.shortcut) they cost a fraction of
 * liquidjs's evaluation, and give what liquidjs gives: the same reads, the same JavaScript (`join`, `Number`), the
 * same charges to the render's memory limit; anything else on the way (an item that is not a plain object, a path
 * through a string) is left to liquidjs. test/mapping/filter-shortcuts.test.ts holds each against liquidjs.
 */
type Shortcut =
  | { kind: "default"; path: string[]; fallback: string[] }
  | { kind: "map-join"; path: string[]; key: string; separator: string }
  | { kind: "map-sum"; path: string[]; key: string };

const PATH_TEXT = "[A-Za-z_][A-Za-z0-9_]*(?:\\.[A-Za-z_][A-Za-z0-9_]*)*";
const KEY_TEXT = "[A-Za-z_][A-Za-z0-9_]*";
/** A quoted literal with no backslash (liquidjs reads escapes) and no brace (which could end the output). */
const LITERAL_TEXT = `'([^'\\\\{}]*)'|"([^"\\\\{}]*)"`;
const DEFAULT_SHAPE = new RegExp(`^\\s*\\{\\{-?\\s*(${PATH_TEXT})\\s*\\|\\s*default\\s*:\\s*(${PATH_TEXT})\\s*-?\\}\\}\\s*$`);
const MAP_SHAPE = new RegExp(
  `^\\s*\\{\\{-?\\s*(${PATH_TEXT})\\s*\\|\\s*map\\s*:\\s*(?:'(${KEY_TEXT})'|"(${KEY_TEXT})")\\s*\\|\\s*(?:join\\s*:\\s*(?:${LITERAL_TEXT})|(sum))\\s*-?\\}\\}\\s*$`,
);
/** Keys liquidjs reads in a way of its own on some values (a count, an array's ends). */
const NOT_PLAIN_KEY = new Set([...NOT_PLAIN, "first", "last"]);

/** Whether a template has a shortcut's shape (for tests: the shortcut must be what is measured against liquidjs). */
export function templateShortcut(source: string): Shortcut["kind"] | null {
  return shortcutOf(source)?.kind ?? null;
}

function shortcutOf(source: string): Shortcut | null {
  const byDefault = DEFAULT_SHAPE.exec(source);
  if (byDefault) {
    const path = pathOf(byDefault[1]!);
    const fallback = pathOf(byDefault[2]!);
    return path && fallback ? { kind: "default", path, fallback } : null;
  }
  const mapped = MAP_SHAPE.exec(source);
  if (!mapped) return null;
  const path = pathOf(mapped[1]!);
  const key = mapped[2] ?? mapped[3]!;
  if (path === null || NOT_PLAIN_KEY.has(key) || key in Object.prototype) return null;
  if (mapped[6] === "sum") return { kind: "map-sum", path, key };
  return { kind: "map-join", path, key, separator: mapped[4] ?? mapped[5]! };
}

/**
 * The value at `path` in `scope` as liquidjs (ownPropertyOnly) would read it, or NOT_READ when the path meets
 * anything but plain objects and arrays on the way (a string, null, a Liquid drop): liquidjs then reads it itself.
 * A name missing from a plain object reads as undefined (Liquid's nil), as in liquidjs; of an array, only `first`
 * and `last` are read here.
 */
const NOT_READ = Symbol("not read");
function readPath(scope: Scope, path: string[]): unknown {
  let value: unknown = scope;
  for (const name of path) {
    if (Array.isArray(value)) {
      if (name !== "first" && name !== "last") return NOT_READ;
      const index = name === "first" ? 0 : value.length - 1;
      value = Object.hasOwn(value, index) ? (value[index] as unknown) : undefined;
      continue;
    }
    if (typeof value !== "object" || value === null || !isPlainObject(value)) return NOT_READ;
    if (!Object.hasOwn(value, name)) return undefined;
    value = (value as Record<string, unknown>)[name];
  }
  return value;
}

/** `columnShift` is how many characters of wrapping precede the merchant's text on its first line. */
function parseCached(source: string, columnShift = 0): Parsed {
  const hit = parseCache.get(source);
  if (hit !== undefined) {
    // Re-inserting keeps Map order equal to recency, so the first key is always the one to evict.
    parseCache.delete(source);
    parseCache.set(source, hit);
    return hit;
  }
  // Not cached: the cache's memory is bounded by entry count only because no key is longer than this.
  if (source.length > MAX_TEMPLATE_LENGTH + WRAPPER_ALLOWANCE) {
    return { ok: false, message: `it is longer than ${MAX_TEMPLATE_LENGTH} characters: shorten it` };
  }
  let parsed: Parsed;
  try {
    const templates = engine.parse(source);
    const single = singleOutput(templates);
    parsed = { ok: true, templates, single, path: single === null ? null : plainPath(source), shortcut: single === null ? null : shortcutOf(source) };
  } catch (error) {
    parsed = { ok: false, message: `it is not valid Liquid: ${describeLiquidError(error, columnShift)}` };
  }
  parseCache.set(source, parsed);
  if (parseCache.size > PARSE_CACHE_SIZE) {
    const oldest = parseCache.keys().next();
    if (oldest.done !== true) parseCache.delete(oldest.value);
  }
  return parsed;
}

/** A template's parsed form, shared with the render (null when it does not parse): app/mapping/inline.ts reads it. */
export function parsedTemplates(source: string): Template[] | null {
  const parsed = parseCached(source);
  return parsed.ok ? parsed.templates : null;
}

class OutputTooLong extends Error {
  constructor() {
    super(`output longer than ${MAX_RENDERED_LENGTH} characters`);
  }
}

class UnusableValue extends Error {}

/** How Liquid prints a value inside text. */
function liquidText(value: unknown): string {
  const plain: unknown = toValue(value);
  if (typeof plain === "string") return plain;
  if (plain === null || plain === undefined) return "";
  if (Array.isArray(plain)) return plain.map(liquidText).join("");
  return String(plain);
}

/** liquidjs's own emitters grow without bound; this one stops a template that prints too much. */
class BoundedEmitter implements Emitter {
  buffer = "";
  write(html: unknown): void {
    const text = liquidText(html);
    if (this.buffer.length + text.length > MAX_RENDERED_LENGTH) throw new OutputTooLong();
    this.buffer += text;
  }
}

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function isLongUrl(text: string): boolean {
  return text.length > MAX_SHORTENABLE_URL_LENGTH && /^https?:\/\//i.test(text);
}

/** Whether a value is already plain JSON, so the common case needs no copy (values often point into the body). */
function isCleanJson(value: unknown, depth: number, longUrls: { found: boolean }): value is JsonValue {
  if (depth > MAX_VALUE_DEPTH) return false;
  switch (typeof value) {
    case "string":
      if (isLongUrl(value)) longUrls.found = true;
      return true;
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(value);
    case "object":
      if (value === null) return true;
      if (Array.isArray(value)) return value.every((item) => isCleanJson(item, depth + 1, longUrls));
      if (!isPlainObject(value)) return false;
      return Object.values(value).every((item) => isCleanJson(item, depth + 1, longUrls));
    default:
      return false;
  }
}

/** Copies a value that is not plain JSON (Liquid drops, dates, undefined) into one that is. */
function toJson(value: unknown, depth: number): JsonValue {
  if (depth > MAX_VALUE_DEPTH) throw new UnusableValue(`the value is nested more than ${MAX_VALUE_DEPTH} levels deep`);
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      if (!Number.isFinite(value)) throw new UnusableValue("the result is not a finite number (a division by zero?)");
      return value;
    case "bigint":
      return value.toString();
    case "undefined":
    case "function":
    case "symbol":
      return null;
    default:
      break;
  }
  if (value === null) return null;
  if (Array.isArray(value)) return value.map((item: unknown) => toJson(item, depth + 1));
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  const plain: unknown = toValue(value);
  if (plain !== value) return toJson(plain, depth + 1);
  if (typeof value === "object" && isPlainObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, toJson(item, depth + 1)]));
  }
  return String(value);
}

/** Values of a single-output template; Liquid's nil prints as nothing, so it becomes "" rather than null. */
function typedValue(raw: unknown): { value: JsonValue; longUrl: boolean } {
  const value: unknown = toValue(raw);
  if (value === undefined || value === null) return { value: "", longUrl: false };
  if (typeof value === "string" && value.length > MAX_RENDERED_LENGTH) throw new OutputTooLong();
  const longUrls = { found: false };
  if (isCleanJson(value, 0, longUrls)) return { value, longUrl: longUrls.found };
  const copy = toJson(value, 0);
  const copyUrls = { found: false };
  isCleanJson(copy, 0, copyUrls);
  return { value: copy, longUrl: copyUrls.found };
}

class TemplateFailure extends Error {
  constructor(
    message: string,
    /** liquidjs stopped the render on its clock. */
    readonly stoppedByTime = false,
  ) {
    super(message);
  }
}

function stoppedOnTheClock(error: unknown): boolean {
  const cause = rootCause(error);
  return cause instanceof Error && cause.message.includes("template render limit exceeded");
}

function rootCause(error: unknown): unknown {
  let current = error;
  for (let hops = 0; hops < 10 && current instanceof Error && "originalError" in current && current.originalError instanceof Error; hops++) {
    current = current.originalError;
  }
  return current;
}

/** Plain words for why a template failed while rendering. */
function failureText(error: unknown): string {
  const cause = rootCause(error);
  const message = cause instanceof Error ? cause.message : String(cause);
  if (cause instanceof OutputTooLong) {
    return `it printed more than ${MAX_RENDERED_LENGTH.toLocaleString("en-US")} characters: shorten the text or loop fewer times`;
  }
  if (cause instanceof UnusableValue) return cause.message;
  if (message.includes("template render limit exceeded")) {
    return `rendering took longer than ${RENDER_TIME_LIMIT_MS} ms, so it was stopped: loop over fewer items or remove nested loops`;
  }
  if (message.includes("memory alloc limit exceeded")) {
    return "it would build too much data (a very large range, repeated text or copies), so it was stopped: loop over fewer items";
  }
  if (cause instanceof RangeError && /call stack|string length/i.test(message)) {
    return "it is nested too deeply or builds text too long to handle: simplify it";
  }
  return `Liquid reported "${describeLiquidError(error)}": fix the template`;
}

type Scope = Record<string, unknown>;

/**
 * Renders templates for one mapping. All templates share one time and memory budget (a hostile mapping cannot
 * multiply it by adding properties), while each gets its own scope so an `assign` in one cannot leak into another.
 */
class MappingRenderer {
  private readonly root: Context;

  constructor(private readonly scope: Scope) {
    this.root = new Context(scope, engine.options, { sync: true });
  }

  private parsedOrFail(source: string, what: string, columnShift = 0): Parsed & { ok: true } {
    const parsed = parseCached(source, columnShift);
    if (!parsed.ok) throw new TemplateFailure(`${what} cannot be used: ${parsed.message}.`);
    return parsed;
  }

  /** `isolated` is for templates with tags; a lone `{{ }}` cannot assign, so it can skip making a scope. */
  private run<T>(what: string, work: (ctx: Context) => T, isolated = true): T {
    // spawn() shares the root's limiters but gives a fresh assign scope over the same variables.
    const ctx = isolated ? this.root.spawn(this.root.environments) : this.root;
    try {
      return work(ctx);
    } catch (error) {
      if (error instanceof TemplateFailure) throw error;
      throw new TemplateFailure(`${what} could not be rendered: ${failureText(error)}.`, stoppedOnTheClock(error));
    }
  }

  text(source: string, what: string): string {
    const parsed = this.parsedOrFail(source, what);
    return this.run(what, (ctx) => {
      const emitter = new BoundedEmitter();
      toValueSync(engine.renderer.renderTemplates(parsed.templates, ctx, emitter));
      return emitter.buffer;
    });
  }

  typed(source: string, what: string): { value: JsonValue; longUrl: boolean } {
    const parsed = this.parsedOrFail(source, what);
    const single = parsed.single;
    if (single === null) {
      const value = this.text(source, what);
      return { value, longUrl: isLongUrl(value) };
    }
    if (parsed.path !== null) {
      const value = readPath(this.scope, parsed.path);
      if (value !== NOT_READ) return this.run(what, () => typedValue(value), false);
    }
    if (parsed.shortcut !== null) {
      const shortcut = parsed.shortcut;
      const value = this.run(what, () => this.shortcut(shortcut), false);
      if (value !== NOT_READ) return this.run(what, () => typedValue(value), false);
    }
    return this.run(what, (ctx) => typedValue(toValueSync(single.value.value(ctx, false))), false);
  }

  /** A shortcut's value as liquidjs computes it (its `default`, `map`, `join` and `sum` filters), or NOT_READ. */
  private shortcut(shortcut: Shortcut): unknown {
    const value = readPath(this.scope, shortcut.path);
    if (value === NOT_READ) return NOT_READ;
    if (shortcut.kind === "default") {
      const fallback = readPath(this.scope, shortcut.fallback);
      if (fallback === NOT_READ) return NOT_READ;
      if (Array.isArray(value) || typeof value === "string") return value.length > 0 ? value : fallback;
      return value === false || value === undefined || value === null ? fallback : value;
    }
    // map: each item a plain object (checked before anything is charged, so that liquidjs can take over).
    if (!Array.isArray(value)) return NOT_READ;
    const items: readonly unknown[] = value;
    for (const item of items) {
      if (typeof item !== "object" || item === null || Array.isArray(item) || !isPlainObject(item)) return NOT_READ;
    }
    const memory = this.root.memoryLimit;
    memory.use(items.length);
    const mapped = items.map((item) => (Object.hasOwn(item as object, shortcut.key) ? (item as Record<string, unknown>)[shortcut.key] : undefined));
    if (shortcut.kind === "map-sum") {
      let sum = 0;
      for (const item of mapped) {
        const data = Number(item);
        sum += Number.isNaN(data) ? 0 : data;
      }
      return sum;
    }
    const { separator } = shortcut;
    let outputSize = separator.length * Math.max(mapped.length - 1, 0);
    for (const item of mapped) outputSize += String(item).length;
    memory.use(outputSize);
    return mapped.join(separator);
  }

  condition(when: string): boolean {
    const what = `The condition "when" (${when})`;
    const parsed = this.parsedOrFail(conditionTemplate(when), what, "{% if ".length);
    return this.run(what, (ctx) => {
      const emitter = new BoundedEmitter();
      toValueSync(engine.renderer.renderTemplates(parsed.templates, ctx, emitter));
      return emitter.buffer === "true";
    });
  }
}

function relatedOf(input: RenderContextInput): Related {
  return { order: input.order ?? null, fulfillment: input.fulfillment ?? null };
}

function scopeFor(input: RenderContextInput): Scope {
  // A shallow copy, so the body itself is never modified and never deep-copied; the topic's context, then
  // shop and topic, win over body keys.
  const body = isJsonObject(input.body) ? input.body : {};
  const scope: Scope = { ...body };
  Object.assign(scope, CATALOG[input.topic].context(body, relatedOf(input)));
  scope.shop = input.shop;
  scope.topic = input.topic;
  return scope;
}

function identitySourceFor(input: RenderContextInput): JsonValue | null {
  return CATALOG[input.topic].identitySource(isJsonObject(input.body) ? input.body : {}, relatedOf(input));
}

function subjectOf(topic: MappableTopic): string {
  return CATALOG[topic].subject;
}

function resolveUser(
  mapping: MappingDefinition,
  renderer: MappingRenderer,
  identitySource: JsonValue | null,
  warnings: string[],
  track: StepTracker,
): RenderedEvent["user"] {
  const templates = mapping.user ?? {};
  const user: RenderedEvent["user"] = {};

  track(templates.email !== undefined ? RenderStep.email : RenderStep.identityDefaults);
  if (templates.email !== undefined) {
    const email = renderer.text(templates.email, 'The user "email" template').trim();
    if (email !== "" && looksLikeEmail(email)) user.email = email;
    else if (email !== "") warnings.push(`The email was left out: "${email}" (from the user "email" template) is not an email address.`);
  } else {
    const email = defaultEmail(identitySource);
    if (email !== undefined) user.email = email;
  }

  track(templates.phone !== undefined ? RenderStep.phone : RenderStep.identityDefaults);
  if (templates.phone !== undefined) {
    const raw = renderer.text(templates.phone, 'The user "phone" template').trim();
    if (raw !== "") {
      const phone = normalizePhone(raw, orderCountry(identitySource));
      if (phone !== null) user.phone = phone;
      else warnings.push(phoneWarning(`"${raw}" (from the user "phone" template)`));
    }
  } else {
    const { phone, warning } = defaultPhone(identitySource);
    if (phone !== undefined) user.phone = phone;
    if (warning !== undefined) warnings.push(warning);
  }

  track(templates.clientUserId !== undefined ? RenderStep.clientUserId : RenderStep.identityDefaults);
  const clientUserId =
    templates.clientUserId !== undefined
      ? renderer.text(templates.clientUserId, 'The user "clientUserId" template').trim()
      : (defaultClientUserId(identitySource) ?? "");
  if (clientUserId !== "") user.externalIdentifiers = { clientUserId };

  return user;
}

function noIdentifierReason(topic: MappableTopic): string {
  const subject = subjectOf(topic);
  const where = CATALOG[topic].orderNoun;
  return (
    `No email, phone or customer id for this ${subject}: Attentive needs at least one. ` +
    `Add an email or phone to ${where} in Shopify, or set user.email, user.phone or user.clientUserId in the mapping.`
  );
}

const untracked: StepTracker = () => {};

/** Renders every template of a mapping (condition, properties, user) and checks the result Attentive needs. */
export function renderNow(mapping: MappingDefinition, input: RenderContextInput, track: StepTracker = untracked): RenderOutcome {
  if (!mapping.enabled) return { kind: "skipped", reason: `The mapping "${mapping.eventType}" is turned off.` };
  const typeProblem = eventTypeProblem(mapping.eventType);
  if (typeProblem !== null) return { kind: "error", reason: typeProblem };

  const renderer = new MappingRenderer(scopeFor(input));
  const warnings: string[] = [];
  try {
    track(RenderStep.condition);
    if (mapping.when !== undefined && !renderer.condition(mapping.when)) {
      return { kind: "skipped", reason: `The condition "${mapping.when}" is false for this ${subjectOf(input.topic)}, so "${mapping.eventType}" was not sent.` };
    }

    const entries: Array<[string, JsonValue]> = [];
    for (const [key, source] of Object.entries(mapping.properties)) {
      track(PROPERTY_STEP + entries.length);
      const keyProblem = propertyKeyProblem(key);
      if (keyProblem !== null) return { kind: "error", reason: keyProblem };
      const what = `Property "${key}"`;
      const { value, longUrl } = renderer.typed(source, what);
      if (longUrl) {
        warnings.push(
          `${what} contains a URL longer than ${MAX_SHORTENABLE_URL_LENGTH} characters: Attentive will not shorten it, so it may be cut off or cost extra in a text.`,
        );
      }
      entries.push([key, value]);
    }

    const identitySource = identitySourceFor(input);
    const user = resolveUser(mapping, renderer, identitySource, warnings, track);
    if (user.email === undefined && user.phone === undefined && user.externalIdentifiers === undefined) {
      return { kind: "error", reason: noIdentifierReason(input.topic) };
    }
    // fromEntries defines keys as own data properties, so even a "__proto__" key stays a plain property.
    return { kind: "event", event: { type: mapping.eventType, properties: Object.fromEntries(entries), user, warnings } };
  } catch (error) {
    if (error instanceof TemplateFailure) return { kind: "error", reason: error.message, ...(error.stoppedByTime ? { stoppedByTime: true as const } : {}) };
    throw error;
  }
}

/** The words a stopped template's error starts with, as the errors of liquidjs's own limits do. */
function stepSubject(mapping: MappingDefinition, step: number): string | null {
  if (step === RenderStep.condition && mapping.when !== undefined) return `The condition "when" (${mapping.when})`;
  if (step === RenderStep.email) return 'The user "email" template';
  if (step === RenderStep.phone) return 'The user "phone" template';
  if (step === RenderStep.clientUserId) return 'The user "clientUserId" template';
  if (step >= PROPERTY_STEP) {
    const key = Object.keys(mapping.properties)[step - PROPERTY_STEP];
    if (key !== undefined) return `Property "${key}"`;
  }
  return null;
}

/** Why a render stopped at its hard deadline, naming what it was rendering then. */
export function deadlineReason(mapping: MappingDefinition, step: number, deadlineMs: number, topic: MappableTopic): string {
  const subject = stepSubject(mapping, step);
  if (subject !== null) {
    return (
      `${subject} could not be rendered: it ran longer than ${deadlineMs} ms, so it was stopped. ` +
      "Make it do less work: filter or loop over fewer items, use shorter conditions in where_exp, or remove nested loops."
    );
  }
  if (step === RenderStep.identityDefaults) {
    return (
      `Finding the customer's email, phone or id in the ${subjectOf(topic)} took longer than ${deadlineMs} ms, so it was stopped. ` +
      "Set user.email, user.phone and user.clientUserId in the mapping to choose the fields yourself."
    );
  }
  return `The mapping "${mapping.eventType}" took longer than ${deadlineMs} ms to render, so it was stopped: simplify its templates.`;
}

/**
 * The first render in a thread loads and compiles liquidjs and the phone metadata (tens of ms, far more on a busy
 * machine): a render thread does this before it says it is ready, and the worker before its first inline render, so
 * that cost is never counted against a real render's deadline or budget.
 */
export function warmUpRenderer(): void {
  renderNow(
    {
      topic: "orders/fulfilled",
      eventType: "Warm-up",
      enabled: true,
      when: "total_price > 0",
      properties: { name: "{{ name }}", titles: "{{ line_items | map: 'title' }}", text: "Order {{ name | upcase }}" },
      user: { phone: "{{ phone }}" },
    },
    {
      topic: "orders/fulfilled",
      shop: "warm-up.myshopify.com",
      body: { name: "#1", total_price: "1.00", line_items: [{ title: "A" }], phone: "(415) 555-2671", email: "a@example.com", shipping_address: { country_code: "US" } },
    },
  );
}
