/**
 * Benchmark databases: a fresh SQLite file (migrated by `npm run setup`, as production does) or a fresh
 * PostgreSQL schema (the committed PostgreSQL migration applied in it), shops connected through the app's
 * own model functions, and bulk loading with plain SQL where the scenario needs volume.
 */
import Sqlite from "better-sqlite3";
import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { closeDatabase, openDatabase, type Database } from "~/db.server";
import { prerender, prerenderedText } from "~/mapping/prerender";
import { definitionOf, storedMapping } from "~/models/Mapping.server";
import { connectAttentive } from "~/models/Shop.server";
import { parseShopifyJson } from "~/shopify/json";
import { createSecretBox } from "~/secrets/secret-box.server";
import { BIN, ROOT, RUN_ID, SCRATCH, run } from "./common";
import { localPostgresCpuMs } from "./cpu";
import { FIXTURE_ORDER_GID } from "./load";

export const PG_BASE = process.env.BENCH_POSTGRES_URL ?? "postgresql://postgres@127.0.0.1:5432/test";

export type Provider = "sqlite" | "postgresql";

export interface BenchDb {
  provider: Provider;
  url: string;
  name: string;
  /** Runs SQL with positional parameters written as ? (converted to $n for PostgreSQL). */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  exec(sql: string, params?: unknown[]): Promise<number>;
  /** The number in column n of the first row. */
  count(sql: string, params?: unknown[]): Promise<number>;
  /** Bytes on disk (SQLite: file + WAL; PostgreSQL: total relation size of the schema). */
  sizeBytes(): Promise<number>;
  close(): Promise<void>;
  drop(): Promise<void>;
}

/** Prisma's SQLite adapter stores DateTime as this text; comparisons are textual, so bulk rows must match it. */
export function sqliteDate(date: Date): string {
  return date.toISOString().replace("Z", "+00:00");
}

