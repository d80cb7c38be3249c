import { db } from "~/db.server";
import { wakeWorkers } from "~/delivery/wake.server";
import { authenticate } from "~/shopify.server";
import { receiveWebhook } from "./receive.server";

/** The production wiring of the webhook path, shared by every webhook route. */
export function webhookAction(request: Request): Promise<Response> {
  return receiveWebhook(request, {
    prisma: db(),
    authenticate: (copy) => authenticate.webhook(copy),
    onRecorded: wakeWorkers,
  });
}
