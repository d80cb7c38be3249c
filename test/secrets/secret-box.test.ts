import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createSecretBox, SecretKeyError } from "~/secrets/secret-box.server";

const keyA = randomBytes(32).toString("base64");
const keyB = randomBytes(32).toString("hex");

describe("secret box", () => {
  it("round-trips a secret and never stores it in clear", () => {
    const box = createSecretBox(keyA);
    const sealed = box.seal("attentive-secret-key");
    expect(sealed).not.toContain("attentive-secret-key");
    expect(box.open(sealed)).toBe("attentive-secret-key");
    expect(box.seal("same")).not.toBe(box.seal("same")); // fresh IV each time
  });

  it("rejects a tampered envelope", () => {
    const box = createSecretBox(keyA);
    const parts = box.seal("value").split(":");
    parts[4] = Buffer.from("other").toString("base64url");
    expect(() => box.open(parts.join(":"))).toThrow(SecretKeyError);
  });

  it("reads secrets sealed with a previous key after rotation, and reports them as stale", () => {
    const old = createSecretBox(keyA).seal("rotated-value");
    const rotated = createSecretBox(keyB, keyA);
    expect(rotated.open(old)).toBe("rotated-value");
    expect(rotated.isStale(old)).toBe(true);
    expect(rotated.isStale(rotated.seal("x"))).toBe(false);
    expect(() => createSecretBox(keyB).open(old)).toThrow(/APP_ENCRYPTION_KEY_PREVIOUS/);
  });

  it("says what to do when the key is missing or the wrong size", () => {
    expect(() => createSecretBox(undefined)).toThrow(/openssl rand -base64 32/);
    expect(() => createSecretBox(Buffer.from("short").toString("base64"))).toThrow(/32 bytes/);
  });
});
