/**
 * Who an Attentive event is about, worked out from a Shopify order when the mapping does not say.
 * Pure functions: no I/O, no Liquid, so they can be tested and reused on their own.
 */
import { isSupportedCountry, parsePhoneNumberFromString, type CountryCode } from "libphonenumber-js";
import { isE164 } from "~/attentive/rules";
import { isJsonObject, type JsonValue } from "~/shopify/json";
import { MAX_EMAIL_LENGTH } from "./limits";

export interface DefaultIdentity {
  email?: string;
  phone?: string;
  clientUserId?: string;
  /** Why an identifier the order seemed to have was left out. */
  warnings: string[];
}

function field(value: JsonValue | null | undefined, key: string): JsonValue | undefined {
  if (value === undefined || !isJsonObject(value)) return undefined;
  // Own keys only: a key like "constructor" must not reach Object.prototype.
  return Object.hasOwn(value, key) ? value[key] : undefined;
}

/** Attentive treats blank strings as "no identifier", so they must never count as one. */
function nonEmptyString(value: JsonValue | undefined): string | undefined {
  if (typeof value !== "string") return undefined;
  const trimmed = value.trim();
  return trimmed === "" ? undefined : trimmed;
}

/** One character class, no quantifier: a single scan. */
const WHITESPACE = /\s/;

/**
 * A loose shape check: Attentive does the real validation, this only catches text that is plainly not an address.
 * The shape is `local@domain.tld` with no whitespace and exactly one "@": what `/^[^\s@]+@[^\s@]+\.[^\s@]+$/` says,
 * checked with a few linear scans instead, because that pattern backtracks quadratically (3.4 s on a crafted
 * 40,000-character "address" in an order). Longer than an address can be, it is no address.
 */
export function looksLikeEmail(value: string): boolean {
  if (value.length > MAX_EMAIL_LENGTH) return false;
  const at = value.indexOf("@");
  if (at < 1 || value.indexOf("@", at + 1) !== -1) return false;
  if (WHITESPACE.test(value)) return false;
  // The domain needs a dot with text on both sides; the text may hold more dots ("mail.example.co.uk").
  const domainStart = at + 1;
  const dot = value.indexOf(".", domainStart + 1);
  return dot !== -1 && dot < value.length - 1;
}

function countryCode(value: JsonValue | undefined): CountryCode | undefined {
  const code = nonEmptyString(value)?.toUpperCase();
  return code !== undefined && isSupportedCountry(code) ? code : undefined;
}

/**
 * Parsing with libphonenumber costs around 10 µs, more than rendering a whole template, and the same customers'
 * numbers come back with every order and retry; remembering recent answers keeps rendering fast.
 */
const PHONE_CACHE_SIZE = 1_000;
const phoneCache = new Map<string, string | null>();

/**
 * E.164 form of a phone number, or null when it cannot be made into a valid one.
 * Numbers written nationally ("(415) 555-2671") need the country they belong to.
 */
export function normalizePhone(raw: string, defaultCountry?: string): string | null {
  const text = raw.trim();
  if (text === "") return null;
  const upper = defaultCountry?.trim().toUpperCase();
  const region = upper !== undefined && isSupportedCountry(upper) ? upper : undefined;
  const key = `${region ?? ""} ${text}`;
  const cached = phoneCache.get(key);
  if (cached !== undefined) return cached;
  const phone = parsePhone(text, region);
  phoneCache.set(key, phone);
  if (phoneCache.size > PHONE_CACHE_SIZE) {
    const oldest = phoneCache.keys().next();
    if (oldest.done !== true) phoneCache.delete(oldest.value);
  }
  return phone;
}

function parsePhone(text: string, region: CountryCode | undefined): string | null {
  // Validity, not mere plausibility: Attentive rejects numbers that cannot exist, and a rejected event is lost.
  const parsed = parsePhoneNumberFromString(text, region);
  if (!parsed || !parsed.isValid()) return null;
  return isE164(parsed.number) ? parsed.number : null;
}

