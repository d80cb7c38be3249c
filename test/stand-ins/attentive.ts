/**
 * A local Attentive for tests, `npm run demo` and benchmarks. It is deliberately as strict as the
 * contract in shared/reference/attentive-api.md: where the live API might be lenient, accepting
 * something here could hide a bug that only shows in production.
 *
 * Run alone: tsx test/stand-ins/attentive.ts --port 4010 --key demo-key
 */
import { randomUUID } from "node:crypto";
import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import {
  assertScalarType,
  buildSchema,
  execute,
  GraphQLError,
  Kind,
  parse,
  validate,
  valueFromASTUntyped,
  type DocumentNode,
  type GraphQLFormattedError,
} from "graphql";
import { z } from "zod";
import { eventTypeProblem, isE164, propertyKeyProblem } from "../../app/attentive/rules";

export type PropertiesEncoding = "object" | "string" | "either";

export interface AttentiveStandInOptions {
  port?: number;
  apiKeys?: string[];
  companyName?: string;
  /** Which encodings of `properties` to accept; the live API's choice is unconfirmed. Default "either". */
  propertiesEncoding?: PropertiesEncoding;
  /** Per key and endpoint, like Attentive's limit. Default 150. */
  rateLimitPerSecond?: number;
  latencyMs?: number;
}

/**
 * What the stand-in does instead of answering normally. Any fault may carry `forKey`: it is then used only by a
 * request made with that API key, so a test's faults are not taken by another shop's retry in flight.
 */
export type Fault = FaultKind & { forKey?: string };

type FaultKind =
  | { kind: "status"; status: number; body?: string; headers?: Record<string, string> }
  /** Closes the connection without an answer once the request is read. */
  | { kind: "refuse" }
  /** Resets the connection (TCP RST) once the request is read. */
  | { kind: "reset" }
  /**
   * Stalls `ms`, then answers normally if the client is still there: with `ms` past the client's
   * timeout, this is "answers after the timeout". Without `ms` it stalls until the client hangs up or
   * `dropHanging()`. An abandoned or dropped request is not processed.
   */
  | { kind: "hang"; ms?: number }
  /** Sends the client elsewhere; `location` is absolute. */
  | { kind: "redirect"; status: 301 | 302 | 303 | 307 | 308; location: string }
  /**
   * An answer of `bytes` bytes (a JSON object opened and never usefully closed), streamed as the client
   * reads, until the client hangs up. What was written is in `hugeAnswers`.
   */
  | { kind: "huge-body"; bytes: number; status?: number; declareLength?: boolean }
  | { kind: "graphql-error"; code?: string; message?: string }
  | { kind: "malformed" }
  /** 429; `retryAfter` is sent as it is (absurd or malformed values included), `headers` added or overriding. */
  | { kind: "rate-limited"; retryAfterSeconds?: number; retryAfter?: string; headers?: Record<string, string> }
  /** Processes the event normally but answers with these headers added or overriding (e.g. x-ratelimit-limit). */
  | { kind: "ok-with-headers"; headers: Record<string, string> };

export interface RequestRecord {
  /** Counts from 1, like the fault plan's argument. */
  number: number;
  method: string;
  path: string;
  /** Milliseconds since the epoch when the request arrived. */
  receivedAt: number;
  /** The fault applied to it, if any. */
  fault?: Fault["kind"];
  /** The `externalEventId` the request carried, if its body was a createCustomEvent. */
  externalEventId?: string;
}

export interface HugeAnswerRecord {
  request: number;
  /** Bytes of body written to the socket before the client hung up (or all of them). */
  bytesWritten: number;
  bytesPlanned: number;
  /** The client hung up before the whole body was written. */
  abandoned: boolean;
  finished: Promise<void>;
}

const userInputSchema = z.object({
  phone: z.string().nullish(),
  email: z.string().nullish(),
  externalIdentifiers: z
    .object({
      clientUserId: z.string().nullish(),
      customIdentifiers: z.array(z.object({ name: z.string(), value: z.string() })).nullish(),
    })
    .nullish(),
});

