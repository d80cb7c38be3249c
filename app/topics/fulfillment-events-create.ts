/**
 * fulfillment_events/create: the carrier's news about a parcel (in transit, out for delivery, delivered, …). The
 * body names its order and fulfillment only; both are found for the templates and the customer.
 */
import type { JsonObject, TopicHandlers } from "./entry";
import { fieldOf, firstDate, gidNumber, gidOf, idString, resourceId } from "./fields";
import { FULFILLMENT_EVENT_STATUSES } from "./meta";
import { LOOKED_UP_ORDER_FIELD } from "./order-topic";

export const fulfillmentEventsCreate: TopicHandlers = {
  subject: "delivery update",
  orderNoun: "the shipped order",
  identify: (body) => ({ subjectId: gidOf("FulfillmentEvent", resourceId(body)), orderId: idString(fieldOf(body, "order_id")) }),
  occurredAt: (body) => firstDate(body, "happened_at", "created_at"),
  needs: { order: "lookup", fulfillment: true },
  identitySource: (_body, related) => related.order,
  context: (_body, related) => ({ order: related.order, fulfillment: related.fulfillment }),
  validate(body) {
    const status = fieldOf(body, "status");
    if (typeof status === "string" && (FULFILLMENT_EVENT_STATUSES as readonly string[]).includes(status)) return null;
    return `Shopify sent a delivery status this app does not know (${JSON.stringify(status ?? null)}), so no event was sent. Known statuses: ${FULFILLMENT_EVENT_STATUSES.join(", ")}.`;
  },
  contextFields: [
    { name: "(the update's own fields)", description: "status, message, happened_at, estimated_delivery_at, city, province, country, zip" },
    LOOKED_UP_ORDER_FIELD,
    {
      name: "fulfillment",
      description: "The parcel: from the fulfillments/create webhook the app recorded, else the order's fulfillments (tracking_number, tracking_url, tracking_company).",
    },
  ],
  sample: "fulfillment_events_create.json",
  reconciliation: {
    kind: "none",
    why:
      "The Admin API reaches carrier updates only through their parcel (Fulfillment.events: sortable by happenedAt, not searchable), and Shopify does not document that one changes the order's updated_at, so finding a window's updates would mean reading the events of every parcel still on its way on every run.",
  },
  // The bulk query reads every parcel's updates (Fulfillment.events), so history has what reconciliation cannot find.
  history: {
    kind: "bulk",
    events: (order) =>
      order.fulfillments.flatMap((fulfillment) =>
        fulfillment.events.nodes.map((event) => {
          // The update in the fulfillment_events/create webhook's shape (Admin API enums are upper case).
          const body: JsonObject = {
            id: gidNumber(event.id),
            admin_graphql_api_id: event.id,
            fulfillment_id: fulfillment.legacyResourceId,
            order_id: order.legacyResourceId,
            status: event.status.toLowerCase(),
            message: event.message ?? null,
            happened_at: event.happenedAt,
            created_at: event.createdAt ?? event.happenedAt,
            estimated_delivery_at: event.estimatedDeliveryAt ?? null,
            city: event.city ?? null,
            province: event.province ?? null,
            country: event.country ?? null,
            zip: event.zip ?? null,
            source: "backfill",
          };
          return { subjectId: event.id, at: event.happenedAt, body };
        }),
      ),
  },
};
