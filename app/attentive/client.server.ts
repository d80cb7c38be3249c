/**
 * Talks to Attentive. Every failure is turned into one SendOutcome, so the delivery worker decides
 * what to do from `kind` alone and shows `reason` to the merchant as it is. Everything goes through the
 * bounded transport in ./http.server (decision 008): one deadline, no redirects, capped answers; what comes
 * back is redacted before anything is cut or stored.
 */
import { z } from "zod";
import { CREATE_CUSTOM_EVENT_MUTATION, createCustomEventDataSchema } from "./create-custom-event.graphql";
import {
  fetchTransport,
  MAX_ANSWER_HEADER_BYTES,
  undiciTransport,
  type AnswerHeaders,
  type AttentiveHttpResult,
  type AttentiveTransport,
} from "./http.server";
import { capText, keyRedactor, redactPersonalData } from "./redaction";

export interface AttentiveClientOptions {
  apiUrl: string;
  timeoutMs: number;
  propertiesEncoding: "object" | "string";
  /**
   * Tests only (to delay or watch a send): used instead of the undici transport, with the same deadline,
   * no redirects and the same answer cap. Production leaves it out.
   */
  fetch?: typeof fetch;
}

export interface CustomEventInput {
  type: string;
  properties: Record<string, unknown>;
  externalEventId: string;
  occurredAt: string;
  user: { email?: string; phone?: string; externalIdentifiers?: { clientUserId?: string } };
}

export interface RateLimitInfo {
  limit?: number;
  remaining?: number;
}

export type SendOutcome =
  | { ok: true; httpStatus: number; responseBody: string; rateLimit: RateLimitInfo }
  | {
      ok: false;
      kind: "retryable" | "terminal";
      reason: string;
      httpStatus?: number;
      retryAfterMs?: number;
      responseBody?: string;
      rateLimit?: RateLimitInfo;
    };

export type KeyCheck =
  | { ok: true; companyName: string; applicationName?: string }
  | { ok: false; kind: "retryable" | "terminal"; reason: string };

type Failure = Extract<SendOutcome, { ok: false }>;

/** Bodies are kept for the delivery log; Attentive error pages can be large and are useless past this. */
export const MAX_STORED_BODY_BYTES = 4096;
/** A reason is read by a merchant in a table cell; Attentive's own words past this add nothing. */
export const MAX_REASON_CHARACTERS = 500;
/** Longer pauses are not Attentive's to ask for: a shop would stop for hours on one header (decision 008). */
export const MAX_RETRY_AFTER_MS = 60 * 60 * 1000;
/** Attentive documents 150 per second; a bigger figure is a proxy's or a mistake, and pacing must stay cheap. */
export const MAX_RATE_LIMIT_PER_SECOND = 1000;

const DEFAULT_API_URL = "https://api.attentivemobile.com/v1/graphql";

const KEY_REJECTED =
  "Attentive rejected the API key. In Attentive, create a custom app with the Custom Events permission set to Write, then paste its API key here.";
const NOT_A_VALID_RESPONSE = "Attentive answered with something that is not a valid response: will retry.";

/** GraphQL error codes that describe Attentive's state rather than the event, so sending again can work. */
const TRANSIENT_GRAPHQL_CODES = new Set([
  "INTERNAL_SERVER_ERROR",
  "SERVICE_UNAVAILABLE",
  "RATE_LIMITED",
  "TOO_MANY_REQUESTS",
  "TIMEOUT",
  "GATEWAY_TIMEOUT",
  "BAD_GATEWAY",
]);
const KEY_GRAPHQL_CODES = new Set(["UNAUTHENTICATED", "UNAUTHORIZED", "FORBIDDEN"]);

const graphQLErrorSchema = z.object({
  message: z.string().optional(),
  extensions: z.object({ code: z.string().optional() }).loose().optional(),
});
const graphQLErrorsSchema = z.array(graphQLErrorSchema);
type GraphQLErrorShape = z.infer<typeof graphQLErrorSchema>;

/** The error shapes Attentive (REST and GraphQL gateways) and proxies in front of it are known to use. */
const errorBodySchema = z.union([
  z.object({ error: z.object({ message: z.string() }) }),
  z.object({ errors: z.array(z.object({ message: z.string() })).min(1) }),
  z.object({ message: z.string() }),
  z.object({ error: z.string() }),
]);

const meSchema = z.object({
  companyName: z.string().min(1),
  applicationName: z.string().optional().nullable(),
});

