/** returns/approve: The merchant approved a return request; the customer can send the items back. */
import { returnTopic } from "./return-topic";

export const returnsApprove = returnTopic("returns/approve");
