/**
 * Shopify session storage that keeps each shop's offline Admin API token (and a refresh token, when Shopify issues
 * one) encrypted at rest with the same secret box as the Attentive API key. It wraps PrismaSessionStorage: tokens are
 * sealed before a session is written and opened after it is read, so the rest of the app (and the Shopify library)
 * only ever sees plain tokens in memory.
 *
 * A stored token is `enc:` followed by the secret box's envelope (`v1:<key id>:<iv>:<tag>:<body>`). The prefix is
 * what tells ciphertext from a row written before this change: Shopify's tokens (`shpat_…`, `shpua_…`) never
 * start with it, and an envelope alone (`v1:…`) would be a weaker signal. A plain token is passed through on read and
 * sealed the next time the session is stored, or at once by `npm run cli -- secrets rotate`.
 */
import { Session } from "@shopify/shopify-api";
import type { SessionStorage } from "@shopify/shopify-app-session-storage";
import type { Database } from "~/db.server";
import { SecretKeyError, type SecretBox } from "./secret-box.server";

export const SEALED_TOKEN_PREFIX = "enc:";

/** A stored Shopify token this app cannot read. Its message never holds the token or its ciphertext. */
export class SessionTokenError extends SecretKeyError {
  override name = "SessionTokenError";
}

const WHAT_TO_DO =
  "Set APP_ENCRYPTION_KEY to the key the session was stored with, or add that key to APP_ENCRYPTION_KEY_PREVIOUS " +
  "(comma-separated) and restart; if the key is lost, open the app from the shop's Shopify admin to reinstall it, " +
  "which stores a fresh token.";

export function isSealedToken(value: string): boolean {
  return value.startsWith(SEALED_TOKEN_PREFIX);
}

export function sealToken(box: SecretBox, plain: string): string {
  return SEALED_TOKEN_PREFIX + box.seal(plain);
}

/** The plain token; a value without the prefix is a row from before encryption and is returned as it is. */
export function openToken(box: SecretBox, stored: string, sessionId: string): string {
  if (!isSealedToken(stored)) return stored;
  try {
    return box.open(stored.slice(SEALED_TOKEN_PREFIX.length));
  } catch (error) {
    // The secret box's own wording is about the Attentive key; say which session and what to do instead.
    const said = error instanceof Error ? error.message : "";
    const reason = /integrity/.test(said)
      ? "it failed its integrity check (the key is wrong or the value was altered)"
      : /neither/.test(said)
        ? "it was encrypted with a key that is neither APP_ENCRYPTION_KEY nor in APP_ENCRYPTION_KEY_PREVIOUS"
        : "it is not in a format this app can read";
    throw new SessionTokenError(`The stored Shopify access token of session ${sessionId} cannot be decrypted: ${reason}. ${WHAT_TO_DO}`);
  }
}

/** The box; an unset or malformed key is reported as blocking Shopify sessions too, with what to set. */
function openBox(box: () => SecretBox): SecretBox {
  try {
    return box();
  } catch (error) {
    if (!(error instanceof SecretKeyError)) throw error;
    throw new SessionTokenError(`Shopify sessions cannot be stored or read: ${error.message}`);
  }
}

function withTokens(session: Session, map: (token: string) => string): Session {
  // A copy: the library keeps using the session it handed us, with its plain token.
  const copy = new Session(session.toObject());
  if (copy.accessToken) copy.accessToken = map(copy.accessToken);
  if (copy.refreshToken) copy.refreshToken = map(copy.refreshToken);
  return copy;
}

export class EncryptedSessionStorage implements SessionStorage {
  constructor(
    private readonly inner: SessionStorage,
    /** Called per operation so a rotation's new environment is read as the CLI reads it; building a box is cheap. */
    private readonly box: () => SecretBox,
  ) {}

  async storeSession(session: Session): Promise<boolean> {
    const box = openBox(this.box);
    return this.inner.storeSession(withTokens(session, (token) => (isSealedToken(token) ? token : sealToken(box, token))));
  }

  async loadSession(id: string): Promise<Session | undefined> {
    const stored = await this.inner.loadSession(id);
    if (!stored) return undefined;
    const box = openBox(this.box);
    return withTokens(stored, (token) => openToken(box, token, stored.id));
  }

  async findSessionsByShop(shop: string): Promise<Session[]> {
    const stored = await this.inner.findSessionsByShop(shop);
    if (stored.length === 0) return stored;
    const box = openBox(this.box);
    return stored.map((session) => withTokens(session, (token) => openToken(box, token, session.id)));
  }

  deleteSession(id: string): Promise<boolean> {
    return this.inner.deleteSession(id);
  }

  deleteSessions(ids: string[]): Promise<boolean> {
    return this.inner.deleteSessions(ids);
  }
}

export interface SessionTokenRotation {
  sessions: number;
  rewritten: number;
}

/**
 * Re-seals every stored session token with the current key and seals tokens still stored in clear. Rows already
 * sealed with the current key are left alone. A token no listed key opens stops the run with SessionTokenError;
 * rows rewritten before it stay rewritten (each is readable with the current key), so the run can be repeated.
 */
export async function rotateSessionTokens(prisma: Database, box: SecretBox): Promise<SessionTokenRotation> {
  const rows = await prisma.session.findMany({ select: { id: true, accessToken: true, refreshToken: true }, orderBy: { id: "asc" } });
  let rewritten = 0;
  const reseal = (stored: string, id: string) => sealToken(box, openToken(box, stored, id));
  const needsWork = (stored: string | null): stored is string =>
    !!stored && (!isSealedToken(stored) || box.isStale(stored.slice(SEALED_TOKEN_PREFIX.length)));
  for (const row of rows) {
    const access = needsWork(row.accessToken) ? reseal(row.accessToken, row.id) : undefined;
    const refresh = needsWork(row.refreshToken) ? reseal(row.refreshToken, row.id) : undefined;
    if (access === undefined && refresh === undefined) continue;
    await prisma.session.update({ where: { id: row.id }, data: { accessToken: access, refreshToken: refresh } });
    rewritten++;
  }
  return { sessions: rows.length, rewritten };
}
