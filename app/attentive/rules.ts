/**
 * Attentive's rules for custom events (../docs/attentive-api.md summarises the sources;
 * where they disagree we code against the stricter one).
 */

export const FORBIDDEN_IN_EVENT_TYPE = ['"', "'", "(", ")", "{", "}", "[", "]", "\\", "|", ","] as const;
export const FORBIDDEN_IN_PROPERTY_KEY = ["'", '"', "{", "}", "[", "]", "\\", "|", ","] as const;
/** Keys past this many are stored by Attentive but unusable in Journeys and macros. */
export const MAX_PROPERTY_KEYS = 200;
/** Attentive only shortens URLs up to this length. */
export const MAX_SHORTENABLE_URL_LENGTH = 1024;
/** Events older than this when sent reach Segment Builder but trigger no Journey. */
export const STALE_AFTER_MS = 12 * 60 * 60 * 1000;

function describe(char: string): string {
  const names: Record<string, string> = {
    '"': 'double quote (")',
    "'": "single quote (')",
    "(": "opening parenthesis (()",
    ")": "closing parenthesis ())",
    "{": "opening brace ({)",
    "}": "closing brace (})",
    "[": "opening bracket ([)",
    "]": "closing bracket (])",
    "\\": "backslash (\\)",
    "|": "pipe (|)",
    ",": "comma (,)",
  };
  return names[char] ?? `"${char}"`;
}

/** Returns a sentence saying what is wrong with the event type, or null when Attentive accepts it. */
export function eventTypeProblem(type: string): string | null {
  if (type.trim() === "") return "The event type is empty: give it a name such as \"Order Shipped\".";
  const bad = FORBIDDEN_IN_EVENT_TYPE.find((char) => type.includes(char));
  if (bad) return `The event type "${type}" contains a ${describe(bad)}, which Attentive does not allow in event types: remove it.`;
  return null;
}

/** Returns a sentence saying what is wrong with the property key, or null when Attentive accepts it. */
export function propertyKeyProblem(key: string): string | null {
  if (key.trim() === "") return "A property key is empty: give every property a name.";
  const bad = FORBIDDEN_IN_PROPERTY_KEY.find((char) => key.includes(char));
  if (bad) return `The property key "${key}" contains a ${describe(bad)}, which Attentive does not allow in property keys: remove it.`;
  return null;
}

const E164 = /^\+[1-9]\d{6,14}$/;
export function isE164(phone: string): boolean {
  return E164.test(phone);
}