/** Properties come from merchant mappings; a BigInt or a cycle must not surface later as a network error. */
function serializableBody(input: CustomEventInput, encoding: "object" | "string"): { text: string } | { problem: string } {
  try {
    return { text: JSON.stringify(customEventRequestBody(input, encoding)) };
  } catch (error) {
    return { problem: error instanceof Error ? error.message : "unknown reason" };
  }
}

export function customEventRequestBody(
  input: CustomEventInput,
  encoding: "object" | "string",
): { query: string; variables: { input: unknown } } {
  const user: Record<string, unknown> = {};
  if (input.user.email !== undefined) user.email = input.user.email;
  if (input.user.phone !== undefined) user.phone = input.user.phone;
  if (input.user.externalIdentifiers?.clientUserId !== undefined) {
    user.externalIdentifiers = { clientUserId: input.user.externalIdentifiers.clientUserId };
  }
  return {
    query: CREATE_CUSTOM_EVENT_MUTATION,
    variables: {
      input: {
        type: input.type,
        properties: encoding === "string" ? JSON.stringify(input.properties) : input.properties,
        externalEventId: input.externalEventId,
        occurredAt: input.occurredAt,
        user,
      },
    },
  };
}

/**
 * Each send's answer is searched for its key; the search's forms of the key (hex, base64 runs) are worked out once
 * per key, not once per send. Bounded: past REDACTORS_KEPT keys, the map starts again.
 */
const REDACTORS_KEPT = 5_000;
const redactors = new Map<string, (text: string) => string>();
function redactorFor(apiKey: string): (text: string) => string {
  let redactor = redactors.get(apiKey);
  if (redactor === undefined) {
    if (redactors.size >= REDACTORS_KEPT) redactors.clear();
    redactor = keyRedactor(apiKey);
    redactors.set(apiKey, redactor);
  }
  return redactor;
}

/**
 * `requestText`, when given, is `JSON.stringify(customEventRequestBody(input, options.propertiesEncoding))` as the
 * caller already wrote it for the delivery log: the request is not written twice.
 */
