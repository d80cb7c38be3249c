/** returns/decline: The merchant declined a return request; decline.reason and decline.note say why. */
import { RETURN_PROPERTIES, returnTopic } from "./return-topic";

export const returnsDecline = returnTopic({
  topic: "returns/decline",
  label: "Return declined",
  description: "The merchant declined a return request; decline.reason and decline.note say why.",
  defaults: [{ eventType: "Return Declined", enabled: false, properties: { ...RETURN_PROPERTIES, declineReason: "{{ decline.reason }}", declineNote: "{{ decline.note }}" } }],
});
