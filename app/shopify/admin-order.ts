/**
 * The part of an Admin API order that says who placed it, and its translation into the
 * order webhook's snake_case shape, so templates and identity defaults read an order the
 * same way whether Shopify sent it or the app asked for it (refund look-ups, reconciliation).
 * Queries select these fields with ORDER_IDENTITY_FIELDS.
 */
import { z } from "zod";
import type { JsonValue } from "./json";

export const ORDER_IDENTITY_FIELDS = `
  id
  legacyResourceId
  name
  email
  phone
  currencyCode
  statusPageUrl
  totalPriceSet { shopMoney { amount currencyCode } }
  customer {
    id
    legacyResourceId
    firstName
    defaultEmailAddress { emailAddress }
    defaultPhoneNumber { phoneNumber }
  }
  shippingAddress { firstName phone countryCodeV2 }
  billingAddress { firstName phone countryCodeV2 }
`;

const address = z.object({ firstName: z.string().nullish(), phone: z.string().nullish(), countryCodeV2: z.string().nullish() }).nullish();

export const adminOrderIdentity = z.object({
  id: z.string(),
  legacyResourceId: z.string(),
  name: z.string(),
  email: z.string().nullish(),
  phone: z.string().nullish(),
  currencyCode: z.string().nullish(),
  statusPageUrl: z.string().nullish(),
  totalPriceSet: z.object({ shopMoney: z.object({ amount: z.string(), currencyCode: z.string() }) }).nullish(),
  customer: z
    .object({
      id: z.string(),
      legacyResourceId: z.string(),
      firstName: z.string().nullish(),
      defaultEmailAddress: z.object({ emailAddress: z.string().nullish() }).nullish(),
      defaultPhoneNumber: z.object({ phoneNumber: z.string().nullish() }).nullish(),
    })
    .nullish(),
  shippingAddress: address,
  billingAddress: address,
});
export type AdminOrderIdentity = z.infer<typeof adminOrderIdentity>;

function addressBody(value: z.infer<typeof address>): JsonValue {
  return value ? { first_name: value.firstName ?? null, phone: value.phone ?? null, country_code: value.countryCodeV2 ?? null } : null;
}

/** The order's identity fields as an order webhook has them. */
export function orderIdentityBody(order: AdminOrderIdentity): { [key: string]: JsonValue } {
  return {
    id: order.legacyResourceId,
    admin_graphql_api_id: order.id,
    name: order.name,
    email: order.email ?? null,
    contact_email: order.email ?? null,
    phone: order.phone ?? null,
    currency: order.currencyCode ?? order.totalPriceSet?.shopMoney.currencyCode ?? null,
    total_price: order.totalPriceSet?.shopMoney.amount ?? null,
    order_status_url: order.statusPageUrl ?? null,
    customer: order.customer
      ? {
          id: order.customer.legacyResourceId,
          admin_graphql_api_id: order.customer.id,
          first_name: order.customer.firstName ?? null,
          email: order.customer.defaultEmailAddress?.emailAddress ?? null,
          phone: order.customer.defaultPhoneNumber?.phoneNumber ?? null,
        }
      : null,
    shipping_address: addressBody(order.shippingAddress),
    billing_address: addressBody(order.billingAddress),
  };
}

/** A fulfillment (parcel) as the order look-up selects it (order-identity.graphql.ts). */
export const adminFulfillment = z.object({
  id: z.string(),
  legacyResourceId: z.string().nullish(),
  name: z.string().nullish(),
  status: z.string().nullish(),
  createdAt: z.string().nullish(),
  trackingInfo: z.array(z.object({ number: z.string().nullish(), url: z.string().nullish(), company: z.string().nullish() })).nullish(),
});
export type AdminFulfillment = z.infer<typeof adminFulfillment>;

/** The fulfillment's fields as a fulfillments/create webhook has them. */
export function fulfillmentBody(fulfillment: AdminFulfillment, orderId: string): { [key: string]: JsonValue } {
  const tracking = fulfillment.trackingInfo?.[0];
  return {
    id: fulfillment.legacyResourceId ?? fulfillment.id.replace(/^.*\//, ""),
    admin_graphql_api_id: fulfillment.id,
    order_id: orderId,
    name: fulfillment.name ?? null,
    status: fulfillment.status?.toLowerCase() ?? null,
    created_at: fulfillment.createdAt ?? null,
    tracking_number: tracking?.number ?? null,
    tracking_url: tracking?.url ?? null,
    tracking_company: tracking?.company ?? null,
  };
}
