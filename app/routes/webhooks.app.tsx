import type { ActionFunctionArgs } from "@remix-run/node";
import { webhookAction, webhookLoader } from "~/webhooks/route.server";
import { WEBHOOK_ROUTES } from "~/webhooks/topics";

// app/uninstalled and app/scopes_update only (WEBHOOK_ROUTES.app, as shopify.app.toml subscribes).
export const action = ({ request }: ActionFunctionArgs) => webhookAction(request, WEBHOOK_ROUTES.app);
export const loader = webhookLoader;
