/**
 * What Attentive (or a proxy in front of it) sends back is stored in the delivery log and shown to the merchant,
 * so the API key and the customer's contact details are taken out first (decision 008). Every function here is
 * linear in the text: answers can be 256 KiB and come from outside.
 */

const KEY_MARK = "[API key]";
const EMAIL_MARK = "[email]";
const PHONE_MARK = "[phone]";

/** Shortest base64 fragment of the key that is searched for; shorter ones would match ordinary text. */
const MIN_BASE64_FRAGMENT = 8;
/** Past this length a key is matched as is and URL-encoded only (the per-character search recurses per character). */
const MAX_KEY_FOR_ENCODED_FORMS = 512;

/**
 * Removes the key however it was echoed: as is and in other letter case, and with any of its characters
 * URL-encoded (also twice), JSON-escaped (\uXXXX, \", \/, \\) or written as an HTML entity; as hex; and as
 * base64 (standard or URL-safe) at any alignment, so also inside `Bearer <key>` or `user:<key>` encoded whole.
 * No regular expressions: a pattern with a branch per character of the key costs tens of milliseconds to
 * compile, once per key, and the worker sends for many keys.
 */
export function keyRedactor(apiKey: string): (text: string) => string {
  if (apiKey === "") return (text) => text;
  const hex = Buffer.from(apiKey, "utf8").toString("hex");
  const fragments = base64Fragments(apiKey);
  return (text) => {
    let redacted = apiKey.length <= MAX_KEY_FOR_ENCODED_FORMS ? replaceKeyForms(text, apiKey) : replaceAll(text, [apiKey, encodeURIComponent(apiKey)]);
    redacted = replaceIgnoringAsciiCase(redacted, hex);
    return fragments.length > 0 ? replaceBase64Runs(redacted, fragments) : redacted;
  };
}

/** Said instead of a text whose search for the key would not end in linear time (a key of many "\\" or "%"). */
const WITHHELD = "[answer withheld: it could not be checked for the API key in time]";

interface KeySearch {
  deadEnds: Set<number>;
  steps: number;
  budget: number;
}

class SearchTooLong extends Error {}

function replaceKeyForms(text: string, key: string): string {
  try {
    return replaceKeyFormsWithin(text, key, { deadEnds: new Set(), steps: 0, budget: 8 * text.length + 10_000 });
  } catch (error) {
    if (error instanceof SearchTooLong) return WITHHELD;
    throw error;
  }
}

function replaceKeyFormsWithin(text: string, key: string, search: KeySearch): string {
  const first = foldAscii(key.charCodeAt(0));
  let result = "";
  let copiedUpTo = 0;
  for (let position = 0; position < text.length; position++) {
    const code = text.charCodeAt(position);
    // Every form of a character starts with the character itself, "%", "\" or "&".
    if (foldAscii(code) !== first && code !== 0x25 && code !== 0x5c && code !== 0x26) continue;
    const end = matchKey(text, position, key, 0, search);
    if (end > position) {
      result += text.slice(copiedUpTo, position) + KEY_MARK;
      copiedUpTo = end;
      position = end - 1;
    }
  }
  return result + text.slice(copiedUpTo);
}

/** Where the key, starting at its `index`th character, ends in `text` if it starts at `position`; -1 if not. */
function matchKey(text: string, position: number, key: string, index: number, search: KeySearch): number {
  let at = position;
  for (let next = index; next < key.length; next++) {
    if (++search.steps > search.budget) throw new SearchTooLong();
    const lengths = characterFormLengths(text, at, key.charCodeAt(next));
    if (lengths.length === 0) return -1;
    if (lengths.length > 1) {
      // A character with several forms ("\\" as is or escaped) makes the search branch; a branch that led
      // nowhere is remembered, and the step budget bounds what is left.
      const state = at * (key.length + 1) + next;
      if (search.deadEnds.has(state)) return -1;
      // A branch costs far more than a step (arrays, the set); counted so, it keeps the worst case near 100 ms.
      search.steps += 32;
      for (const length of lengths) {
        const end = matchKey(text, at + length, key, next + 1, search);
        if (end >= 0) return end;
      }
      search.deadEnds.add(state);
      return -1;
    }
    at += lengths[0] ?? 0;
  }
  return at;
}

const NO_FORM: readonly number[] = [];
const AS_IS: readonly number[] = [1];

