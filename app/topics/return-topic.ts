/** What the returns/* topics share: the return is the subject, and the body names only its order. */
import type { JsonValue } from "~/shopify/json";
import type { TopicHandlers } from "./entry";
import { fieldOf, gidOf, idString, resourceId } from "./fields";
import { LOOKED_UP_ORDER_FIELD } from "./order-topic";

/** returns/request and most others carry `order: { id, admin_graphql_api_id }`; returns/close carries `order_id`. */
function returnOrderId(body: { [key: string]: JsonValue }): string | null {
  const order = fieldOf(body, "order");
  return resourceId(order) ?? idString(fieldOf(body, "order_id"));
}

/** A returns/* topic's handlers (its metadata, in meta.ts, shares the stage and the scope too). */
export function returnTopic(topic: `returns/${string}`): TopicHandlers {
  return {
    subject: "return",
    orderNoun: "the returned order",
    // One return is requested, approved and closed once each: the topic is part of the key (decision 014).
    identify: (body) => ({ subjectId: gidOf("Return", resourceId(body)), orderId: returnOrderId(body) }),
    // Return bodies carry no time: the webhook's X-Shopify-Triggered-At stands for it.
    occurredAt: () => null,
    needs: { order: "lookup" },
    identitySource: (_body, related) => related.order,
    // The body's `order` is only the order's ids: the order found replaces it.
    context: (_body, related) => ({ order: related.order }),
    contextFields: [
      { name: "(the return's own fields)", description: "name, status, return_line_items (return_reason, quantity, …), total_return_line_items" },
      LOOKED_UP_ORDER_FIELD,
    ],
    sample: `${topic.replace("/", "_")}.json`,
    reconciliation: {
      kind: "none",
      why:
        "The Admin API reaches returns only through their order (Order.returns: filterable by status, not by time), and Shopify does not document that requesting, approving, declining or closing a return changes the order's updated_at, so no search is known to find a window's returns; a decline also has no time at all (ReturnDecline holds only a reason and a note, while Return has createdAt, requestApprovedAt and closedAt).",
    },
    history: {
      kind: "none",
      why: "A bulk query holds five connections and the order history already uses them all (line items, each parcel's lines and updates, each refund's lines); returns would need a sixth, so they would need a bulk operation of their own, and a decline has no time to date its event by.",
    },
  };
}
