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
  // Fewer brackets in all than the depth allowed: no need to measure the nesting. Then the integer literals that
  // need quoting are found by looking for runs of 16 digits, reading one position in 16 (see quoteUnsafeIntegers);
  // real Shopify ids have 13 or 14, so most bodies have none and are parsed as they are.
  if (openersAtMost(text, MAX_JSON_DEPTH)) {
    const quoted = quoteUnsafeIntegers(text);
    if (quoted === text) return JSON.parse(text) as JsonValue;
    try {
      return JSON.parse(quoted) as JsonValue;
    } catch {
      // A run of digits inside a string that looked like a number token (`"note": "ref:12345678901234567"`), or
      // text that is not JSON at all: the scan below tells strings apart, and throws for what is not JSON.
    }
  }
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

/** Only an integer of 16 digits or more can be beyond 2^53 (which has 16). */
const LONG_RUN = 16;

/**
 * The next run of LONG_RUN or more digits at or after `from` (which is not inside a run), as [start, end), or null.
 * Any such run covers one of every LONG_RUN consecutive positions, so only those are read until one is a digit:
 * about one character in sixteen, several times faster than a regular expression's search.
 */
function nextLongDigitRun(text: string, from: number): [number, number] | null {
  for (let at = from + LONG_RUN - 1; at < text.length; at += LONG_RUN) {
    if (!isDigit(text.charCodeAt(at))) continue;
    let start = at;
    while (start > from && isDigit(text.charCodeAt(start - 1))) start--;
    let end = at + 1;
    while (end < text.length && isDigit(text.charCodeAt(end))) end++;
    if (end - start >= LONG_RUN) return [start, end];
    // A run starting after this short one covers end + LONG_RUN if it is long enough to matter.
    at = end;
  }
  return null;
}

/**
 * The text with every integer literal beyond 2^53 quoted, found without a scan in JS: a run of 16 or more digits
 * (nextLongDigitRun) is taken for a number token when, past a minus and whitespace, it follows `:`, `,`, `[` or the
 * start of the text, and no fraction or exponent follows it. A run inside a string can look like that
 * (`"ref:12345678901234567"`), but quoting it always breaks the JSON: the inserted quote ends the string and a digit
 * or minus follows it directly, which JSON never allows after a string. So when the quoted text parses, every quote
 * went around a real number token; when it does not, the caller falls back to the scan. Returns the text itself
 * when nothing needs quoting.
 */
function quoteUnsafeIntegers(text: string): string {
  let quoted = "";
  let from = 0;
  for (let run = nextLongDigitRun(text, 0); run !== null; run = nextLongDigitRun(text, run[1])) {
    const [digitsFrom, end] = run;
    const after = text.charCodeAt(end);
    if (after === DOT || (after | 32) === 101) continue; // a fraction or an exponent: JSON.parse reads it as a number, as the scan does
    if (text.charCodeAt(digitsFrom) === 48) continue; // a leading zero is not JSON: left for JSON.parse to refuse
    let start = digitsFrom;
    let at = digitsFrom - 1;
    if (at >= 0 && text.charCodeAt(at) === MINUS) start = at--;
    while (at >= 0 && isJsonSpace(text.charCodeAt(at))) at--;
    if (at >= 0) {
      const before = text.charCodeAt(at);
      if (before !== COLON && before !== COMMA && before !== OPEN_BRACKET) continue;
    }
    if (Number.isSafeInteger(Number(text.slice(start, end)))) continue;
    quoted += `${text.slice(from, start)}"${text.slice(start, end)}"`;
    from = end;
  }
  return from === 0 ? text : quoted + text.slice(from);
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