/** The lengths of the forms of the character `code` found at `position` (usually none or one). */
function characterFormLengths(text: string, position: number, code: number): readonly number[] {
  const at = text.charCodeAt(position);
  if (at !== 0x25 && at !== 0x5c && at !== 0x26) return foldAscii(at) === foldAscii(code) ? AS_IS : NO_FORM;
  const lengths: number[] = [];
  if (at === code) lengths.push(1);
  if (at === 0x25) {
    if (hexAt(text, position + 1, 2) === code) lengths.push(3);
    if (text.startsWith("25", position + 1) && hexAt(text, position + 3, 2) === code) lengths.push(5);
  } else if (at === 0x5c) {
    const next = text.charCodeAt(position + 1);
    if ((next === 0x75 || next === 0x55) && hexAt(text, position + 2, 4) === code) lengths.push(6);
    if (next === code && (code === 0x22 || code === 0x5c || code === 0x2f)) lengths.push(2);
  } else if (text.charCodeAt(position + 1) === 0x23) {
    const entity = /^&#(?:x([0-9a-f]{1,6})|([0-9]{1,7}));/i.exec(text.slice(position, position + 11));
    if (entity && Number.parseInt(entity[1] ?? entity[2] ?? "", entity[1] ? 16 : 10) === code) lengths.push(entity[0].length);
  }
  return lengths;
}

function hexAt(text: string, position: number, digits: number): number {
  const part = text.slice(position, position + digits);
  return part.length === digits && /^[0-9a-f]+$/i.test(part) ? Number.parseInt(part, 16) : -1;
}

function foldAscii(code: number): number {
  return code >= 0x41 && code <= 0x5a ? code + 0x20 : code;
}

function replaceAll(text: string, needles: string[]): string {
  return needles.reduce((result, needle) => result.split(needle).join(KEY_MARK), text);
}

/** `needle` is lower-case hex. */
function replaceIgnoringAsciiCase(text: string, needle: string): string {
  let result = "";
  let copiedUpTo = 0;
  for (let position = 0; position + needle.length <= text.length; position++) {
    let matched = 0;
    while (matched < needle.length && foldAscii(text.charCodeAt(position + matched)) === needle.charCodeAt(matched)) matched++;
    if (matched === needle.length) {
      result += text.slice(copiedUpTo, position) + KEY_MARK;
      copiedUpTo = position + needle.length;
      position = copiedUpTo - 1;
    }
  }
  return result + text.slice(copiedUpTo);
}

/**
 * base64 turns each 3 bytes into 4 characters, so the key's encoding depends on how many bytes precede it. For
 * each of the three offsets, keep only the characters made entirely of the key's own bits.
 */
function base64Fragments(apiKey: string): string[] {
  const key = Buffer.from(apiKey, "utf8");
  const fragments = new Set<string>();
  for (let offset = 0; offset < 3; offset++) {
    const encoding = Buffer.concat([Buffer.alloc(offset), key]).toString("base64");
    const first = Math.ceil((8 * offset) / 6);
    const last = Math.floor((8 * (offset + key.length) - 6) / 6);
    const fragment = encoding.slice(first, last + 1);
    if (fragment.length >= MIN_BASE64_FRAGMENT) {
      fragments.add(fragment);
      fragments.add(fragment.replaceAll("+", "-").replaceAll("/", "_"));
    }
  }
  return [...fragments];
}

/** Replaces the whole base64 token around a fragment: its edges carry bits of the key too. */
function replaceBase64Runs(text: string, fragments: string[]): string {
  const spans: [number, number][] = [];
  for (const fragment of fragments) {
    for (let found = text.indexOf(fragment); found >= 0; found = text.indexOf(fragment, found + fragment.length)) {
      spans.push([found, found + fragment.length]);
    }
  }
  if (spans.length === 0) return text;
  spans.sort((a, b) => a[0] - b[0]);
  let result = "";
  let copiedUpTo = 0;
  for (const [foundStart, foundEnd] of spans) {
    if (foundStart < copiedUpTo) continue;
    let start = foundStart;
    let end = foundEnd;
    while (start > copiedUpTo && isBase64(text.charCodeAt(start - 1))) start--;
    while (end < text.length && isBase64(text.charCodeAt(end))) end++;
    while (end < text.length && text.charAt(end) === "=") end++;
    result += text.slice(copiedUpTo, start) + KEY_MARK;
    copiedUpTo = end;
  }
  return result + text.slice(copiedUpTo);
}

/** Email addresses and phone numbers, for texts that are stored or shown (never for what is sent). */
export function redactPersonalData(text: string): string {
  return redactPhones(redactEmails(text));
}

