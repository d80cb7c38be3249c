import type { ActionFunctionArgs } from "@remix-run/node";
import { webhookAction, webhookLoader } from "~/webhooks/route.server";
import { WEBHOOK_ROUTES } from "~/webhooks/topics";

// customers/data_request, customers/redact, shop/redact only (mandatory for the App Store).
export const action = ({ request }: ActionFunctionArgs) => webhookAction(request, WEBHOOK_ROUTES.compliance);
export const loader = webhookLoader;
