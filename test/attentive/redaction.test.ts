import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_RETRY_AFTER_MS, parseRetryAfter } from "~/attentive/client.server";
import { capText, keyRedactor, redactPersonalData } from "~/attentive/redaction";

const NOW = Date.UTC(2026, 10, 30, 12, 0, 0);

describe("parseRetryAfter", () => {
  it("never returns NaN, Infinity, a negative delay or more than the maximum, whatever the header says", () => {
    const headerLike = fc.oneof(
      fc.string(),
      fc.stringMatching(/^[ ]?-?\d{0,30}(\.\d{1,3})?(e[+-]?\d{1,3})?[ ]?$/),
      fc.date({ noInvalidDate: true }).map((date) => date.toUTCString()),
    );
    fc.assert(
      fc.property(headerLike, (value) => {
        const delay = parseRetryAfter(value, NOW);
        if (delay === undefined) return;
        expect(Number.isFinite(delay)).toBe(true);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThanOrEqual(MAX_RETRY_AFTER_MS);
        expect(Number.isNaN(new Date(NOW + delay).getTime())).toBe(false);
      }),
      { numRuns: 2_000 },
    );
  });

  it("reads the three HTTP date forms, relative to now", () => {
    expect(parseRetryAfter("Mon, 30 Nov 2026 12:00:30 GMT", NOW)).toBe(30_000);
    expect(parseRetryAfter("Monday, 30-Nov-26 12:00:30 GMT", NOW)).toBe(30_000);
    expect(parseRetryAfter("Mon Nov 30 12:00:30 2026", NOW - new Date(NOW).getTimezoneOffset() * 60_000)).toBe(30_000);
  });

  it("takes delay-seconds up to an hour and caps the rest", () => {
    expect(parseRetryAfter(" 7 ", NOW)).toBe(7_000);
    expect(parseRetryAfter("3600", NOW)).toBe(MAX_RETRY_AFTER_MS);
    expect(parseRetryAfter("3601", NOW)).toBe(MAX_RETRY_AFTER_MS);
    expect(parseRetryAfter("3599", NOW)).toBe(3_599_000);
  });

  it("ignores a past date as a zero delay and an unusable clock as no answer", () => {
    expect(parseRetryAfter("Sun, 29 Nov 2026 12:00:00 GMT", NOW)).toBe(0);
    expect(parseRetryAfter("Mon, 30 Nov 2026 12:00:30 GMT", Number.NaN)).toBeUndefined();
  });
});

describe("keyRedactor", () => {
  const printableKey = fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((code) => String.fromCharCode(code)), minLength: 16, maxLength: 48 });
  const surrounding = fc.string({ maxLength: 40 });

  const encodings: Record<string, (key: string, prefix: string) => string> = {
    raw: (key) => key,
    "URL-encoded": (key) => encodeURIComponent(key),
    "JSON-escaped": (key) => JSON.stringify(key).slice(1, -1),
    "all \\u-escaped": (key) => Array.from(key, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`).join(""),
    "base64 after any prefix": (key, prefix) => Buffer.from(`${prefix}${key}`).toString("base64"),
    "base64url after any prefix": (key, prefix) => Buffer.from(`${prefix}${key}`).toString("base64url"),
  };

  it.each(Object.entries(encodings))("removes the key %s from any text", (_name, encode) => {
    fc.assert(
      fc.property(printableKey, surrounding, surrounding, fc.string({ maxLength: 5 }), (key, before, after, prefix) => {
        const echoed = encode(key, prefix);
        const redacted = keyRedactor(key)(`${before}${echoed}${after}`);
        expect(redacted).toContain("[API key]");
        expect(redacted).not.toContain(echoed);
        expect(redacted.toLowerCase()).not.toContain(key.toLowerCase());
      }),
      { numRuns: 300 },
    );
  });

  it("finds a key of characters that have several forms", () => {
    const key = "ab%25\\cd%ef\\gh&ij";
    expect(keyRedactor(key)(`x ${key} y ${encodeURIComponent(key)} z ${JSON.stringify(key)}`)).toBe('x [API key] y [API key] z "[API key]"');
  });

  it("leaves text without the key alone", () => {
    const redact = keyRedactor("sk_live_4f9a8b7c6d5e");
    const text = "Attentive refused the event: property 'total' must be a string (sk_live_ keys only).";
    expect(redact(text)).toBe(text);
  });
});

describe("redactPersonalData", () => {
  it.each([
    ["buyer@example.com", "[email]"],
    ["Contact: Jane.Doe+vip@mail.example.co.uk.", "Contact: [email]."],
    ["email=jane%40example.com&x=1", "email=[email]&x=1"],
    ['"email":"jane\\u0040example.com"', '"email":"[email]"'],
    ["phone +13115552368 is invalid", "phone [phone] is invalid"],
    ["+44 20 7946 0958", "[phone]"],
    ["call (311) 555-2368 now", "call [phone] now"],
    ["311.555.2368", "[phone]"],
    ["phone=%2B13115552368", "phone=[phone]"],
  ])("%s", (text, expected) => {
    expect(redactPersonalData(text)).toBe(expected);
  });

  it.each([
    "occurredAt 2021-03-30T14:38:29+00:00 is older than 12 hours",
    "at 2021-03-30 14:38:29",
    "order gid://shopify/Order/5551234567 and customer 1234",
    "externalEventId 37fb97a9-6cfd-4983-bd65-68d104d53b70",
    "HTTP 429, retry after 120 seconds, limit 150",
    "version 1.2.3, id abc5551234567",
    "connect ETIMEDOUT 203.113.100.200:443",
  ])("leaves alone: %s", (text) => {
    expect(redactPersonalData(text)).toBe(text);
  });

  it("stays linear on 256 KB of text built to make a backtracking pattern slow", () => {
    // Quadratic scanning of these would take minutes; the test's timeout is the net.
    const keys = ["aaaaaaaaaaaaaaaaaaaaaaaaaaab", `${"\\".repeat(24)}x`, `${"%".repeat(24)}25x`];
    for (const unit of ["a", "a@", "1 ", "(1", "%40", "+1", "\\", "%25"]) {
      const text = unit.repeat(Math.ceil((256 * 1024) / unit.length));
      expect(typeof redactPersonalData(text)).toBe("string");
      for (const key of keys) expect(keyRedactor(key)(text)).not.toContain(key);
    }
  });
});

describe("capText", () => {
  it("cuts at the limit with a mark, never inside a surrogate pair", () => {
    expect(capText("abcdef", 6)).toBe("abcdef");
    expect(capText("abcdefg", 6)).toBe("abcde…");
    expect(capText("abcd😀x", 6)).toBe("abcd…");
  });
});
