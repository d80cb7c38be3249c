import { randomBytes } from "node:crypto";
import { Session } from "@shopify/shopify-api";
import { PrismaSessionStorage } from "@shopify/shopify-app-session-storage-prisma";
import { beforeEach, describe, expect, it } from "vitest";
import { runCommand } from "~/cli/commands";
import { db } from "~/db.server";
import { readEnv } from "~/env.server";
import { EncryptedSessionStorage, SessionTokenError } from "~/secrets/encrypted-session-storage.server";
import { createSecretBox, type SecretBox } from "~/secrets/secret-box.server";
import { sessionStorage } from "~/shopify.server";

const SHOP = "tokens-shop.myshopify.com";
const TOKEN = "shpat_0123456789abcdef0123456789abcdef";
const REFRESH = "shprt_fedcba9876543210";
const keyA = randomBytes(32).toString("base64");
const keyB = randomBytes(32).toString("base64");

function offline(id = `offline_${SHOP}`, extra: Partial<ConstructorParameters<typeof Session>[0]> = {}) {
  return new Session({ id, shop: SHOP, state: "state", isOnline: false, scope: "read_orders", accessToken: TOKEN, ...extra });
}

function storageWith(box: () => SecretBox) {
  return new EncryptedSessionStorage(new PrismaSessionStorage(db()), box);
}

async function storedRow(id = `offline_${SHOP}`) {
  return db().session.findUniqueOrThrow({ where: { id }, select: { accessToken: true, refreshToken: true } });
}

/** A row written before tokens were encrypted: the token in clear, as PrismaSessionStorage alone wrote it. */
async function insertLegacyRow(id: string, accessToken: string) {
  await db().session.create({ data: { id, shop: SHOP, state: "state", isOnline: false, scope: "read_orders", accessToken } });
}

async function rotate(box: SecretBox) {
  const output: string[] = [];
  await runCommand(["secrets", "rotate"], {
    prisma: db(),
    env: readEnv(process.env),
    secretBox: () => box,
    out: (line) => output.push(line),
    runWorker: async () => undefined,
  });
  return output.join("\n");
}

beforeEach(async () => {
  await db().session.deleteMany();
  await db().shop.deleteMany();
});

describe("the app's session storage", () => {
  it("keeps no plain token in the Session row and reads the token back", async () => {
    await sessionStorage.storeSession(offline());
    const row = await storedRow();
    expect(row.accessToken).not.toContain(TOKEN);
    expect(row.accessToken).toMatch(/^enc:v1:/);
    expect((await sessionStorage.loadSession(`offline_${SHOP}`))?.accessToken).toBe(TOKEN);
    expect((await sessionStorage.findSessionsByShop(SHOP)).map((session) => session.accessToken)).toEqual([TOKEN]);
  });
});

