/**
 * What every admin route starts with: the session's shop (never a shop named in the
 * request), and the configured Attentive client options.
 */
import { db, type Database } from "~/db.server";
import { readEnv } from "~/env.server";
import type { AttentiveClientOptions } from "~/attentive/client.server";
import type { AdminGraphqlClient } from "~/shopify/order-lookup.server";
import { authenticate } from "~/shopify.server";

export interface AdminContext {
  shop: string;
  prisma: Database;
  /** Asks Shopify (Admin API) which access scopes the shop has granted the app now. */
  queryGrantedScopes(): Promise<string[]>;
  /** The session's Admin GraphQL client (the Past orders page counts orders and cancels bulk operations with it). */
  admin: AdminGraphqlClient;
}

export async function adminContext(request: Request): Promise<AdminContext> {
  const { session, scopes, admin } = await authenticate.admin(request);
  return { shop: session.shop, prisma: db(), queryGrantedScopes: async () => (await scopes.query()).granted, admin };
}

/** Read per request (a small zod parse) so a changed ATTENTIVE_API_URL applies without a restart. */
export function attentiveOptions(): AttentiveClientOptions {
  const config = readEnv();
  return { apiUrl: config.ATTENTIVE_API_URL, timeoutMs: config.ATTENTIVE_TIMEOUT_MS, propertiesEncoding: config.ATTENTIVE_PROPERTIES_ENCODING };
}

/** The same answer for "does not exist" and "belongs to another shop". */
export function notFound(what: string): Response {
  return new Response(`${what} not found`, { status: 404 });
}
