/** returns/request: The customer asked to return items (from the order status page or the customer account). */
import { RETURN_PROPERTIES, returnTopic } from "./return-topic";

export const returnsRequest = returnTopic({
  topic: "returns/request",
  label: "Return requested",
  description: "The customer asked to return items (from the order status page or the customer account).",
  defaults: [{ eventType: "Return Requested", enabled: false, properties: { ...RETURN_PROPERTIES } }],
});
