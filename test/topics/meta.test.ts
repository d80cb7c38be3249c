/**
 * The topic catalog's metadata (app/topics/meta.ts) is the browser's view of the catalog: the catalog's entries are
 * built from it, so each label, stage, scope and default is written once; and the modules the admin's pages bundle
 * reach meta.ts, never catalog.ts, whose topic modules bring zod schemas, GraphQL documents and body readers along
 * (111 KB of every page's JavaScript before the split; docs/performance.md).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { CATALOG } from "~/topics/catalog";
import { isMappableTopic, LIFECYCLE_STAGES, MAPPABLE_TOPICS, TOPIC_META, type TopicMeta } from "~/topics/meta";

const root = new URL("../../", import.meta.url);
const META_KEYS = ["topic", "label", "description", "stage", "scope", "defaults"] as const satisfies ReadonlyArray<keyof TopicMeta>;

describe("the catalog and its metadata", () => {
  it("hold the same topics in the same order", () => {
    expect(Object.keys(CATALOG)).toEqual(MAPPABLE_TOPICS);
    expect(Object.keys(TOPIC_META)).toEqual(MAPPABLE_TOPICS);
    expect(MAPPABLE_TOPICS).toContain("orders/create");
    expect(isMappableTopic("returns/close")).toBe(true);
    expect(isMappableTopic("orders/updated")).toBe(false);
    expect(isMappableTopic("toString")).toBe(false);
  });

  it.each(MAPPABLE_TOPICS)("%s: the entry's metadata is meta.ts' own, under its own topic name", (topic) => {
    const meta = TOPIC_META[topic];
    expect(Object.keys(meta).sort()).toEqual([...META_KEYS].sort());
    expect(meta.topic).toBe(topic);
    const entry = CATALOG[topic];
    for (const key of META_KEYS) expect(entry[key], key).toStrictEqual(meta[key]);
  });

  it.each(MAPPABLE_TOPICS)("%s: labels and stages as the admin shows them", (topic) => {
    const meta = TOPIC_META[topic];
    expect(meta.label.trim().length, "label").toBeGreaterThan(0);
    expect(meta.description.length, "description").toBeGreaterThan(20);
    expect(LIFECYCLE_STAGES.map((stage) => stage.stage)).toContain(meta.stage);
    expect(meta.defaults.length, "defaults").toBeGreaterThan(0);
  });

  it("gives every topic its own label", () => {
    const labels = MAPPABLE_TOPICS.map((topic) => TOPIC_META[topic].label);
    expect(new Set(labels).size).toBe(labels.length);
  });
});

/** The app's module a specifier names, or null for a package (or an asset such as `styles.css?url`). */
function resolveModule(specifier: string, from: string): string | null {
  if (specifier.includes("?")) return null;
  let base: string;
  if (specifier.startsWith("~/")) base = `app/${specifier.slice(2)}`;
  else if (specifier.startsWith(".")) base = new URL(specifier, new URL(from, root)).pathname.slice(root.pathname.length);
  else return null;
  for (const candidate of [base, `${base}.ts`, `${base}.tsx`, `${base}/index.ts`]) {
    if (/\.(ts|tsx)$/.test(candidate) && existsSync(new URL(candidate, root))) return candidate;
  }
  throw new Error(`${from}: cannot resolve ${specifier}`);
}

/** What a module imports at run time: `import type`, `export type` and imports of types only are left out. */
function runtimeImports(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(new URL(file, root), "utf8"), ts.ScriptTarget.Latest, true);
  const specifiers: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const typeOnly =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined &&
            clause.namedBindings !== undefined &&
            ts.isNamedImports(clause.namedBindings) &&
            clause.namedBindings.elements.length > 0 &&
            clause.namedBindings.elements.every((element) => element.isTypeOnly)));
      if (!typeOnly) specifiers.push(node.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const typeOnly =
        node.isTypeOnly ||
        (node.exportClause !== undefined && ts.isNamedExports(node.exportClause) && node.exportClause.elements.every((element) => element.isTypeOnly));
      if (!typeOnly) specifiers.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [argument] = node.arguments;
      if (argument && ts.isStringLiteral(argument)) specifiers.push(argument.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return specifiers;
}

/** Every module and package `entries` load at run time, each with the chain of imports that reaches it. */
function reachable(entries: readonly string[]): Map<string, string[]> {
  const seen = new Map<string, string[]>(entries.map((entry) => [entry, [entry]]));
  const queue = [...entries];
  while (queue.length > 0) {
    const file = queue.shift()!;
    for (const specifier of runtimeImports(file)) {
      const target = resolveModule(specifier, file) ?? specifier;
      if (seen.has(target)) continue;
      seen.set(target, [...seen.get(file)!, target]);
      if (target.startsWith("app/")) queue.push(target);
    }
  }
  return seen;
}

/**
 * The modules the admin's pages bundle beyond packages: the components, and the app modules route components and
 * their hooks import. A page's loader and action (and what only they import) stay on the server.
 */
const BROWSER_MODULES = [
  ...readdirSync(new URL("app/components/", root))
    .filter((name) => /\.tsx?$/.test(name))
    .map((name) => `app/components/${name}`),
  "app/admin/delivery-log-views.ts",
  "app/admin/mapping-list-views.ts",
  "app/admin/setup-status.ts",
  "app/backfill/constants.ts",
  "app/mapping/access-scopes.ts",
  "app/mapping/defaults.ts",
  "app/mapping/limits.ts",
  "app/mapping/topic-groups.ts",
  "app/mapping/types.ts",
  "app/models/delivery-sources.ts",
  "app/models/delivery-statuses.ts",
  "app/models/retention-choices.ts",
];

describe("what the browser loads of the topics", () => {
  it("meta.ts imports nothing at run time", () => {
    expect(runtimeImports("app/topics/meta.ts")).toEqual([]);
  });

  it("the pages' modules reach meta.ts, and neither the catalog, a topic module, nor zod", () => {
    const loaded = reachable(BROWSER_MODULES);
    expect(loaded.has("app/topics/meta.ts")).toBe(true);
    const unwanted = [...loaded].filter(([target]) => (target.startsWith("app/topics/") && target !== "app/topics/meta.ts") || target === "zod" || target.endsWith(".server.ts"));
    expect(unwanted.map(([, chain]) => chain.join(" -> "))).toEqual([]);
  });

  it("would see the catalog if a page's module imported it", () => {
    // The check above walks imports as written: format.ts importing the catalog (as it did) is found, with its zod.
    const loaded = reachable(["app/topics/catalog.ts"]);
    expect(loaded.get("zod")?.[0]).toBe("app/topics/catalog.ts");
    expect(loaded.has("app/topics/history-order.ts")).toBe(true);
  });
});
