/**
 * Talks to Attentive. Every failure is turned into one SendOutcome, so the delivery worker decides
 * what to do from `kind` alone and shows `reason` to the merchant as it is.
 */
import { ClientError, GraphQLClient } from "graphql-request";
import { z } from "zod";
import { CREATE_CUSTOM_EVENT_MUTATION, createCustomEventDataSchema } from "./create-custom-event.graphql";

export interface AttentiveClientOptions {
  apiUrl: string;
  timeoutMs: number;
  propertiesEncoding: "object" | "string";
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

type RequestBody = ReturnType<typeof customEventRequestBody>;

/** Properties come from merchant mappings; a BigInt or a cycle must not surface later as a network error. */
function serializableBody(input: CustomEventInput, encoding: "object" | "string"): { body: RequestBody } | { problem: string } {
  try {
    const body = customEventRequestBody(input, encoding);
    JSON.stringify(body);
    return { body };
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

export async function sendCustomEvent(
  apiKey: string,
  input: CustomEventInput,
  options: AttentiveClientOptions,
): Promise<SendOutcome> {
  const keyProblem = apiKeyProblem(apiKey);
  if (keyProblem) return { ok: false, kind: "terminal", reason: keyProblem };

  const built = serializableBody(input, options.propertiesEncoding);
  if ("problem" in built) {
    return { ok: false, kind: "terminal", reason: `The event's properties cannot be written as JSON (${built.problem}): fix the mapping.` };
  }
  const { body } = built;
  const signal = AbortSignal.timeout(options.timeoutMs);
  const baseFetch = options.fetch ?? globalThis.fetch;
  // graphql-request hides the raw exchange when the body is not JSON; recording it here keeps the
  // status, headers and text for classification and for the delivery log in every case.
  let answer: RawAnswer | undefined;
  const recordingFetch: typeof fetch = async (resource, init) => {
    const response = await baseFetch(resource, init);
    const text = await response.text();
    answer = { status: response.status, headers: response.headers, text: redact(text, apiKey) };
    return new Response(NULL_BODY_STATUSES.has(response.status) ? null : text, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
  const client = new GraphQLClient(options.apiUrl, {
    fetch: recordingFetch,
    headers: { Authorization: `Bearer ${apiKey}` },
    // Attentive reports event problems as HTTP 200 with `errors`; we want those back, not thrown.
    errorPolicy: "all",
    // The body we log must be the body we send: {query, variables}, nothing added.
    excludeOperationName: true,
    signal,
  });

  let outcome: SendOutcome;
  try {
    const result = await client.rawRequest<unknown, { input: unknown }>(body.query, body.variables);
    outcome = answer
      ? classifyGraphQLAnswer(answer, result.data, result.errors)
      : { ok: false, kind: "retryable", reason: NOT_A_VALID_RESPONSE };
  } catch (error) {
    if (error instanceof ClientError && answer) {
      outcome = classifyGraphQLAnswer(answer, undefined, error.response.errors);
    } else if (answer) {
      outcome = failureWithAnswer("retryable", NOT_A_VALID_RESPONSE, answer);
    } else {
      outcome = { ok: false, kind: "retryable", reason: unreachableReason(error, signal, options.timeoutMs) };
    }
  }
  return redactOutcome(outcome, apiKey);
}

export async function verifyApiKey(
  apiKey: string,
  options: { apiUrl: string; timeoutMs: number; fetch?: typeof fetch },
): Promise<KeyCheck> {
  const keyProblem = apiKeyProblem(apiKey);
  if (keyProblem) return { ok: false, kind: "terminal", reason: keyProblem };

  const signal = AbortSignal.timeout(options.timeoutMs);
  const doFetch = options.fetch ?? globalThis.fetch;
  let answer: RawAnswer;
  try {
    const response = await doFetch(new URL("/v1/me", options.apiUrl), {
      method: "GET",
      headers: { Authorization: `Bearer ${apiKey}`, Accept: "application/json" },
      signal,
    });
    answer = { status: response.status, headers: response.headers, text: redact(await response.text(), apiKey) };
  } catch (error) {
    return { ok: false, kind: "retryable", reason: redact(unreachableReason(error, signal, options.timeoutMs), apiKey) };
  }

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
  return check.ok ? check : { ...check, reason: redact(check.reason, apiKey) };
}

interface RawAnswer {
  status: number;
  headers: Headers;
  text: string;
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
    responseBody: truncateUtf8(answer.text, MAX_STORED_BODY_BYTES),
    rateLimit: rateLimitOf(answer.headers),
  };
  if (kind === "retryable") {
    const retryAfterMs = parseRetryAfter(answer.headers.get("retry-after"));
    if (retryAfterMs !== undefined) failure.retryAfterMs = retryAfterMs;
  }
  return failure;
}

function unreachableReason(error: unknown, signal: AbortSignal, timeoutMs: number): string {
  if (signal.aborted || (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError"))) {
    return `Attentive did not answer within ${describeDuration(timeoutMs)}: will retry.`;
  }
  return `Could not reach Attentive (${networkDetail(error)}): will retry.`;
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

/** `Retry-After` is either delay-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

function rateLimitOf(headers: Headers): RateLimitInfo {
  const info: RateLimitInfo = {};
  const limit = headerInteger(headers, "x-ratelimit-limit");
  const remaining = headerInteger(headers, "x-ratelimit-remaining");
  if (limit !== undefined) info.limit = limit;
  if (remaining !== undefined) info.remaining = remaining;
  return info;
}

function headerInteger(headers: Headers, name: string): number | undefined {
  const value = headers.get(name)?.trim();
  return value && /^\d+$/.test(value) ? Number(value) : undefined;
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

/** Whatever Attentive or the network echoes, the key must not reach the delivery log or the merchant's screen. */
function redact(text: string, apiKey: string): string {
  return apiKey ? text.split(apiKey).join("[API key]") : text;
}

/** Response texts are redacted as they arrive (before truncation could cut a key in half); this covers the reason. */
function redactOutcome(outcome: SendOutcome, apiKey: string): SendOutcome {
  return outcome.ok ? outcome : { ...outcome, reason: redact(outcome.reason, apiKey) };
}
