import { z } from "zod";

/**
 * The only GraphQL document this app sends to Attentive. The selection is kept to the fields we
 * store, so a change Attentive makes elsewhere in the (beta) payload type cannot break us.
 */
export const CREATE_CUSTOM_EVENT_MUTATION = /* GraphQL */ `
  mutation CreateCustomEvent($input: CreateCustomEventInput!) {
    createCustomEvent(input: $input) {
      externalEventId
      occurredAt
      type
    }
  }
`;

/** The `data` of a successful answer to the mutation above; keep it in step with the selection. */
export const createCustomEventDataSchema = z.object({
  createCustomEvent: z.object({
    externalEventId: z.string(),
    occurredAt: z.string(),
    type: z.string(),
  }),
});

export type CreateCustomEventData = z.infer<typeof createCustomEventDataSchema>;
