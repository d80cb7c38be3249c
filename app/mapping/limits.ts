/**
 * Every bound on what a merchant can write into a mapping, in one list (docs/decisions/010-merchant-input-limits.md).
 * The ones about names Attentive receives live with Attentive's rules, which also check them when an event is
 * rendered, and are re-exported here so this stays the one place to read.
 */
export { MAX_EVENT_TYPE_LENGTH, MAX_PROPERTY_KEYS, MAX_PROPERTY_KEY_LENGTH } from "~/attentive/rules";

/**
 * Each enabled mapping makes one delivery, so one Attentive request, per matching webhook: 50 mappings turn one
 * order into at most 50 requests (a third of a second of Attentive's 150 per second) and 50 rows written while
 * Shopify waits for the webhook's answer. Real shops need a handful (the defaults are 2).
 */
export const MAX_MAPPINGS_PER_SHOP = 50;

/** Longer templates (and conditions) are refused when saved and when parsed for rendering, which bounds parse time. */
export const MAX_TEMPLATE_LENGTH = 10_000;

/**
 * 50 mappings of 200 properties written like the defaults export as about 0.4 MB, so real files fit with room to
 * spare. Checked on the bytes before anything is parsed, and on an upload before more than that is read.
 */
export const MAX_IMPORT_FILE_BYTES = 1024 * 1024;

/** The longest address SMTP can carry (RFC 5321: a 256-octet path minus its angle brackets). */
export const MAX_EMAIL_LENGTH = 254;

/** The import limit as messages say it. */
export const MAX_IMPORT_FILE_TEXT = `1 MiB (${MAX_IMPORT_FILE_BYTES.toLocaleString("en-US")} bytes)`;

/**
 * The UTF-8 size of `text`, counting no further than `stopAfter` (so a huge string costs no more than the limit).
 * Works the same in the browser and on the server, without allocating the encoded bytes.
 */
export function utf8Length(text: string, stopAfter = Number.POSITIVE_INFINITY): number {
  let bytes = 0;
  for (let i = 0; i < text.length && bytes <= stopAfter; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/**
 * The size check every import makes first, on the file's byte count, before reading further or parsing.
 * `bytes` null: more than the limit, but how much more was not read.
 */
export function importSizeProblem(bytes: number | null): string | null {
  if (bytes !== null && bytes <= MAX_IMPORT_FILE_BYTES) return null;
  const size = bytes === null ? "larger than that" : `${bytes.toLocaleString("en-US")} bytes`;
  return `The mapping file is too large: the limit is ${MAX_IMPORT_FILE_TEXT} and this one is ${size}. Remove mappings or properties you do not need, then import it again.`;
}

/** The limit on how many mappings a file may hold, as a merchant reads it. */
export function mappingCountProblem(count: number): string | null {
  if (count <= MAX_MAPPINGS_PER_SHOP) return null;
  return `The file has ${count} mappings; a shop can have at most ${MAX_MAPPINGS_PER_SHOP} (each one sends an event for every matching order). Remove ${count - MAX_MAPPINGS_PER_SHOP} from the file.`;
}
