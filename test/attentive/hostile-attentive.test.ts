/**
 * Attentive (or whatever answers at ATTENTIVE_API_URL) misbehaving the ways real services do, over real HTTP on
 * 127.0.0.1: redirects, huge answers, absurd headers, echoes of the key and the customer. With Node's own fetch
 * installed; polyfill.test.ts runs the deadline cases under Remix's polyfill.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  MAX_REASON_CHARACTERS,
  MAX_RETRY_AFTER_MS,
  MAX_STORED_BODY_BYTES,
  sendCustomEvent,
  verifyApiKey,
  type AttentiveClientOptions,
} from "~/attentive/client.server";
import { describeDeadlines, event, failure, KEY } from "./deadline-cases";
import { eventAnswer, startLocalServer, type Answer, type LocalServer } from "./local-server";
import { fakeAdminApi } from "../stand-ins/shopify-admin";

// The setup file's Admin API fake (MSW) sits in front of fetch for every file; production has no such layer, and
// this file makes no Admin API call.
fakeAdminApi.close();

describeDeadlines("Node's own fetch");

let answer: Answer = () => undefined;
let attentive: LocalServer;
let elsewhere: LocalServer;
let options: AttentiveClientOptions;

beforeAll(async () => {
  attentive = await startLocalServer((arrival) => answer(arrival));
  elsewhere = await startLocalServer(({ res }) => res.writeHead(200, { "content-type": "application/json" }).end(eventAnswer(event().externalEventId)));
  options = { apiUrl: attentive.graphqlUrl, timeoutMs: 5_000, propertiesEncoding: "object" };
});
afterAll(async () => {
  await attentive.close();
  await elsewhere.close();
});
beforeEach(() => {
  attentive.received.length = 0;
  elsewhere.received.length = 0;
});

describe("redirects", () => {
  describe.each([301, 302, 307, 308])("HTTP %i to another host", (status) => {
    beforeEach(() => {
      answer = ({ res }) => res.writeHead(status, { location: `${elsewhere.origin}/v1/graphql?from=attentive` }).end("moved");
    });

    it("is a terminal failure that names the host, and nothing reaches that host", async () => {
      const outcome = failure(await sendCustomEvent(KEY, event(), options));
      expect(outcome).toMatchObject({ kind: "terminal", httpStatus: status });
      expect(outcome.reason).toBe(
        `Attentive answered with a redirect (HTTP ${status}) to ${new URL(elsewhere.origin).host}: not followed, so the API key is not sent elsewhere. ` +
          `Check ATTENTIVE_API_URL (${options.apiUrl}): it must be Attentive's API address, https://api.attentivemobile.com/v1/graphql.`,
      );
      expect(attentive.received).toHaveLength(1);
      expect(elsewhere.received).toEqual([]);
    });

    it("stops the key check the same way", async () => {
      const check = await verifyApiKey(KEY, { apiUrl: options.apiUrl, timeoutMs: 5_000 });
      expect(check).toMatchObject({ ok: false, kind: "terminal", reason: expect.stringMatching(new RegExp(`^Attentive answered with a redirect \\(HTTP ${status}\\) to 127\\.0\\.0\\.1:\\d+: not followed`)) });
      expect(attentive.received.map((request) => request.path)).toEqual(["/v1/me"]);
      expect(elsewhere.received).toEqual([]);
      expect(elsewhere.received.some((request) => request.headers.authorization !== undefined)).toBe(false);
    });
  });

  it("says so when the redirect names no target", async () => {
    answer = ({ res }) => res.writeHead(302).end();
    const outcome = failure(await sendCustomEvent(KEY, event(), options));
    expect(outcome.kind).toBe("terminal");
    expect(outcome.reason).toMatch(/^Attentive answered with a redirect \(HTTP 302\) without saying where to: not followed/);
  });
});

describe("huge answers", () => {
  const TOTAL = 100 * 1024 * 1024;
  const CHUNK = Buffer.alloc(64 * 1024, "x");

  /** Streams TOTAL bytes with backpressure; resolves with how much was written when the client hung up. */
  function streamHugeAnswer(status: number, headers: Record<string, string>): Promise<{ written: number; finished: boolean }> {
    return new Promise((resolve) => {
      answer = ({ res }) => {
        let written = 0;
        res.writeHead(status, headers);
        res.on("close", () => resolve({ written, finished: written >= TOTAL }));
        const pump = () => {
          while (written < TOTAL && !res.destroyed) {
            written += CHUNK.length;
            if (!res.write(CHUNK)) return void res.once("drain", pump);
          }
          if (written >= TOTAL) res.end();
        };
        pump();
      };
    });
  }

  it("stops reading a 100 MB answer past 256 KB, hangs up, and retries", async () => {
    const served = streamHugeAnswer(200, { "content-type": "application/json" });
    const outcome = failure(await sendCustomEvent(KEY, event(), options));
    const { written, finished } = await served;
    expect(outcome).toMatchObject({ kind: "retryable", httpStatus: 200 });
    expect(outcome.reason).toBe("Attentive's answer was larger than 256 KB, far more than any answer to an event: stopped reading it; will retry.");
    expect(finished).toBe(false);
    // What the kernel's socket buffers hold, not the answer: far from 100 MB.
    expect(written).toBeLessThan(TOTAL / 5);
    expect(new TextEncoder().encode(outcome.responseBody ?? "").length).toBeLessThanOrEqual(MAX_STORED_BODY_BYTES);
  });

  it("classifies a huge error page by its status (HTTP 503: retryable) without reading it", async () => {
    const served = streamHugeAnswer(503, { "content-type": "text/html", "retry-after": "30" });
    const outcome = failure(await sendCustomEvent(KEY, event(), options));
    expect((await served).finished).toBe(false);
    expect(outcome).toMatchObject({ kind: "retryable", httpStatus: 503, retryAfterMs: 30_000 });
    expect(outcome.reason).toMatch(/server problem \(HTTP 503\)/);
  });

  it("refuses an answer that declares more than 256 KB before reading any of it", async () => {
    answer = ({ res }) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": String(TOTAL) });
      res.write(CHUNK);
    };
    const outcome = failure(await sendCustomEvent(KEY, event(), options));
    expect(outcome).toMatchObject({ kind: "retryable", httpStatus: 200 });
    expect(outcome.reason).toMatch(/larger than 256 KB/);
  });

  it("stops a huge /v1/me answer in the key check", async () => {
    const served = streamHugeAnswer(200, { "content-type": "application/json" });
    const check = await verifyApiKey(KEY, { apiUrl: options.apiUrl, timeoutMs: 5_000 });
    expect((await served).finished).toBe(false);
    expect(check).toEqual({
      ok: false,
      kind: "retryable",
      reason: "Attentive's answer was larger than 256 KB, far more than any answer to a key check: stopped reading it; will retry.",
    });
  });

  it("refuses more than 16 KB of answer headers", async () => {
    answer = ({ res }) => {
      res.writeHead(200, { "content-type": "application/json", "x-padding": "p".repeat(20 * 1024) });
      res.end(eventAnswer(event().externalEventId));
    };
    const outcome = failure(await sendCustomEvent(KEY, event(), options));
    expect(outcome.kind).toBe("retryable");
    expect(outcome.reason).toMatch(/more than 16 KB of headers/);
  });
});

