import type { IncomingMessage, ServerResponse } from "node:http";
import { db } from "~/db.server";
import { wakeWorkers } from "~/delivery/wake.server";
import { env } from "~/env.server";
import { logger } from "~/logger.server";
import { isShopDomain } from "~/models/Shop.server";
import { authenticate } from "~/shopify.server";
import { verifyShopifyWebhook } from "~/shopify/webhook-hmac.server";
import { lingerBeforeClosing } from "~/production-server";
import { admissionLimitsFrom, IngestAdmission } from "./admission";
import { nodeWebhookRequest } from "./node-request.server";
import { loadEnabledMappings, MappingsAhead } from "./prerender.server";
import {
  errorSummary,
  fetchWebhookRequest,
  METHOD_NOT_ALLOWED,
  receiveWebhook,
  webhookResponse,
  type RouteReceiveOptions,
  type WebhookAnswer,
} from "./receive.server";
import { WEBHOOK_ROUTES, type WebhookRoute } from "./topics";

/**
 * One bound for every webhook route of this process (decision 034). Read when the build loads: a bad
 * INGEST_MAX_WAITING or INGEST_MAX_WAITING_MB stops `npm start` at start.
 */
const admission = new IngestAdmission(admissionLimitsFrom(process.env), {
  onRefusalReport: (report) =>
    logger.warn(
      {
        refused: report.refusedSinceLastReport,
        waiting: report.waiting,
        waitingMb: Math.round(report.waitingBytes / 1024 / 1024),
        maxWaiting: report.limits.maxWaiting,
        maxWaitingMb: report.limits.maxWaitingBytes / 1024 / 1024,
      },
      "webhooks answered 503: more are waiting to be recorded than INGEST_MAX_WAITING or INGEST_MAX_WAITING_MB allow (the database is not keeping up); Shopify delivers them again later",
    ),
});

/** The route a request's path names, or one that accepts no topic (a path no route serves). */
function routeOfPath(request: Request): WebhookRoute {
  const path = new URL(request.url).pathname;
  return Object.values(WEBHOOK_ROUTES).find((route) => route.path === path) ?? { path, topics: [] };
}

/**
 * The production wiring of the app and compliance webhook routes: low volume, checked
 * by the library's `authenticate.webhook`. Each accepts only its own topics (app/webhooks/topics.ts).
 */
export async function webhookAction(request: Request, route: WebhookRoute = routeOfPath(request)): Promise<Response> {
  const answer = await receiveWebhook(fetchWebhookRequest(request), {
    route,
    prisma: db(),
    authenticate: async (input, body) => {
      // The library throws a plain error (not a Response) on a shop header that is not a shop
      // domain, which would read as a database failure: a 503 that Shopify retries for 48 hours.
      // Check the HMAC and headers here first; a shop the library cannot look up is not handed to
      // it, and receiveWebhook refuses it (400).
      const checked = await verifyShopifyWebhook(env().SHOPIFY_API_SECRET)(input, body);
      if (!isShopDomain(checked.shop)) return checked;
      // The library reads the body itself: hand it a copy of the bytes already read.
      return authenticate.webhook(new Request(request.url, { method: input.method, headers: request.headers, body: new Uint8Array(body) }));
    },
    onRecorded: wakeWorkers,
    admission,
  });
  return webhookResponse(answer);
}

/** GET or HEAD on a webhook route (Remix sends them to the loader): a quiet 405, not a logged error. */
export function webhookLoader(): Response {
  return webhookResponse(METHOD_NOT_ALLOWED);
}

let commerceOptions: RouteReceiveOptions | undefined;

/** The commerce route's wiring (its topics: WEBHOOK_ROUTES.commerce): the busy one (decision 007). */
function commerce(): RouteReceiveOptions {
  commerceOptions ??= {
    route: WEBHOOK_ROUTES.commerce,
    prisma: db(),
    authenticate: verifyShopifyWebhook(env().SHOPIFY_API_SECRET),
    onRecorded: wakeWorkers,
    admission,
    // Orders' events rendered while their bodies are parsed, so the worker need not parse them again (decision 054).
    prerender: new MappingsAhead(loadEnabledMappings(db())),
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
    (answer) => writeAnswer(res, answer),
    (error: unknown) => {
      // A client that hung up (or was cut by the server's requestTimeout) gets no answer.
      if (req.destroyed || res.destroyed) {
        logger.warn({ err: errorSummary(error) }, "webhook connection closed before its body was read");
        return;
      }
      logger.error({ err: errorSummary(error) }, "webhook request failed");
      writeAnswer(res, { status: 503, body: "Could not record the webhook; Shopify will retry" });
    },
  );
}

function writeAnswer(res: ServerResponse, answer: WebhookAnswer): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(answer.status, { "content-type": "text/plain; charset=utf-8", ...answer.headers });
  // `connection: close` (the 413) makes Node close the socket once the answer is written; until
  // then nothing more of the body is read (no data listener, and the stream is paused). The close
  // lingers (lingerBeforeClosing), so the client reads the answer before the connection goes.
  if (answer.headers?.connection === "close" && res.socket) lingerBeforeClosing(res.socket);
  res.end(answer.body);
}

