/**
 * Shopify's Admin GraphQL API for an app running in another process (the browser tests' production server): a
 * loopback HTTP server that answers by operation name, like the in-process fake in shopify-admin.ts, and records
 * anything it was not told about in `unexpected`. The app process loads shopify-admin-route.mjs (`node --import`),
 * which sends its requests to https://<shop>/admin/... here instead, so no test reaches Shopify.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import type { AdminCall, OperationHandler } from "./shopify-admin";

/** The preload the app process needs (`node --import <this> …`), and the variable that tells it where to send. */
export const ADMIN_ROUTE_PRELOAD = fileURLToPath(new URL("./shopify-admin-route.mjs", import.meta.url));
export const ADMIN_STAND_IN_URL_VARIABLE = "SHOPIFY_ADMIN_STAND_IN_URL";

export interface ShopifyAdminStandIn {
  /** http://127.0.0.1:<port>: requests arrive as /<shop>/admin/api/<version>/graphql.json */
  origin: string;
  calls: AdminCall[];
  unexpected: string[];
  /** Answers for the named operations; everything else is unexpected (answered 500). */
  answer(handlers: Record<string, OperationHandler>): void;
  close(): Promise<void>;
}

const GRAPHQL_PATH = /^\/([^/]+)\/admin\/api\/([^/]+)\/graphql\.json$/;

export async function startShopifyAdminStandIn(): Promise<ShopifyAdminStandIn> {
  const calls: AdminCall[] = [];
  const unexpected: string[] = [];
  let operations: Record<string, OperationHandler> = {};

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const path = GRAPHQL_PATH.exec(new URL(req.url ?? "/", "http://stand-in").pathname);
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (req.method !== "POST" || !path) {
      unexpected.push(`unexpected request ${req.method} ${req.url}`);
      return reply(404, { errors: "Not Found" });
    }
    let payload: { query?: string; variables?: Record<string, unknown> };
    try {
      payload = JSON.parse(Buffer.concat(chunks).toString("utf8")) as typeof payload;
    } catch {
      unexpected.push(`a request body that is not JSON on ${req.url}`);
      return reply(400, { errors: "Bad Request" });
    }
    const operationName = /(?:query|mutation)\s+(\w+)/.exec(payload.query ?? "")?.[1] ?? "(anonymous)";
    const call: AdminCall = {
      shop: path[1]!,
      apiVersion: path[2]!,
      operationName,
      query: payload.query ?? "",
      variables: payload.variables ?? {},
      accessToken: typeof req.headers["x-shopify-access-token"] === "string" ? req.headers["x-shopify-access-token"] : null,
    };
    calls.push(call);
    const handler = operations[operationName];
    if (!handler) {
      unexpected.push(`Admin API operation ${operationName} is not faked`);
      return reply(500, { errors: [{ message: `unexpected operation ${operationName}` }] });
    }
    const answer = handler(call.variables, call);
    return reply(answer.status ?? 200, answer.body);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      unexpected.push(`stand-in failure: ${(error as Error).message}`);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    unexpected,
    answer(handlers) {
      operations = handlers;
    },
    close: () =>
      new Promise((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
