/**
 * A claim's parsed bodies (ClaimBodies): the deliveries of one webhook share one parse, and the last of them to
 * ask drops it, so a parsed order does not stay alive for as long as the claim's slowest delivery.
 */
import { describe, expect, it } from "vitest";
import { ClaimBodies } from "~/delivery/claim-bodies";
import { parseShopifyJson, type JsonValue } from "~/shopify/json";

const webhook = (id: string, order: number) => ({ id, body: `{"id":${order},"customer":{"id":98765432109876543}}` });

function countingParse() {
  const texts: string[] = [];
  const parse = (text: string): JsonValue => {
    texts.push(text);
    return parseShopifyJson(text);
  };
  return { texts, parse };
}

describe("ClaimBodies", () => {
  it("parses a webhook with one delivery for it and keeps nothing afterwards", () => {
    const a = webhook("a", 1);
    const counted = countingParse();
    const bodies = new ClaimBodies([{ webhook: a }], counted.parse);
    expect(bodies.body(a)).toEqual({ id: 1, customer: { id: "98765432109876543" } });
    expect(bodies.held).toBe(0);
    expect(counted.texts).toHaveLength(1);
  });

  it("shares one parse among a webhook's deliveries, and drops it when the last has it", () => {
    const a = webhook("a", 1);
    const b = webhook("b", 2);
    const counted = countingParse();
    const bodies = new ClaimBodies([{ webhook: a }, { webhook: b }, { webhook: a }, { webhook: a }], counted.parse);
    const first = bodies.body(a);
    expect(bodies.held).toBe(1);
    expect(bodies.body(b)).toEqual({ id: 2, customer: { id: "98765432109876543" } });
    expect(bodies.held).toBe(1);
    expect(bodies.body(a)).toBe(first);
    expect(bodies.held).toBe(1);
    expect(bodies.body(a)).toBe(first);
    expect(bodies.held).toBe(0);
    expect(counted.texts).toEqual([a.body, b.body]);
  });

  it("drops a shared parse when its last user is a delivery that sent an event rendered ahead instead", () => {
    const a = webhook("a", 1);
    const counted = countingParse();
    const bodies = new ClaimBodies([{ webhook: a }, { webhook: a }], counted.parse);
    bodies.body(a);
    expect(bodies.held).toBe(1);
    bodies.release(a);
    expect(bodies.held).toBe(0);
    // Released first, the other delivery's parse is not kept either.
    const fresh = new ClaimBodies([{ webhook: a }, { webhook: a }], counted.parse);
    fresh.release(a);
    fresh.body(a);
    expect(fresh.held).toBe(0);
    expect(counted.texts).toHaveLength(2);
  });

  it("parses again for a delivery that asks more often than the claim counted, and holds nothing for it", () => {
    const a = webhook("a", 1);
    const counted = countingParse();
    const bodies = new ClaimBodies([{ webhook: a }], counted.parse);
    const first = bodies.body(a);
    const again = bodies.body(a);
    expect(again).toEqual(first);
    expect(again).not.toBe(first);
    expect(bodies.held).toBe(0);
    expect(counted.texts).toHaveLength(2);
  });

  it("throws what the parse throws to every delivery of a body that is not JSON, and holds nothing", () => {
    const bad = { id: "bad", body: "{not json" };
    const counted = countingParse();
    const bodies = new ClaimBodies([{ webhook: bad }, { webhook: bad }], counted.parse);
    expect(() => bodies.body(bad)).toThrow(SyntaxError);
    expect(() => bodies.body(bad)).toThrow(SyntaxError);
    expect(bodies.held).toBe(0);
    expect(counted.texts).toHaveLength(2);
  });
});
