import type { ActionFunctionArgs } from "@remix-run/node";
import { commerceWebhookAction, webhookLoader } from "~/webhooks/route.server";

// The topic catalog's topics only (WEBHOOK_ROUTES.commerce): recorded, then sent by the worker.
// In production app/serve.ts answers this path before Remix (handleCommerceWebhook): same code behind it.
export const action = ({ request }: ActionFunctionArgs) => commerceWebhookAction(request);
export const loader = webhookLoader;
