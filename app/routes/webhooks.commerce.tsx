import type { ActionFunctionArgs } from "@remix-run/node";
import { webhookAction } from "~/webhooks/route.server";

// orders/fulfilled and refunds/create (shopify.app.toml): recorded, then sent by the worker.
export const action = ({ request }: ActionFunctionArgs) => webhookAction(request);