/** The country a national phone number on the order most likely belongs to. */
export function orderCountry(order: JsonValue | null | undefined): string | undefined {
  return (
    countryCode(field(field(order, "shipping_address"), "country_code")) ??
    countryCode(field(field(order, "billing_address"), "country_code")) ??
    countryCode(field(field(field(order, "customer"), "default_address"), "country_code"))
  );
}

export function defaultEmail(order: JsonValue | null | undefined): string | undefined {
  const candidates = [field(order, "email"), field(order, "contact_email"), field(field(order, "customer"), "email")];
  for (const candidate of candidates) {
    const email = nonEmptyString(candidate);
    if (email !== undefined && looksLikeEmail(email)) return email;
  }
  return undefined;
}

export interface PhoneResolution {
  phone?: string;
  /** Set when the order had phone numbers but none could be made E.164. */
  warning?: string;
}

/**
 * The first phone on the order that normalises. A number that does not normalise is passed over rather than
 * ending the search, because a later one (often the shipping address) is usually the customer's too.
 */
export function defaultPhone(order: JsonValue | null | undefined): PhoneResolution {
  const fallbackCountry = orderCountry(order);
  const shipping = field(order, "shipping_address");
  const billing = field(order, "billing_address");
  const candidates: Array<{ value: JsonValue | undefined; country: string | undefined; where: string }> = [
    { value: field(order, "phone"), country: fallbackCountry, where: "order phone" },
    { value: field(field(order, "customer"), "phone"), country: fallbackCountry, where: "customer phone" },
    {
      value: field(shipping, "phone"),
      country: countryCode(field(shipping, "country_code")) ?? fallbackCountry,
      where: "shipping address phone",
    },
    {
      value: field(billing, "phone"),
      country: countryCode(field(billing, "country_code")) ?? fallbackCountry,
      where: "billing address phone",
    },
  ];
  const rejected: string[] = [];
  for (const candidate of candidates) {
    const raw = nonEmptyString(candidate.value);
    if (raw === undefined) continue;
    const phone = normalizePhone(raw, candidate.country);
    if (phone !== null) return { phone };
    rejected.push(`${candidate.where} "${raw}"`);
  }
  if (rejected.length === 0) return {};
  return { warning: phoneWarning(rejected.join(", ")) };
}

export function phoneWarning(description: string): string {
  return `The phone number was left out: ${description} could not be read as a full international number (E.164, like +14155552671). Check the number and its country in Shopify.`;
}

const CUSTOMER_GID = /^gid:\/\/shopify\/Customer\/(\d+)$/;
const DIGITS = /^\d+$/;

/**
 * The Shopify customer id as an exact decimal string. The GraphQL id is preferred because numeric ids above
 * 2^53 may have been rounded by whatever produced the JSON.
 */
export function customerIdOf(customer: JsonValue | undefined): string | undefined {
  const gid = nonEmptyString(field(customer, "admin_graphql_api_id"));
  const fromGid = gid === undefined ? undefined : CUSTOMER_GID.exec(gid)?.[1];
  if (fromGid !== undefined) return fromGid;
  const id = field(customer, "id");
  if (typeof id === "string" && DIGITS.test(id.trim())) return id.trim();
  if (typeof id === "number" && Number.isSafeInteger(id) && id > 0) return String(id);
  return undefined;
}

export function defaultClientUserId(order: JsonValue | null | undefined): string | undefined {
  return customerIdOf(field(order, "customer"));
}

/** Every default identifier for the order (for refunds, pass the refunded order, not the refund). */
export function resolveDefaultIdentity(order: JsonValue | null | undefined): DefaultIdentity {
  const warnings: string[] = [];
  const { phone, warning } = defaultPhone(order);
  if (warning !== undefined) warnings.push(warning);
  const identity: DefaultIdentity = { warnings };
  const email = defaultEmail(order);
  if (email !== undefined) identity.email = email;
  if (phone !== undefined) identity.phone = phone;
  const clientUserId = defaultClientUserId(order);
  if (clientUserId !== undefined) identity.clientUserId = clientUserId;
  return identity;
}
