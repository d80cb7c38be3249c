/**
 * The Mappings page's catalog section and access scopes: which of the catalog's mappings (app/mapping/defaults.ts)
 * the shop does not have yet, adding one when the merchant clicks, and the scopes the shop's mappings wait for.
 * A shop's mappings change only through these clicks: nothing here runs on its own.
 */
import { z } from "zod";
import { logger } from "~/logger.server";
import { grantedScopeSet, missingScopeOf, SCOPE_NAMES, scopeWaits } from "~/mapping/access-scopes";
import { catalogMappings } from "~/mapping/defaults";
import { TOPICS_BY_STAGE } from "~/mapping/topic-groups";
import { MAPPABLE_TOPICS, type MappableTopic } from "~/mapping/types";
import { grantedScopes, recordGrantedScopes } from "~/models/GrantedScopes.server";
import { addCatalogMapping, type StoredMapping } from "~/models/Mapping.server";
import { CATALOG } from "~/topics/catalog";
import type { AdminContext } from "./context.server";
import { mappingLimitMessage } from "./mapping-editor.server";

export interface CatalogOffer {
  topic: MappableTopic;
  eventType: string;
  /** The offer's condition ("status == 'delivered'"), or null. */
  when: string | null;
  /** "fulfillments" when the shop has not granted the topic's scope, else null. */
  waitsForAccessTo: string | null;
}

export interface CatalogOfferGroup {
  stage: string;
  label: string;
  offers: CatalogOffer[];
}

/** The catalog's mappings the shop has no mapping of the same topic and event type for, by stage; empty stages left out. */
export function catalogOffers(mappings: ReadonlyArray<Pick<StoredMapping, "topic" | "eventType">>, grantedScope: string | null): CatalogOfferGroup[] {
  const have = new Set(mappings.map((mapping) => offerKey(mapping.topic, mapping.eventType)));
  const granted = grantedScopeSet(grantedScope);
  const offers = catalogMappings().filter((mapping) => !have.has(offerKey(mapping.topic, mapping.eventType)));
  return TOPICS_BY_STAGE.map(({ stage, label, topics }) => ({
    stage,
    label,
    offers: offers
      .filter((mapping) => topics.includes(mapping.topic))
      .map((mapping) => {
        const missing = missingScopeOf(mapping.topic, granted);
        return { topic: mapping.topic, eventType: mapping.eventType, when: mapping.when ?? null, waitsForAccessTo: missing ? SCOPE_NAMES[missing] : null };
      }),
  })).filter((group) => group.offers.length > 0);
}

function offerKey(topic: string, eventType: string): string {
  return JSON.stringify([topic, eventType]);
}

/** What the Mappings page's loader adds about scopes and the catalog (names and labels only, nothing secret). */
export async function catalogAndAccess(context: AdminContext, mappings: StoredMapping[]) {
  const scope = await grantedScopes(context.prisma, context.shop);
  const granted = grantedScopeSet(scope);
  const waitingTopics: Partial<Record<MappableTopic, string>> = {};
  for (const topic of MAPPABLE_TOPICS) {
    const missing = missingScopeOf(topic, granted);
    if (missing) waitingTopics[topic] = SCOPE_NAMES[missing];
  }
  return { catalog: catalogOffers(mappings, scope), scopeWaits: scopeWaits(mappings, scope), waitingTopics };
}

export type CatalogActionResult = { ok: true; message: string } | { ok: false; message: string };

const addForm = z.object({ topic: z.enum(MAPPABLE_TOPICS), eventType: z.string().max(200) });

/** The merchant's click on "Add": the catalog's mapping of that topic and event type, turned on. */
export async function addCatalogOffer(context: AdminContext, form: FormData): Promise<{ status: number; result: CatalogActionResult }> {
  const parsed = addForm.safeParse({ topic: form.get("topic"), eventType: form.get("eventType") });
  const offered = parsed.success ? catalogMappings().find((mapping) => mapping.topic === parsed.data.topic && mapping.eventType === parsed.data.eventType) : undefined;
  if (!offered) return { status: 400, result: { ok: false, message: "That event is not in the catalog: reload the page and choose it again." } };
  // The click is the merchant's choice to send it (the catalog keeps most offers off only for shops that did not choose).
  const outcome = await addCatalogMapping(context.prisma, context.shop, { ...offered, enabled: true });
  if (outcome.ok) {
    const wait = missingScopeOf(offered.topic, grantedScopeSet(await grantedScopes(context.prisma, context.shop)));
    const waiting = wait ? `: it waits for access to ${SCOPE_NAMES[wait]} (grant it above)` : "";
    return { status: 200, result: { ok: true, message: `“${offered.eventType}” added and turned on${waiting}` } };
  }
  if ("present" in outcome) return { status: 409, result: { ok: false, message: `“${offered.eventType}” is already one of your mappings (${CATALOG[offered.topic].label}).` } };
  return { status: 400, result: { ok: false, message: `Not added: ${mappingLimitMessage(outcome.limit.count - 1)}` } };
}

/**
 * After the merchant granted scopes in Shopify's dialog: asks Shopify which scopes are granted now and records them,
 * as app/scopes_update will when it arrives (the page should not wait for it). The Admin API's answer is trusted,
 * not the browser's.
 */
export async function refreshGrantedScopes(context: AdminContext): Promise<{ status: number; result: CatalogActionResult }> {
  let granted: string[];
  try {
    granted = await context.queryGrantedScopes();
  } catch (error) {
    // shopify-app-remix answers an invalid token with a Response (401, a redirect) the embedded app acts on: pass it
    // on. Any other failure (Shopify unreachable, a 5xx it forwards as a Response) leaves the scopes as they were.
    if (error instanceof Response && (error.status === 401 || (error.status >= 300 && error.status < 400))) throw error;
    const reason = error instanceof Response ? `HTTP ${error.status}` : error instanceof Error ? error.message : String(error);
    logger.warn({ shop: context.shop, reason }, "granted scopes not refreshed: the Admin API did not answer");
    return {
      status: 503,
      result: { ok: false, message: "Shopify could not confirm the new access yet. Reload this page in a minute: it shows the access once Shopify confirms it." },
    };
  }
  await recordGrantedScopes(context.prisma, context.shop, granted);
  return { status: 200, result: { ok: true, message: "Access granted" } };
}
