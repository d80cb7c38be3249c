import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { ConfigurationError, readEnv } from "~/env.server";
import { createLogger } from "~/logger.server";

describe("environment", () => {
  it("refuses production without the app secret and the encryption key, naming them and what to do", () => {
    expect(() => readEnv({ NODE_ENV: "production", SHOPIFY_API_KEY: "k" })).toThrow(ConfigurationError);
    expect(() => readEnv({ NODE_ENV: "production", SHOPIFY_API_KEY: "k" })).toThrow(
      /SHOPIFY_API_SECRET, APP_ENCRYPTION_KEY.*openssl rand -base64 32/,
    );
    expect(readEnv({ NODE_ENV: "production", SHOPIFY_API_KEY: "k", SHOPIFY_API_SECRET: "s", APP_ENCRYPTION_KEY: "e" }).NODE_ENV).toBe(
      "production",
    );
  });

  it("rejects an invalid setting with its name", () => {
    expect(() => readEnv({ NODE_ENV: "test", ATTENTIVE_PROPERTIES_ENCODING: "xml" })).toThrow(/ATTENTIVE_PROPERTIES_ENCODING/);
  });
});

describe("logs", () => {
  it("redact API keys, tokens, emails and phones", () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    // The app's own logger factory, writing to the test's sink.
    const log = createLogger("info", sink);
    log.info({ apiKey: "key-123", user: { email: "a@b.c", phone: "+15555550100" }, headers: { authorization: "Bearer key-123" } }, "x");
    const [line] = lines;
    expect(line).not.toContain("key-123");
    expect(line).not.toContain("a@b.c");
    expect(line).not.toContain("+15555550100");
    expect(line).toContain("[redacted]");
  });
});
