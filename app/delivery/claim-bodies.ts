import { parseShopifyJson, type JsonValue } from "~/shopify/json";

/**
 * The parsed bodies of one claim's webhooks. A claim's deliveries of one webhook (one per mapping) share one parse;
 * the last of them to ask drops it. A parsed order is a tree of thousands of objects: kept until the claim ended
 * (about as long as its last delivery took), every tree was copied by each young-generation collection meanwhile.
 */
export class ClaimBodies {
  private readonly parsed = new Map<string, JsonValue>();
  /** By webhook: the claim's deliveries of it that have not asked for its body yet. */
  private readonly users = new Map<string, number>();

  constructor(
    deliveries: Iterable<{ webhook: { id: string } }>,
    private readonly parse: (text: string) => JsonValue = parseShopifyJson,
  ) {
    for (const { webhook } of deliveries) this.users.set(webhook.id, (this.users.get(webhook.id) ?? 0) + 1);
  }

  /** The webhook's parsed body; each delivery is expected to ask once. One that asks again gets a new parse. */
  body(webhook: { id: string; body: string }): JsonValue {
    const left = (this.users.get(webhook.id) ?? 1) - 1;
    const body = this.parsed.get(webhook.id) ?? this.parse(webhook.body);
    if (left > 0) {
      this.users.set(webhook.id, left);
      this.parsed.set(webhook.id, body);
    } else {
      this.users.delete(webhook.id);
      this.parsed.delete(webhook.id);
    }
    return body;
  }

  /** A delivery that will not ask for the body (its event was rendered ahead): the last user may drop it sooner. */
  release(webhook: { id: string }): void {
    const left = (this.users.get(webhook.id) ?? 1) - 1;
    if (left > 0) {
      this.users.set(webhook.id, left);
    } else {
      this.users.delete(webhook.id);
      this.parsed.delete(webhook.id);
    }
  }

  /** How many parsed bodies are held now. */
  get held(): number {
    return this.parsed.size;
  }
}
