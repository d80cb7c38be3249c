/**
 * The access scopes a shop has granted the app, as its sessions' `scope` column holds them (comma-separated). Token
 * exchange writes it when a session is made; afterwards app/scopes_update and the Mappings page's refresh after a
 * grant keep it right (which topics wait for a scope: app/mapping/access-scopes.ts).
 */
import type { Database } from "~/db.server";

/** The offline session's scopes: what the app's webhooks and Admin API calls run with. Null when unknown. */
export async function grantedScopes(prisma: Database, shop: string): Promise<string | null> {
  const session = await prisma.session.findFirst({ where: { shop, isOnline: false }, select: { scope: true } });
  return session?.scope ?? null;
}

/** Records the scopes Shopify says are granted now on every session of the shop (all share the installation's). */
export async function recordGrantedScopes(prisma: Database, shop: string, scopes: readonly string[]): Promise<void> {
  await prisma.session.updateMany({ where: { shop }, data: { scope: scopes.join(",") } });
}
