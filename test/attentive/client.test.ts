import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  customEventRequestBody,
  sendCustomEvent,
  verifyApiKey,
  type AttentiveClientOptions,
  type CustomEventInput,
  type SendOutcome,
} from "~/attentive/client.server";
import { eventTypeProblem } from "~/attentive/rules";
import { startAttentiveStandIn, type AttentiveStandIn, type Fault } from "../stand-ins/attentive";

const KEY = "sk_test_client_7c1d2e";
const KEY_REJECTED = /Attentive rejected the API key\. .*custom app with the Custom Events permission set to Write/;

function event(overrides: Partial<CustomEventInput> = {}): CustomEventInput {
  return {
    type: "Order Shipped",
    properties: { orderName: "#1001", total: "19.99", items: [{ sku: "TEE-1", quantity: 2 }] },
    externalEventId: "37fb97a9-6cfd-4983-bd65-68d104d53b70",
    occurredAt: "2021-03-30T14:38:29+00:00",
    user: { email: "buyer@example.com", phone: "+13115552368", externalIdentifiers: { clientUserId: "gid://shopify/Customer/1" } },
    ...overrides,
  };
}

let standIn: AttentiveStandIn;
let options: AttentiveClientOptions;

beforeAll(async () => {
  standIn = await startAttentiveStandIn({ apiKeys: [KEY] });
  options = { apiUrl: standIn.graphqlUrl, timeoutMs: 2000, propertiesEncoding: "object" };
});
beforeEach(() => standIn.reset());
afterAll(() => standIn.close());

function failure(outcome: SendOutcome): Extract<SendOutcome, { ok: false }> {
  if (outcome.ok) throw new Error(`expected a failure, got success: ${outcome.responseBody}`);
  return outcome;
}

describe("customEventRequestBody", () => {
  it("sends the one named mutation with $input", () => {
    const body = customEventRequestBody(event(), "object");
    expect(body.query).toMatch(/mutation CreateCustomEvent\(\$input: CreateCustomEventInput!\)/);
    expect(body.query).toMatch(/createCustomEvent\(input: \$input\)\s*{\s*externalEventId\s+occurredAt\s+type\s*}/);
  });

  it("switches the encoding of properties and nothing else", () => {
    const input = event();
    const asObject = customEventRequestBody(input, "object");
    const asString = customEventRequestBody(input, "string");
    expect(asObject.variables.input).toMatchObject({ properties: input.properties });
    expect(asString.variables.input).toMatchObject({ properties: JSON.stringify(input.properties) });
    const withoutProperties = (input: unknown) => {
      const { properties: _properties, ...rest } = z.record(z.string(), z.unknown()).parse(input);
      return rest;
    };
    expect(asString.query).toBe(asObject.query);
    expect(withoutProperties(asString.variables.input)).toEqual(withoutProperties(asObject.variables.input));
  });

  it("leaves out user identifiers that are not given", () => {
    const body = customEventRequestBody(event({ user: { email: "only@example.com" } }), "object");
    expect(body.variables.input).toMatchObject({ user: { email: "only@example.com" } });
    expect(JSON.stringify(body.variables.input)).not.toMatch(/phone|externalIdentifiers/);
  });
});