/** What graphql-js hands the resolver after coercing against the schema. */
const createCustomEventInputSchema = z.object({
  type: z.string(),
  properties: z.unknown(),
  externalEventId: z.string().nullish(),
  occurredAt: z.string().nullish(),
  user: userInputSchema,
});

export type ReceivedInput = z.infer<typeof createCustomEventInputSchema>;

export interface ReceivedEvent {
  /** The createCustomEvent input exactly as sent (properties still in the sender's encoding). */
  input: ReceivedInput;
  /** `input.properties` decoded to an object, whichever encoding was used. */
  properties: Record<string, unknown>;
  apiKey: string;
  /** Milliseconds since the epoch when the request arrived. */
  receivedAt: number;
}

export interface AttentiveStandIn {
  graphqlUrl: string;
  origin: string;
  received: ReceivedEvent[];
  /** Every request that reached the server, whatever became of it. */
  readonly requests: number;
  addKey(key: string): void;
  injectFaults(...faults: Fault[]): void;
  /**
   * Consulted for every request that finds no injected fault queued (`request` counts from 1):
   * lets a load test spread faults over thousands of requests from a seeded plan. null removes it.
   */
  setFaultPlan(plan: ((request: number) => Fault | undefined) | null): void;
  setLatency(ms: number): void;
  /** Every request in arrival order. */
  readonly requestLog: readonly RequestRecord[];
  /** Every huge-body answer, in the order they started. */
  readonly hugeAnswers: readonly HugeAnswerRecord[];
  /** Requests stalled by a hang without `ms` and still connected. */
  readonly hanging: number;
  /** Drops every request stalled by a hang without `ms` (connection destroyed, nothing processed). */
  dropHanging(): void;
  /** Called for every request as it arrives (after its body is read); returns a function that removes it. */
  onRequest(listener: (record: RequestRecord) => void): () => void;
  /** Resolves once `count` requests in all (since start or reset) have arrived; rejects after `timeoutMs`. */
  waitForRequests(count: number, timeoutMs?: number): Promise<void>;
  /** Forgets received events, the request count, pending faults, latency and rate-limit windows; keeps keys. */
  reset(): void;
  close(): Promise<void>;
}

const SDL = /* GraphQL */ `
  # Attentive's Query root is not part of the contract we use; graphql-js needs one to exist.
  type Query {
    _unused: Boolean
  }

  type Mutation {
    createCustomEvent(input: CreateCustomEventInput!): CreateCustomEventPayload
  }

  input CreateCustomEventInput {
    type: String!
    properties: JSON!
    externalEventId: String
    occurredAt: DateTime
    user: EventUserInput!
  }

  input EventUserInput {
    phone: String
    email: String
    externalIdentifiers: EventUserExternalIdentifiersInput
  }

  input EventUserExternalIdentifiersInput {
    clientUserId: String
    customIdentifiers: [EventUserCustomIdentifierInput!]
  }

  input EventUserCustomIdentifierInput {
    name: String!
    value: String!
  }

  type CreateCustomEventPayload {
    type: String!
    occurredAt: DateTime!
    externalEventId: String!
    user: EventUser!
    properties: JSON!
  }

  # Not spelled out in the reference; shaped after the seed document's example response.
  type EventUser {
    phone: String
    email: String
    externalIdentifiers: EventUserExternalIdentifiers
  }

  type EventUserExternalIdentifiers {
    clientUserId: String
    customIdentifiers: [EventUserCustomIdentifier!]
  }

  type EventUserCustomIdentifier {
    name: String!
    value: String!
  }

  scalar JSON
  scalar DateTime
`;

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$/;

export function isRfc3339WithOffset(value: string): boolean {
  const match = RFC3339.exec(value);
  if (!match) return false;
  const [year, month, day, hour, minute, second, offsetHour, offsetMinute] = [1, 2, 3, 4, 5, 6, 9, 10].map((i) =>
    Number(match[i] ?? 0),
  );
  if (month === undefined || month < 1 || month > 12) return false;
  const daysInMonth = new Date(Date.UTC(year ?? 0, month, 0)).getUTCDate();
  return (
    day !== undefined &&
    day >= 1 &&
    day <= daysInMonth &&
    (hour ?? 99) <= 23 &&
    (minute ?? 99) <= 59 &&
    (second ?? 99) <= 60 &&
    (offsetHour ?? 99) <= 23 &&
    (offsetMinute ?? 99) <= 59
  );
}

