/** Who placed the refunded order, for refunds/create (whose body has no customer). */
export const REFUND_ORDER_QUERY = `#graphql
  query RefundOrderIdentity($id: ID!) {
    order(id: $id) {
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
        defaultEmailAddress { emailAddress }
        defaultPhoneNumber { phoneNumber }
      }
      shippingAddress { phone countryCodeV2 }
      billingAddress { phone countryCodeV2 }
    }
  }
`;
