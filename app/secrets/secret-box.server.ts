/**
 * Encrypts secrets at rest (the merchant's Attentive API key) with AES-256-GCM.
 *
 * APP_ENCRYPTION_KEY is 32 bytes, base64 or hex. Rotation: move the old value to
 * APP_ENCRYPTION_KEY_PREVIOUS (comma-separated for several), set a new
 * APP_ENCRYPTION_KEY, then run `npm run cli -- secrets rotate`; reads accept any
 * listed key, writes always use the current one. Each envelope names its key by
 * a short fingerprint so a read knows which key to use.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";

const VERSION = "v1";

export class SecretKeyError extends Error {
  override name = "SecretKeyError";
}

interface KeyEntry {
  id: string;
  key: Buffer;
}

function decodeKey(raw: string, name: string): Buffer {
  const value = raw.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(value) ? Buffer.from(value, "hex") : Buffer.from(value, "base64");
  if (key.length !== 32) {
    throw new SecretKeyError(
      `${name} must be 32 bytes encoded as base64 or 64 hex characters (it decodes to ${key.length} bytes). ` +
        "Generate one with `openssl rand -base64 32`.",
    );
  }
  return key;
}

function fingerprint(key: Buffer): string {
  return createHash("sha256").update(key).digest("base64url").slice(0, 8);
}

export interface SecretBox {
  seal(plain: string): string;
  open(envelope: string): string;
  /** True when the envelope was sealed with an older key and should be re-sealed. */
  isStale(envelope: string): boolean;
}

export function createSecretBox(currentKey: string | undefined, previousKeys?: string): SecretBox {
  if (!currentKey) {
    throw new SecretKeyError(
      "APP_ENCRYPTION_KEY is not set, so secrets (the Attentive API key, Shopify's access tokens) cannot be stored or read. " +
        "Set it to 32 random bytes (`openssl rand -base64 32`).",
    );
  }
  const current = decodeKey(currentKey, "APP_ENCRYPTION_KEY");
  const keys: KeyEntry[] = [{ id: fingerprint(current), key: current }];
  for (const raw of (previousKeys ?? "").split(",").filter((part) => part.trim() !== "")) {
    const key = decodeKey(raw, "APP_ENCRYPTION_KEY_PREVIOUS");
    keys.push({ id: fingerprint(key), key });
  }
  const [active] = keys as [KeyEntry, ...KeyEntry[]];

  return {
    seal(plain) {
      const iv = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", active.key, iv);
      const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
      const tag = cipher.getAuthTag();
      return [VERSION, active.id, iv.toString("base64url"), tag.toString("base64url"), body.toString("base64url")].join(":");
    },
    open(envelope) {
      const parts = envelope.split(":");
      if (parts.length !== 5 || parts[0] !== VERSION) throw new SecretKeyError("A stored secret is not in a format this app can read.");
      const [, keyId, iv, tag, body] = parts as [string, string, string, string, string];
      const entry = keys.find((candidate) => candidate.id === keyId);
      if (!entry) {
        throw new SecretKeyError(
          "A stored secret was encrypted with a key that is neither APP_ENCRYPTION_KEY nor in APP_ENCRYPTION_KEY_PREVIOUS: " +
            "restore the old key in APP_ENCRYPTION_KEY_PREVIOUS, or reconnect the shop's Attentive key.",
        );
      }
      try {
        const decipher = createDecipheriv("aes-256-gcm", entry.key, Buffer.from(iv, "base64url"));
        decipher.setAuthTag(Buffer.from(tag, "base64url"));
        return Buffer.concat([decipher.update(Buffer.from(body, "base64url")), decipher.final()]).toString("utf8");
      } catch {
        throw new SecretKeyError("A stored secret failed its integrity check: it was altered or the key is wrong.");
      }
    },
    isStale(envelope) {
      return envelope.split(":")[1] !== active.id;
    },
  };
}

export function secretBoxFromEnv(source: NodeJS.ProcessEnv = process.env): SecretBox {
  return createSecretBox(source.APP_ENCRYPTION_KEY, source.APP_ENCRYPTION_KEY_PREVIOUS);
}