function parseDateTime(value: unknown): string {
  if (typeof value === "string" && isRfc3339WithOffset(value)) return value;
  throw new GraphQLError(
    `DateTime must be an RFC 3339 timestamp with a time-zone offset, such as 2021-03-30T14:38:29+00:00; got ${JSON.stringify(value)}.`,
  );
}

/** Attentive answers in UTC without milliseconds unless there are some, as in the seed's example response. */
function serializeDateTime(value: unknown): string {
  const date = value instanceof Date ? value : typeof value === "string" ? new Date(value) : undefined;
  if (!date || Number.isNaN(date.getTime())) throw new GraphQLError("DateTime cannot represent this value.");
  return date.toISOString().replace(".000Z", "Z");
}

function buildAttentiveSchema() {
  const schema = buildSchema(SDL);
  // buildSchema leaves custom scalars as pass-through; graphql-tools style in-place wiring gives them rules.
  const dateTime = assertScalarType(schema.getType("DateTime"));
  dateTime.parseValue = parseDateTime;
  dateTime.parseLiteral = (ast) => {
    if (ast.kind !== Kind.STRING) throw new GraphQLError("DateTime must be given as a string.");
    return parseDateTime(ast.value);
  };
  dateTime.serialize = serializeDateTime;
  const json = assertScalarType(schema.getType("JSON"));
  json.parseValue = (value) => value;
  json.parseLiteral = (ast, variables) => valueFromASTUntyped(ast, variables);
  json.serialize = (value) => value;
  return schema;
}

const schema = buildAttentiveSchema();

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function decodeProperties(properties: unknown, encoding: PropertiesEncoding): Record<string, unknown> | string {
  if (typeof properties === "string") {
    if (encoding === "object") return "properties must be a JSON object, not a string holding JSON.";
    let decoded: unknown;
    try {
      decoded = JSON.parse(properties);
    } catch {
      return "properties is a string but not valid JSON.";
    }
    return isPlainObject(decoded) ? decoded : "properties is a string but does not hold a JSON object.";
  }
  if (isPlainObject(properties)) {
    return encoding === "string" ? "properties must be a string holding a JSON object." : properties;
  }
  return "properties must be a JSON object.";
}

/** Nested keys are checked too: the docs do not limit the rule to the top level, so the strict reading wins. */
function propertyKeyProblems(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) {
    for (const item of value) propertyKeyProblems(item, found);
  } else if (isPlainObject(value)) {
    for (const [key, nested] of Object.entries(value)) {
      const problem = propertyKeyProblem(key);
      if (problem) found.push(problem);
      propertyKeyProblems(nested, found);
    }
  }
  return found;
}

function userProblems(user: ReceivedInput["user"]): string[] {
  const problems: string[] = [];
  const present = (value: string | null | undefined) => typeof value === "string" && value.trim() !== "";
  const ids = user.externalIdentifiers;
  const hasIdentifier =
    present(user.phone) ||
    present(user.email) ||
    present(ids?.clientUserId) ||
    (ids?.customIdentifiers ?? []).some((custom) => present(custom.name) && present(custom.value));
  if (!hasIdentifier) {
    problems.push("user needs at least one non-empty identifier: phone, email or an external identifier.");
  }
  if (user.phone !== undefined && user.phone !== null && !isE164(user.phone)) {
    problems.push(`user.phone "${user.phone}" is not in E.164 format, such as +13115552368.`);
  }
  return problems;
}

interface ResolverContext {
  apiKey: string;
  receivedAt: number;
  encoding: PropertiesEncoding;
  record(event: ReceivedEvent): void;
}

const contextSchema = z.custom<ResolverContext>(
  (value) => isPlainObject(value) && typeof value.record === "function" && typeof value.apiKey === "string",
);

function badUserInput(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: "BAD_USER_INPUT" } });
}

