import type { IncomingMessage, ServerResponse } from "node:http";
import { db } from "~/db.server";
import { wakeWorkers } from "~/delivery/wake.server";
import { env } from "~/env.server";
import { logger } from "~/logger.server";
import { authenticate } from "~/shopify.server";
import { verifyShopifyWebhook } from "~/shopify/webhook-hmac.server";
import { nodeWebhookRequest } from "./node-request.server";
import { errorSummary, fetchWebhookRequest, receiveWebhook, webhookResponse, type ReceiveOptions } from "./receive.server";

/**
 * The production wiring of the app and compliance webhook routes: low volume, checked
 * by the library's `authenticate.webhook`.
 */
export async function webhookAction(request: Request): Promise<Response> {
  const answer = await receiveWebhook(fetchWebhookRequest(request), {
    prisma: db(),
    // The library reads the body itself: hand it a copy of the bytes already read.
    authenticate: (input, body) =>
      authenticate.webhook(new Request(request.url, { method: input.method, headers: request.headers, body: input.method === "POST" ? new Uint8Array(body) : undefined })),
    onRecorded: wakeWorkers,
  });
  return webhookResponse(answer);
}

let commerceOptions: ReceiveOptions | undefined;

/** The commerce route's wiring (orders/fulfilled, refunds/create): the busy one (decision 007). */
function commerce(): ReceiveOptions {
  commerceOptions ??= {
    prisma: db(),
    authenticate: verifyShopifyWebhook(env().SHOPIFY_API_SECRET),
    onRecorded: wakeWorkers,
  };
  return commerceOptions;
}

/** POST /webhooks/commerce through Remix (development, and any server without the direct route). */
export async function commerceWebhookAction(request: Request): Promise<Response> {
  return webhookResponse(await receiveWebhook(fetchWebhookRequest(request), commerce()));
}

/**
 * POST /webhooks/commerce straight from Node's HTTP server, ahead of Remix: the
 * production server (app/serve.ts) routes it here. Same checks, same answers.
 */
export function handleCommerceWebhook(req: IncomingMessage, res: ServerResponse): void {
  receiveWebhook(nodeWebhookRequest(req), commerce()).then(
    (answer) => {
      res.writeHead(answer.status, { "content-type": "text/plain; charset=utf-8" });
      res.end(answer.body);
    },
    (error: unknown) => {
      logger.error({ err: errorSummary(error) }, "webhook request failed");
      if (!res.headersSent) res.writeHead(503, { "content-type": "text/plain; charset=utf-8" });
      res.end("Could not record the webhook; Shopify will retry");
    },
  );
}
