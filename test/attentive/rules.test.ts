/**
 * Attentive's rules for event types and property keys (docs/attentive-api.md): a mapping that breaks them is
 * refused when saved, with a sentence naming the character, rather than failing on every order later.
 */
import { describe, expect, it } from "vitest";
import {
  FORBIDDEN_IN_EVENT_TYPE,
  FORBIDDEN_IN_PROPERTY_KEY,
  MAX_PROPERTY_KEYS,
  MAX_SHORTENABLE_URL_LENGTH,
  STALE_AFTER_MS,
  eventTypeProblem,
  isE164,
  propertyKeyProblem,
} from "~/attentive/rules";

const NAMES: Record<string, string> = {
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

describe("Attentive's limits", () => {
  it("are the documented figures", () => {
    expect(MAX_PROPERTY_KEYS).toBe(200);
    expect(MAX_SHORTENABLE_URL_LENGTH).toBe(1024);
    expect(STALE_AFTER_MS).toBe(12 * 3_600_000);
  });

  it("forbid these characters in event types and property keys (parentheses are allowed in keys)", () => {
    expect([...FORBIDDEN_IN_EVENT_TYPE].sort()).toEqual(['"', "'", "(", ")", ",", "[", "\\", "]", "{", "|", "}"].sort());
    expect([...FORBIDDEN_IN_PROPERTY_KEY].sort()).toEqual(['"', "'", ",", "[", "\\", "]", "{", "|", "}"].sort());
  });
});

describe("eventTypeProblem", () => {
  it("accepts a plain name, with spaces, digits and other punctuation", () => {
    for (const type of ["Order Shipped", "order_shipped-2", "Refund: issued!", "Bestellung versandt ✓", "a.b/c#d"]) {
      expect(eventTypeProblem(type), type).toBeNull();
    }
  });

  it("refuses an empty or blank type, saying how to name it", () => {
    for (const type of ["", " ", "\t\n"]) {
      expect(eventTypeProblem(type)).toBe('The event type is empty: give it a name such as "Order Shipped".');
    }
  });

  it("names each forbidden character in plain words, wherever it stands", () => {
    for (const char of FORBIDDEN_IN_EVENT_TYPE) {
      for (const type of [`${char}Order`, `Order ${char} Shipped`, `Shipped${char}`]) {
        expect(eventTypeProblem(type), type).toBe(
          `The event type "${type}" contains ${NAMES[char]}, which Attentive does not allow in event types: remove it.`,
        );
      }
    }
  });

  it("names the first forbidden character in the list's order when there are several", () => {
    expect(eventTypeProblem("a,b|c")).toContain("pipe (|)");
  });
});

describe("propertyKeyProblem", () => {
  it("accepts ordinary keys, including parentheses", () => {
    for (const key of ["orderName", "order name", "total (USD)", "line_items.0", "ä"]) {
      expect(propertyKeyProblem(key), key).toBeNull();
    }
  });

  it("refuses an empty or blank key", () => {
    for (const key of ["", "  "]) expect(propertyKeyProblem(key)).toBe("A property key is empty: give every property a name.");
  });

  it("names each forbidden character in plain words", () => {
    for (const char of FORBIDDEN_IN_PROPERTY_KEY) {
      const key = `order${char}name`;
      expect(propertyKeyProblem(key), key).toBe(
        `The property key "${key}" contains ${NAMES[char]}, which Attentive does not allow in property keys: remove it.`,
      );
    }
  });
});

describe("isE164", () => {
  it("accepts + and 7 to 15 digits not starting with 0", () => {
    for (const phone of ["+1234567", "+14155552671", "+442071838750", "+123456789012345"]) expect(isE164(phone), phone).toBe(true);
  });

  it("refuses anything else", () => {
    for (const phone of ["+123456", "+1234567890123456", "+04155552671", "14155552671", "+1 415 555 2671", "+1415555267a", " +14155552671", "+14155552671 ", "x+14155552671", "+14155552671x", ""]) {
      expect(isE164(phone), phone).toBe(false);
    }
  });
});