const rootValue = {
  createCustomEvent(args: unknown, contextValue: unknown) {
    const context = contextSchema.parse(contextValue);
    // graphql-js builds coerced inputs on null-prototype objects; a JSON round trip gives plain ones to compare.
    const input = createCustomEventInputSchema.parse(JSON.parse(JSON.stringify(z.object({ input: z.unknown() }).parse(args).input)));

    const problems: string[] = [];
    const typeProblem = eventTypeProblem(input.type);
    if (typeProblem) problems.push(typeProblem);
    const properties = decodeProperties(input.properties, context.encoding);
    if (typeof properties === "string") problems.push(properties);
    else problems.push(...propertyKeyProblems(properties));
    problems.push(...userProblems(input.user));
    if (problems.length > 0 || typeof properties === "string") throw badUserInput(problems.join(" "));

    context.record({ input, properties, apiKey: context.apiKey, receivedAt: context.receivedAt });
    return {
      type: input.type,
      occurredAt: input.occurredAt ?? new Date(context.receivedAt).toISOString(),
      externalEventId: input.externalEventId ?? randomUUID(),
      user: input.user,
      properties: input.properties,
    };
  },
};

const requestBodySchema = z.object({
  query: z.string(),
  variables: z.record(z.string(), z.unknown()).nullish(),
  operationName: z.string().nullish(),
});

const MAX_BODY_BYTES = 1024 * 1024;

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on("end", () => (size > MAX_BODY_BYTES ? reject(new BodyTooLarge()) : resolve(Buffer.concat(chunks).toString("utf8"))));
    req.on("error", reject);
  });
}

function withCode(error: GraphQLError, code: string): GraphQLFormattedError {
  const formatted = error.toJSON();
  return { ...formatted, extensions: { code, ...formatted.extensions } };
}

