/** returns/close: the return is complete: items received and refunds or exchanges settled. */
import { returnTopic } from "./return-topic";

export const returnsClose = returnTopic("returns/close");
