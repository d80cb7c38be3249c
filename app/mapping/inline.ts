/**
 * Which mappings the delivery worker renders on its own thread instead of handing them to the render pool
 * (decision 024). Handing a render to a thread costs the worker's thread about as much CPU as parsing the body and
 * rendering it there, and the render thread twice that again; the pool exists for templates that could run away
 * (decision 009). A mapping renders inline only when none of its templates can:
 * - no tags (no loops, no assign or capture), except the `{% if %}` that wraps the condition;
 * - no ranges (`(1..n)`), anywhere in an expression or a filter's argument;
 * - only filters whose work is linear in what they are given and whose output is at most a small multiple of it,
 *   and, for all but a few, only literal arguments (so a separator or a padding cannot be the size of the body);
 * - a body of at most INLINE_BODY_LIMIT_CHARS characters.
 * A mapping whose renders still take more than INLINE_SLOW_MS, SLOW_RENDERS_TO_DEMOTE times in a row, goes to the pool
 * from then on.
 */
import { IfTag, Output, TokenKind, TypeGuards, type Filter, type Template, type Token, type Value } from "liquidjs";
import { isJsonObject, type JsonValue } from "~/shopify/json";
import { conditionTemplate } from "./mapping-file";
import { parsedTemplates, RENDER_TIME_LIMIT_MS, renderNow, warmUpRenderer, type RenderContextInput, type RenderOutcome } from "./renderer";
import type { MappingDefinition } from "./types";

/**
 * Larger bodies are parsed and rendered on a render thread. Shopify's sample order (5 line items) is 12 to 16 KB and
 * each line item adds about 1 KB (2 KB in a fulfilled order, whose fulfillments repeat them), so this holds orders of
 * about 25 to 50 items. It also bounds the worst a qualifying template does: splitting a 200 KB field into characters
 * and joining them took 20 ms here before the output cap stopped it.
 */
export const INLINE_BODY_LIMIT_CHARS = 64 * 1024;
/** An inline render slower than this (a normal one takes well under a tenth of it) goes to the pool from then on. */
export const INLINE_SLOW_MS = 5;

/**
 * Linear filters whose output is at most a small multiple of their input and literal arguments. Left out on purpose:
 * replace, replace_first and replace_last (an empty pattern repeats the replacement at every character), strip_html
 * (its pattern backtracks on text with many "<"), the *_exp filters (an expression per item), sample (random), and
 * anything added later until it is looked at.
 */
const LINEAR_FILTERS = new Set([
  "abs", "at_least", "at_most", "ceil", "divided_by", "floor", "minus", "modulo", "plus", "round", "times", "to_integer",
  "append", "prepend", "capitalize", "downcase", "upcase", "lstrip", "rstrip", "strip", "strip_newlines", "squish",
  "normalize_whitespace", "truncate", "truncatewords", "slice", "split", "remove", "remove_first", "remove_last",
  "escape", "escape_once", "xml_escape", "newline_to_br", "url_encode", "url_decode", "cgi_escape", "uri_escape", "slugify",
  "default", "size", "first", "last", "join", "map", "sum", "compact", "concat", "reverse", "sort", "sort_natural", "uniq",
  "where", "reject", "group_by", "has", "find", "find_index", "number_of_words", "array_to_sentence_string",
  "date", "date_to_xmlschema", "date_to_rfc822", "date_to_string", "date_to_long_string", "json", "jsonify",
]);

/** Filters whose output grows by the size of an argument, not a multiple of it: a variable may be their argument. */
const VARIABLE_ARGUMENT_FILTERS = new Set(["append", "prepend", "default", "concat", "abs", "at_least", "at_most", "divided_by", "minus", "modulo", "plus", "times", "where", "reject", "has", "find", "find_index"]);

function boundedToken(token: Token | undefined): boolean {
  if (token === undefined) return true;
  if (TypeGuards.isRangeToken(token)) return false;
  if (TypeGuards.isQuotedToken(token) || TypeGuards.isNumberToken(token) || TypeGuards.isLiteralToken(token)) return true;
  if (TypeGuards.isOperatorToken(token) || TypeGuards.isWordToken(token)) return true;
  if (TypeGuards.isPropertyAccessToken(token)) return boundedToken(token.variable) && token.props.every((prop) => boundedToken(prop));
  if (TypeGuards.isFilteredValueToken(token)) return token.initial.postfix.every(boundedToken) && boundedFilters(token.filters);
  // A kind of token this list does not know: not known to be bounded.
  return false;
}

function isLiteral(token: Token | undefined): boolean {
  return token === undefined || TypeGuards.isQuotedToken(token) || TypeGuards.isNumberToken(token) || TypeGuards.isLiteralToken(token);
}

function boundedFilters(filters: ReadonlyArray<Pick<Filter, "name" | "args">>): boolean {
  return filters.every((filter) => {
    if (!LINEAR_FILTERS.has(filter.name)) return false;
    const variableAllowed = VARIABLE_ARGUMENT_FILTERS.has(filter.name);
    return filter.args.every((arg) => {
      const token = Array.isArray(arg) ? arg[1] : arg;
      return boundedToken(token) && (variableAllowed || isLiteral(token));
    });
  });
}