export async function startAttentiveStandIn(options: AttentiveStandInOptions = {}): Promise<AttentiveStandIn> {
  const keys = new Set(options.apiKeys ?? ["test-key"]);
  const companyName = options.companyName ?? "Stand-in Company";
  const encoding = options.propertiesEncoding ?? "either";
  const limit = options.rateLimitPerSecond ?? 150;
  let latencyMs = options.latencyMs ?? 0;
  let requests = 0;
  let faults: Fault[] = [];
  let faultPlan: ((request: number) => Fault | undefined) | null = null;
  const received: ReceivedEvent[] = [];
  /** Arrival times of admitted requests in the last second, per key and endpoint. */
  let windows = new Map<string, number[]>();
  const timers = new Set<NodeJS.Timeout>();
  const requestLog: RequestRecord[] = [];
  const hugeAnswers: HugeAnswerRecord[] = [];
  const hangingRequests = new Set<() => void>();
  const listeners = new Set<(record: RequestRecord) => void>();

  function sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });
  }

  function admit(bucket: string, now: number): { admitted: boolean; remaining: number } {
    const recent = (windows.get(bucket) ?? []).filter((at) => now - at < 1000);
    const admitted = recent.length < limit;
    if (admitted) recent.push(now);
    windows.set(bucket, recent);
    return { admitted, remaining: Math.max(0, limit - recent.length) };
  }

  function send(res: ServerResponse, status: number, body: string, headers: Record<string, string | number>) {
    if (res.destroyed || res.writableEnded) return;
    res.writeHead(status, {
      "content-type": "application/json; charset=utf-8",
      "x-ratelimit-limit": limit,
      "x-ratelimit-remaining": limit,
      ...headers,
    });
    res.end(body);
  }

  function restError(status: number, message: string): string {
    return JSON.stringify({ error: { id: status, message } });
  }

  /** Holds the request open until its client hangs up or dropHanging(); nothing is processed either way. */
  function stallUntilDropped(req: IncomingMessage): Promise<void> {
    return new Promise((resolve) => {
      const drop = () => {
        hangingRequests.delete(drop);
        req.socket.destroy();
        resolve();
      };
      hangingRequests.add(drop);
      req.socket.once("close", drop);
    });
  }

  function streamHugeBody(res: ServerResponse, request: number, fault: Extract<Fault, { kind: "huge-body" }>) {
    const chunk = Buffer.alloc(64 * 1024, "a");
    const head = Buffer.from('{"data":{"createCustomEvent":{"externalEventId":"');
    let resolveFinished: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => (resolveFinished = resolve));
    const record: HugeAnswerRecord = { request, bytesWritten: 0, bytesPlanned: fault.bytes, abandoned: false, finished };
    hugeAnswers.push(record);
    res.writeHead(fault.status ?? 200, {
      "content-type": "application/json; charset=utf-8",
      ...(fault.declareLength === false ? {} : { "content-length": fault.bytes }),
    });
    let done = false;
    const finish = (abandoned: boolean) => {
      if (done) return;
      done = true;
      record.abandoned = abandoned;
      resolveFinished();
    };
    // "close" before "finish" means the client went away mid-body.
    res.once("close", () => finish(record.bytesWritten < fault.bytes));
    const pump = () => {
      while (!res.destroyed && record.bytesWritten < fault.bytes) {
        const source = record.bytesWritten === 0 ? head : chunk;
        const piece = source.subarray(0, Math.min(source.length, fault.bytes - record.bytesWritten));
        record.bytesWritten += piece.length;
        if (!res.write(piece)) {
          res.once("drain", pump);
          return;
        }
      }
      if (!res.destroyed) res.end(() => finish(false));
    };
    pump();
  }

  function bearerKey(req: IncomingMessage): string | undefined {
    const match = /^Bearer (\S+)$/i.exec(req.headers.authorization ?? "");
    return match?.[1] && keys.has(match[1]) ? match[1] : undefined;
  }

  /** The first queued fault meant for this request: one without `forKey`, or one for the request's key. */
  function takeFault(req: IncomingMessage): Fault | undefined {
    const index = faults.findIndex((fault) => fault.forKey === undefined || fault.forKey === bearerKey(req));
    return index === -1 ? undefined : faults.splice(index, 1)[0];
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const receivedAt = Date.now();
    requests += 1;
    let body: string;
    try {
      body = await readBody(req);
    } catch (error) {
      if (error instanceof BodyTooLarge) send(res, 413, restError(413, "Request body is too large."), {});
      return;
    }

    const number = requests;
    const fault = takeFault(req) ?? faultPlan?.(number);
    const record: RequestRecord = {
      number,
      method: req.method ?? "",
      path: new URL(req.url ?? "/", "http://stand-in").pathname,
      receivedAt,
      ...(fault ? { fault: fault.kind } : {}),
      ...externalEventIdOf(body),
    };
    requestLog.push(record);
    for (const listener of [...listeners]) listener(record);

    if (fault?.kind === "refuse") {
      req.socket.destroy();
      return;
    }
    if (fault?.kind === "reset") {
      req.socket.resetAndDestroy();
      return;
    }
    if (fault?.kind === "hang" && fault.ms === undefined) {
      await stallUntilDropped(req);
      return;
    }
    await sleep((fault?.kind === "hang" ? (fault.ms ?? 0) : 0) + latencyMs);
    // A client that gave up meanwhile gets nothing processed, so a test can tell a lost request from a slow one.
    if (res.destroyed || req.socket.destroyed) return;

    switch (fault?.kind) {
      case "redirect":
        send(res, fault.status, restError(fault.status, "Moved."), { location: fault.location });
        return;
      case "huge-body":
        streamHugeBody(res, number, fault);
        return;
      case "status":
        send(res, fault.status, fault.body ?? restError(fault.status, STATUS_CODES[fault.status] ?? "Error"), fault.headers ?? {});
        return;
      case "graphql-error":
        send(
          res,
          200,
          JSON.stringify({
            data: { createCustomEvent: null },
            errors: [
              {
                message: fault.message ?? "Something went wrong while processing the request.",
                path: ["createCustomEvent"],
                ...(fault.code ? { extensions: { code: fault.code } } : {}),
              },
            ],
          }),
          {},
        );
        return;
      case "malformed":
        send(res, 200, '{"data": {"createCustomEvent": {"externalEventId": "', {});
        return;
      case "rate-limited": {
        const retryAfter = fault.retryAfter ?? (fault.retryAfterSeconds !== undefined ? String(fault.retryAfterSeconds) : undefined);
        send(res, 429, restError(429, "Too many requests."), {
          "x-ratelimit-remaining": 0,
          ...(retryAfter !== undefined ? { "retry-after": retryAfter } : {}),
          ...fault.headers,
        });
        return;
      }
    }
    const extraHeaders = fault?.kind === "ok-with-headers" ? fault.headers : {};

    const path = new URL(req.url ?? "/", "http://stand-in").pathname;
    const route = req.method === "POST" && path === "/v1/graphql" ? "graphql" : req.method === "GET" && path === "/v1/me" ? "me" : undefined;
    if (!route) {
      const known = path === "/v1/graphql" || path === "/v1/me";
      send(res, known ? 405 : 404, restError(known ? 405 : 404, known ? "Method not allowed." : "Not found."), {});
      return;
    }

    const apiKey = bearerKey(req);
    if (!apiKey) {
      send(res, 401, restError(401, "Unauthorized: the API key is missing or not valid."), {});
      return;
    }
    const { admitted, remaining } = admit(`${apiKey}\n${route}`, receivedAt);
    const rateHeaders = { "x-ratelimit-remaining": remaining, ...extraHeaders };
    if (!admitted) {
      send(res, 429, restError(429, "Too many requests."), rateHeaders);
      return;
    }

    if (route === "me") {
      send(
        res,
        200,
        JSON.stringify({
          companyName,
          attentiveDomainName: companyName.toLowerCase().replace(/[^a-z0-9]+/g, ""),
          applicationName: "Shopify order events",
          contactEmail: "owner@example.com",
        }),
        rateHeaders,
      );
      return;
    }

    if (!/^application\/json\b/i.test(req.headers["content-type"] ?? "")) {
      send(res, 415, JSON.stringify({ errors: [{ message: "Send the request as application/json." }] }), rateHeaders);
      return;
    }
    const result = runGraphQL(body, { apiKey, receivedAt, encoding, record: (event) => received.push(event) });
    send(res, result.status, JSON.stringify(result.body), rateHeaders);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      send(res, 500, restError(500, error instanceof Error ? error.message : "Internal error."), {});
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  const port = isAddressInfo(address) ? address.port : 0;
  const origin = `http://127.0.0.1:${port}`;

  return {
    graphqlUrl: `${origin}/v1/graphql`,
    origin,
    received,
    get requests() {
      return requests;
    },
    addKey(key) {
      keys.add(key);
    },
    injectFaults(...more) {
      faults.push(...more);
    },
    setFaultPlan(plan) {
      faultPlan = plan;
    },
    setLatency(ms) {
      latencyMs = ms;
    },
    requestLog,
    hugeAnswers,
    get hanging() {
      return hangingRequests.size;
    },
    dropHanging() {
      for (const drop of [...hangingRequests]) drop();
    },
    onRequest(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    waitForRequests(count, timeoutMs = 60_000) {
      if (requests >= count) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          listeners.delete(listener);
          reject(new Error(`the Attentive stand-in saw ${requests} requests, not ${count}, within ${timeoutMs} ms`));
        }, timeoutMs);
        const listener = () => {
          if (requests < count) return;
          clearTimeout(timer);
          listeners.delete(listener);
          resolve();
        };
        listeners.add(listener);
      });
    },
    reset() {
      received.length = 0;
      requestLog.length = 0;
      hugeAnswers.length = 0;
      requests = 0;
      faults = [];
      faultPlan = null;
      latencyMs = options.latencyMs ?? 0;
      windows = new Map();
    },
    close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const drop of [...hangingRequests]) drop();
      return new Promise((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}

const externalEventIdProbe = z.object({ variables: z.object({ input: z.object({ externalEventId: z.string() }) }) });

function externalEventIdOf(body: string): { externalEventId?: string } {
  try {
    const parsed = externalEventIdProbe.safeParse(JSON.parse(body));
    return parsed.success ? { externalEventId: parsed.data.variables.input.externalEventId } : {};
  } catch {
    return {};
  }
}

/** `text` as JSON \\u escapes, every character (what a JSON encoder set to escape everything writes). */
export function unicodeEscaped(text: string): string {
  return [...text].map((char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`).join("");
}

/**
 * A GraphQL answer (send it as a `status` fault's body) whose error echoes `apiKey` the ways a careless
 * service might: as it is, base64, URL-encoded, and JSON \\u-escaped in the raw text (so it decodes back
 * to the key), beside a customer's email and phone. None of it may reach a log or the delivery log.
 */
export function keyEchoingAnswer(apiKey: string, email: string, phone: string, code = "BAD_USER_INPUT"): string {
  const placeholder = "@@ESCAPED_KEY@@";
  const message = [
    `Invalid token ${apiKey}`,
    `Authorization: Basic ${Buffer.from(`${apiKey}:`).toString("base64")}`,
    `token=${encodeURIComponent(apiKey)}`,
    `key (base64) ${Buffer.from(apiKey).toString("base64")}`,
    `escaped ${placeholder}`,
    `user ${email} ${phone}`,
  ].join("; ");
  const text = JSON.stringify({ data: { createCustomEvent: null }, errors: [{ message, path: ["createCustomEvent"], extensions: { code } }] });
  return text.replace(placeholder, unicodeEscaped(apiKey));
}

function isAddressInfo(address: string | AddressInfo | null): address is AddressInfo {
  return typeof address === "object" && address !== null;
}

interface GraphQLHttpAnswer {
  status: number;
  body: { data?: unknown; errors?: GraphQLFormattedError[] };
}

function runGraphQL(text: string, context: ResolverContext): GraphQLHttpAnswer {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { status: 400, body: { errors: [{ message: "The request body is not valid JSON.", extensions: { code: "BAD_REQUEST" } }] } };
  }
  const request = requestBodySchema.safeParse(json);
  if (!request.success) {
    return {
      status: 400,
      body: { errors: [{ message: "The request body must be an object with a string `query`.", extensions: { code: "BAD_REQUEST" } }] },
    };
  }

  let document: DocumentNode;
  try {
    document = parse(request.data.query);
  } catch (error) {
    if (error instanceof GraphQLError) return { status: 200, body: { errors: [withCode(error, "GRAPHQL_PARSE_FAILED")] } };
    throw error;
  }
  const validationErrors = validate(schema, document);
  if (validationErrors.length > 0) {
    return { status: 200, body: { errors: validationErrors.map((error) => withCode(error, "GRAPHQL_VALIDATION_FAILED")) } };
  }

  // The resolver is synchronous, so execute() never returns a promise here.
  const result = execute({
    schema,
    document,
    rootValue,
    contextValue: context,
    variableValues: request.data.variables ?? undefined,
    operationName: request.data.operationName ?? undefined,
  });
  if (result instanceof Promise) throw new Error("The stand-in's resolvers must stay synchronous.");

  // No `data` means graphql-js stopped while coercing variables: the input does not fit the schema.
  const fallbackCode = result.data === undefined ? "BAD_USER_INPUT" : "INTERNAL_SERVER_ERROR";
  const errors = result.errors?.map((error) => withCode(error, fallbackCode));
  return { status: 200, body: { ...(result.data !== undefined ? { data: result.data } : {}), ...(errors ? { errors } : {}) } };
}

async function main() {
  const { values } = parseArgs({
    options: {
      port: { type: "string", default: "4010" },
      key: { type: "string", multiple: true },
      company: { type: "string" },
      encoding: { type: "string", default: "either" },
      "rate-limit": { type: "string" },
      latency: { type: "string" },
    },
  });
  const encodingChoice = z.enum(["object", "string", "either"]).parse(values.encoding);
  const standIn = await startAttentiveStandIn({
    port: Number(values.port),
    apiKeys: values.key ?? ["demo-key"],
    ...(values.company ? { companyName: values.company } : {}),
    propertiesEncoding: encodingChoice,
    ...(values["rate-limit"] ? { rateLimitPerSecond: Number(values["rate-limit"]) } : {}),
    ...(values.latency ? { latencyMs: Number(values.latency) } : {}),
  });
  console.log(`Attentive stand-in listening: ${standIn.graphqlUrl} (keys: ${(values.key ?? ["demo-key"]).join(", ")})`);
  const stop = () => {
    void standIn.close().then(() => process.exit(0));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
