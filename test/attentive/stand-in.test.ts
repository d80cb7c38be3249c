/**
 * The stand-in is only useful if it refuses what Attentive refuses, so these tests speak raw HTTP
 * to it, without our client smoothing anything over.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { request as httpRequest } from "node:http";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { eventTypeProblem, propertyKeyProblem } from "~/attentive/rules";
import { keyEchoingAnswer, startAttentiveStandIn, unicodeEscaped, type AttentiveStandIn } from "../stand-ins/attentive";

const KEY = "stand-in-test-key";
const MUTATION = `mutation Send($input: CreateCustomEventInput!) {
  createCustomEvent(input: $input) { externalEventId occurredAt type properties user { email phone } }
}`;

const answerSchema = z.object({
  data: z.record(z.string(), z.unknown()).nullish(),
  errors: z
    .array(z.object({ message: z.string(), extensions: z.object({ code: z.string() }).optional() }))
    .optional(),
});

interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

function validInput(): Record<string, unknown> {
  return {
    type: "Order Shipped",
    properties: { orderName: "#1001", lineItems: [{ title: "Tee", quantity: 1 }] },
    externalEventId: "8d6f0c1e-5d44-4a53-9a43-3c1fb4a6d1f0",
    occurredAt: "2021-03-30T16:38:29.250+02:00",
    user: { email: "buyer@example.com", phone: "+13115552368" },
  };
}

async function post(target: AttentiveStandIn, body: unknown, init: { key?: string | null; contentType?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = { "content-type": init.contentType ?? "application/json" };
  const key = init.key === undefined ? KEY : init.key;
  if (key !== null) headers.authorization = `Bearer ${key}`;
  const response = await fetch(target.graphqlUrl, {
    method: "POST",
    headers,
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

/** `key` null sends no Authorization header at all. */
function mutate(target: AttentiveStandIn, input: unknown, key?: string | null): Promise<Answer> {
  return post(target, { query: MUTATION, variables: { input } }, { key });
}

function graphQLAnswer(answer: Answer) {
  return answerSchema.parse(JSON.parse(answer.text));
}

