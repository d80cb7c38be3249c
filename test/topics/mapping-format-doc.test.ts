/**
 * docs/mapping-format.md's Topics section is written by hand: this holds it to the catalog (app/topics/). Every topic
 * has its row, with exactly the Liquid names its entry's context() adds, and a heading; every example mapping there
 * is valid and renders a full event against the topic's sample; the topics the Admin API cannot reconcile are
 * listed with their reasons.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { validateMapping } from "~/mapping/mapping-file";
import { renderNow } from "~/mapping/renderer";
import { isJsonObject, parseShopifyJson, type JsonValue } from "~/shopify/json";
import { CATALOG, MAPPABLE_TOPICS, type MappableTopic } from "~/topics/catalog";
import type { JsonObject } from "~/topics/entry";

const doc = readFileSync(new URL("../../docs/mapping-format.md", import.meta.url), "utf8");
const topicsSection = doc.slice(doc.indexOf("\n## Topics\n"));

function sample(topic: MappableTopic): JsonObject {
  const body = parseShopifyJson(readFileSync(new URL(`../../app/topics/samples/${CATALOG[topic].sample}`, import.meta.url), "utf8"));
  if (!isJsonObject(body)) throw new Error(`${topic}'s sample is not an object`);
  return body;
}

const order: JsonValue = sample("orders/fulfilled");
const parcel: JsonValue = sample("fulfillments/create");

/** The section's `###` parts: heading line and text up to the next heading. */
function parts(): { heading: string; text: string }[] {
  return topicsSection
    .split("\n### ")
    .slice(1)
    .map((part) => ({ heading: part.slice(0, part.indexOf("\n")), text: part }));
}

function tableRows(): string[][] {
  const beforeHeadings = topicsSection.slice(0, topicsSection.indexOf("\n### "));
  return beforeHeadings
    .split("\n")
    .filter((line) => line.startsWith("| `"))
    .map((line) => line.slice(1, -1).split("|").map((cell) => cell.trim()));
}

function examples(text: string): unknown[] {
  return [...text.matchAll(/```json\n([\s\S]*?)```/g)].map((match) => JSON.parse(match[1]!) as unknown);
}

describe("docs/mapping-format.md, Topics", () => {
  it("has a row per catalog topic, in the catalog's order, naming exactly what its context adds", () => {
    const rows = tableRows();
    expect(rows.map((row) => row[0])).toEqual(MAPPABLE_TOPICS.map((topic) => `\`${topic}\``));
    for (const topic of MAPPABLE_TOPICS) {
      const added = Object.keys(CATALOG[topic].context(sample(topic), { order: {}, fulfillment: {} })).sort();
      const row = rows.find((candidate) => candidate[0] === `\`${topic}\``)!;
      const documented = row[2] === "none" ? [] : row[2]!.split(", ").map((name) => name.replaceAll("`", "")).sort();
      expect(documented, topic).toEqual(added);
    }
  });

  it("gives every catalog topic a heading, once", () => {
    const headed = parts().flatMap((part) => [...part.heading.matchAll(/`([^`]+)`/g)].map((match) => match[1]));
    expect([...headed].sort()).toEqual([...MAPPABLE_TOPICS].sort());
  });

  it("shows one example mapping per family of topics, valid, that renders every property against the sample", () => {
    const families = parts().filter((part) => !part.heading.startsWith("Missed"));
    expect(families.length).toBeGreaterThanOrEqual(5);
    for (const family of families) {
      const found = examples(family.text);
      expect(found, family.heading).toHaveLength(1);
      const result = validateMapping(found[0]);
      if (!result.ok) throw new Error(`${family.heading}: ${result.errors.map((error) => error.message).join("; ")}`);
      const { mapping } = result;
      expect(family.heading).toContain(`\`${mapping.topic}\``);
      const body = sample(mapping.topic);
      // A condition on the update's status: render the update as having that status.
      const status = /^status == '(\w+)'$/.exec(mapping.when ?? "")?.[1];
      if (status !== undefined) body.status = status;
      const outcome = renderNow(mapping, { topic: mapping.topic, shop: "jsmith.myshopify.com", body, order, fulfillment: parcel });
      if (outcome.kind !== "event") throw new Error(`${family.heading}: ${outcome.kind}: ${outcome.reason}`);
      for (const [key, value] of Object.entries(outcome.event.properties)) {
        expect(value, `${mapping.topic} ${key}`).not.toBe("");
        expect(value, `${mapping.topic} ${key}`).not.toBeNull();
      }
    }
  });

  it("lists the topics the Admin API cannot reconcile, with the catalog's reason, and no other", () => {
    const missed = parts().find((part) => part.heading.startsWith("Missed"));
    expect(missed).toBeDefined();
    const listed = [...missed!.text.matchAll(/^- (.+?): /gm)].flatMap((match) => [...match[1]!.matchAll(/`([^`]+)`/g)].map((name) => name[1]!));
    const none = MAPPABLE_TOPICS.filter((topic) => CATALOG[topic].reconciliation.kind === "none");
    expect(listed.sort()).toEqual([...none].sort());
    for (const topic of none) {
      const reconciliation = CATALOG[topic].reconciliation;
      if (reconciliation.kind === "none") expect(missed!.text).toContain(reconciliation.why);
    }
  });
});
