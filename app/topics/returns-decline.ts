/** returns/decline: The merchant declined a return request; decline.reason and decline.note say why. */
import { returnTopic } from "./return-topic";

export const returnsDecline = returnTopic("returns/decline");