async function getMe(target: AttentiveStandIn, key: string): Promise<Answer> {
  const response = await fetch(`${target.origin}/v1/me`, { headers: { authorization: `Bearer ${key}` } });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

let standIn: AttentiveStandIn;
beforeAll(async () => {
  standIn = await startAttentiveStandIn({ apiKeys: [KEY], companyName: "Acme Outfitters" });
});
beforeEach(() => standIn.reset());
afterAll(() => standIn.close());

describe("accepting events", () => {
  it("answers like Attentive and records the exact input, key and arrival time", async () => {
    const before = Date.now();
    const answer = await mutate(standIn, validInput());

    expect(answer.status).toBe(200);
    expect(graphQLAnswer(answer)).toEqual({
      data: {
        createCustomEvent: {
          externalEventId: "8d6f0c1e-5d44-4a53-9a43-3c1fb4a6d1f0",
          occurredAt: "2021-03-30T14:38:29.250Z",
          type: "Order Shipped",
          properties: validInput().properties,
          user: { email: "buyer@example.com", phone: "+13115552368" },
        },
      },
    });
    expect(standIn.received).toHaveLength(1);
    const [event] = standIn.received;
    expect(event?.input).toEqual(validInput());
    expect(event?.properties).toEqual(validInput().properties);
    expect(event?.apiKey).toBe(KEY);
    expect(event?.receivedAt).toBeGreaterThanOrEqual(before);
    expect(event?.receivedAt).toBeLessThanOrEqual(Date.now());
  });

  it("takes the seed document's example as it is, properties as a JSON string", async () => {
    const seedInput = {
      externalEventId: "37fb97a9-6cfd-4983-bd65-68d104d53b70",
      occurredAt: "2021-03-30T14:38:29+00:00",
      properties: '{ "customKey":"customValue" }',
      type: "Order Shipped",
      user: {
        email: "test@gmail.com",
        phone: "+13115552368",
        externalIdentifiers: {
          clientUserId: "c60b3f4e-ec73-4ff0-be4b-6a0fce825e89",
          customIdentifiers: [{ name: "customIdentifierName", value: "customIdentifierValue" }],
        },
      },
    };
    const answer = await post(standIn, {
      query: `mutation createCustom($customEventInput: CreateCustomEventInput!) {
        createCustomEvent(input: $customEventInput) { externalEventId occurredAt properties type }
      }`,
      variables: { customEventInput: seedInput },
    });
    expect(graphQLAnswer(answer).data).toEqual({
      createCustomEvent: {
        externalEventId: seedInput.externalEventId,
        occurredAt: "2021-03-30T14:38:29Z",
        properties: seedInput.properties,
        type: "Order Shipped",
      },
    });
    expect(standIn.received[0]?.input).toEqual(seedInput);
    expect(standIn.received[0]?.properties).toEqual({ customKey: "customValue" });
  });

  it("accepts an input written inline in the document, and checks its DateTime literal too", async () => {
    const inline = (occurredAt: string) => ({
      query: `mutation { createCustomEvent(input: {
        type: "Order Paid", properties: { total: "10.00" }, occurredAt: "${occurredAt}", user: { email: "a@example.com" }
      }) { type occurredAt } }`,
    });
    expect(graphQLAnswer(await post(standIn, inline("2024-01-02T03:04:05Z"))).data).toEqual({
      createCustomEvent: { type: "Order Paid", occurredAt: "2024-01-02T03:04:05Z" },
    });
    expect(standIn.received[0]?.properties).toEqual({ total: "10.00" });

    const refused = graphQLAnswer(await post(standIn, inline("2024-01-02 03:04:05")));
    expect(refused.errors?.[0]?.message).toMatch(/RFC 3339 timestamp with a time-zone offset/);
    expect(standIn.received).toHaveLength(1);
  });

  it("fills in externalEventId and occurredAt when they are left out", async () => {
    const { externalEventId: _id, occurredAt: _at, ...input } = validInput();
    const data = graphQLAnswer(await mutate(standIn, input)).data;
    const payload = z.object({ createCustomEvent: z.object({ externalEventId: z.string(), occurredAt: z.string() }) }).parse(data);
    expect(payload.createCustomEvent.externalEventId).toMatch(/^[0-9a-f-]{36}$/);
    expect(Math.abs(Date.parse(payload.createCustomEvent.occurredAt) - Date.now())).toBeLessThan(5000);
  });
});

describe("refusing what Attentive refuses", () => {
  const withInput = (change: (input: Record<string, unknown>) => void) => {
    const input = validInput();
    change(input);
    return input;
  };

  const cases: { name: string; input: Record<string, unknown>; message: string | RegExp }[] = [
    { name: "a double quote in the event type", input: withInput((i) => (i.type = 'Order "Shipped"')), message: eventTypeProblem('Order "Shipped"') ?? "" },
    { name: "a parenthesis in the event type", input: withInput((i) => (i.type = "Order (shipped)")), message: eventTypeProblem("Order (shipped)") ?? "" },
    { name: "an empty event type", input: withInput((i) => (i.type = "  ")), message: eventTypeProblem("  ") ?? "" },
    { name: "a pipe in a property key", input: withInput((i) => (i.properties = { "a|b": 1 })), message: propertyKeyProblem("a|b") ?? "" },
    {
      name: "a comma in a nested property key",
      input: withInput((i) => (i.properties = { items: [{ "size,color": "M" }] })),
      message: propertyKeyProblem("size,color") ?? "",
    },
    {
      name: "a forbidden character in a key of properties sent as a string",
      input: withInput((i) => (i.properties = JSON.stringify({ "x[0]": 1 }))),
      message: propertyKeyProblem("x[0]") ?? "",
    },
    { name: "a phone that is not E.164", input: withInput((i) => (i.user = { phone: "311-555-2368" })), message: /"311-555-2368" is not in E\.164/ },
    { name: "an E.164 phone without the plus", input: withInput((i) => (i.user = { phone: "13115552368" })), message: /E\.164/ },
    { name: "an empty user", input: withInput((i) => (i.user = {})), message: /at least one non-empty identifier/ },
    {
      name: "a user made of empty strings",
      input: withInput((i) => (i.user = { email: "", externalIdentifiers: { clientUserId: " " } })),
      message: /at least one non-empty identifier/,
    },
    { name: "a DateTime without offset", input: withInput((i) => (i.occurredAt = "2021-03-30T14:38:29")), message: /RFC 3339 timestamp with a time-zone offset/ },
    { name: "a date-only DateTime", input: withInput((i) => (i.occurredAt = "2021-03-30")), message: /RFC 3339/ },
    { name: "an impossible date", input: withInput((i) => (i.occurredAt = "2021-02-30T10:00:00Z")), message: /RFC 3339/ },
    { name: "a DateTime given as a number", input: withInput((i) => (i.occurredAt = 1617115109000)), message: /RFC 3339/ },
    { name: "an unknown input field", input: withInput((i) => (i.eventName = "Order Shipped")), message: /Field "eventName" is not defined by type "CreateCustomEventInput"/ },
    { name: "an unknown user field", input: withInput((i) => (i.user = { mail: "a@example.com" })), message: /Field "mail" is not defined by type "EventUserInput"/ },
    { name: "missing properties", input: withInput((i) => delete i.properties), message: /Field "properties" of required type "JSON!" was not provided/ },
    { name: "properties that are a list", input: withInput((i) => (i.properties = [1, 2])), message: "properties must be a JSON object." },
    { name: "properties holding a JSON list", input: withInput((i) => (i.properties = "[1,2]")), message: /does not hold a JSON object/ },
    { name: "properties that are broken JSON", input: withInput((i) => (i.properties = "{oops")), message: /not valid JSON/ },
  ];

  it.each(cases)("refuses $name with BAD_USER_INPUT in an HTTP 200", async ({ input, message }) => {
    const answer = await mutate(standIn, input);
    expect(answer.status).toBe(200);
    const { data, errors } = graphQLAnswer(answer);
    expect(data?.createCustomEvent ?? null).toBeNull();
    expect(errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    if (typeof message === "string") expect(errors?.[0]?.message).toContain(message);
    else expect(errors?.[0]?.message).toMatch(message);
    expect(standIn.received).toHaveLength(0);
  });

  it("reports every problem of an event at once", async () => {
    const { errors } = graphQLAnswer(await mutate(standIn, withInput((i) => ((i.type = "a,b"), (i.user = { phone: "12" })))));
    expect(errors?.[0]?.message).toContain(eventTypeProblem("a,b"));
    expect(errors?.[0]?.message).toMatch(/E\.164/);
  });

  it("refuses a document that does not parse or does not fit the schema", async () => {
    const broken = graphQLAnswer(await post(standIn, { query: "mutation { createCustomEvent(" }));
    expect(broken.errors?.[0]?.extensions?.code).toBe("GRAPHQL_PARSE_FAILED");

    const unknownSelection = graphQLAnswer(
      await post(standIn, { query: MUTATION.replace("externalEventId", "eventId"), variables: { input: validInput() } }),
    );
    expect(unknownSelection.errors?.[0]).toMatchObject({
      message: expect.stringContaining('Cannot query field "eventId"'),
      extensions: { code: "GRAPHQL_VALIDATION_FAILED" },
    });

    const wrongVariableType = graphQLAnswer(
      await post(standIn, { query: MUTATION.replace("CreateCustomEventInput!", "CreateCustomEventInput"), variables: { input: validInput() } }),
    );
    expect(wrongVariableType.errors?.[0]?.extensions?.code).toBe("GRAPHQL_VALIDATION_FAILED");
    expect(standIn.received).toHaveLength(0);
  });

  it("refuses a body that is not JSON, or not sent as JSON", async () => {
    const notJson = await post(standIn, "query=mutation");
    expect(notJson.status).toBe(400);
    const wrongType = await post(standIn, { query: MUTATION, variables: { input: validInput() } }, { contentType: "text/plain" });
    expect(wrongType.status).toBe(415);
    expect(standIn.received).toHaveLength(0);
  });
});

describe("properties encodings", () => {
  const asString = () => ({ ...validInput(), properties: JSON.stringify(validInput().properties) });

  it.each([
    { encoding: "object" as const, objectOk: true, stringOk: false },
    { encoding: "string" as const, objectOk: false, stringOk: true },
    { encoding: "either" as const, objectOk: true, stringOk: true },
  ])("with propertiesEncoding $encoding: object accepted $objectOk, string accepted $stringOk", async ({ encoding, objectOk, stringOk }) => {
    const strict = await startAttentiveStandIn({ apiKeys: [KEY], propertiesEncoding: encoding });
    try {
      const objectAnswer = graphQLAnswer(await mutate(strict, validInput()));
      const stringAnswer = graphQLAnswer(await mutate(strict, asString()));
      expect(objectAnswer.errors === undefined).toBe(objectOk);
      expect(stringAnswer.errors === undefined).toBe(stringOk);
      expect(strict.received).toHaveLength(Number(objectOk) + Number(stringOk));
      for (const event of strict.received) expect(event.properties).toEqual(validInput().properties);
    } finally {
      await strict.close();
    }
  });
});

describe("authentication", () => {
  it.each([
    { name: "no Authorization header", key: null },
    { name: "an unknown key", key: "not-a-known-key" },
  ])("answers 401 with a JSON error for $name", async ({ key }) => {
    const answer = await mutate(standIn, validInput(), key);
    expect(answer.status).toBe(401);
    expect(JSON.parse(answer.text)).toMatchObject({ error: { message: expect.stringMatching(/API key/) } });
    expect(standIn.received).toHaveLength(0);
  });

  it("refuses a key sent without the Bearer scheme", async () => {
    const response = await fetch(standIn.graphqlUrl, {
      method: "POST",
      headers: { authorization: KEY, "content-type": "application/json" },
      body: JSON.stringify({ query: MUTATION, variables: { input: validInput() } }),
    });
    expect(response.status).toBe(401);
  });

  it("accepts a key once it is added", async () => {
    expect((await mutate(standIn, validInput(), "added-later")).status).toBe(401);
    standIn.addKey("added-later");
    expect((await mutate(standIn, validInput(), "added-later")).status).toBe(200);
    expect(standIn.received.map((event) => event.apiKey)).toEqual(["added-later"]);
  });

  it("describes the account behind a known key on GET /v1/me", async () => {
    const me = await getMe(standIn, KEY);
    expect(me.status).toBe(200);
    expect(JSON.parse(me.text)).toEqual({
      companyName: "Acme Outfitters",
      attentiveDomainName: expect.any(String),
      applicationName: expect.any(String),
      contactEmail: expect.stringContaining("@"),
    });
    expect((await getMe(standIn, "nope")).status).toBe(401);
  });
});

describe("rate limiting", () => {
  it("answers 429 past the per-second limit, per key and endpoint, with the headers on every answer", async () => {
    const limited = await startAttentiveStandIn({ apiKeys: [KEY, "other-key"], rateLimitPerSecond: 3 });
    try {
      const answers = [];
      for (let i = 0; i < 4; i += 1) answers.push(await mutate(limited, validInput()));
      expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 429]);
      expect(answers.map((answer) => answer.headers.get("x-ratelimit-remaining"))).toEqual(["2", "1", "0", "0"]);
      expect(answers.every((answer) => answer.headers.get("x-ratelimit-limit") === "3")).toBe(true);
      expect(limited.received).toHaveLength(3);

      expect((await mutate(limited, validInput(), "other-key")).status).toBe(200);
      expect((await getMe(limited, KEY)).status).toBe(200);

      limited.reset();
      expect((await mutate(limited, validInput())).status).toBe(200);
    } finally {
      await limited.close();
    }
  });

  it("puts the rate-limit headers on refusals and injected faults too", async () => {
    standIn.injectFaults({ kind: "status", status: 500 });
    const answers = [await mutate(standIn, validInput()), await mutate(standIn, validInput(), "wrong"), await getMe(standIn, "wrong")];
    const notFound = await fetch(`${standIn.origin}/v2/nothing`);
    for (const headers of [...answers.map((answer) => answer.headers), notFound.headers]) {
      expect(headers.get("x-ratelimit-limit")).toBe("150");
      expect(headers.get("x-ratelimit-remaining")).toMatch(/^\d+$/);
    }
  });
});

