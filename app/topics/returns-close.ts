/** returns/close: The return is complete */
import { RETURN_PROPERTIES, returnTopic } from "./return-topic";

export const returnsClose = returnTopic({
  topic: "returns/close",
  label: "Return closed",
  description: "The return is complete",
  defaults: [{ eventType: " items received and refunds or exchanges settled.:Return Closed", enabled: false, properties: { ...RETURN_PROPERTIES } }],
});
