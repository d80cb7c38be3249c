/**
 * The Admin API mutation the trigger sender sends (app/flow/trigger-sender.server.ts). Apart from the sender so the
 * test harnesses can name its operation, which is what the Admin API stand-ins answer by, without loading the sender.
 */
export const FLOW_TRIGGER_OPERATION = "AttentiveEventFailedTrigger";

export const FLOW_TRIGGER_MUTATION = `#graphql
  mutation ${FLOW_TRIGGER_OPERATION}($handle: String!, $payload: JSON!) {
    flowTriggerReceive(handle: $handle, payload: $payload) {
      userErrors { field message }
    }
  }`;