describe("faults", () => {
  it("applies injected faults to the next requests in order, then behaves normally", async () => {
    standIn.injectFaults(
      { kind: "status", status: 503, body: "down", headers: { "retry-after": "2" } },
      { kind: "graphql-error", code: "INTERNAL_SERVER_ERROR", message: "boom" },
      { kind: "malformed" },
      { kind: "rate-limited", retryAfterSeconds: 4 },
    );
    const first = await mutate(standIn, validInput());
    expect([first.status, first.text, first.headers.get("retry-after")]).toEqual([503, "down", "2"]);

    const second = await mutate(standIn, validInput());
    expect(second.status).toBe(200);
    expect(graphQLAnswer(second).errors).toEqual([{ message: "boom", extensions: { code: "INTERNAL_SERVER_ERROR" } }]);

    const third = await mutate(standIn, validInput());
    expect(third.status).toBe(200);
    expect(() => JSON.parse(third.text)).toThrow();

    const fourth = await mutate(standIn, validInput());
    expect([fourth.status, fourth.headers.get("retry-after"), fourth.headers.get("x-ratelimit-remaining")]).toEqual([429, "4", "0"]);

    expect(standIn.received).toHaveLength(0);
    expect((await mutate(standIn, validInput())).status).toBe(200);
    expect(standIn.received).toHaveLength(1);
    expect(standIn.requests).toBe(5);
  });

  it("drops the connection for a refuse fault", async () => {
    standIn.injectFaults({ kind: "refuse" });
    await expect(mutate(standIn, validInput())).rejects.toThrow(/fetch failed/);
    expect(standIn.requests).toBe(1);
    expect(standIn.received).toHaveLength(0);
  });

  it("does not process a request its client gave up on during a hang", async () => {
    standIn.injectFaults({ kind: "hang", ms: 300 });
    await expect(
      fetch(standIn.graphqlUrl, {
        method: "POST",
        headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ query: MUTATION, variables: { input: validInput() } }),
        signal: AbortSignal.timeout(50),
      }),
    ).rejects.toThrow();
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(standIn.requests).toBe(1);
    expect(standIn.received).toHaveLength(0);
  });

  it("answers normally after a hang its client waited out", async () => {
    standIn.injectFaults({ kind: "hang", ms: 150 });
    const started = Date.now();
    expect((await mutate(standIn, validInput())).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(standIn.received).toHaveLength(1);
  });

  it("adds the configured latency to every answer until reset", async () => {
    standIn.setLatency(120);
    let started = Date.now();
    await getMe(standIn, KEY);
    expect(Date.now() - started).toBeGreaterThanOrEqual(110);
    standIn.reset();
    started = Date.now();
    await getMe(standIn, KEY);
    expect(Date.now() - started).toBeLessThan(100);
  });
});

