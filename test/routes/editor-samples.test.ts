import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), "utf8");

describe("the mapping editor's sample bodies", () => {
  it("are the test fixtures the pipeline is tested with", () => {
    expect(read("app/shopify/samples/orders_fulfilled.json")).toBe(read("test/fixtures/shopify/orders_fulfilled.derived.json"));
    expect(read("app/shopify/samples/refunds_create.json")).toBe(read("test/fixtures/shopify/refunds_create.derived.json"));
  });
});
