/**
 * The HTTP server of `npm start` (app/serve.ts's createProductionServer, with its timeouts) in
 * the test process, over a Remix build made of the app's real modules: the entry, the root, the
 * webhook routes and the auth routes. Requests go over real HTTP through the same split as in
 * production: /webhooks/commerce to the direct handler, the rest through Express and Remix.
 * (A real `npm run build` takes a minute and is shared by other suites; what is tested here is
 * the server shell and the route modules, which this build holds unchanged.)
 */
import { createRequestHandler } from "@remix-run/express";
import type { ServerBuild } from "@remix-run/node";
import express from "express";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createProductionServer, timeoutsFromEnv, type ServerTimeouts } from "~/production-server";
import * as entry from "~/entry.server";
import * as root from "~/root";
import * as authSplat from "~/routes/auth.$";
import * as authLogin from "~/routes/auth.login";
import * as flowAction from "~/routes/flow.actions.send-attentive-event";
import * as webhooksApp from "~/routes/webhooks.app";
import * as webhooksCommerce from "~/routes/webhooks.commerce";
import * as webhooksCompliance from "~/routes/webhooks.compliance";
import { handleCommerceWebhook } from "~/webhooks/route.server";

type RouteModule = ServerBuild["routes"][string]["module"];

// Remix's type asks every route for a component; resource routes (the webhook routes) have none,
// as in a real build.
const resource = (module: object) => module as RouteModule;

const ROUTES: Record<string, { path: string; module: RouteModule }> = {
  "routes/webhooks.commerce": { path: "webhooks/commerce", module: resource(webhooksCommerce) },
  "routes/webhooks.app": { path: "webhooks/app", module: resource(webhooksApp) },
  "routes/webhooks.compliance": { path: "webhooks/compliance", module: resource(webhooksCompliance) },
  "routes/flow.actions.send-attentive-event": { path: "flow/actions/send-attentive-event", module: resource(flowAction) },
  "routes/auth.login": { path: "auth/login", module: authLogin },
  "routes/auth.$": { path: "auth/*", module: resource(authSplat) },
};

function testBuild(): ServerBuild {
  const routes: ServerBuild["routes"] = { root: { id: "root", path: "", module: root } };
  const assetRoutes: ServerBuild["assets"]["routes"] = {
    root: { id: "root", path: "", module: "/assets/root.js", hasAction: false, hasLoader: false, hasClientAction: false, hasClientLoader: false, hasErrorBoundary: false },
  };
  for (const [id, { path, module }] of Object.entries(ROUTES)) {
    routes[id] = { id, parentId: "root", path, module };
    assetRoutes[id] = {
      id,
      parentId: "root",
      path,
      module: `/assets/${id}.js`,
      hasAction: "action" in module,
      hasLoader: "loader" in module,
      hasClientAction: false,
      hasClientLoader: false,
      hasErrorBoundary: false,
    };
  }
  return {
    mode: "production",
    // app/entry.server.tsx's handleRequest is typed as returning Promise<unknown> (it resolves a Response).
    entry: { module: entry as unknown as ServerBuild["entry"]["module"] },
    routes,
    assets: { entry: { module: "/assets/entry.client.js", imports: [] }, routes: assetRoutes, url: "/assets/manifest.js", version: "test" },
    publicPath: "/assets/",
    assetsBuildDirectory: "build/client/assets",
    future: { v3_fetcherPersist: true, v3_relativeSplatPath: true, v3_throwAbortReason: true, v3_lazyRouteDiscovery: true, v3_singleFetch: false },
    isSpaMode: false,
  };
}

export interface RunningServer {
  server: Server;
  origin: string;
  port: number;
  close(): Promise<void>;
}

export async function startProductionServer(timeouts: ServerTimeouts = timeoutsFromEnv({})): Promise<RunningServer> {
  const app = express();
  app.disable("x-powered-by");
  app.all("*", createRequestHandler({ build: testBuild(), mode: "production" }));
  const server = createProductionServer({ commerceWebhook: handleCommerceWebhook, app }, timeouts);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    port,
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