export async function sendCustomEvent(
  apiKey: string,
  input: CustomEventInput,
  options: AttentiveClientOptions,
  requestText?: string,
): Promise<SendOutcome> {
  const keyProblem = apiKeyProblem(apiKey);
  if (keyProblem) return { ok: false, kind: "terminal", reason: keyProblem };

  const built = requestText === undefined ? serializableBody(input, options.propertiesEncoding) : { text: requestText };
  if ("problem" in built) {
    return { ok: false, kind: "terminal", reason: `The event's properties cannot be written as JSON (${built.problem}): fix the mapping.` };
  }
  const redactKey = redactorFor(apiKey);
  let url: URL;
  try {
    url = new URL(options.apiUrl);
  } catch (error) {
    return { ok: false, kind: "retryable", reason: storedReason(`Could not reach Attentive (${networkDetail(error)}): will retry.`, redactKey) };
  }
  // The GraphQL request as a GraphQL client sends it: {query, variables} and nothing added, so the body the log
  // keeps is the body sent. Sent straight through the transport (decision 008), without a GraphQL client or a
  // fetch Response per send: those cost more CPU per event than the rest of the send.
  const result = await transportFor(options)({
    url,
    method: "POST",
    headers: { accept: GRAPHQL_ACCEPT, authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
    body: built.text,
    timeoutMs: options.timeoutMs,
  });
  const outcome: SendOutcome =
    result.kind === "answer"
      ? classifyAnswer({ status: result.status, headers: result.headers, text: redactKey(result.body) })
      : transportFailure(result, options, redactKey, "accept the event");
  return outcome.ok ? outcome : { ...outcome, reason: storedReason(outcome.reason, redactKey) };
}

/** What a GraphQL client asks for (graphql-request's default, which this app used before). */
const GRAPHQL_ACCEPT = "application/graphql-response+json, application/json";

/**
 * An answer to the mutation, read as graphql-request 7 (which this app used before) read it, so every outcome is
 * the one it gave: a status outside 2xx is classified by its status; a 2xx body is JSON only when its content type
 * says JSON (or GraphQL's JSON); and the result must be an object whose `errors` is a list or an object, whose
 * `data` is an object or null and whose `extensions` is an object. Anything else is not a valid answer.
 */
function classifyAnswer(answer: RawAnswer): SendOutcome {
  // fetch's Response, which the client built, refuses these statuses outright.
  if (answer.status < 200 || answer.status > 599) return failureWithAnswer("retryable", NOT_A_VALID_RESPONSE, answer);
  if (answer.status >= 300) return classifyGraphQLAnswer(answer, undefined, undefined);
  const result = executionResult(NULL_BODY_STATUSES.has(answer.status) ? "" : answer.text, answer.headers["content-type"]);
  if (result === null) return failureWithAnswer("retryable", NOT_A_VALID_RESPONSE, answer);
  return classifyGraphQLAnswer(answer, result.data, result.errors);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function executionResult(text: string, contentType: string | undefined): { data: unknown; errors: unknown } | null {
  const type = contentType?.toLowerCase() ?? "";
  if (!type.includes("application/graphql-response+json") && !type.includes("application/json")) return null;
  const parsed = parseJson(text);
  // A list is a batch answer, which no single mutation gets: its data is never the mutation's.
  if (!isPlainObject(parsed)) return null;
  if ("errors" in parsed && !isPlainObject(parsed.errors) && !Array.isArray(parsed.errors)) return null;
  if ("data" in parsed && !isPlainObject(parsed.data) && parsed.data !== null) return null;
  if ("extensions" in parsed && !isPlainObject(parsed.extensions)) return null;
  return { data: parsed.data, errors: parsed.errors };
}

export async function verifyApiKey(
  apiKey: string,
  options: { apiUrl: string; timeoutMs: number; fetch?: typeof fetch },
): Promise<KeyCheck> {
  const keyProblem = apiKeyProblem(apiKey);
  if (keyProblem) return { ok: false, kind: "terminal", reason: keyProblem };

  const redactKey = keyRedactor(apiKey);
  const result = await transportFor(options)({
    url: new URL("/v1/me", options.apiUrl),
    method: "GET",
    headers: { Authorization: `Bearer ${apiKey}`, Accept: "application/json" },
    timeoutMs: options.timeoutMs,
  });
  if (result.kind !== "answer") {
    const { kind, reason } = transportFailure(result, options, redactKey, "check the API key");
    return { ok: false, kind, reason: storedReason(reason, redactKey) };
  }
  const answer: RawAnswer = { status: result.status, headers: result.headers, text: redactKey(result.body) };

  let check: KeyCheck;
  if (answer.status >= 200 && answer.status < 300) {
    const me = meSchema.safeParse(parseJson(answer.text));
    check = me.success
      ? {
          ok: true,
          companyName: me.data.companyName,
          ...(me.data.applicationName ? { applicationName: me.data.applicationName } : {}),
        }
      : { ok: false, kind: "retryable", reason: NOT_A_VALID_RESPONSE };
  } else {
    const { kind, reason } = classifyHttpFailure(answer, "check the API key");
    check = { ok: false, kind, reason };
  }
  return check.ok ? check : { ...check, reason: storedReason(check.reason, redactKey) };
}

interface RawAnswer {
  status: number;
  headers: AnswerHeaders;
  text: string;
}

type TransportFailure = Exclude<AttentiveHttpResult, { kind: "answer" }>;

function transportFor(options: { fetch?: typeof fetch }): AttentiveTransport {
  return options.fetch ? fetchTransport(options.fetch) : undiciTransport;
}

/** For an exchange that ended without a complete, readable answer; `action` completes "Attentive did not ...". */
function transportFailure(
  failure: TransportFailure,
  options: { apiUrl: string; timeoutMs: number },
  redactKey: (text: string) => string,
  action: string,
): Failure {
  switch (failure.kind) {
    case "timeout":
      return { ok: false, kind: "retryable", reason: `Attentive did not answer within ${describeDuration(options.timeoutMs)}: will retry.` };
    case "network":
      if (failure.headerOverflow) {
        return {
          ok: false,
          kind: "retryable",
          reason: `Attentive's answer had more than ${MAX_ANSWER_HEADER_BYTES / 1024} KB of headers, which no Attentive answer has: stopped reading it; will retry.`,
        };
      }
      return {
        ok: false,
        kind: "retryable",
        reason: failure.answered
          ? `Attentive's answer broke off before it was complete (${failure.detail}): will retry.`
          : `Could not reach Attentive (${failure.detail}): will retry.`,
      };
    case "redirect":
      // Terminal: a redirect is a wrong address, and following it would send the key and the customer's
      // event to whatever host it names. Retrying would only ask again.
      return {
        ok: false,
        kind: "terminal",
        httpStatus: failure.status,
        reason:
          `Attentive answered with a redirect (HTTP ${failure.status}) ${redirectTarget(failure.location, options.apiUrl)}: ` +
          `not followed, so the API key is not sent elsewhere. Check ATTENTIVE_API_URL (${capText(options.apiUrl, 100)}): ` +
          `it must be Attentive's API address, ${DEFAULT_API_URL}.`,
      };
    case "too-large": {
      const answer: RawAnswer = { status: failure.status, headers: failure.headers, text: redactKey(failure.head) };
      if (failure.status >= 200 && failure.status < 300) {
        // Like any unreadable answer: Attentive's real answers are tiny, so this is a proxy or an error page,
        // and the retry budget bounds how often it is asked again.
        const reason = `Attentive's answer was larger than ${failure.limitBytes / 1024} KB, far more than any answer to ${action === "accept the event" ? "an event" : "a key check"}: stopped reading it; will retry.`;
        return failureWithAnswer("retryable", reason, answer);
      }
      const { kind, reason } = classifyHttpFailure({ ...answer, text: "" }, action);
      return failureWithAnswer(kind, reason, answer);
    }
  }
}

function redirectTarget(location: string | undefined, apiUrl: string): string {
  if (location === undefined) return "without saying where to";
  let host: string;
  try {
    host = new URL(location, apiUrl).host;
  } catch {
    return "to an address that cannot be read";
  }
  return `to ${capText(host || "an address without a host", 100)}`;
}

/** Redacted before it is cut, so no part of a key or an address survives at the cut. */
function storedReason(reason: string, redactKey: (text: string) => string): string {
  return capText(redactPersonalData(redactKey(reason)), MAX_REASON_CHARACTERS);
}

const NULL_BODY_STATUSES = new Set([101, 204, 205, 304]);

function classifyGraphQLAnswer(answer: RawAnswer, data: unknown, rawErrors: unknown): SendOutcome {
  if (answer.status < 200 || answer.status >= 300) {
    const { kind, reason } = classifyHttpFailure(answer, "accept the event");
    return failureWithAnswer(kind, reason, answer);
  }

  if (rawErrors !== undefined) {
    const errors = graphQLErrorsSchema.safeParse(rawErrors);
    if (!errors.success) return failureWithAnswer("retryable", NOT_A_VALID_RESPONSE, answer);
    if (errors.data.length > 0) {
      const { kind, reason } = classifyGraphQLErrors(errors.data);
      return failureWithAnswer(kind, reason, answer);
    }
  }

  if (!createCustomEventDataSchema.safeParse(data).success) {
    return failureWithAnswer("retryable", NOT_A_VALID_RESPONSE, answer);
  }
  return {
    ok: true,
    httpStatus: answer.status,
    responseBody: truncateUtf8(answer.text, MAX_STORED_BODY_BYTES),
    rateLimit: rateLimitOf(answer.headers),
  };
}

function classifyGraphQLErrors(errors: GraphQLErrorShape[]): { kind: Failure["kind"]; reason: string } {
  const codes = errors.map((error) => error.extensions?.code?.toUpperCase());
  if (codes.some((code) => code !== undefined && KEY_GRAPHQL_CODES.has(code))) {
    return { kind: "terminal", reason: KEY_REJECTED };
  }
  const messages = errors.map((error) => error.message?.trim()).filter((message) => message);
  const said = messages.length > 0 ? withFullStop(messages.join("; ")) : "it gave no details.";
  const transient = codes.find((code) => code !== undefined && TRANSIENT_GRAPHQL_CODES.has(code));
  if (transient) {
    return { kind: "retryable", reason: `Attentive had a temporary problem (${transient}); will retry. Attentive said: ${said}` };
  }
  return { kind: "terminal", reason: `Attentive refused the event: ${said}` };
}

/** For any HTTP status outside 2xx; `action` completes "Attentive did not ...". */
function classifyHttpFailure(answer: RawAnswer, action: string): { kind: Failure["kind"]; reason: string } {
  const { status } = answer;
  if (status === 401 || status === 403) return { kind: "terminal", reason: KEY_REJECTED };
  if (status === 429) {
    return {
      kind: "retryable",
      reason: "Attentive is receiving too many requests for this API key (HTTP 429): will retry more slowly.",
    };
  }
  if (status >= 500) {
    return { kind: "retryable", reason: `Attentive had a server problem (HTTP ${status}): will retry.` };
  }
  // A request timeout says nothing about the event itself.
  if (status === 408) {
    return { kind: "retryable", reason: "Attentive gave up waiting for the request (HTTP 408): will retry." };
  }
  if (status >= 400) {
    return { kind: "terminal", reason: `Attentive did not ${action} (HTTP ${status}): ${withFullStop(attentiveMessage(answer))}` };
  }
  return { kind: "retryable", reason: `Attentive answered with an unexpected HTTP ${status}: will retry.` };
}

function attentiveMessage(answer: RawAnswer): string {
  const parsed = errorBodySchema.safeParse(parseJson(answer.text));
  if (parsed.success) {
    const body = parsed.data;
    if ("errors" in body) return body.errors.map((error) => error.message).join("; ");
    if ("error" in body) return typeof body.error === "string" ? body.error : body.error.message;
    return body.message;
  }
  const text = answer.text.trim();
  if (text && text.length <= 300 && !text.startsWith("<")) return text;
  return "it gave no explanation";
}

function failureWithAnswer(kind: Failure["kind"], reason: string, answer: RawAnswer): Failure {
  const failure: Failure = {
    ok: false,
    kind,
    reason,
    httpStatus: answer.status,
    // The whole answer is redacted first: a cut could otherwise leave half an address or half a key.
    responseBody: truncateUtf8(redactPersonalData(answer.text), MAX_STORED_BODY_BYTES),
    rateLimit: rateLimitOf(answer.headers),
  };
  if (kind === "retryable") {
    const retryAfterMs = parseRetryAfter(answer.headers["retry-after"]);
    if (retryAfterMs !== undefined) failure.retryAfterMs = retryAfterMs;
  }
  return failure;
}

function networkDetail(error: unknown): string {
  // fetch wraps the useful part ("connect ECONNREFUSED …", "other side closed") in `cause`.
  if (error instanceof Error) {
    const cause = error.cause;
    if (cause instanceof Error && cause.message) return cause.message;
    if (error.message) return error.message;
  }
  return "unknown network error";
}

function describeDuration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  const seconds = ms / 1000;
  return `${Number.isInteger(seconds) ? seconds : seconds.toFixed(1)} second${seconds === 1 ? "" : "s"}`;
}

/**
 * `Retry-After` is either delay-seconds or an HTTP date (RFC 9110 §10.2.3). Whatever it says, the result is a
 * finite number of milliseconds from 0 to MAX_RETRY_AFTER_MS, or undefined when the value is not one of the two
 * forms (negative, fractional, exponent, ISO dates): then the caller's own backoff applies.
 */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const trimmed = value.trim();
  // Number() of a long digit string is huge or Infinity; Math.min brings both back.
  if (/^\d+$/.test(trimmed)) return Math.min(Number(trimmed) * 1000, MAX_RETRY_AFTER_MS);
  // All three HTTP date formats start with the day's name; Date.parse alone accepts far more.
  if (trimmed.length > 40 || !/^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,? /i.test(trimmed)) return undefined;
  const at = Date.parse(trimmed);
  if (!Number.isFinite(at) || !Number.isFinite(now)) return undefined;
  return Math.min(Math.max(0, at - now), MAX_RETRY_AFTER_MS);
}

