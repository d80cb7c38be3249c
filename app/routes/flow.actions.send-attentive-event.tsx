import type { ActionFunctionArgs } from "@remix-run/node";
import { flowActionAction, flowActionLoader } from "~/flow/action-route.server";

// Shopify Flow's "Send Attentive event" action (extensions/send-attentive-event): checked, recorded, then sent by
// the worker like a webhook's event (docs/decisions/015-shopify-flow.md).
export const action = ({ request }: ActionFunctionArgs) => flowActionAction(request);
export const loader = flowActionLoader;