function boundedValue(value: Value): boolean {
  return value.initial.postfix.every(boundedToken) && boundedFilters(value.filters);
}

function isText(template: Template): boolean {
  return template.token.kind === TokenKind.HTML;
}

/** Text and `{{ }}` outputs only. */
function boundedTemplate(source: string): boolean {
  const templates = parsedTemplates(source);
  if (templates === null) return false;
  return templates.every((template) => isText(template) || (template instanceof Output && boundedValue(template.value)));
}

/** The `{% if <when> %}true{% endif %}` wrapper with a bounded condition, and nothing else. */
function boundedCondition(when: string): boolean {
  const templates = parsedTemplates(conditionTemplate(when));
  if (templates === null || templates.length !== 1) return false;
  const [wrapper] = templates;
  if (!(wrapper instanceof IfTag)) return false;
  const elseTemplates = wrapper.elseTemplates ?? [];
  return elseTemplates.length === 0 && wrapper.branches.every((branch) => boundedValue(branch.value) && branch.templates.every(isText));
}

function classify(mapping: MappingDefinition): boolean {
  if (mapping.when !== undefined && !boundedCondition(mapping.when)) return false;
  const sources = [...Object.values(mapping.properties), ...Object.values(mapping.user ?? {})];
  return sources.every((source) => typeof source !== "string" || boundedTemplate(source));
}

/** By mapping object: the worker's mapping cache hands out one object per stored version of a mapping. */
const verdicts = new WeakMap<MappingDefinition, boolean>();

/** Whether `mapping` renders on the caller's thread for a body of `bodyChars` characters. */
export function rendersInline(mapping: MappingDefinition, bodyChars: number): boolean {
  if (bodyChars > INLINE_BODY_LIMIT_CHARS) return false;
  let verdict = verdicts.get(mapping);
  if (verdict === undefined) {
    verdict = classify(mapping);
    verdicts.set(mapping, verdict);
  }
  return verdict;
}

export interface InlineRender {
  outcome: RenderOutcome;
  /** The body's top-level `name`, as the render pool's detail gives it. */
  bodyName: string | null;
  /** This render's time, when it was over budget. */
  slowMs?: number;
  /** Set when this render made SLOW_RENDERS_TO_DEMOTE in a row over budget: the mapping renders in the pool from now on. */
  demoted?: boolean;
}

let warmed = false;

/**
 * Renders on this thread a mapping that `rendersInline` accepted, with the body already parsed: the same function
 * the render threads run (renderNow), so the outcome is the one the pool would give. The budget is in the
 * clock's time (reading the thread's CPU time costs a system call, about a third of an inline render here), so only
 * renders slow several times in a row count against the mapping.
 */
export function renderInline(
  mapping: MappingDefinition,
  input: RenderContextInput & { body: JsonValue },
  slowMs = INLINE_SLOW_MS,
  clock: () => number = () => performance.now(),
): InlineRender {
  if (!warmed) {
    warmUpRenderer();
    warmed = true;
  }
  const started = clock();
  const outcome = stalledIsRetryable(renderNow(mapping, input));
  const took = clock() - started;
  const bodyName = isJsonObject(input.body) && typeof input.body.name === "string" ? input.body.name : null;
  if (took <= slowMs) {
    slowRenders.delete(mapping);
    return { outcome, bodyName };
  }
  // One slow render can be a garbage collection, or the machine giving the core to another thread, during it; a
  // mapping slow time after time is slow.
  const slowSoFar = (slowRenders.get(mapping) ?? 0) + 1;
  slowRenders.set(mapping, slowSoFar);
  const demoted = slowSoFar >= SLOW_RENDERS_TO_DEMOTE;
  if (demoted) verdicts.set(mapping, false);
  return { outcome, bodyName, slowMs: took, demoted };
}

/**
 * A mapping rendered here cannot run away (rendersInline): none of its templates can take liquidjs's time limit
 * (RENDER_TIME_LIMIT_MS) on a body this size. When liquidjs stops it on its clock all the same, the clock ran while
 * the thread was kept from the core (a long garbage collection, a machine shared with busier processes). That is the
 * app's moment, not the mapping's fault: the delivery is tried again later rather than failed for good.
 */
function stalledIsRetryable(outcome: RenderOutcome): RenderOutcome {
  if (outcome.kind !== "error" || !outcome.stoppedByTime) return outcome;
  return {
    kind: "error",
    retryable: true,
    // No "tried again" here: the delivery's status says so, and after the last attempt this text follows "Gave up".
    reason: `Rendering was stopped after ${RENDER_TIME_LIMIT_MS} ms, although this mapping renders in well under a millisecond: the app was kept waiting at that moment (a busy machine), not slowed by the mapping.`,
  };
}

/** Renders over budget in a row after which this version of a mapping goes to the pool. */
export const SLOW_RENDERS_TO_DEMOTE = 3;
const slowRenders = new WeakMap<MappingDefinition, number>();