/** Limits as Attentive documents them (150 per second); anything outside 1..1,000 is brought back into it. */
function rateLimitOf(headers: AnswerHeaders): RateLimitInfo {
  const info: RateLimitInfo = {};
  const limit = boundedInteger(headers["x-ratelimit-limit"], 1, MAX_RATE_LIMIT_PER_SECOND);
  const remaining = boundedInteger(headers["x-ratelimit-remaining"], 0, limit ?? MAX_RATE_LIMIT_PER_SECOND);
  if (limit !== undefined) info.limit = limit;
  if (remaining !== undefined) info.remaining = remaining;
  return info;
}

function boundedInteger(value: string | undefined, min: number, max: number): number | undefined {
  const trimmed = value?.trim();
  if (!trimmed || !/^\d+$/.test(trimmed)) return undefined;
  return Math.min(Math.max(Number(trimmed), min), max);
}

function apiKeyProblem(apiKey: string): string | null {
  if (apiKey.trim() === "") return "No Attentive API key is saved: paste the key of your Attentive custom app.";
  // Header values cannot carry these, and fetch would echo the key in its error message.
  if (!/^[\x21-\x7e]+$/.test(apiKey)) {
    return "The saved Attentive API key contains spaces or characters an API key cannot have: paste the key again.";
  }
  return null;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function withFullStop(text: string): string {
  const trimmed = text.trim();
  return /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}

export function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length <= maxBytes) return text;
  const marker = "…[truncated]";
  const room = maxBytes - new TextEncoder().encode(marker).length;
  // A cut inside a multi-byte character decodes to U+FFFD; drop it rather than store a broken character.
  const head = new TextDecoder().decode(bytes.subarray(0, room)).replace(/\uFFFD+$/, "");
  return head + marker;
}