describe("encrypted session storage", () => {
  const boxA = () => createSecretBox(keyA);

  it("encrypts the refresh token too, keeps every other field, and leaves the caller's session untouched", async () => {
    const storage = storageWith(boxA);
    const expires = new Date("2030-01-01T00:00:00.000Z");
    const session = offline(undefined, { refreshToken: REFRESH, refreshTokenExpires: expires, expires });
    expect(await storage.storeSession(session)).toBe(true);
    expect(session.accessToken).toBe(TOKEN);

    const row = await storedRow();
    expect(row.refreshToken).toMatch(/^enc:v1:/);
    expect(row.refreshToken).not.toContain(REFRESH);
    const loaded = await storage.loadSession(session.id);
    expect(loaded?.toObject()).toEqual(session.toObject());
  });

  it("loads a row stored in clear before this change, and encrypts it the next time it is stored", async () => {
    await insertLegacyRow(`offline_${SHOP}`, TOKEN);
    const storage = storageWith(boxA);
    const loaded = await storage.loadSession(`offline_${SHOP}`);
    expect(loaded?.accessToken).toBe(TOKEN);
    expect((await storedRow()).accessToken).toBe(TOKEN);

    await storage.storeSession(loaded!);
    expect((await storedRow()).accessToken).toMatch(/^enc:v1:/);
    expect((await storage.loadSession(`offline_${SHOP}`))?.accessToken).toBe(TOKEN);
  });

  it("deletes through the wrapped storage", async () => {
    const storage = storageWith(boxA);
    await storage.storeSession(offline("offline_a"));
    await storage.storeSession(offline("offline_b"));
    await storage.storeSession(offline("offline_c"));
    expect(await storage.deleteSession("offline_a")).toBe(true);
    expect(await storage.deleteSessions(["offline_b", "offline_c"])).toBe(true);
    expect(await db().session.count()).toBe(0);
  });

  it("says which key to set when a token cannot be decrypted, without the token or its ciphertext", async () => {
    await storageWith(boxA).storeSession(offline());
    const ciphertext = (await storedRow()).accessToken;
    const wrongKey = storageWith(() => createSecretBox(keyB));

    for (const read of [() => wrongKey.loadSession(`offline_${SHOP}`), () => wrongKey.findSessionsByShop(SHOP)]) {
      const error = await read().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SessionTokenError);
      const message = (error as Error).message;
      expect(message).toMatch(/session offline_tokens-shop\.myshopify\.com cannot be decrypted/);
      expect(message).toMatch(/set APP_ENCRYPTION_KEY .* or add that key to APP_ENCRYPTION_KEY_PREVIOUS/i);
      expect(message).not.toContain(TOKEN);
      for (const part of ciphertext.split(":").filter((piece) => piece.length > 8)) expect(message).not.toContain(part);
    }

    // Same key id, altered body: the integrity check names itself.
    const parts = ciphertext.split(":");
    parts[5] = Buffer.from("something else").toString("base64url");
    await db().session.update({ where: { id: `offline_${SHOP}` }, data: { accessToken: parts.join(":") } });
    await expect(storageWith(boxA).loadSession(`offline_${SHOP}`)).rejects.toThrow(/integrity check.*APP_ENCRYPTION_KEY_PREVIOUS/);
  });

  it("refuses to store a session when APP_ENCRYPTION_KEY is not set, and says how to set it", async () => {
    const storage = storageWith(() => createSecretBox(undefined));
    await expect(storage.storeSession(offline())).rejects.toThrow(/Shopify sessions cannot be stored or read: APP_ENCRYPTION_KEY is not set.*openssl rand/);
    expect(await db().session.count()).toBe(0);
  });
});

describe("secrets rotate", () => {
  it("re-encrypts stored tokens with the new key and encrypts plain ones; old rows still read during the rotation", async () => {
    await storageWith(() => createSecretBox(keyA)).storeSession(offline(`offline_${SHOP}`, { refreshToken: REFRESH }));
    await insertLegacyRow("offline_legacy", "shpat_legacy_token");

    // New key in place, old one listed as previous: everything still reads before the command runs.
    const rotating = createSecretBox(keyB, keyA);
    const duringRotation = storageWith(() => rotating);
    expect((await duringRotation.loadSession(`offline_${SHOP}`))?.accessToken).toBe(TOKEN);
    expect((await duringRotation.loadSession("offline_legacy"))?.accessToken).toBe("shpat_legacy_token");

    const out = await rotate(rotating);
    expect(out).toContain("Re-encrypted 2 of 2 stored Shopify sessions with the current APP_ENCRYPTION_KEY.");
    expect(out).not.toContain(TOKEN);

    const legacy = await storedRow("offline_legacy");
    expect(legacy.accessToken).toMatch(/^enc:v1:/);
    // Readable with the new key alone, no longer with the old one.
    const newKeyOnly = storageWith(() => createSecretBox(keyB));
    const loaded = await newKeyOnly.loadSession(`offline_${SHOP}`);
    expect([loaded?.accessToken, loaded?.refreshToken]).toEqual([TOKEN, REFRESH]);
    expect((await newKeyOnly.loadSession("offline_legacy"))?.accessToken).toBe("shpat_legacy_token");
    await expect(storageWith(() => createSecretBox(keyA)).loadSession("offline_legacy")).rejects.toThrow(SessionTokenError);

    // A second run has nothing left to do.
    expect(await rotate(rotating)).toContain("Re-encrypted 0 of 2 stored Shopify sessions");
  });

  it("stops with the clear error, without the token, when a stored token was sealed with a key it was not given", async () => {
    await storageWith(() => createSecretBox(keyA)).storeSession(offline());
    const error = await rotate(createSecretBox(keyB)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionTokenError);
    expect((error as Error).message).toMatch(/APP_ENCRYPTION_KEY_PREVIOUS/);
    expect((error as Error).message).not.toContain(TOKEN);
  });
});
