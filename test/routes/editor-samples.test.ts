import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CATALOG, MAPPABLE_TOPICS } from "~/topics/catalog";

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), "utf8");

describe("the mapping editor's sample bodies", () => {
  it("are the test fixtures the pipeline is tested with", () => {
    expect(read("app/topics/samples/orders_fulfilled.json")).toBe(read("test/fixtures/shopify/orders_fulfilled.derived.json"));
    expect(read("app/topics/samples/refunds_create.json")).toBe(read("test/fixtures/shopify/refunds_create.derived.json"));
  });

  it("exist for every catalog topic, each equal to its derived fixture", () => {
    for (const topic of MAPPABLE_TOPICS) {
      const file = CATALOG[topic].sample;
      expect(existsSync(new URL(`../../app/topics/samples/${file}`, import.meta.url)), `${topic}: ${file}`).toBe(true);
      expect(read(`app/topics/samples/${file}`), topic).toBe(read(`test/fixtures/shopify/${file.replace(/\.json$/, ".derived.json")}`));
    }
  });
});
