/**
 * `npm start`: the production server. It serves what remix-serve would (the build's
 * assets, then every request through Remix), except POST /webhooks/commerce, which
 * Node's HTTP server hands straight to the webhook path exported by the build
 * (decision 007): the busiest route skips Express and Remix's request translation.
 *
 *   tsx app/serve.ts [build/server/index.js]
 *
 * PORT (default 3000) and HOST (default all interfaces) as remix-serve reads them.
 * This file imports nothing of the app: the build holds it, in one module graph
 * with the routes and the embedded worker.
 */
import { createRequestHandler } from "@remix-run/express";
import { installGlobals, type ServerBuild } from "@remix-run/node";
import compression from "compression";
import express from "express";
import { existsSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

type WebhookHandler = (req: IncomingMessage, res: ServerResponse) => void;

const COMMERCE_WEBHOOK_PATH = "/webhooks/commerce";

async function main() {
  process.env.NODE_ENV ??= "production";
  const buildPath = resolve(process.argv[2] ?? "build/server/index.js");
  if (!existsSync(buildPath)) throw new Error(`No server build at ${buildPath}: run \`npm run build\` first.`);
  const build = (await import(pathToFileURL(buildPath).href)) as ServerBuild;
  installGlobals({ nativeFetch: build.future.v3_singleFetch });
  const handleCommerceWebhook = (build.entry.module as { handleCommerceWebhook?: WebhookHandler }).handleCommerceWebhook;
  if (!handleCommerceWebhook) throw new Error(`${buildPath} does not export handleCommerceWebhook from app/entry.server.tsx`);

  const app = express();
  app.disable("x-powered-by");
  app.use(compression());
  app.use(build.publicPath, express.static(build.assetsBuildDirectory, { immutable: true, maxAge: "1y" }));
  app.use(express.static("public", { maxAge: "1h" }));
  app.all("*", createRequestHandler({ build, mode: process.env.NODE_ENV }));

  const server = createServer((req, res) => {
    if (req.method === "POST" && isCommerceWebhook(req.url)) handleCommerceWebhook(req, res);
    else app(req, res);
  });
  // Shopify waits 5 s for an answer; keep connections open for its next delivery.
  server.keepAliveTimeout = 65_000;
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

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
