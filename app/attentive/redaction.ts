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
const BASE64_CHAR = /[A-Za-z0-9+/_-]/;

const redactors = new Map<string, (text: string) => string>();

/**
 * Removes the key however it was echoed: as is and in other letter case, URL-encoded (also twice), JSON
 * \u-escaped, HTML entities, any mix of those per character, hex, and base64 (standard or URL-safe) at any
 * alignment, so also inside `Bearer <key>` or `user:<key>` encoded whole.
 */
export function keyRedactor(apiKey: string): (text: string) => string {
  const known = redactors.get(apiKey);
  if (known) return known;
  const redactor = buildKeyRedactor(apiKey);
  // Sends repeat the same few keys; a bounded cache keeps building the patterns out of every send.
  if (redactors.size >= 32) redactors.clear();
  redactors.set(apiKey, redactor);
  return redactor;
}

function buildKeyRedactor(apiKey: string): (text: string) => string {
  if (apiKey === "") return (text) => text;
  const perCharacter = Array.from(apiKey, characterForms).join("");
  const hex = Buffer.from(apiKey, "utf8").toString("hex");
  const encoded = new RegExp(`${perCharacter}|${hex}`, "gi");
  const fragments = base64Fragments(apiKey);
  const base64 = fragments.length > 0 ? new RegExp(fragments.map(escapeRegExp).join("|"), "g") : undefined;
  return (text) => {
    const plain = text.replace(encoded, KEY_MARK);
    return base64 ? replaceBase64Runs(plain, base64) : plain;
  };
}

function characterForms(character: string): string {
  const code = character.codePointAt(0) ?? 0;
  const hex = code.toString(16).padStart(2, "0");
  const forms = [escapeRegExp(character), `%(?:25)?${hex}`, `\\\\u${code.toString(16).padStart(4, "0")}`, `&#0{0,4}${code};`, `&#x0{0,4}${hex};`];
  // JSON's short escapes for the characters it must or may escape.
  if (character === '"' || character === "\\" || character === "/") forms.push(`\\\\${escapeRegExp(character)}`);
  return `(?:${forms.join("|")})`;
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
function replaceBase64Runs(text: string, fragment: RegExp): string {
  let result = "";
  let copiedUpTo = 0;
  fragment.lastIndex = 0;
  for (let match = fragment.exec(text); match; match = fragment.exec(text)) {
    let start = match.index;
    let end = match.index + match[0].length;
    while (start > copiedUpTo && BASE64_CHAR.test(text.charAt(start - 1))) start--;
    while (end < text.length && BASE64_CHAR.test(text.charAt(end))) end++;
    while (end < text.length && text.charAt(end) === "=") end++;
    result += text.slice(copiedUpTo, start) + KEY_MARK;
    copiedUpTo = end;
    fragment.lastIndex = end;
  }
  return result + text.slice(copiedUpTo);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
}

/** Email addresses and phone numbers, for texts that are stored or shown (never for what is sent). */
export function redactPersonalData(text: string): string {
  return redactPhones(redactEmails(text));
}

const EMAIL_LOCAL = /[A-Za-z0-9._%+'-]/;
const EMAIL_DOMAIN = /[A-Za-z0-9.-]/;
/** An at sign as such, URL-encoded or JSON-escaped. */
const AT_SIGN = /@|%40|\\u0040/gi;

function redactEmails(text: string): string {
  let result = "";
  let copiedUpTo = 0;
  AT_SIGN.lastIndex = 0;
  for (let at = AT_SIGN.exec(text); at; at = AT_SIGN.exec(text)) {
    let start = at.index;
    while (start > copiedUpTo && at.index - start < 64 && EMAIL_LOCAL.test(text.charAt(start - 1))) start--;
    const domainStart = at.index + at[0].length;
    let end = domainStart;
    while (end < text.length && end - domainStart < 255 && EMAIL_DOMAIN.test(text.charAt(end))) end++;
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

const PHONE_SEPARATOR = /[ .()-]/;
const WORD_OR_PATH = /[A-Za-z0-9_/]/;

/**
 * A run of digits with the separators people write phone numbers with: "+" and 7 to 15 digits (E.164, as we
 * send them), or 10 to 15 digits without it. Dates (2024-01-31 ...) and digits inside words or paths (ids like
 * gid://shopify/Order/5551234567) are left alone.
 */
function redactPhones(text: string): string {
  let result = "";
  let copiedUpTo = 0;
  let index = 0;
  while (index < text.length) {
    const plusLength = text.startsWith("+", index) ? 1 : /^%2b/i.test(text.slice(index, index + 3)) ? 3 : 0;
    const startsRun = plusLength > 0 || text.charAt(index) === "(" || isDigit(text.charAt(index));
    if (!startsRun || (index > 0 && WORD_OR_PATH.test(text.charAt(index - 1)))) {
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
      } else if (!PHONE_SEPARATOR.test(character) || !nextDigitWithin(text, cursor + 1, 2)) {
        break;
      }
      cursor++;
    }
    const end = lastDigitEnd;
    const span = end > index ? text.slice(index, end) : "";
    const isPhone =
      end > index &&
      !WORD_OR_PATH.test(text.charAt(end)) &&
      digits <= 15 &&
      (plusLength > 0 ? digits >= 7 : digits >= 10 && !/^\d{4}-\d{2}-\d{2}/.test(span));
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
    if (!PHONE_SEPARATOR.test(character)) return false;
  }
  return false;
}

/** Cuts at a character boundary (never inside a surrogate pair) and says that it did. */
export function capText(text: string, maxCharacters: number): string {
  if (text.length <= maxCharacters) return text;
  const head = text.slice(0, maxCharacters - 1);
  return `${/[\uD800-\uDBFF]$/.test(head) ? head.slice(0, -1) : head}…`;
}