describe("misbehaving the way real services do (the production-server suites)", () => {
  function rawMutation(signal?: AbortSignal) {
    return fetch(standIn.graphqlUrl, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ query: MUTATION, variables: { input: validInput() } }),
      ...(signal ? { signal } : {}),
    });
  }

  it("resets the connection for a reset fault", async () => {
    standIn.injectFaults({ kind: "reset" });
    await expect(mutate(standIn, validInput())).rejects.toThrow(/fetch failed/);
    expect(standIn.received).toHaveLength(0);
    expect(standIn.requestLog.map((request) => request.fault)).toEqual(["reset"]);
  });

  it("hangs without end until the client hangs up, processing nothing", async () => {
    standIn.injectFaults({ kind: "hang" });
    const controller = new AbortController();
    const sending = rawMutation(controller.signal);
    await standIn.waitForRequests(1, 5_000);
    expect(standIn.hanging).toBe(1);
    controller.abort();
    await expect(sending).rejects.toThrow();
    await expect.poll(() => standIn.hanging).toBe(0);
    expect(standIn.received).toHaveLength(0);
  });

  it("drops what hangs on dropHanging(), unprocessed", async () => {
    standIn.injectFaults({ kind: "hang" }, { kind: "hang" });
    const sending = [rawMutation(), rawMutation()];
    await standIn.waitForRequests(2, 5_000);
    standIn.dropHanging();
    const settled = await Promise.allSettled(sending);
    expect(settled.map((result) => result.status)).toEqual(["rejected", "rejected"]);
    expect(standIn.hanging).toBe(0);
    expect(standIn.received).toHaveLength(0);
  });

  it.each([301, 302, 307, 308] as const)("redirects with %i to the given location", async (status) => {
    standIn.injectFaults({ kind: "redirect", status, location: "http://127.0.0.1:9/elsewhere" });
    const response = await fetch(standIn.graphqlUrl, { method: "POST", redirect: "manual", body: "{}" });
    expect([response.status, response.headers.get("location")]).toEqual([status, "http://127.0.0.1:9/elsewhere"]);
    expect(standIn.received).toHaveLength(0);
  });

  it("streams a huge answer and records how much it wrote before the client hung up", async () => {
    const bytes = 64 * 1024 * 1024;
    standIn.injectFaults({ kind: "huge-body", bytes });
    // node:http rather than fetch: hanging up mid-body must close the socket at once.
    const read = await new Promise<{ length: string | undefined; read: number }>((resolve, reject) => {
      const req = httpRequest(standIn.graphqlUrl, { method: "POST", headers: { "content-type": "application/json" } }, (res) => {
        let received = 0;
        res.on("data", (chunk: Buffer) => {
          received += chunk.length;
          if (received >= 1024 * 1024) {
            res.destroy();
            resolve({ length: res.headers["content-length"], read: received });
          }
        });
      });
      req.on("error", reject);
      req.end("{}");
    });
    expect(read.length).toBe(String(bytes));
    const [answer] = standIn.hugeAnswers;
    await answer!.finished;
    expect(answer!.abandoned).toBe(true);
    expect(answer!.bytesWritten).toBeGreaterThanOrEqual(read.read);
    expect(answer!.bytesWritten).toBeLessThan(bytes);
  });

  it("writes the whole huge answer to a client that reads it all", async () => {
    standIn.injectFaults({ kind: "huge-body", bytes: 300_000 });
    const text = await (await rawMutation()).text();
    expect(text).toHaveLength(300_000);
    expect(text.startsWith('{"data":{"createCustomEvent":')).toBe(true);
    await standIn.hugeAnswers[0]!.finished;
    expect(standIn.hugeAnswers[0]).toMatchObject({ bytesWritten: 300_000, abandoned: false });
  });

  it("sends absurd or malformed Retry-After and rate-limit headers as they are", async () => {
    standIn.injectFaults(
      { kind: "rate-limited", retryAfter: "1e20", headers: { "x-ratelimit-limit": "garbage" } },
      { kind: "ok-with-headers", headers: { "x-ratelimit-limit": "1000000000" } },
    );
    const limited = await mutate(standIn, validInput());
    expect([limited.status, limited.headers.get("retry-after"), limited.headers.get("x-ratelimit-limit")]).toEqual([429, "1e20", "garbage"]);
    const accepted = await mutate(standIn, validInput());
    expect([accepted.status, accepted.headers.get("x-ratelimit-limit")]).toEqual([200, "1000000000"]);
    expect(standIn.received).toHaveLength(1);
  });

  it("echoes the key raw, base64, URL-encoded and \\u-escaped (decoding back to the key) in an error answer", async () => {
    const key = "k+y/=~1";
    const text = keyEchoingAnswer(key, "jon@example.com", "+13115552368");
    expect(text).toContain(key);
    expect(text).toContain(Buffer.from(key).toString("base64"));
    expect(text).toContain(encodeURIComponent(key));
    expect(text).toContain(unicodeEscaped(key));
    const message = answerSchema.parse(JSON.parse(text)).errors?.[0]?.message ?? "";
    expect(message.split(key).length - 1).toBe(2); // raw, and the \\u form decoded
    expect(message).toContain("jon@example.com");
  });

  it("logs every request and tells when they arrive", async () => {
    const seen: number[] = [];
    const stop = standIn.onRequest((request) => seen.push(request.number));
    const waiting = standIn.waitForRequests(2, 5_000);
    await mutate(standIn, validInput());
    await getMe(standIn, KEY);
    await waiting;
    stop();
    expect(seen).toEqual([1, 2]);
    expect(standIn.requestLog.map((request) => [request.method, request.path, request.externalEventId])).toEqual([
      ["POST", "/v1/graphql", validInput().externalEventId],
      ["GET", "/v1/me", undefined],
    ]);
    await expect(standIn.waitForRequests(3, 50)).rejects.toThrow(/saw 2 requests/);
  });
});

describe("running on its own", () => {
  it("starts from the command line, prints its URL and serves the given key", async () => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "test/stand-ins/attentive.ts", "--port", "0", "--key", "cli-key", "--company", "CLI Co"],
      { cwd: process.cwd(), stdio: ["ignore", "pipe", "inherit"] },
    );
    try {
      const lines = createInterface({ input: child.stdout });
      const [line] = await Promise.race([
        once(lines, "line"),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error("the stand-in printed nothing")), 10_000)),
      ]);
      const url = String(line).match(/http:\/\/127\.0\.0\.1:\d+\/v1\/graphql/)?.[0];
      expect(url).toBeDefined();
      const me = await fetch(new URL("/v1/me", url), { headers: { authorization: "Bearer cli-key" } });
      expect(await me.json()).toMatchObject({ companyName: "CLI Co" });
    } finally {
      child.kill("SIGTERM");
      await once(child, "exit");
    }
  });
});
