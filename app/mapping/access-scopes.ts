/**
 * Which mapped topics wait for an access scope the shop has not granted. Shopify sends a topic's webhooks only to an
 * app granted its scope (app/topics/ says which, per topic); read_orders is required at install, the others are
 * optional and the merchant grants them from the Mappings page (decision 014). Pure: the pages compute with it on
 * the server, and the browser bundle reads the names.
 */
import { ALL_ORDERS_SCOPE } from "~/backfill/constants";
import { MAPPABLE_TOPICS, TOPIC_META, type AccessScope, type MappableTopic } from "~/topics/meta";

/** As shopify.app.toml declares them ([access_scopes] scopes and optional_scopes; a test holds them together). */
export const REQUIRED_SCOPES: readonly AccessScope[] = ["read_orders"];
export const OPTIONAL_SCOPES: readonly AccessScope[] = ["read_fulfillments", "read_returns"];
/**
 * Every optional scope shopify.app.toml declares: the topics' ones above, and read_all_orders, which no topic needs
 * but a backfill reaching more than 60 days back does (the Past orders page asks for it).
 */
export const DECLARED_OPTIONAL_SCOPES: readonly string[] = [...OPTIONAL_SCOPES, ALL_ORDERS_SCOPE];

/** What a scope gives access to, in the merchant's words ("access to fulfillments"). */
export const SCOPE_NAMES: Record<AccessScope, string> = {
  read_orders: "orders",
  read_fulfillments: "fulfillments",
  read_returns: "returns",
};

/**
 * The scopes in a session's `scope` column (comma-separated, as Shopify and the app/scopes_update webhook give them).
 * A write scope grants its read scope too, as Shopify's AuthScopes treats it. Null: not known.
 */
export function grantedScopeSet(scope: string | null | undefined): ReadonlySet<string> | null {
  if (scope === null || scope === undefined) return null;
  const granted = new Set<string>();
  for (const part of scope.split(",")) {
    const handle = part.trim();
    if (handle === "") continue;
    granted.add(handle);
    const write = /^(unauthenticated_)?write_(.+)$/.exec(handle);
    if (write) granted.add(`${write[1] ?? ""}read_${write[2]}`);
  }
  return granted;
}

/** The scope `topic` waits for, or null when it is granted (or the granted scopes are not known). */
export function missingScopeOf(topic: MappableTopic, granted: ReadonlySet<string> | null): AccessScope | null {
  const scope = TOPIC_META[topic].scope;
  return granted === null || granted.has(scope) ? null : scope;
}

export interface ScopeWait {
  scope: AccessScope;
  /** Optional scopes can be asked for from the page; a missing required one comes back when the app is opened again. */
  requestable: boolean;
  /** The waiting topics, in the catalog's order. */
  topics: MappableTopic[];
  /** "Parcel shipped, Delivery update wait for access to fulfillments" */
  message: string;
}

/**
 * The scopes the shop's enabled mappings wait for, each with its topics: one entry per scope, in the order the app
 * declares them (required first). Disabled mappings send nothing, so they wait for nothing. Granted scopes not
 * known (null): nothing is said to wait.
 */
export function scopeWaits(
  mappings: ReadonlyArray<{ topic: MappableTopic; enabled: boolean }>,
  grantedScope: string | null | undefined,
): ScopeWait[] {
  const granted = grantedScopeSet(grantedScope);
  const enabledTopics = new Set(mappings.filter((mapping) => mapping.enabled).map((mapping) => mapping.topic));
  const waits: ScopeWait[] = [];
  for (const scope of [...REQUIRED_SCOPES, ...OPTIONAL_SCOPES]) {
    const topics = MAPPABLE_TOPICS.filter((topic) => enabledTopics.has(topic) && TOPIC_META[topic].scope === scope && missingScopeOf(topic, granted) !== null);
    if (topics.length === 0) continue;
    waits.push({ scope, requestable: OPTIONAL_SCOPES.includes(scope), topics, message: waitMessage(scope, topics) });
  }
  return waits;
}

export function waitMessage(scope: AccessScope, topics: readonly MappableTopic[]): string {
  const labels = topics.map((topic) => TOPIC_META[topic].label).join(", ");
  return `${labels} ${topics.length === 1 ? "waits" : "wait"} for access to ${SCOPE_NAMES[scope]}`;
}
