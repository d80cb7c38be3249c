/**
 * Prisma Migrate's WebAssembly schema engine reads pg_catalog columns of type `name`
 * (oid 19) and `"char"` (oid 18), which @prisma/adapter-pg cannot deserialize
 * (prisma/prisma#27403). This pool reports those columns as text (oid 25) so that
 * `prisma migrate deploy` / `status` work without the native engine. Used only by
 * prisma.config.ts, never by the app at run time.
 */
import pg from "pg";

const NAME_OID = 19;
const CHAR_OID = 18;
const TEXT_OID = 25;

type QueryResultLike = { fields?: Array<{ dataTypeID: number }> };

function asText<T>(result: T): T {
  const fields = (result as QueryResultLike | undefined)?.fields;
  if (Array.isArray(fields)) {
    for (const field of fields) {
      if (field.dataTypeID === NAME_OID || field.dataTypeID === CHAR_OID) field.dataTypeID = TEXT_OID;
    }
  }
  return result;
}

class CatalogFriendlyClient extends pg.Client {
  // pg.Pool calls query() with a callback; the adapter calls it with promises. Wrap both.
  override query(...args: unknown[]): never {
    const last = args[args.length - 1];
    if (typeof last === "function") {
      const callback = last as (err: unknown, res: unknown) => void;
      args[args.length - 1] = (err: unknown, res: unknown) => callback(err, err ? res : asText(res));
      return (super.query as (...a: unknown[]) => never)(...args);
    }
    const out = (super.query as (...a: unknown[]) => unknown)(...args);
    if (out && typeof (out as Promise<unknown>).then === "function") {
      return (out as Promise<unknown>).then(asText) as never;
    }
    return out as never;
  }
}

/** A pool for Prisma Migrate; with `schema`, that schema is created and made the search path. */
export async function migrationPool(connectionString: string, schema?: string): Promise<pg.Pool> {
  if (!schema) return new pg.Pool({ connectionString, Client: CatalogFriendlyClient, max: 2 });
  const quoted = `"${schema.replaceAll('"', '""')}"`;
  const setup = new pg.Client({ connectionString });
  await setup.connect();
  try {
    await setup.query(`CREATE SCHEMA IF NOT EXISTS ${quoted}`);
  } finally {
    await setup.end();
  }
  return new pg.Pool({ connectionString, Client: CatalogFriendlyClient, max: 2, options: `-c search_path=${quoted}` });
}
