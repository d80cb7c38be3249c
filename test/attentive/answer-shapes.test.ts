/**
 * The client reads Attentive's answer itself (it used graphql-request 7 until issue 13): each shape of answer here
 * must end exactly as it did through graphql-request, status by status and body by body, and the request must be
 * the one graphql-request sent (the same headers, the body the delivery log keeps).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { customEventRequestBody, sendCustomEvent, type CustomEventInput, type SendOutcome } from "~/attentive/client.server";
import { startLocalServer, type LocalServer } from "./local-server";

const KEY = "sk_test_shapes_5b2a";
const INPUT: CustomEventInput = {
  type: "Order Shipped",
  properties: { orderName: "#1001" },
  externalEventId: "e-1",
  occurredAt: "2026-01-01T00:00:00Z",
  user: { email: "buyer@example.com" },
};
const OK_DATA = { createCustomEvent: { externalEventId: "e-1", occurredAt: "2026-01-01T00:00:00Z", type: "Order Shipped" } };
const NOT_VALID = "Attentive answered with something that is not a valid response: will retry.";

interface Shape {
  status: number;
  contentType?: string;
  body: string;
}
let next: Shape = { status: 200, body: "" };
let server: LocalServer;

beforeAll(async () => {
  server = await startLocalServer(({ res }) => {
    res.writeHead(next.status, next.contentType ? { "content-type": next.contentType } : {});
    res.end(next.body);
  });
});
afterAll(() => server.close());

async function send(shape: Shape): Promise<SendOutcome> {
  next = shape;
  return sendCustomEvent(KEY, INPUT, { apiUrl: server.graphqlUrl, timeoutMs: 5_000, propertiesEncoding: "object" });
}

function summary(outcome: SendOutcome): { ok: boolean; kind?: string; reason?: string; httpStatus?: number } {
  return outcome.ok ? { ok: true, httpStatus: outcome.httpStatus } : { ok: false, kind: outcome.kind, reason: outcome.reason, httpStatus: outcome.httpStatus! };
}

const json = "application/json";

describe("answers read as graphql-request read them", () => {
  it("sends graphql-request's request: its headers and {query, variables} alone", async () => {
    await send({ status: 200, contentType: json, body: JSON.stringify({ data: OK_DATA }) });
    const request = server.received.at(-1)!;
    expect(request.method).toBe("POST");
    expect(request.headers.accept).toBe("application/graphql-response+json, application/json");
    expect(request.headers["content-type"]).toBe("application/json");
    expect(request.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(request.body).toBe(JSON.stringify(customEventRequestBody(INPUT, "object")));
  });

  it.each<[string, Shape, ReturnType<typeof summary>]>([
    ["data", { status: 200, contentType: json, body: JSON.stringify({ data: OK_DATA }) }, { ok: true, httpStatus: 200 }],
    ["GraphQL's JSON type, any case", { status: 200, contentType: "Application/GraphQL-Response+JSON; charset=utf-8", body: JSON.stringify({ data: OK_DATA }) }, { ok: true, httpStatus: 200 }],
    ["data with an empty errors list", { status: 200, contentType: json, body: JSON.stringify({ data: OK_DATA, errors: [] }) }, { ok: true, httpStatus: 200 }],
    ["JSON without a JSON content type", { status: 200, contentType: "text/plain", body: JSON.stringify({ data: OK_DATA }) }, { ok: false, kind: "retryable", reason: NOT_VALID, httpStatus: 200 }],
    ["no content type", { status: 200, body: JSON.stringify({ data: OK_DATA }) }, { ok: false, kind: "retryable", reason: NOT_VALID, httpStatus: 200 }],
    ["text that is not JSON", { status: 200, contentType: json, body: "<html>hi</html>" }, { ok: false, kind: "retryable", reason: NOT_VALID, httpStatus: 200 }],
    ["a batch answer", { status: 200, contentType: json, body: JSON.stringify([{ data: OK_DATA }]) }, { ok: false, kind: "retryable", reason: NOT_VALID, httpStatus: 200 }],
    ["a JSON string", { status: 200, contentType: json, body: '"ok"' }, { ok: false, kind: "retryable", reason: NOT_VALID, httpStatus: 200 }],
    ["errors as a string", { status: 200, contentType: json, body: JSON.stringify({ data: OK_DATA, errors: "bad" }) }, { ok: false, kind: "retryable", reason: NOT_VALID, httpStatus: 200 }],
    ["errors as an object", { status: 200, contentType: json, body: JSON.stringify({ errors: { message: "bad" } }) }, { ok: false, kind: "retryable", reason: NOT_VALID, httpStatus: 200 }],
    ["data as a list", { status: 200, contentType: json, body: JSON.stringify({ data: [OK_DATA] }) }, { ok: false, kind: "retryable", reason: NOT_VALID, httpStatus: 200 }],
    ["extensions as a list", { status: 200, contentType: json, body: JSON.stringify({ data: OK_DATA, extensions: [] }) }, { ok: false, kind: "retryable", reason: NOT_VALID, httpStatus: 200 }],
    ["data null", { status: 200, contentType: json, body: JSON.stringify({ data: null }) }, { ok: false, kind: "retryable", reason: NOT_VALID, httpStatus: 200 }],
    [
      "an event error",
      { status: 200, contentType: json, body: JSON.stringify({ data: null, errors: [{ message: "Invalid type" }] }) },
      { ok: false, kind: "terminal", reason: "Attentive refused the event: Invalid type.", httpStatus: 200 },
    ],
    ["204, no body", { status: 204, contentType: json, body: "" }, { ok: false, kind: "retryable", reason: NOT_VALID, httpStatus: 204 }],
    [
      "a 500 with GraphQL errors: classified by its status",
      { status: 500, contentType: json, body: JSON.stringify({ errors: [{ message: "boom" }] }) },
      { ok: false, kind: "retryable", reason: "Attentive had a server problem (HTTP 500): will retry.", httpStatus: 500 },
    ],
    [
      "a 400 in HTML",
      { status: 400, contentType: "text/html", body: "Bad things" },
      { ok: false, kind: "terminal", reason: "Attentive did not accept the event (HTTP 400): Bad things.", httpStatus: 400 },
    ],
    [
      "a 429 without a body",
      { status: 429, body: "" },
      { ok: false, kind: "retryable", reason: "Attentive is receiving too many requests for this API key (HTTP 429): will retry more slowly.", httpStatus: 429 },
    ],
  ])("%s", async (_name, shape, expected) => {
    expect(summary(await send(shape))).toEqual(expected);
  });
});