function toPg(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

export async function createDatabase(provider: Provider, name: string): Promise<BenchDb> {
  if (provider === "sqlite") {
    const file = join(SCRATCH, `${name}.sqlite`);
    const url = `file:${file}`;
    await run(join(BIN, "tsx"), ["app/cli/setup.ts"], { ...process.env, DATABASE_URL: url }, "npm run setup (SQLite)");
    const sqlite = new Sqlite(file, { timeout: 10_000 });
    const coerce = (params: unknown[]) => params.map((p) => (p instanceof Date ? sqliteDate(p) : typeof p === "boolean" ? Number(p) : p));
    return {
      provider,
      url,
      name,
      async query<T>(sql: string, params: unknown[] = []) {
        return sqlite.prepare(sql).all(...coerce(params)) as T[];
      },
      async exec(sql: string, params: unknown[] = []) {
        return sqlite.prepare(sql).run(...coerce(params)).changes;
      },
      async count(sql: string, params: unknown[] = []) {
        return Number((sqlite.prepare(sql).get(...coerce(params)) as { n: number | bigint } | undefined)?.n ?? 0);
      },
      async sizeBytes() {
        sqlite.pragma("wal_checkpoint(TRUNCATE)");
        const size = (path: string) => {
          try {
            return statSync(path).size;
          } catch {
            return 0;
          }
        };
        return size(file) + size(`${file}-wal`);
      },
      async close() {
        sqlite.close();
      },
      async drop() {
        if (sqlite.open) sqlite.close();
        // The scratch folder is removed at the end of the run.
      },
      // Exposed for bulk loading.
      ...{ sqlite },
    } as BenchDb;
  }

  const schema = `bench_${RUN_ID.replace(/[^0-9a-z]/gi, "_")}_${name}`.toLowerCase().slice(0, 60);
  const admin = new pg.Pool({ connectionString: PG_BASE, max: 2 });
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await admin.query(`CREATE SCHEMA "${schema}"`);
  const migrations = join(ROOT, "prisma", "postgresql", "migrations");
  const client = await admin.connect();
  try {
    await client.query(`SET search_path TO "${schema}"`);
    for (const dir of readdirSync(migrations).filter((entry) => !entry.endsWith(".toml")).sort()) {
      await client.query(readFileSync(join(migrations, dir, "migration.sql"), "utf8"));
    }
  } finally {
    client.release();
  }
  await admin.end();
  const url = `${PG_BASE}?schema=${schema}`;
  const pool = new pg.Pool({ connectionString: PG_BASE, max: 4, options: `-c search_path="${schema}"` });
  return {
    provider,
    url,
    name,
    async query<T>(sql: string, params: unknown[] = []) {
      return (await pool.query(toPg(sql), params)).rows as T[];
    },
    async exec(sql: string, params: unknown[] = []) {
      return (await pool.query(toPg(sql), params)).rowCount ?? 0;
    },
    async count(sql: string, params: unknown[] = []) {
      return Number(((await pool.query(toPg(sql), params)).rows[0] as { n: string | number } | undefined)?.n ?? 0);
    },
    async sizeBytes() {
      const rows = (
        await pool.query(
          `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint AS bytes FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'`,
          [schema],
        )
      ).rows as Array<{ bytes: string }>;
      return Number(rows[0]?.bytes ?? 0);
    },
    async close() {
      await pool.end();
    },
    async drop() {
      await pool.end().catch(() => undefined);
      const dropper = new pg.Client({ connectionString: PG_BASE });
      await dropper.connect();
      await dropper.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await dropper.end();
    },
  };
}

export function sqliteHandle(db: BenchDb): Sqlite.Database {
  const handle = (db as BenchDb & { sqlite?: Sqlite.Database }).sqlite;
  if (!handle) throw new Error("not a SQLite bench database");
  return handle;
}

export interface ShopSpec {
  domain: string;
  apiKey: string;
}

export function shopsFor(count: number, prefix = "bench-shop"): ShopSpec[] {
  return Array.from({ length: count }, (_, i) => ({ domain: `${prefix}-${i}.myshopify.com`, apiKey: `bench-key-${i}-${randomUUID().slice(0, 8)}` }));
}

/** Connects the shops the way `shops connect --skip-verify` does: default mappings, encrypted key. */
export async function seedShops(db: BenchDb, shops: ShopSpec[], encryptionKey: string): Promise<Map<string, string>> {
  const { prisma } = openDatabase(db.url);
  const box = createSecretBox(encryptionKey);
  try {
    for (const shop of shops) await connectAttentive(prisma, box, shop.domain, shop.apiKey, "Bench Co");
    const mappings = await prisma.mapping.findMany({ where: { topic: "orders/fulfilled" }, select: { id: true, shop: true } });
    return new Map(mappings.map((row) => [row.shop, row.id]));
  } finally {
    await closeDatabase(prisma);
  }
}

export async function withPrisma<T>(db: BenchDb, work: (prisma: Database) => Promise<T>): Promise<T> {
  const { prisma } = openDatabase(db.url);
  try {
    return await work(prisma);
  } finally {
    await closeDatabase(prisma);
  }
}

/** Each preloaded webhook's order gets the gid of this number plus its place in the load: 13 digits, as real ids. */
const PRELOAD_ORDER_BASE = 5_000_000_000_000;
const ORDER_GID = "gid://shopify/Order/";

/**
 * Puts `perShop` due deliveries per shop in the queue as if webhooks had been recorded: one Webhook row with
 * the real body and one pending Delivery per event. Each webhook's body is its own (the order's gid differs), as
 * real ones are: with one text for all, a render thread would parse it once and reuse the tree for every delivery,
 * and the bench would leave out the parse that production pays per delivery.
 */
export async function preloadDeliveries(
  db: BenchDb,
  mappingByShop: Map<string, string>,
  perShop: number,
  body: string,
  prefix = "pre",
  prerendered = true,
): Promise<number> {
  if (!body.includes(FIXTURE_ORDER_GID)) throw new Error(`preloadDeliveries needs a body holding ${FIXTURE_ORDER_GID}, to give each webhook its own`);
  const now = new Date();
  const ahead = prerendered ? await aheadRenderer(db, mappingByShop) : () => null;
  const bodyAt = (n: number) => body.replace(FIXTURE_ORDER_GID, `${ORDER_GID}${PRELOAD_ORDER_BASE + n}`);
  let total = 0;
  if (db.provider === "sqlite") {
    const sqlite = sqliteHandle(db);
    const insertWebhook = sqlite.prepare(
      `INSERT INTO "Webhook" (id, shop, topic, "eventKey", "webhookId", "apiVersion", "receivedAt", "orderId", body) VALUES (?, ?, 'orders/fulfilled', ?, ?, '2026-10', ?, ?, ?)`,
    );
    const insertDelivery = sqlite.prepare(
      `INSERT INTO "Delivery" (id, shop, "webhookRecordId", "mappingId", topic, "eventType", "externalEventId", status, "nextAttemptAt", "occurredAt", "createdAt", "updatedAt", prerendered) VALUES (?, ?, ?, ?, 'orders/fulfilled', 'Order Fulfilled', ?, 'pending', ?, ?, ?, ?, ?)`,
    );
    const at = sqliteDate(now);
    const load = sqlite.transaction(() => {
      for (let i = 0; i < perShop; i++) {
        for (const [shop, mappingId] of mappingByShop) {
          const webhookId = `${prefix}-w-${shop}-${i}`;
          const text = bodyAt(total);
          insertWebhook.run(webhookId, shop, `gid://shopify/Order/${prefix}${i}`, webhookId, at, String(i), text);
          insertDelivery.run(`${prefix}-d-${shop}-${i}`, shop, webhookId, mappingId, `${prefix}-e-${shop}-${i}`, at, at, at, at, ahead(shop, text));
          total++;
        }
      }
    });
    load();
    return total;
  }
  // One statement per table, rows in arrival order (event i of every shop before event i + 1 of any), as on SQLite:
  // every delivery is due at the same moment, so the queue's order among them is the order they were written in.
  const shops = [...mappingByShop.keys()];
  const mappings = shops.map((shop) => mappingByShop.get(shop)!);
  await db.exec(
    `INSERT INTO "Webhook" (id, shop, topic, "eventKey", "webhookId", "apiVersion", "receivedAt", "orderId", body)
     SELECT ?::text || '-w-' || s.shop || '-' || i, s.shop, 'orders/fulfilled', 'gid://shopify/Order/' || ?::text || i, ?::text || '-w-' || s.shop || '-' || i, '2026-10', ?::timestamp, i::text,
            replace(?::text, ?::text, ?::text || (?::bigint + i * ?::int + s.n - 1)::text)
     FROM generate_series(0, ?::int - 1) AS i CROSS JOIN unnest(?::text[]) WITH ORDINALITY AS s(shop, n)
     ORDER BY i, s.n`,
    [prefix, prefix, prefix, now.toISOString(), body, FIXTURE_ORDER_GID, ORDER_GID, PRELOAD_ORDER_BASE, shops.length, perShop, shops],
  );
  // The events rendered ahead, in the webhooks' order (i, then the shop's place): the bodies the statement above made.
  const events = Array.from({ length: perShop * shops.length }, (_, k) => ahead(shops[k % shops.length]!, bodyAt(k)));
  total += await db.exec(
    `INSERT INTO "Delivery" (id, shop, "webhookRecordId", "mappingId", topic, "eventType", "externalEventId", status, "nextAttemptAt", "occurredAt", "createdAt", "updatedAt", prerendered)
     SELECT ?::text || '-d-' || s.shop || '-' || i, s.shop, ?::text || '-w-' || s.shop || '-' || i, s.mapping, 'orders/fulfilled', 'Order Fulfilled', ?::text || '-e-' || s.shop || '-' || i, 'pending', ?::timestamp, ?::timestamp, ?::timestamp, ?::timestamp,
            (?::text[])[i * ?::int + s.n]
     FROM generate_series(0, ?::int - 1) AS i CROSS JOIN unnest(?::text[], ?::text[]) WITH ORDINALITY AS s(shop, mapping, n)
     ORDER BY i, s.n`,
    [prefix, prefix, prefix, now.toISOString(), now.toISOString(), now.toISOString(), now.toISOString(), events, shops.length, perShop, shops, mappings],
  );
  return total;
}

/**
 * What the app's commerce route stores beside each of these deliveries (docs/decisions/054): the shop's mapping
 * rendered from the webhook's body, with the app's own function. Its cost is the ingest's, measured there.
 */
async function aheadRenderer(db: BenchDb, mappingByShop: Map<string, string>): Promise<(shop: string, body: string) => string | null> {
  const definitions = await withPrisma(db, async (prisma) => {
    const rows = await prisma.mapping.findMany({ where: { id: { in: [...mappingByShop.values()] } } });
    return new Map(rows.map((row) => [row.shop, definitionOf(storedMapping(row))]));
  });
  return (shop, text) => {
    const definition = definitions.get(shop);
    if (!definition) return null;
    const rendered = prerender(definition, { topic: "orders/fulfilled", shop, body: parseShopifyJson(text), bodyChars: text.length });
    return rendered === null ? null : prerenderedText(rendered);
  };
}

/**
 * The local PostgreSQL server's CPU (all its processes, localPostgresCpuMs) and the commits of its database
 * (pg_stat_database, so every schema's), for a micro-benchmark's window; null when it runs on SQLite.
 */
export async function localPostgresFigures(provider: "sqlite" | "postgresql"): Promise<{ cpuMs: number; commits: number } | null> {
  if (provider !== "postgresql") return null;
  const cpuMs = localPostgresCpuMs();
  const client = new pg.Client({ connectionString: PG_BASE });
  await client.connect();
  try {
    const { rows } = await client.query<{ commits: string }>(`SELECT xact_commit AS commits FROM pg_stat_database WHERE datname = current_database()`);
    return { cpuMs, commits: Number(rows[0]?.commits ?? 0) };
  } finally {
    await client.end();
  }
}
