/**
 * The table of topics per webhook route (app/webhooks/topics.ts) is what shopify.app.toml
 * subscribes: read from the file, so a topic added to one and not the other fails here.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { WEBHOOK_ROUTES } from "~/webhooks/topics";

interface Subscription {
  uri: string;
  topics: string[];
}

/**
 * The [[webhooks.subscriptions]] tables of shopify.app.toml: `uri`, `topics` and
 * `compliance_topics` (arrays of strings, on one line or several). Any other key in a subscription
 * (a filter, include_fields) fails the test, so this reader cannot silently misread the file.
 */
function subscriptions(toml: string): Subscription[] {
  const found: Subscription[] = [];
  let current: Subscription | null = null;
  const lines = toml.split("\n").map((line) => line.replace(/#.*$/, "").trim());
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === "") continue;
    if (line.startsWith("[")) {
      current = line === "[[webhooks.subscriptions]]" ? { uri: "", topics: [] } : null;
      if (current) found.push(current);
      continue;
    }
    if (!current) continue;
    const match = /^([a-z_]+)\s*=\s*(.*)$/.exec(line);
    if (!match) throw new Error(`shopify.app.toml: cannot read "${line}"`);
    const [, key, first] = match;
    let value = first!;
    while (value.startsWith("[") && !value.includes("]")) value += lines[++i] ?? "]";
    if (key === "uri") current.uri = JSON.parse(value) as string;
    else if (key === "topics" || key === "compliance_topics") current.topics.push(...(JSON.parse(value.replace(/,\s*]/, "]")) as string[]));
    else throw new Error(`shopify.app.toml: a subscription key this test does not know: ${key}`);
  }
  return found;
}

describe("topics per webhook route", () => {
  const toml = readFileSync(new URL("../../shopify.app.toml", import.meta.url), "utf8");

  it("are exactly shopify.app.toml's subscriptions", () => {
    const fromToml = new Map<string, string[]>();
    for (const subscription of subscriptions(toml)) {
      fromToml.set(subscription.uri, [...(fromToml.get(subscription.uri) ?? []), ...subscription.topics]);
    }
    const fromCode = new Map(Object.values(WEBHOOK_ROUTES).map((route) => [route.path, [...route.topics]]));
    const sorted = (map: Map<string, string[]>) => Object.fromEntries([...map].map(([uri, topics]) => [uri, [...topics].sort()]).sort());
    expect(sorted(fromCode)).toEqual(sorted(fromToml));
    expect(fromToml.size).toBe(3);
  });

  it("give each topic one route", () => {
    const all = Object.values(WEBHOOK_ROUTES).flatMap((route) => [...route.topics]);
    expect(new Set(all).size).toBe(all.length);
  });
});
