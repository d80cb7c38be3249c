/** returns/close: the return is complete: items received and refunds or exchanges settled. */
import { RETURN_PROPERTIES, returnTopic } from "./return-topic";

export const returnsClose = returnTopic({
  topic: "returns/close",
  label: "Return closed",
  description: "The return is complete: items received and refunds or exchanges settled.",
  defaults: [{ eventType: "Return Closed", enabled: false, properties: { ...RETURN_PROPERTIES } }],
});