describe("sendCustomEvent against the stand-in", () => {
  it("delivers a valid event, which Attentive records with exactly the input sent", async () => {
    const input = event();
    const outcome = await sendCustomEvent(KEY, input, options);

    expect(outcome).toMatchObject({ ok: true, httpStatus: 200, rateLimit: { limit: 150, remaining: 149 } });
    expect(outcome.ok && JSON.parse(outcome.responseBody)).toMatchObject({
      data: { createCustomEvent: { externalEventId: input.externalEventId, occurredAt: "2021-03-30T14:38:29Z", type: "Order Shipped" } },
    });
    expect(standIn.received).toHaveLength(1);
    expect(standIn.received[0]?.input).toEqual(customEventRequestBody(input, "object").variables.input);
    expect(standIn.received[0]?.properties).toEqual(input.properties);
    expect(standIn.received[0]?.apiKey).toBe(KEY);
  });

  it("puts on the wire exactly the body it reports, with the key only in the Bearer header", async () => {
    const seen: { body: unknown; authorization: string | null }[] = [];
    const watchingFetch: typeof fetch = async (resource, init) => {
      seen.push({ body: JSON.parse(String(init?.body)), authorization: new Headers(init?.headers).get("authorization") });
      return fetch(resource, init);
    };
    const input = event();
    const outcome = await sendCustomEvent(KEY, input, { ...options, propertiesEncoding: "string", fetch: watchingFetch });

    expect(outcome.ok).toBe(true);
    expect(seen).toEqual([{ body: customEventRequestBody(input, "string"), authorization: `Bearer ${KEY}` }]);
  });

  describe.each(["object", "string"] as const)("with propertiesEncoding %s", (encoding) => {
    const other = encoding === "object" ? "string" : "object";

    it(`is accepted by an Attentive that only takes ${encoding}`, async () => {
      const strict = await startAttentiveStandIn({ apiKeys: [KEY], propertiesEncoding: encoding });
      try {
        const input = event();
        const outcome = await sendCustomEvent(KEY, input, { ...options, apiUrl: strict.graphqlUrl, propertiesEncoding: encoding });
        expect(outcome.ok).toBe(true);
        expect(strict.received[0]?.input.properties).toEqual(encoding === "object" ? input.properties : JSON.stringify(input.properties));
        expect(strict.received[0]?.properties).toEqual(input.properties);
      } finally {
        await strict.close();
      }
    });

    it(`is refused, terminally, by an Attentive that only takes ${other}`, async () => {
      const strict = await startAttentiveStandIn({ apiKeys: [KEY], propertiesEncoding: other });
      try {
        const outcome = failure(await sendCustomEvent(KEY, event(), { ...options, apiUrl: strict.graphqlUrl, propertiesEncoding: encoding }));
        expect(outcome.kind).toBe("terminal");
        expect(outcome.reason).toMatch(/^Attentive refused the event: properties must be/);
        expect(strict.received).toHaveLength(0);
      } finally {
        await strict.close();
      }
    });
  });

  const faultCases: {
    name: string;
    fault: Fault;
    kind: "retryable" | "terminal";
    reason: RegExp;
    httpStatus?: number;
    retryAfterMs?: number;
  }[] = [
    { name: "HTTP 500", fault: { kind: "status", status: 500 }, kind: "retryable", reason: /server problem \(HTTP 500\): will retry/, httpStatus: 500 },
    {
      name: "HTTP 503 with Retry-After",
      fault: { kind: "status", status: 503, headers: { "retry-after": "3" } },
      kind: "retryable",
      reason: /HTTP 503/,
      httpStatus: 503,
      retryAfterMs: 3000,
    },
    { name: "HTTP 403", fault: { kind: "status", status: 403 }, kind: "terminal", reason: KEY_REJECTED, httpStatus: 403 },
    {
      name: "HTTP 400 with Attentive's message",
      fault: { kind: "status", status: 400, body: JSON.stringify({ error: { id: 4001, message: "Unsupported event source" } }) },
      kind: "terminal",
      reason: /^Attentive did not accept the event \(HTTP 400\): Unsupported event source\.$/,
      httpStatus: 400,
    },
    {
      name: "HTTP 422 with GraphQL-style errors",
      fault: { kind: "status", status: 422, body: JSON.stringify({ errors: [{ message: "Input rejected" }] }) },
      kind: "terminal",
      reason: /HTTP 422\): Input rejected\./,
      httpStatus: 422,
    },
    { name: "a refused connection", fault: { kind: "refuse" }, kind: "retryable", reason: /^Could not reach Attentive \(.+\): will retry\.$/ },
    {
      name: "a GraphQL error without a code",
      fault: { kind: "graphql-error", message: "Event type is archived" },
      kind: "terminal",
      reason: /^Attentive refused the event: Event type is archived\.$/,
      httpStatus: 200,
    },
    {
      name: "a GraphQL error coded BAD_USER_INPUT",
      fault: { kind: "graphql-error", code: "BAD_USER_INPUT", message: "Bad phone" },
      kind: "terminal",
      reason: /Bad phone/,
      httpStatus: 200,
    },
    ...["INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE", "RATE_LIMITED", "TIMEOUT"].map((code) => ({
      name: `a GraphQL error coded ${code}`,
      fault: { kind: "graphql-error" as const, code, message: "Try later" },
      kind: "retryable" as const,
      reason: new RegExp(`temporary problem \\(${code}\\)`),
      httpStatus: 200,
    })),
    {
      name: "a GraphQL error coded UNAUTHENTICATED",
      fault: { kind: "graphql-error", code: "UNAUTHENTICATED" },
      kind: "terminal",
      reason: KEY_REJECTED,
      httpStatus: 200,
    },
    { name: "malformed JSON", fault: { kind: "malformed" }, kind: "retryable", reason: /not a valid response/, httpStatus: 200 },
    {
      name: "HTTP 200 without data.createCustomEvent",
      fault: { kind: "status", status: 200, body: JSON.stringify({ data: {} }) },
      kind: "retryable",
      reason: /not a valid response/,
      httpStatus: 200,
    },
    {
      name: "HTTP 200 with an HTML page",
      fault: { kind: "status", status: 200, body: "<html>maintenance</html>", headers: { "content-type": "text/html" } },
      kind: "retryable",
      reason: /not a valid response/,
      httpStatus: 200,
    },
    {
      name: "HTTP 429 with Retry-After",
      fault: { kind: "rate-limited", retryAfterSeconds: 7 },
      kind: "retryable",
      reason: /too many requests.*HTTP 429/,
      httpStatus: 429,
      retryAfterMs: 7000,
    },
    { name: "HTTP 429 without Retry-After", fault: { kind: "rate-limited" }, kind: "retryable", reason: /HTTP 429/, httpStatus: 429 },
  ];

  it.each(faultCases)("classifies $name as $kind", async ({ fault, kind, reason, httpStatus, retryAfterMs }) => {
    standIn.injectFaults(fault);
    const outcome = failure(await sendCustomEvent(KEY, event(), options));
    expect(outcome.kind).toBe(kind);
    expect(outcome.reason).toMatch(reason);
    expect(outcome.httpStatus).toBe(httpStatus);
    expect(outcome.retryAfterMs).toBe(retryAfterMs);
    expect(standIn.received).toHaveLength(0);
  });

  it("reads a Retry-After given as an HTTP date", async () => {
    const at = new Date(Date.now() + 10_000);
    standIn.injectFaults({ kind: "status", status: 429, headers: { "retry-after": at.toUTCString() } });
    const outcome = failure(await sendCustomEvent(KEY, event(), options));
    expect(outcome.kind).toBe("retryable");
    // toUTCString drops milliseconds, so the delay can be up to a second short.
    expect(outcome.retryAfterMs).toBeGreaterThan(8000);
    expect(outcome.retryAfterMs).toBeLessThanOrEqual(10_000);
  });

  it("reports x-ratelimit-remaining: 0 from a rate-limited answer", async () => {
    standIn.injectFaults({ kind: "rate-limited" });
    const outcome = failure(await sendCustomEvent(KEY, event(), options));
    expect(outcome.rateLimit).toEqual({ limit: 150, remaining: 0 });
  });

  it("sends normally once the injected faults are used up", async () => {
    standIn.injectFaults({ kind: "status", status: 502 }, { kind: "malformed" });
    expect(failure(await sendCustomEvent(KEY, event(), options)).httpStatus).toBe(502);
    expect(failure(await sendCustomEvent(KEY, event(), options)).reason).toMatch(/not a valid response/);
    expect((await sendCustomEvent(KEY, event(), options)).ok).toBe(true);
    expect(standIn.received).toHaveLength(1);
  });

  it("gives up after timeoutMs and calls it retryable", async () => {
    standIn.injectFaults({ kind: "hang", ms: 2000 });
    const started = Date.now();
    const outcome = failure(await sendCustomEvent(KEY, event(), { ...options, timeoutMs: 100 }));
    expect(Date.now() - started).toBeLessThan(1000);
    expect(outcome).toMatchObject({ kind: "retryable", reason: "Attentive did not answer within 100 ms: will retry." });
    expect(outcome.httpStatus).toBeUndefined();
  });

  it("calls a connection refused retryable", async () => {
    const gone = await startAttentiveStandIn({ apiKeys: [KEY] });
    await gone.close();
    const outcome = failure(await sendCustomEvent(KEY, event(), { ...options, apiUrl: gone.graphqlUrl }));
    expect(outcome.kind).toBe("retryable");
    expect(outcome.reason).toMatch(/^Could not reach Attentive \(.*ECONNREFUSED.*\): will retry\.$/);
  });

  it("treats an unknown key as terminal and never repeats the key", async () => {
    const wrongKey = "sk_live_wrong_4f9a8b";
    const outcome = failure(await sendCustomEvent(wrongKey, event(), options));
    expect(outcome).toMatchObject({ kind: "terminal", httpStatus: 401 });
    expect(outcome.reason).toMatch(KEY_REJECTED);
    expect(JSON.stringify(outcome)).not.toContain(wrongKey);
    expect(standIn.received).toHaveLength(0);
  });

  it("keeps the key out of the reason and the stored body even when Attentive echoes it", async () => {
    standIn.injectFaults({ kind: "status", status: 400, body: JSON.stringify({ error: { id: 1, message: `Key ${KEY} lacks events:write` } }) });
    const outcome = failure(await sendCustomEvent(KEY, event(), options));
    expect(outcome.kind).toBe("terminal");
    expect(outcome.reason).toContain("lacks events:write");
    expect(JSON.stringify(outcome)).not.toContain(KEY);
  });

  it("refuses a key that cannot be a header value without sending anything", async () => {
    const badKey = "sk_live with space\n";
    const outcome = failure(await sendCustomEvent(badKey, event(), options));
    expect(outcome.kind).toBe("terminal");
    expect(outcome.reason).not.toContain("sk_live");
    expect(standIn.requests).toBe(0);
  });

  it.each(["object", "string"] as const)("reports properties that cannot be JSON as terminal without sending (%s)", async (encoding) => {
    const outcome = failure(await sendCustomEvent(KEY, event({ properties: { total: 10n } }), { ...options, propertiesEncoding: encoding }));
    expect(outcome.kind).toBe("terminal");
    expect(outcome.reason).toMatch(/^The event's properties cannot be written as JSON \(.*BigInt.*\): fix the mapping\.$/);
    expect(standIn.requests).toBe(0);
  });

  it("keeps at most 4 KB of a response body", async () => {
    standIn.injectFaults({ kind: "status", status: 500, body: "é".repeat(5000) });
    const outcome = failure(await sendCustomEvent(KEY, event(), options));
    const stored = outcome.responseBody ?? "";
    expect(new TextEncoder().encode(stored).length).toBeLessThanOrEqual(4096);
    expect(stored.length).toBeGreaterThan(1000);
    expect(stored).not.toContain("\uFFFD");
  });

  it("passes on Attentive's rule violations as terminal, in the rules' own words", async () => {
    const outcome = failure(await sendCustomEvent(KEY, event({ type: "Order, Shipped" }), options));
    expect(outcome.kind).toBe("terminal");
    expect(outcome.reason).toBe(`Attentive refused the event: ${eventTypeProblem("Order, Shipped")}`);
  });

  it("passes on a non-E.164 phone as terminal", async () => {
    const outcome = failure(await sendCustomEvent(KEY, event({ user: { phone: "(311) 555-2368" } }), options));
    expect(outcome.kind).toBe("terminal");
    expect(outcome.reason).toMatch(/E\.164/);
  });

  it("turns Attentive's own rate limit into a retryable 429", async () => {
    const limited = await startAttentiveStandIn({ apiKeys: [KEY], rateLimitPerSecond: 2 });
    try {
      const limitedOptions = { ...options, apiUrl: limited.graphqlUrl };
      const first = await sendCustomEvent(KEY, event(), limitedOptions);
      const second = await sendCustomEvent(KEY, event(), limitedOptions);
      const third = failure(await sendCustomEvent(KEY, event(), limitedOptions));
      expect(first).toMatchObject({ ok: true, rateLimit: { limit: 2, remaining: 1 } });
      expect(second).toMatchObject({ ok: true, rateLimit: { limit: 2, remaining: 0 } });
      expect(third).toMatchObject({ kind: "retryable", httpStatus: 429, rateLimit: { limit: 2, remaining: 0 } });
      expect(limited.received).toHaveLength(2);
    } finally {
      await limited.close();
    }
  });
});

