import type { ActionFunctionArgs } from "@remix-run/node";
import { webhookAction } from "~/webhooks/route.server";

// customers/data_request, customers/redact, shop/redact (mandatory for the App Store).
export const action = ({ request }: ActionFunctionArgs) => webhookAction(request);
