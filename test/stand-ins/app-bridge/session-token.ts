/**
 * Session tokens shaped like the ones Shopify admin's App Bridge hands an embedded app: an HS256 JWT signed
 * with the app's client secret. `decodeSessionToken` in @shopify/shopify-api 15 checks the signature (HS256
 * only), `exp` and `nbf` (10 s clock tolerance) and `aud` === the API key; shopify-app-remix then takes the
 * shop from `dest`. The other claims are there because real tokens carry them.
 */
import { createHmac, randomUUID } from "node:crypto";

export interface SessionTokenOptions {
  shop: string;
  apiKey: string;
  /** Signs with this; pass another value to forge a token. */
  secret: string;
  /** The staff member's user id (`sub`). */
  userId?: string;
  /** Session id of the admin session (`sid`). */
  sid?: string;
  /** Real tokens live one minute. */
  lifetimeSeconds?: number;
  /** Seconds since the epoch; default now. */
  now?: number;
  /** Claims to override or add (e.g. `{ aud: "someone-else" }`, `{ exp: 0 }`). */
  claims?: Record<string, unknown>;
}

export interface SessionTokenPayload {
  iss: string;
  dest: string;
  aud: string;
  sub: string;
  exp: number;
  nbf: number;
  iat: number;
  jti: string;
  sid: string;
  [claim: string]: unknown;
}

function base64url(value: string | Buffer): string {
  return Buffer.from(value).toString("base64url");
}

export function sessionTokenPayload(options: Omit<SessionTokenOptions, "secret">): SessionTokenPayload {
  const now = options.now ?? Math.floor(Date.now() / 1000);
  return {
    iss: `https://${options.shop}/admin`,
    dest: `https://${options.shop}`,
    aud: options.apiKey,
    sub: options.userId ?? "42",
    exp: now + (options.lifetimeSeconds ?? 60),
    nbf: now,
    iat: now,
    jti: randomUUID(),
    sid: options.sid ?? "stand-in-admin-session",
    ...options.claims,
  };
}

export function signSessionToken(options: SessionTokenOptions): string {
  const header = base64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const payload = base64url(JSON.stringify(sessionTokenPayload(options)));
  const signature = createHmac("sha256", options.secret).update(`${header}.${payload}`).digest("base64url");
  return `${header}.${payload}.${signature}`;
}

/** Shopify's `host` parameter: base64 of `admin.shopify.com/store/<store name>`. */
export function adminHost(shop: string): string {
  const store = shop.replace(/\.myshopify\.com$/, "");
  return Buffer.from(`admin.shopify.com/store/${store}`).toString("base64").replace(/=+$/, "");
}
