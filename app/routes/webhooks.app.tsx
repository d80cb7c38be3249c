import type { ActionFunctionArgs } from "@remix-run/node";
import { webhookAction } from "~/webhooks/route.server";

// app/uninstalled and app/scopes_update.
export const action = ({ request }: ActionFunctionArgs) => webhookAction(request);
