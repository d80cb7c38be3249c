/**
 * `npm start`: the production server. It serves what remix-serve would (the build's
 * assets, then every request through Remix), except /webhooks/commerce, which Node's
 * HTTP server hands straight to the webhook path exported by the build (decision 007):
 * the busiest route skips Express and Remix's request translation.
 *
 *   tsx app/serve.ts [build/server/index.js]
 *
 * PORT (default 3000) and HOST (default all interfaces) as remix-serve reads them;
 * HTTP_HEADERS_TIMEOUT_MS and HTTP_REQUEST_TIMEOUT_MS as below (decision 011).
 * This file imports nothing of the app: the build holds it, in one module graph
 * with the routes and the embedded worker.
 */
import "./node-version";
import { createRequestHandler } from "@remix-run/express";
import { installGlobals, type ServerBuild } from "@remix-run/node";
import compression from "compression";
import express from "express";
import { existsSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

type NodeHandler = (req: IncomingMessage, res: ServerResponse) => void;

const COMMERCE_WEBHOOK_PATH = "/webhooks/commerce";

/**
 * Shopify waits 5 s for a webhook's answer, and its requests are small (headers, a body of a few
 * kB): a connection that has not sent its headers in 10 s, or its whole request in 30 s, is not
 * Shopify, and is cut (Node answers 408 and closes) instead of being held for Node's default 5 minutes.
 */
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

export interface ServerTimeouts {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
}

export function timeoutsFromEnv(source: Record<string, string | undefined> = process.env): ServerTimeouts {
  const read = (name: string, fallback: number) => {
    const text = source[name];
    if (text === undefined || text === "") return fallback;
    const value = Number(text);
    if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive whole number of milliseconds, not "${text}"`);
    return value;
  };
  const requestTimeoutMs = read("HTTP_REQUEST_TIMEOUT_MS", DEFAULT_REQUEST_TIMEOUT_MS);
  // Node requires headersTimeout <= requestTimeout.
  const headersTimeoutMs = Math.min(read("HTTP_HEADERS_TIMEOUT_MS", DEFAULT_HEADERS_TIMEOUT_MS), requestTimeoutMs);
  return { headersTimeoutMs, requestTimeoutMs };
}

/**
 * The HTTP server of `npm start`: /webhooks/commerce (any method: the handler answers 405 to all
 * but POST) to the direct webhook handler, everything else to `app` (Express with Remix).
 */
export function createProductionServer(handlers: { commerceWebhook: NodeHandler; app: NodeHandler }, timeouts: ServerTimeouts): Server {
  const server = createServer(
    {
      headersTimeout: timeouts.headersTimeoutMs,
      requestTimeout: timeouts.requestTimeoutMs,
      // Node enforces both timeouts by a sweep at this interval (default 30 s, which would let a
      // 10 s limit run to 40 s).
      connectionsCheckingInterval: Math.max(10, Math.min(1_000, Math.floor(timeouts.headersTimeoutMs / 4))),
    },
    (req, res) => {
      if (isCommerceWebhook(req.url)) handlers.commerceWebhook(req, res);
      else handlers.app(req, res);
    },
  );
  // Keep connections open for Shopify's next delivery.
  server.keepAliveTimeout = 65_000;
  return server;
}

async function main() {
  process.env.NODE_ENV ??= "production";
  const timeouts = timeoutsFromEnv();
  const buildPath = resolve(process.argv[2] ?? "build/server/index.js");
  if (!existsSync(buildPath)) throw new Error(`No server build at ${buildPath}: run \`npm run build\` first.`);
  const build = (await import(pathToFileURL(buildPath).href)) as ServerBuild;
  installGlobals({ nativeFetch: build.future.v3_singleFetch });
  const handleCommerceWebhook = (build.entry.module as { handleCommerceWebhook?: NodeHandler }).handleCommerceWebhook;
  if (!handleCommerceWebhook) throw new Error(`${buildPath} does not export handleCommerceWebhook from app/entry.server.tsx`);

  const app = express();
  app.disable("x-powered-by");
  app.use(compression());
  app.use(build.publicPath, express.static(build.assetsBuildDirectory, { immutable: true, maxAge: "1y" }));
  app.use(express.static("public", { maxAge: "1h" }));
  app.all("*", createRequestHandler({ build, mode: process.env.NODE_ENV }));

  const server = createProductionServer({ commerceWebhook: handleCommerceWebhook, app }, timeouts);
  const port = Number(process.env.PORT ?? 3000);
  const host = process.env.HOST;
  await new Promise<void>((done) => (host ? server.listen(port, host, done) : server.listen(port, done)));
  console.warn(`[serve] http://${host ?? "localhost"}:${port}`);
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => server.close((error) => error && console.error(error)));
  }
}

function isCommerceWebhook(url: string | undefined): boolean {
  if (!url?.startsWith(COMMERCE_WEBHOOK_PATH)) return false;
  const rest = url.slice(COMMERCE_WEBHOOK_PATH.length);
  return rest === "" || rest.startsWith("?");
}

// Run as `npm start`; imported (by tests), it only exports the server factory.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
