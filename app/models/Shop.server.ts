import type { Database } from "~/db.server";
import { defaultMappings } from "~/mapping/defaults";
import type { SecretBox } from "~/secrets/secret-box.server";
import { mappingRows } from "./Mapping.server";

/** What the app may show or log about a shop: never the key itself. */
export interface ShopSummary {
  domain: string;
  connected: boolean;
  attentiveKeyLast4: string | null;
  attentiveCompanyName: string | null;
  attentiveConnectedAt: Date | null;
  sendingPaused: boolean;
  logRetentionDays: number;
  uninstalledAt: Date | null;
}

const summarySelect = {
  domain: true,
  attentiveKeyCipher: true,
  attentiveKeyLast4: true,
  attentiveCompanyName: true,
  attentiveConnectedAt: true,
  sendingPaused: true,
  logRetentionDays: true,
  uninstalledAt: true,
} as const;

/**
 * A shop's permanent domain as Shopify makes it: `<name>.myshopify.com`, the name in lower-case
 * letters, digits and hyphens, one DNS label (at most 63 characters). Webhook headers and admin
 * sessions are checked against it before a shop is created.
 */
const SHOP_DOMAIN = /^[a-z0-9][a-z0-9-]{0,62}\.myshopify\.com$/;

export function isShopDomain(value: string): boolean {
  return SHOP_DOMAIN.test(value);
}

/**
 * Makes sure the shop has its row and, once in its life, the default mappings.
 * Safe to call concurrently from several processes: the seeding is claimed by a
 * conditional update, so only one caller inserts the defaults.
 */
export async function ensureShop(prisma: Database, domain: string): Promise<void> {
  // Callers check first (webhooks answer 400); this keeps a row of default mappings from ever
  // being made for a value like `a.myshopify.com/x` or 5,000 characters of header.
  if (!isShopDomain(domain)) throw new Error(`Not a shop domain (<name>.myshopify.com): ${JSON.stringify(domain.slice(0, 100))}`);
  const existing = await prisma.shop.findUnique({ where: { domain }, select: { mappingsSeeded: true } });
  if (existing?.mappingsSeeded) return;
  // An INSERT alone, not Prisma's upsert: that is a transaction that reads, then writes, and on SQLite such a
  // transaction is refused at once (SQLITE_BUSY, "Operation has timed out") when the server's writer commits between
  // its read and its write, which under load it does every few milliseconds (test/models/ensure-shop-busy.test.ts).
  // A statement that writes first waits for the lock instead.
  if (!existing) {
    try {
      await prisma.shop.create({ data: { domain }, select: { domain: true } });
    } catch (error) {
      // Two first webhooks of a new shop can race; the other one created it.
      if (!isUniqueViolation(error)) throw error;
    }
  }
  await prisma.$transaction(async (tx) => {
    const claim = await tx.shop.updateMany({ where: { domain, mappingsSeeded: false }, data: { mappingsSeeded: true } });
    if (claim.count === 1) await tx.mapping.createMany({ data: mappingRows(domain, defaultMappings()) });
  });
}

export async function getShopSummary(prisma: Database, domain: string): Promise<ShopSummary | null> {
  const shop = await prisma.shop.findUnique({ where: { domain }, select: summarySelect });
  if (!shop) return null;
  const { attentiveKeyCipher, ...rest } = shop;
  return { ...rest, connected: attentiveKeyCipher !== null };
}

export async function connectAttentive(
  prisma: Database,
  box: SecretBox,
  domain: string,
  apiKey: string,
  companyName: string | null,
): Promise<ShopSummary> {
  await ensureShop(prisma, domain);
  const shop = await prisma.shop.update({
    where: { domain },
    data: {
      attentiveKeyCipher: box.seal(apiKey),
      attentiveKeyLast4: apiKey.slice(-4),
      attentiveCompanyName: companyName,
      attentiveConnectedAt: new Date(),
      uninstalledAt: null,
    },
    select: summarySelect,
  });
  const { attentiveKeyCipher, ...rest } = shop;
  return { ...rest, connected: attentiveKeyCipher !== null };
}

/** The plain API key, for the one place that needs it: the request to Attentive. */
export async function attentiveApiKey(prisma: Database, box: SecretBox, domain: string): Promise<string | null> {
  const shop = await prisma.shop.findUnique({ where: { domain }, select: { attentiveKeyCipher: true } });
  return shop?.attentiveKeyCipher ? box.open(shop.attentiveKeyCipher) : null;
}

export const UNINSTALLED_REASON = "The app was uninstalled from the shop before this event was sent.";

/** Stops sending for the shop: its sessions go, and what was waiting is skipped with the reason. */
export async function markUninstalled(prisma: Database, domain: string, now = new Date()): Promise<void> {
  await prisma.$transaction([
    prisma.session.deleteMany({ where: { shop: domain } }),
    prisma.shop.updateMany({ where: { domain }, data: { uninstalledAt: now } }),
    prisma.delivery.updateMany({
      where: { shop: domain, status: "pending" },
      data: { status: "skipped", lastError: UNINSTALLED_REASON, errorKind: null, finishedAt: now },
    }),
    // A history backfill ends with the install (its bulk operation ends with the app's access).
    prisma.backfill.updateMany({
      where: { activeShop: domain },
      data: { status: "cancelled", activeShop: null, pausedFrom: null, finishedAt: now, lastError: "The app was uninstalled.", leaseOwner: null, leaseExpiresAt: null },
    }),
  ]);
}

export async function markInstalled(prisma: Database, domain: string): Promise<void> {
  await ensureShop(prisma, domain);
  await prisma.shop.updateMany({ where: { domain, uninstalledAt: { not: null } }, data: { uninstalledAt: null } });
}

/** Shops whose deliveries wait: the merchant paused sending. */
export async function pausedShops(prisma: Database): Promise<string[]> {
  const rows = await prisma.shop.findMany({ where: { sendingPaused: true }, select: { domain: true } });
  return rows.map((row) => row.domain);
}

export function isUniqueViolation(error: unknown): boolean {
  return typeof error === "object" && error !== null && "code" in error && error.code === "P2002";
}

export { RETENTION_CHOICES } from "./retention-choices";

export async function updateShopSettings(
  prisma: Database,
  domain: string,
  settings: { sendingPaused: boolean; logRetentionDays: number },
): Promise<void> {
  await ensureShop(prisma, domain);
  await prisma.shop.update({ where: { domain }, data: settings });
}

/** Forgets the key. Deliveries keep waiting or fail with "connect a key" until a new one is saved. */
export async function disconnectAttentive(prisma: Database, domain: string): Promise<void> {
  await prisma.shop.updateMany({
    where: { domain },
    data: { attentiveKeyCipher: null, attentiveKeyLast4: null, attentiveCompanyName: null, attentiveConnectedAt: null },
  });
}
