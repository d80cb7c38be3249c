import type { ActionFunctionArgs } from "@remix-run/node";
import { commerceWebhookAction } from "~/webhooks/route.server";

// orders/fulfilled and refunds/create (shopify.app.toml): recorded, then sent by the worker.
// In production app/serve.ts answers this path before Remix (handleCommerceWebhook): same code behind it.
export const action = ({ request }: ActionFunctionArgs) => commerceWebhookAction(request);
