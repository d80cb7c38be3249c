/**
 * The HTTP server of `npm start` (app/serve.ts builds it; tests build it too, around the app's
 * real handlers): which requests skip Remix, and the timeouts a webhook server needs (decision 011).
 * Like app/serve.ts, it imports nothing of the app.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => void;

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

function isCommerceWebhook(url: string | undefined): boolean {
  if (!url?.startsWith(COMMERCE_WEBHOOK_PATH)) return false;
  const rest = url.slice(COMMERCE_WEBHOOK_PATH.length);
  return rest === "" || rest.startsWith("?");
}