describe("header values from Attentive are clamped", () => {
  function rateLimited(headers: Record<string, string>) {
    answer = ({ res }) => res.writeHead(429, { "content-type": "application/json", ...headers }).end('{"errors":[{"message":"Too many requests"}]}');
  }

  it.each([
    ["99999999999", MAX_RETRY_AFTER_MS],
    ["100000000000000000000", MAX_RETRY_AFTER_MS],
    ["9".repeat(400), MAX_RETRY_AFTER_MS],
    ["Fri, 31 Dec 9999 23:59:59 GMT", MAX_RETRY_AFTER_MS],
    ["1e20", undefined],
    ["-5", undefined],
    ["2.5", undefined],
    ["Infinity", undefined],
    ["NaN", undefined],
    ["0x10", undefined],
    ["2030-01-01T00:00:00Z", undefined],
    ["soon", undefined],
    ["Thu, 01 Jan 1970 00:00:00 GMT", 0],
    ["120", 120_000],
  ])("Retry-After: %s gives retryAfterMs %s", async (value, expected) => {
    rateLimited({ "retry-after": value });
    const outcome = failure(await sendCustomEvent(KEY, event(), options));
    expect(outcome.kind).toBe("retryable");
    expect(outcome.retryAfterMs).toBe(expected);
    // What the worker does with it: a date to retry at, which must be a real date.
    expect(Number.isNaN(new Date(Date.now() + (outcome.retryAfterMs ?? 1_000)).getTime())).toBe(false);
  });

  it.each([
    [{ "x-ratelimit-limit": "1000000000", "x-ratelimit-remaining": "999999999" }, { limit: 1000, remaining: 1000 }],
    [{ "x-ratelimit-limit": "150", "x-ratelimit-remaining": "99999999999999999999" }, { limit: 150, remaining: 150 }],
    [{ "x-ratelimit-limit": "0", "x-ratelimit-remaining": "0" }, { limit: 1, remaining: 0 }],
    [{ "x-ratelimit-limit": "1e9", "x-ratelimit-remaining": "-1" }, {}],
    [{ "x-ratelimit-limit": "150.5", "x-ratelimit-remaining": "NaN" }, {}],
  ])("x-ratelimit headers %o are read as %o", async (headers, expected) => {
    rateLimited(headers);
    const outcome = failure(await sendCustomEvent(KEY, event(), options));
    expect(outcome.rateLimit).toEqual(expected);
  });
});

