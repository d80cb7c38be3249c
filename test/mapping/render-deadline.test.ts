/**
 * Issue 8, break 2: one filter call (where_exp over a big range with a long condition) ran for seconds on the
 * event loop, because liquidjs checks its time limit only between template nodes. These tests drive order by
 * events (which promise settles first, whether a setImmediate ran), never by the clock.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeRenderPool, renderMapping, warmRenderPool, type RenderContextInput, type RenderOutcome } from "~/mapping/render.server";
import type { MappingDefinition } from "~/mapping/types";
import type { JsonValue } from "~/shopify/json";

/** Seconds of work in one where_exp call on this machine: the long condition is evaluated for each of 20,000 items. */
function whereExp(conditions: number): string {
  const condition = Array.from({ length: conditions }, (_, i) => `i != ${i + 7}`).join(" and ");
  return `(1..20000) | where_exp: "i", "i > 5 and ${condition}"`;
}
const RUNAWAY_TAG = `{% assign x = ${whereExp(60)} %}{{ x | size }}`;
const RUNAWAY_OUTPUT = `{{ ${whereExp(60)} | size }}`;

const BODY: JsonValue = { name: "#1001", email: "jon@example.com", total_price: "10.00", line_items: [{ title: "Hat" }] };

function mapping(properties: Record<string, string>, extra: Partial<MappingDefinition> = {}): MappingDefinition {
  return { topic: "orders/fulfilled", eventType: "Order Shipped", enabled: true, properties, ...extra };
}

function input(shop: string, body: JsonValue = BODY): RenderContextInput {
  return { topic: "orders/fulfilled", shop, body };
}

function errorOf(outcome: RenderOutcome): string {
  if (outcome.kind !== "error") throw new Error(`expected an error, got ${outcome.kind}: ${JSON.stringify(outcome)}`);
  return outcome.reason;
}

beforeAll(async () => {
  // Threads start on first use; started here so that a thread's start-up is not part of what a test orders.
  await warmRenderPool();
}, 120_000);

afterAll(async () => {
  await closeRenderPool();
});

describe("a runaway template", () => {
  it("does not hold the event loop, and ends as an error naming the template", { timeout: 60_000 }, async () => {
    const settled: string[] = [];
    const runaway = renderMapping(mapping({ evil: RUNAWAY_TAG }), input("slow.myshopify.com")).then((outcome) => {
      settled.push("runaway");
      return outcome;
    });
    await new Promise<void>((resolve) =>
      setImmediate(() => {
        settled.push("event loop turned");
        resolve();
      }),
    );
    const outcome = await runaway;
    expect(settled).toEqual(["event loop turned", "runaway"]);
    // Stopped at the hard deadline, with the template named and advice on what to change.
    expect(errorOf(outcome)).toMatch(/^Property "evil" could not be rendered: it ran longer than 250 ms, so it was stopped\. Make it do less work/);
  });

  it("is stopped when it is a single {{ }} output", { timeout: 60_000 }, async () => {
    expect(errorOf(await renderMapping(mapping({ count: RUNAWAY_OUTPUT }), input("single.myshopify.com")))).toMatch(
      /^Property "count" could not be rendered: it ran longer than 250 ms/,
    );
  });

  it("is stopped in an identity template, and the error names it", { timeout: 60_000 }, async () => {
    for (const field of ["email", "phone", "clientUserId"] as const) {
      const outcome = await renderMapping(mapping({ name: "{{ name }}" }, { user: { [field]: RUNAWAY_OUTPUT } }), input("identity.myshopify.com"));
      expect(errorOf(outcome)).toMatch(new RegExp(`^The user "${field}" template could not be rendered: it ran longer than 250 ms`));
    }
  });

  it("is stopped again on the same shop's next render, and ordinary renders still work", { timeout: 60_000 }, async () => {
    const shop = "twice.myshopify.com";
    for (let round = 0; round < 2; round++) {
      expect(errorOf(await renderMapping(mapping({ evil: RUNAWAY_TAG }), input(shop)))).toContain('Property "evil" could not be rendered: it ran longer than 250 ms');
    }
    expect(await renderMapping(mapping({ name: "{{ name }}" }), input(shop))).toMatchObject({ kind: "event" });
  });
});