/** Membership tables for ASCII: a regular expression test per character is ten times slower on long texts. */
function asciiSet(characters: string): (code: number) => boolean {
  const table = new Uint8Array(128);
  for (const character of characters) table[character.charCodeAt(0)] = 1;
  return (code) => code < 128 && table[code] === 1;
}
const LETTERS_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const isBase64 = asciiSet(`${LETTERS_DIGITS}+/_-`);
const isEmailLocal = asciiSet(`${LETTERS_DIGITS}._%+'-`);
const isEmailDomain = asciiSet(`${LETTERS_DIGITS}.-`);
/** An at sign as such, URL-encoded or JSON-escaped. */
const AT_SIGN = /@|%40|\\u0040/gi;

function redactEmails(text: string): string {
  let result = "";
  let copiedUpTo = 0;
  AT_SIGN.lastIndex = 0;
  for (let at = AT_SIGN.exec(text); at; at = AT_SIGN.exec(text)) {
    let start = at.index;
    while (start > copiedUpTo && at.index - start < 64 && isEmailLocal(text.charCodeAt(start - 1))) start--;
    const domainStart = at.index + at[0].length;
    let end = domainStart;
    while (end < text.length && end - domainStart < 255 && isEmailDomain(text.charCodeAt(end))) end++;
    while (end > domainStart && text.charAt(end - 1) === ".") end--;
    const domain = text.slice(domainStart, end);
    if (start < at.index && /^[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$/.test(domain)) {
      result += text.slice(copiedUpTo, start) + EMAIL_MARK;
      copiedUpTo = end;
      AT_SIGN.lastIndex = end;
    }
  }
  return result + text.slice(copiedUpTo);
}

const isPhoneSeparator = asciiSet(" .()-");
const isWordOrPath = asciiSet(`${LETTERS_DIGITS}_/`);

/**
 * A run of digits with the separators people write phone numbers with: "+" and 7 to 15 digits (E.164, as we
 * send them), or 10 to 15 digits without it. Dates (2024-01-31 ...), IPv4 addresses and digits inside words or
 * paths (ids like gid://shopify/Order/5551234567) are left alone.
 */
function redactPhones(text: string): string {
  let result = "";
  let copiedUpTo = 0;
  let index = 0;
  while (index < text.length) {
    const code = text.charCodeAt(index);
    const plusLength = code === 0x2b ? 1 : code === 0x25 && text.charAt(index + 1) === "2" && (text.charAt(index + 2) === "b" || text.charAt(index + 2) === "B") ? 3 : 0;
    const startsRun = plusLength > 0 || code === 0x28 || isDigit(text.charAt(index));
    if (!startsRun || (index > 0 && isWordOrPath(text.charCodeAt(index - 1)))) {
      index++;
      continue;
    }
    let cursor = index + plusLength;
    let digits = 0;
    let lastDigitEnd = -1;
    while (cursor < text.length) {
      const character = text.charAt(cursor);
      if (isDigit(character)) {
        digits++;
        lastDigitEnd = cursor + 1;
      } else if (!isPhoneSeparator(character.charCodeAt(0)) || !nextDigitWithin(text, cursor + 1, 2)) {
        break;
      }
      cursor++;
    }
    const end = lastDigitEnd;
    const span = end > index ? text.slice(index, end) : "";
    const isPhone =
      end > index &&
      !isWordOrPath(text.charCodeAt(end)) &&
      digits <= 15 &&
      (plusLength > 0 ? digits >= 7 : digits >= 10 && !/^\d{4}-\d{2}-\d{2}/.test(span) && !/^\d{1,3}(?:\.\d{1,3}){3}$/.test(span));
    if (isPhone) {
      result += text.slice(copiedUpTo, index) + PHONE_MARK;
      copiedUpTo = end;
      index = end;
    } else {
      // Skip the whole run: starting again inside it would find a shorter "phone" in a longer number.
      index = Math.max(index + 1, end);
    }
  }
  return result + text.slice(copiedUpTo);
}

function isDigit(character: string): boolean {
  return character >= "0" && character <= "9";
}

function nextDigitWithin(text: string, from: number, distance: number): boolean {
  for (let position = from; position < Math.min(text.length, from + distance); position++) {
    const character = text.charAt(position);
    if (isDigit(character)) return true;
    if (!isPhoneSeparator(character.charCodeAt(0))) return false;
  }
  return false;
}

/** Cuts at a character boundary (never inside a surrogate pair) and says that it did. */
export function capText(text: string, maxCharacters: number): string {
  if (text.length <= maxCharacters) return text;
  const head = text.slice(0, maxCharacters - 1);
  return `${/[\uD800-\uDBFF]$/.test(head) ? head.slice(0, -1) : head}…`;
}
