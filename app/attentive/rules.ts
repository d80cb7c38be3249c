/**
 * Attentive's rules for custom events (../docs/attentive-api.md summarises the sources;
 * where they disagree we code against the stricter one).
 */

export const FORBIDDEN_IN_EVENT_TYPE = ['"', "'", "(", ")", "{", "}", "[", "]", "\\", "|", ","] as const;
export const FORBIDDEN_IN_PROPERTY_KEY = ["'", '"', "{", "}", "[", "]", "\\", "|", ","] as const;
/** Keys past this many are stored by Attentive but unusable in Journeys and macros. */
export const MAX_PROPERTY_KEYS = 200;
/**
 * Our bounds, not Attentive's (its docs give none): an event type or key is a name a merchant picks in Journey
 * Builder, so 128 characters is far more than any real one (the defaults are under 30) and keeps a pasted page of
 * text from being stored on every delivery and sent with every event.
 */
export const MAX_EVENT_TYPE_LENGTH = 128;
export const MAX_PROPERTY_KEY_LENGTH = 128;
/** Attentive only shortens URLs up to this length. */
export const MAX_SHORTENABLE_URL_LENGTH = 1024;
/** Events older than this when sent reach Segment Builder but trigger no Journey. */
export const STALE_AFTER_MS = 12 * 60 * 60 * 1000;

function describe(char: string): string {
  const names: Record<string, string> = {
    '"': 'a double quote (")',
    "'": "a single quote (')",
    "(": "an opening parenthesis (()",
    ")": "a closing parenthesis ())",
    "{": "a opening brace ({)",
    "}": "a closing brace (})",
    "[": "a opening bracket ([)",
    "]": "a closing bracket (])",
    "\\": "a backslash (\\)",
    "|": "a pipe (|)",
    ",": "a comma (,)",
  };
  return names[char] ?? `"${char}"`;
}

/**
 * Characters a name must not hold: C0 controls (NUL, tab, newline…), DEL, C1 controls (U+0080–U+009F, e.g. U+0085
 * NEXT LINE), and the invisible ones that make two names look alike or show one reversed: bidi marks and overrides
 * (U+061C, U+200E–U+200F, U+202A–U+202E, U+2066–U+2069), zero-width and invisible operators (U+200B–U+200D,
 * U+2060–U+2064, U+FEFF), line and paragraph separators (U+2028–U+2029), and unpaired surrogates (not text at all).
 * Event types match Journeys case- and byte-exactly, so an invisible character is a Journey that never triggers.
 * One character class, no quantifier: a single pass, whatever the input.
 */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const HIDDEN_CHARACTER = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ud800-\udfff]/u;

/** The first forbidden control or invisible character, written as U+XXXX with its position, or null. */
export function hiddenCharacter(text: string): string | null {
  const match = HIDDEN_CHARACTER.exec(text);
  if (match === null) return null;
  const code = match[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0");
  return `an invisible or control character (U+${code}) at position ${match.index + 1}`;
}

/** Returns a sentence saying what is wrong with the event type, or null when Attentive accepts it. */
export function eventTypeProblem(type: string): string | null {
  // Length first: the other messages quote the type, and a quoted page of text helps nobody.
  if (type.length > MAX_EVENT_TYPE_LENGTH) {
    return `The event type is ${type.length} characters long; the limit is ${MAX_EVENT_TYPE_LENGTH}. Use a short name such as "Order Shipped".`;
  }
  if (type.trim() === "") return "The event type is empty: give it a name such as \"Order Shipped\".";
  const hidden = hiddenCharacter(type);
  if (hidden !== null) return `The event type contains ${hidden}: retype the name without it.`;
  const bad = FORBIDDEN_IN_EVENT_TYPE.find((char) => type.includes(char));
  if (bad) return `The event type "${type}" contains ${describe(bad)}, which Attentive does not allow in event types: remove it.`;
  return null;
}

/** Returns a sentence saying what is wrong with the property key, or null when Attentive accepts it. */
export function propertyKeyProblem(key: string): string | null {
  if (key.length > MAX_PROPERTY_KEY_LENGTH) {
    return `A property key is ${key.length} characters long; the limit is ${MAX_PROPERTY_KEY_LENGTH}. Use a short name such as "orderName".`;
  }
  if (key.trim() === "") return "A property key is empty: give every property a name.";
  const hidden = hiddenCharacter(key);
  if (hidden !== null) return `The property key "${printable(key)}" contains ${hidden}: retype the name without it.`;
  const bad = FORBIDDEN_IN_PROPERTY_KEY.find((char) => key.includes(char));
  if (bad) return `The property key "${key}" contains ${describe(bad)}, which Attentive does not allow in property keys: remove it.`;
  return null;
}

/** The key with its hidden characters shown as "?", so the message names the key without carrying them. */
function printable(text: string): string {
  return text.replace(new RegExp(HIDDEN_CHARACTER.source, "gu"), "?");
}

const E164 = /^\+[1-9]\d{6,14}$/;
export function isE164(phone: string): boolean {
  return E164.test(phone);
}
