/**
 * Prisma on PostgreSQL gets its clients back after an outage (docs/decisions/023): ten transactions, one per client of
 * the pool, lose their connection mid-way (a TCP proxy between them and the server is cut); once the database is back,
 * the next query runs. With a plain pool Prisma's engine keeps every one of those clients checked out, and the next
 * query waits for a free client until it times out: the second test shows that, so that it fails, and says the repair
 * may go, the day Prisma stops doing it.
 */
import { PrismaPg } from "@prisma/adapter-pg";
import { createRequire } from "node:module";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeDatabase, openDatabase, type Database } from "~/db.server";
import { RepairingPool } from "~/db/pg-pool.server";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy";
import { testProvider } from "../support/test-database";

const POOL_SIZE = 10;

function withoutSchema(url: string): string {
  const parsed = new URL(url);
  parsed.searchParams.delete("schema");
  return parsed.toString();
}

describe.skipIf(testProvider() !== "postgresql")("Prisma's pool after the connection under its transactions broke", () => {
  let proxy: TcpProxy;
  let proxied: string;
  beforeAll(async () => {
    proxy = await startTcpProxy({ host: "127.0.0.1", port: 5432 });
    const url = new URL(process.env.DATABASE_URL ?? "");
    url.port = String(proxy.port);
    proxied = url.toString();
  });
  afterAll(() => proxy.close());

  /** Ten transactions hold every client; the connections are cut under them; then the database comes back. */
  async function breakEveryTransaction(prisma: Database): Promise<void> {
    await prisma.shop.count(); // connected once, before anything is cut
    let opened = 0;
    let allOpen!: () => void;
    const everyOneOpen = new Promise<void>((resolve) => (allOpen = resolve));
    let cut!: () => void;
    const afterCut = new Promise<void>((resolve) => (cut = resolve));
    const transactions = Array.from({ length: POOL_SIZE }, () =>
      prisma.$transaction(async (tx) => {
        await tx.shop.count();
        if (++opened === POOL_SIZE) allOpen();
        await afterCut;
        await tx.shop.count();
      }),
    );
    await everyOneOpen;
    proxy.cut();
    cut();
    const ended = await Promise.allSettled(transactions);
    expect(ended.every((result) => result.status === "rejected")).toBe(true);
    proxy.restore();
  }

  it("runs the next query once the database is back", async () => {
    const { prisma } = openDatabase(proxied);
    try {
      await breakEveryTransaction(prisma);
      await expect(prisma.shop.count()).resolves.toBeGreaterThanOrEqual(0);
    } finally {
      await closeDatabase(prisma);
    }
  });

  /** A Prisma client on `pool`, as openDatabase makes one. */
  function prismaOn(pool: pg.Pool): Database {
    const schema = new URL(proxied).searchParams.get("schema");
    const adapter = new PrismaPg(pool, schema ? { schema } : undefined);
    const { PrismaClient } = createRequire(import.meta.url)("../../app/generated/prisma/postgresql/index.js") as {
      PrismaClient: new (options: { adapter: PrismaPg }) => Database;
    };
    return new PrismaClient({ adapter });
  }

  /** Clients of the pool checked out and not released. */
  const checkedOut = (pool: pg.Pool) => pool.totalCount - pool.idleCount;

  it("hands back every client whose connection broke, and none other", async () => {
    const pool = new RepairingPool({ connectionString: withoutSchema(proxied), max: POOL_SIZE, connectionTimeoutMillis: 3_000 });
    const prisma = prismaOn(pool);
    try {
      await breakEveryTransaction(prisma);
      expect(checkedOut(pool)).toBe(0);
      expect(pool.reclaimed).toBe(POOL_SIZE);
      await expect(prisma.shop.count()).resolves.toBeGreaterThanOrEqual(0);
      expect(pool.reclaimed).toBe(POOL_SIZE);
    } finally {
      await prisma.$disconnect();
      await pool.end();
    }
  });

  it("(Prisma's own behaviour, which the repair is for) with a plain pool, keeps every one of those clients", async () => {
    const pool = new pg.Pool({ connectionString: withoutSchema(proxied), max: POOL_SIZE, connectionTimeoutMillis: 3_000 });
    const prisma = prismaOn(pool);
    try {
      await breakEveryTransaction(prisma);
      expect(checkedOut(pool)).toBe(POOL_SIZE);
    } finally {
      // Its clients are gone for good: end the pool without waiting for them.
      void prisma.$disconnect().catch(() => undefined);
      void pool.end().catch(() => undefined);
    }
  });
});
