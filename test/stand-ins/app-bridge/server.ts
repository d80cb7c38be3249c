/**
 * Serves the App Bridge stand-in (app-bridge.js next to this file) on loopback, with a session token signed
 * by this process inlined into it, and `GET /session-token` for fresh tokens (the script's `idToken()` calls
 * it when its token is about to expire, and after the app asks for a retry).
 *
 * The built app loads this script in two ways:
 * - the bounce and exit-iframe pages that shopify-app-remix renders on the server honour `APP_BRIDGE_URL`
 *   (set it to `scriptUrl`);
 * - `<AppProvider>` renders `<script src="https://cdn.shopify.com/shopifycloud/app-bridge.js">` whatever the
 *   environment says (its `__APP_BRIDGE_URL` prop is the only override), so a browser test answers that URL
 *   with `script()` through route interception.
 *
 * Run alone: tsx test/stand-ins/app-bridge/server.ts --secret test-api-secret --api-key test-api-key
 */
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { adminHost, signSessionToken, type SessionTokenOptions } from "./session-token";

export const CDN_APP_BRIDGE_URL = "https://cdn.shopify.com/shopifycloud/app-bridge.js";

export interface AppBridgeStandInOptions {
  apiKey: string;
  apiSecret: string;
  shop: string;
  userId?: string;
  /** The scopes granted at the start, comma-separated (default the required ones). */
  scopes?: string;
  /** As shopify.app.toml declares them: scopes.request accepts optional ones only. */
  requiredScopes?: readonly string[];
  optionalScopes?: readonly string[];
  port?: number;
}

export interface AppBridgeStandIn {
  origin: string;
  /** The script's URL on this server (for `APP_BRIDGE_URL`). */
  scriptUrl: string;
  /** The script as served, with a fresh token inlined. */
  script(): string;
  /** A session token for the test shop, signed with the app secret unless `secret` says otherwise. */
  sessionToken(overrides?: Partial<SessionTokenOptions>): string;
  /** The `host` parameter Shopify admin passes for the test shop. */
  host: string;
  /** Whether the script reloads the bounce page with a fresh token (as the real App Bridge does). Default true. */
  bounce: boolean;
  /** How many tokens `GET /session-token` has handed out. */
  readonly tokenRequests: number;
  /** The scopes granted now, as Shopify would know them (the page's grants and revokes change them). */
  readonly grantedScopes: string[];
  readonly requiredScopes: readonly string[];
  readonly optionalScopes: readonly string[];
  close(): Promise<void>;
}

const SOURCE = readFileSync(new URL("./app-bridge.js", import.meta.url), "utf8");

export async function startAppBridgeStandIn(options: AppBridgeStandInOptions): Promise<AppBridgeStandIn> {
  const host = adminHost(options.shop);
  let tokenRequests = 0;
  const requiredScopes = options.requiredScopes ?? [];
  const optionalScopes = options.optionalScopes ?? [];
  const granted = new Set((options.scopes ?? (requiredScopes.join(",") || "read_orders")).split(",").filter(Boolean));
  const sessionToken = (overrides: Partial<SessionTokenOptions> = {}) =>
    signSessionToken({
      shop: options.shop,
      apiKey: options.apiKey,
      secret: options.apiSecret,
      userId: options.userId,
      ...overrides,
    });

  let origin = "";
  const standIn: AppBridgeStandIn = {
    origin: "",
    scriptUrl: "",
    host,
    bounce: true,
    get tokenRequests() {
      return tokenRequests;
    },
    get grantedScopes() {
      return [...granted];
    },
    requiredScopes,
    optionalScopes,
    sessionToken,
    script() {
      const config = {
        apiKey: options.apiKey,
        shop: options.shop,
        host,
        locale: "en-US",
        userId: options.userId ?? "42",
        scopes: [...granted].join(","),
        requiredScopes,
        optionalScopes,
        scopesUrl: `${origin}/scopes`,
        token: sessionToken(),
        tokenUrl: `${origin}/session-token`,
        bounce: standIn.bounce,
        bouncePath: "/auth/session-token",
      };
      return `window.__APP_BRIDGE_STAND_IN_CONFIG__ = ${JSON.stringify(config)};\n${SOURCE}`;
    },
    close: async () => undefined,
  };

  function handle(req: IncomingMessage, res: ServerResponse) {
    const path = new URL(req.url ?? "/", "http://stand-in").pathname;
    const cors = { "access-control-allow-origin": "*", "cache-control": "no-store" };
    if (req.method === "GET" && path === "/app-bridge.js") {
      res.writeHead(200, { ...cors, "content-type": "text/javascript; charset=utf-8" });
      res.end(standIn.script());
      return;
    }
    if (req.method === "GET" && path === "/session-token") {
      tokenRequests += 1;
      res.writeHead(200, { ...cors, "content-type": "application/json" });
      res.end(JSON.stringify({ token: sessionToken() }));
      return;
    }
    if (req.method === "POST" && path === "/scopes") {
      // The page's grant or revoke, as Shopify records it: optional scopes only (the script checked; so does this).
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString()));
      req.on("end", () => {
        let change: { grant?: unknown; revoke?: unknown };
        try {
          change = JSON.parse(body) as typeof change;
        } catch {
          change = {};
        }
        const handles = [change.grant, change.revoke].flatMap((list) => (Array.isArray(list) ? list : []));
        if (handles.length === 0 || !handles.every((scope) => typeof scope === "string" && optionalScopes.includes(scope))) {
          res.writeHead(400, { ...cors, "content-type": "application/json" });
          res.end(JSON.stringify({ error: "grant or revoke optional scopes of this app" }));
          return;
        }
        for (const scope of Array.isArray(change.grant) ? (change.grant as string[]) : []) granted.add(scope);
        for (const scope of Array.isArray(change.revoke) ? (change.revoke as string[]) : []) granted.delete(scope);
        res.writeHead(200, { ...cors, "content-type": "application/json" });
        res.end(JSON.stringify({ granted: [...granted] }));
      });
      return;
    }
    if (req.method === "OPTIONS") {
      res.writeHead(204, { ...cors, "access-control-allow-headers": "*" });
      res.end();
      return;
    }
    res.writeHead(404, cors);
    res.end();
  }

  const server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  standIn.origin = origin;
  standIn.scriptUrl = `${origin}/app-bridge.js`;
  standIn.close = () =>
    new Promise((resolve, reject) => {
      server.close((error) => (error ? reject(error) : resolve()));
      server.closeAllConnections();
    });
  return standIn;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const { values } = parseArgs({
    options: {
      port: { type: "string", default: "4020" },
      secret: { type: "string", default: "test-api-secret" },
      "api-key": { type: "string", default: "test-api-key" },
      shop: { type: "string", default: "test-shop.myshopify.com" },
    },
  });
  const standIn = await startAppBridgeStandIn({
    port: Number(values.port),
    apiSecret: values.secret,
    apiKey: values["api-key"],
    shop: values.shop,
  });
  console.log(`App Bridge stand-in: ${standIn.scriptUrl} (tokens at ${standIn.origin}/session-token)`);
}
