/**
 * The admin's topic pickers (the editor's, the delivery log's filter) and the Mappings page's catalog section group
 * the catalog's topics by stage of the order's life: built from CATALOG and LIFECYCLE_STAGES, so a topic added to
 * the catalog shows up under its stage without a list to edit.
 */
import { describe, expect, it } from "vitest";
import { TOPIC_OPTION_GROUPS, topicOptionGroups } from "~/components/format";
import { TOPICS_BY_STAGE } from "~/mapping/topic-groups";
import { CATALOG, MAPPABLE_TOPICS } from "~/topics/catalog";
import { LIFECYCLE_STAGES } from "~/topics/meta";

describe("TOPICS_BY_STAGE", () => {
  it("holds every catalog topic once, under its own stage, stages in the order's life", () => {
    expect(TOPICS_BY_STAGE.flatMap((group) => group.topics).sort()).toEqual([...MAPPABLE_TOPICS].sort());
    for (const group of TOPICS_BY_STAGE) {
      expect(group.topics.length, group.stage).toBeGreaterThan(0);
      for (const topic of group.topics) expect(CATALOG[topic].stage, topic).toBe(group.stage);
    }
    const stageOrder = LIFECYCLE_STAGES.map((entry) => entry.stage);
    const order = TOPICS_BY_STAGE.map((group) => stageOrder.indexOf(group.stage));
    expect(order).toEqual([...order].sort((a, b) => a - b));
  });

  it("keeps the catalog's order within a stage and names stages as LIFECYCLE_STAGES does", () => {
    const shipped = TOPICS_BY_STAGE.find((group) => group.stage === "shipped");
    expect(shipped).toEqual({ stage: "shipped", label: "Shipped", topics: ["fulfillments/create", "orders/fulfilled"] });
    expect(TOPICS_BY_STAGE.find((group) => group.stage === "returned")?.topics).toEqual(["returns/request", "returns/approve", "returns/decline", "returns/close"]);
  });
});

describe("topic option groups", () => {
  it("give the editor one group per stage with the catalog's labels and Shopify's topic names", () => {
    expect(TOPIC_OPTION_GROUPS.map((group) => group.title)).toEqual(TOPICS_BY_STAGE.map((group) => group.label));
    expect(TOPIC_OPTION_GROUPS.find((group) => group.title === "Delivered")?.options).toEqual([
      { value: "fulfillment_events/create", label: "Delivery update (fulfillment_events/create)" },
    ]);
  });

  it("take the label a page asks for", () => {
    const groups = topicOptionGroups((topic) => CATALOG[topic].label);
    expect(groups.flatMap((group) => group.options).map((option) => option.label)).toContain("Parcel shipped");
  });
});
