/**
 * A shop's first webhook (and `shops connect`) makes its row while the server's SQLite writer commits all the time.
 * A transaction that reads before it writes cannot take SQLite's write lock once another connection has committed
 * since its read: SQLite answers SQLITE_BUSY at once, without waiting (a stale snapshot), and Prisma reports it as
 * "Operation has timed out". Prisma's `upsert` is such a transaction (SELECT, then INSERT); a CI run failed on it.
 * Here another thread commits without pause while shops are made: every one must be made. Shopify's session storage
 * writes with an upsert too; it must not fail that way either (an install or a token refresh refused under load).
 */
import { randomBytes } from "node:crypto";
import { Worker } from "node:worker_threads";
import { Session } from "@shopify/shopify-api";
import { PrismaSessionStorage } from "@shopify/shopify-app-session-storage-prisma";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { database, db } from "~/db.server";
import { ensureShop } from "~/models/Shop.server";
import { EncryptedSessionStorage } from "~/secrets/encrypted-session-storage.server";
import { createSecretBox } from "~/secrets/secret-box.server";

const sqlite = database().target.provider === "sqlite";

describe.runIf(sqlite)("making a shop's row while another connection commits", () => {
  let committer: Worker | null = null;
  let stop: Int32Array;

  beforeAll(async () => {
    const target = database().target;
    const file = target.provider === "sqlite" ? target.file : "";
    stop = new Int32Array(new SharedArrayBuffer(4));
    // Commits as fast as it can, each a real change of a page (a row rewritten), on its own connection.
    committer = new Worker(
      `const { workerData, parentPort } = require("node:worker_threads");
       const Sqlite = require("better-sqlite3");
       const db = new Sqlite(workerData.file, { timeout: 10000 });
       const write = db.prepare('UPDATE "SettingsVersion" SET version = version WHERE id = 1');
       parentPort.postMessage("started");
       while (Atomics.load(workerData.stop, 0) === 0) write.run();
       db.close();`,
      { eval: true, workerData: { file, stop } },
    );
    await new Promise((resolve) => committer!.once("message", resolve));
  });

  afterAll(async () => {
    Atomics.store(stop, 0, 1);
    if (committer) await new Promise((resolve) => committer!.once("exit", resolve));
  });

  it("makes every shop, none refused for a snapshot another commit made stale", async () => {
    const domains = Array.from({ length: 40 }, (_, i) => `busy-${i}.myshopify.com`);
    const failures: string[] = [];
    for (const domain of domains) {
      try {
        await ensureShop(db(), domain);
      } catch (error) {
        failures.push(`${domain}: ${error instanceof Error ? error.message.split("\n").at(-1) : String(error)}`);
      }
    }
    expect(failures).toEqual([]);
    expect(await db().shop.count({ where: { domain: { in: domains } } })).toBe(domains.length);
  });

  it("stores and replaces every Shopify session (install, then a token refresh), none refused", async () => {
    // The storage the app ships (shopify.server.ts): Prisma's, wrapped to seal tokens. Prisma writes this upsert as one
    // INSERT … ON CONFLICT statement, which waits for the lock; were it a read then a write, this would fail.
    const key = randomBytes(32).toString("base64");
    const storage = new EncryptedSessionStorage(new PrismaSessionStorage(db()), () => createSecretBox(key));
    const shops = Array.from({ length: 100 }, (_, i) => `busy-session-${i}.myshopify.com`);
    const failures: string[] = [];
    for (const shop of shops) {
      for (const accessToken of ["shpat_first", "shpat_refreshed"]) {
        try {
          await storage.storeSession(new Session({ id: `offline_${shop}`, shop, state: "s", isOnline: false, accessToken }));
        } catch (error) {
          failures.push(`${shop}: ${error instanceof Error ? error.message.split("\n").at(-1) : String(error)}`);
        }
      }
    }
    expect(failures).toEqual([]);
    const loaded = await storage.loadSession(`offline_${shops[99]}`);
    expect(loaded?.accessToken).toBe("shpat_refreshed");
    expect(await db().session.count({ where: { shop: { in: shops } } })).toBe(shops.length);
  });
});