describe("verifyApiKey", () => {
  it("returns the company and application of a known key", async () => {
    const named = await startAttentiveStandIn({ apiKeys: [KEY], companyName: "Acme Outfitters" });
    try {
      const check = await verifyApiKey(KEY, { apiUrl: named.graphqlUrl, timeoutMs: 2000 });
      expect(check).toEqual({ ok: true, companyName: "Acme Outfitters", applicationName: "Shopify order events" });
    } finally {
      await named.close();
    }
  });

  it("rejects an unknown key terminally without repeating it", async () => {
    const unknownKey = "sk_live_unknown_91aa";
    const check = await verifyApiKey(unknownKey, { apiUrl: standIn.graphqlUrl, timeoutMs: 2000 });
    expect(check).toMatchObject({ ok: false, kind: "terminal" });
    expect(!check.ok && check.reason).toMatch(KEY_REJECTED);
    expect(JSON.stringify(check)).not.toContain(unknownKey);
  });

  it("calls an unreachable or slow Attentive retryable", async () => {
    const gone = await startAttentiveStandIn({ apiKeys: [KEY] });
    await gone.close();
    expect(await verifyApiKey(KEY, { apiUrl: gone.graphqlUrl, timeoutMs: 2000 })).toMatchObject({
      ok: false,
      kind: "retryable",
      reason: expect.stringMatching(/^Could not reach Attentive/),
    });

    standIn.injectFaults({ kind: "hang", ms: 2000 });
    expect(await verifyApiKey(KEY, { apiUrl: standIn.graphqlUrl, timeoutMs: 100 })).toEqual({
      ok: false,
      kind: "retryable",
      reason: "Attentive did not answer within 100 ms: will retry.",
    });
  });

  it("calls an answer without a company name retryable", async () => {
    standIn.injectFaults({ kind: "status", status: 200, body: JSON.stringify({ hello: "world" }) });
    expect(await verifyApiKey(KEY, { apiUrl: standIn.graphqlUrl, timeoutMs: 2000 })).toMatchObject({
      ok: false,
      kind: "retryable",
      reason: expect.stringMatching(/not a valid response/),
    });
  });
});
