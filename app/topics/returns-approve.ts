/** returns/approve: The merchant approved a return request; the customer can send the items back. */
import { RETURN_PROPERTIES, returnTopic } from "./return-topic";

export const returnsApprove = returnTopic({
  topic: "returns/approve",
  label: "Return approved",
  description: "The merchant approved a return request; the customer can send the items back.",
  defaults: [{ eventType: "Return Approved", enabled: false, properties: { ...RETURN_PROPERTIES } }],
});
