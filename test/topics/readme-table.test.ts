/**
 * The README's table of Shopify topics is written by hand; this holds it to the catalog (app/topics/) and to
 * shopify.app.toml's optional scopes, so neither can change without the other.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CATALOG, MAPPABLE_TOPICS, type MappableTopic } from "~/topics/catalog";
import { LIFECYCLE_STAGES } from "~/topics/meta";

const root = new URL("../../", import.meta.url);
const readme = readFileSync(new URL("README.md", root), "utf8");
const toml = readFileSync(new URL("shopify.app.toml", root), "utf8");

const HEADER = "| topic | label | stage | access scope | default event types (on/off for a new shop) | order and customer from |";

/** The toml's optional scopes that some topic needs (read_all_orders is for the backfill only, not a topic's). */
function optionalScopes(): string[] {
  const list = /^optional_scopes\s*=\s*\[([^\]]*)\]/m.exec(toml);
  if (!list) throw new Error("shopify.app.toml has no optional_scopes line");
  const topicScopes = new Set<string>(MAPPABLE_TOPICS.map((topic) => CATALOG[topic].scope));
  return [...list[1]!.matchAll(/"([^"]+)"/g)].map((match) => match[1]!).filter((scope) => topicScopes.has(scope));
}

/** The row the catalog says the README should have for a topic. */
function expectedRow(topic: MappableTopic): string[] {
  const entry = CATALOG[topic];
  const stage = LIFECYCLE_STAGES.find((candidate) => candidate.stage === entry.stage)!.label;
  const scope = `\`${entry.scope}\`${optionalScopes().includes(entry.scope) ? " (optional)" : ""}`;
  const defaults = entry.defaults.map((mapping) => `${mapping.eventType} (${mapping.enabled ? "on" : "off"})`).join(", ");
  const source = entry.needs.order === "body" ? "the body" : entry.needs.fulfillment === true ? "looked up, with the parcel" : "looked up";
  return [`\`${topic}\``, entry.label, stage, scope, defaults, source];
}

/** The README's rows under HEADER, split into cells. */
function readmeRows(): string[][] {
  const lines = readme.split("\n");
  const start = lines.indexOf(HEADER);
  if (start === -1) throw new Error(`README.md has no table headed ${HEADER}`);
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith("|")) break;
    rows.push(line.slice(1, -1).split("|").map((cell) => cell.trim()));
  }
  return rows;
}

describe("README's table of Shopify topics", () => {
  it("has one row per catalog topic, in the catalog's order, saying what the catalog says", () => {
    expect(readmeRows()).toEqual(MAPPABLE_TOPICS.map(expectedRow));
  });

  it("marks the toml's optional scopes optional, and read_orders required", () => {
    const scopes = new Set(readmeRows().map((row) => row[3]));
    expect(optionalScopes().length).toBeGreaterThan(0);
    for (const scope of optionalScopes()) expect(scopes).toContain(`\`${scope}\` (optional)`);
    expect(scopes).toContain("`read_orders`");
  });
});
