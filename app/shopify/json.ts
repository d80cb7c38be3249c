/**
 * Shopify ids can exceed 2^53; JSON.parse would round them. This parser keeps every
 * integer that is not a safe JS integer as its exact decimal string.
 */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * Far beyond any Shopify body (about 6 levels), below where walking it recursively
 * (templates) would exhaust the stack.
 */
export const MAX_JSON_DEPTH = 2_500;

/** The deepest nesting of arrays and objects in JSON text, ignoring brackets inside strings. */
export function jsonDepth(text: string): number {
  return scan(text).deepest;
}

const QUOTE = 34;
const BACKSLASH = 92;
const MINUS = 45;
const DOT = 46;
const PLUS = 43;
const isDigit = (code: number) => code >= 48 && code <= 57;

/**
 * One pass over the text, outside strings: the deepest nesting, and where the integer
 * literals are that a JS number cannot hold exactly.
 */
function scan(text: string): { deepest: number; unsafe: Array<[number, number]> } {
  let depth = 0;
  let deepest = 0;
  const unsafe: Array<[number, number]> = [];
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === QUOTE) {
      // To the closing quote: the next one not escaped, i.e. not after an odd run of backslashes. indexOf runs
      // natively, and most of a body's text is inside strings: this is most of the parse's time saved.
      let end = text.indexOf('"', i + 1);
      while (end !== -1) {
        let backslashes = 0;
        while (text.charCodeAt(end - 1 - backslashes) === BACKSLASH) backslashes++;
        if (backslashes % 2 === 0) break;
        end = text.indexOf('"', end + 1);
      }
      i = end === -1 ? text.length : end;
    } else if (code === 123 || code === 91) {
      deepest = Math.max(deepest, ++depth);
    } else if (code === 125 || code === 93) {
      depth--;
    } else if (code === MINUS || isDigit(code)) {
      const start = i;
      let j = code === MINUS ? i + 1 : i;
      const digitsFrom = j;
      while (j < text.length && isDigit(text.charCodeAt(j))) j++;
      const digits = j - digitsFrom;
      let integer = true;
      if (text.charCodeAt(j) === DOT) {
        integer = false;
        for (j++; j < text.length && isDigit(text.charCodeAt(j)); j++);
      }
      const exponent = text.charCodeAt(j) | 32;
      if (exponent === 101) {
        integer = false;
        j++;
        if (text.charCodeAt(j) === PLUS || text.charCodeAt(j) === MINUS) j++;
        while (j < text.length && isDigit(text.charCodeAt(j))) j++;
      }
      // Below 16 digits every integer is exact (2^53 has 16).
      // A leading zero is not JSON: left unquoted, JSON.parse refuses it as it should.
      const leadingZero = digits > 1 && text.charCodeAt(digitsFrom) === 48;
      if (integer && digits >= 16 && !leadingZero && !Number.isSafeInteger(Number(text.slice(start, j)))) unsafe.push([start, j]);
      i = j - 1;
    }
  }
  return { deepest, unsafe };
}

/**
 * Parses JSON keeping every integer that a JS number cannot hold exactly as its exact
 * decimal string: such literals are quoted before a plain JSON.parse, which is several
 * times faster than a reviver called for every value.
 */
export function parseShopifyJson(text: string): JsonValue {
  // Most bodies need no scan: no number in them has 16 digits (real Shopify ids have 13 or 14), and they open fewer
  // brackets in all than the depth allowed. Both checks run natively; a bracket or digits inside a string can only
  // send a body down the exact path below, never let one through that needs it.
  if (!mayHoldUnsafeInteger(text) && openersAtMost(text, MAX_JSON_DEPTH)) return JSON.parse(text) as JsonValue;
  const { deepest, unsafe } = scan(text);
  if (deepest > MAX_JSON_DEPTH) throw new RangeError(`JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
  if (unsafe.length === 0) return JSON.parse(text) as JsonValue;
  let quoted = "";
  let from = 0;
  for (const [start, end] of unsafe) {
    quoted += `${text.slice(from, start)}"${text.slice(start, end)}"`;
    from = end;
  }
  return JSON.parse(quoted + text.slice(from)) as JsonValue;
}

/** A run of 16 digits: only an integer that long can be beyond 2^53 (16 digits). */
const SIXTEEN_DIGITS = /\d{16}/g;

/**
 * Whether some number token in the text may have 16 digits or more. A run of 16 digits found by a native search is
 * such a token when, past whitespace and a minus, it follows `:`, `,`, `[` or the start of the text (a JSON number
 * can follow nothing else); a run after anything else is inside a string (an id in a `gid://` string, a tracking
 * number). A run inside a string that happens to follow a colon only sends the body down the exact path.
 */
function mayHoldUnsafeInteger(text: string): boolean {
  SIXTEEN_DIGITS.lastIndex = 0;
  for (let found = SIXTEEN_DIGITS.exec(text); found !== null; found = SIXTEEN_DIGITS.exec(text)) {
    let at = found.index - 1;
    if (at >= 0 && isDigit(text.charCodeAt(at))) continue; // the middle of a longer run, already judged
    if (at >= 0 && text.charCodeAt(at) === MINUS) at--;
    while (at >= 0 && isJsonSpace(text.charCodeAt(at))) at--;
    if (at < 0) return true;
    const before = text.charCodeAt(at);
    if (before === COLON || before === COMMA || before === OPEN_BRACKET) return true;
  }
  return false;
}

const COLON = 58;
const COMMA = 44;
const OPEN_BRACKET = 91;
const isJsonSpace = (code: number) => code === 32 || code === 9 || code === 10 || code === 13;

/** Whether the text holds at most `limit` `{` and `[` in all (so nests no deeper than that). */
function openersAtMost(text: string, limit: number): boolean {
  let count = 0;
  for (const opener of ["{", "["]) {
    for (let at = text.indexOf(opener); at !== -1; at = text.indexOf(opener, at + 1)) {
      if (++count > limit) return false;
    }
  }
  return true;
}

export function isJsonObject(value: JsonValue | undefined): value is { [key: string]: JsonValue } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
