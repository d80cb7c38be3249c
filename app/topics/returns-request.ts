/** returns/request: The customer asked to return items (from the order status page or the customer account). */
import { returnTopic } from "./return-topic";

export const returnsRequest = returnTopic("returns/request");
