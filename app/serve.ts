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
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { createProductionServer, timeoutsFromEnv, type NodeHandler } from "./production-server";

async function main() {
  process.env.NODE_ENV ??= "production";
  const timeouts = timeoutsFromEnv();
  const buildPath = resolve(process.argv[2] ?? "build/server/index.js");
  if (!existsSync(buildPath)) throw new Error(`No server build at ${buildPath}: run \`npm run build\` first.`);
  const build = (await import(pathToFileURL(buildPath).href)) as ServerBuild;
  // Node's own fetch, Request and Response (as Shopify's Remix template does), not Remix's polyfill:
  // a request aborted by its timeout while the polyfill held the body's reader threw an unhandled
  // "Cannot cancel a stream that already has a reader" and killed the process (issue 8, break 1).
  // Everything else (the Admin API calls of shopify-api, the tests) already runs on Node's own.
  installGlobals({ nativeFetch: true });
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

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