describe("what Attentive echoes is stored short and redacted", () => {
  // Characters that URL-encoding, JSON and base64 all treat differently from letters.
  const SECRET = "ak_Live+9/x=Q7~zR4!mK2p.S8";
  const EMAIL = "jane.doe+vip@example.co.uk";
  const PHONE = "+13115552368";
  const jsonEscaped = Array.from(SECRET, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`).join("");
  const echoes = {
    raw: SECRET,
    "upper case": SECRET.toUpperCase(),
    "URL-encoded": encodeURIComponent(SECRET),
    "URL-encoded, lower-case hex": encodeURIComponent(SECRET).replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase()),
    "URL-encoded twice": encodeURIComponent(encodeURIComponent(SECRET)),
    base64: Buffer.from(SECRET).toString("base64"),
    "base64url": Buffer.from(SECRET).toString("base64url"),
    "base64 of Bearer <key>": Buffer.from(`Bearer ${SECRET}`).toString("base64"),
    "base64 of user:<key>": Buffer.from(`api:${SECRET}`).toString("base64"),
    hex: Buffer.from(SECRET).toString("hex"),
  };
  /** Everything that must not survive, in the forms a reader could turn back into the secret. */
  const forbidden = [...Object.values(echoes), SECRET.slice(0, 8), SECRET.slice(-8), "jane.doe", "example.co.uk", "3115552368", "311-555-2368"];

  function expectNothingLeaks(stored: unknown) {
    const text = JSON.stringify(stored);
    for (const secret of forbidden) expect(text, `leaked ${secret}`).not.toContain(secret);
    expect(text).not.toContain(jsonEscaped.slice(0, 24));
  }

  it.each(Object.entries(echoes))("a GraphQL error echoing the key %s, an email and a phone", async (_form, echo) => {
    // The JSON-escaped form goes into the raw answer text, where a JSON encoder would have written it.
    answer = ({ res }) =>
      res.writeHead(200, { "content-type": "application/json" }).end(
        `{"errors":[{"message":"Bad token ${echo} (also \\"${jsonEscaped}\\") for ${EMAIL}, phone ${PHONE} or (311) 555-2368","extensions":{"code":"BAD_USER_INPUT"}}]}`,
      );
    const outcome = failure(await sendCustomEvent(SECRET, event(), options));
    expect(outcome.kind).toBe("terminal");
    expect(outcome.reason).toMatch(/^Attentive refused the event: Bad token \[API key\] \(also "\[API key\]"\) for \[email\], phone \[phone\] or \[phone\]\.$/);
    expectNothingLeaks(outcome);
  });

  it("a 400 whose message echoes the key URL-encoded in a 5 MB log page: the reason is capped after redaction", async () => {
    const page = `${"log line\n".repeat(20_000)}key=${encodeURIComponent(SECRET)} email=${EMAIL}`;
    answer = ({ res }) => res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: page } }));
    const outcome = failure(await sendCustomEvent(SECRET, event(), options));
    expect(outcome.kind).toBe("terminal");
    expect(outcome.reason.length).toBeLessThanOrEqual(MAX_REASON_CHARACTERS);
    expect(new TextEncoder().encode(outcome.responseBody ?? "").length).toBeLessThanOrEqual(MAX_STORED_BODY_BYTES);
    expectNothingLeaks(outcome);
  });

  it("cannot leave half a key at the cut: redaction comes before truncation", async () => {
    for (const cut of [MAX_REASON_CHARACTERS, MAX_STORED_BODY_BYTES]) {
      // The key straddles the cut of the reason, then of the stored body.
      const message = `${"y".repeat(cut - 60)} ${SECRET} ${SECRET}`;
      answer = ({ res }) => res.writeHead(400, { "content-type": "application/json" }).end(`{"errors":[{"message":"${message}"}]}`);
      const outcome = failure(await sendCustomEvent(SECRET, event(), options));
      expectNothingLeaks(outcome);
      const stored = JSON.stringify(outcome);
      for (let start = 0; start + 5 <= SECRET.length; start++) expect(stored).not.toContain(SECRET.slice(start, start + 5));
    }
  });

  it("the key check keeps the key, the email and the phone out of its reason", async () => {
    answer = ({ res }) =>
      res.writeHead(400, { "content-type": "application/json" }).end(
        JSON.stringify({ error: { message: `Key ${Buffer.from(`Bearer ${SECRET}`).toString("base64")} of ${EMAIL} (${PHONE}) is not valid` } }),
      );
    const check = await verifyApiKey(SECRET, { apiUrl: options.apiUrl, timeoutMs: 5_000 });
    expect(check).toEqual({ ok: false, kind: "terminal", reason: "Attentive did not check the API key (HTTP 400): Key [API key] of [email] ([phone]) is not valid." });
  });

  it("sends the customer's email and phone to Attentive as they are", async () => {
    answer = ({ res }) => res.writeHead(200, { "content-type": "application/json" }).end(eventAnswer(event().externalEventId));
    const arrived = attentive.nextArrival();
    const input = { ...event(), user: { email: EMAIL, phone: PHONE } };
    expect((await sendCustomEvent(SECRET, input, options)).ok).toBe(true);
    const { request } = await arrived;
    expect(JSON.parse(request.body)).toMatchObject({ variables: { input: { user: { email: EMAIL, phone: PHONE } } } });
    expect(request.headers.authorization).toBe(`Bearer ${SECRET}`);
  });
});

describe("connections", () => {
  it("reuses one keep-alive connection for consecutive sends", async () => {
    answer = ({ res }) => res.writeHead(200, { "content-type": "application/json" }).end(eventAnswer(event().externalEventId));
    const sockets = new Set<unknown>();
    const watch = ({ req }: { req: { socket: unknown } }) => sockets.add(req.socket);
    for (let send = 0; send < 5; send++) {
      const arrived = attentive.nextArrival();
      expect((await sendCustomEvent(KEY, event(), options)).ok).toBe(true);
      watch(await arrived);
      // Undici takes a connection back one turn of the event loop after its answer (in case the server closes it
      // after all); a send within that turn takes another of the pool's connections (transport.test.ts).
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(sockets.size).toBe(1);
  });

  it("answers a refused connection as retryable without waiting for the deadline", async () => {
    const gone = await startLocalServer(() => undefined);
    await gone.close();
    // A deadline past the test's own timeout: the refusal itself must settle the send.
    const outcome = failure(await sendCustomEvent(KEY, event(), { ...options, apiUrl: gone.graphqlUrl, timeoutMs: 60_000 }));
    expect(outcome.reason).toMatch(/^Could not reach Attentive \(connect ECONNREFUSED .+\): will retry\.$/);
  });
});
