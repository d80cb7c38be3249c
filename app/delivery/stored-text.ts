/**
 * Text the delivery log keeps, made safe for both databases and bounded
 * (docs/decisions/012-one-settle-step.md).
 *
 * PostgreSQL cannot store U+0000 in a text column ("invalid byte sequence for encoding
 * UTF8: 0x00"), and a customer's order data may carry one: a write that fails on it after
 * Attentive accepted the event used to send the event again. Every text the settle step
 * writes goes through here.
 */

/** What a NUL becomes in stored text: visible, and storable everywhere. */
const NUL_STAND_IN = "\uFFFD";
/** Reasons and errors shown to the merchant: long enough for any reason the app writes. */
export const MAX_STORED_ERROR_CHARS = 1_000;

/** The text without NUL characters (each replaced by U+FFFD). */
export function withoutNul(text: string): string {
  return text.includes("\u0000") ? text.replaceAll("\u0000", NUL_STAND_IN) : text;
}

/** NUL-free and at most `maxChars` characters, ending with "…" when cut (never inside a surrogate pair). */
export function storedText(text: string, maxChars: number): string {
  const clean = withoutNul(text);
  if (clean.length <= maxChars) return clean;
  let end = Math.max(0, maxChars - 1);
  if (end > 0 && isHighSurrogate(clean.charCodeAt(end - 1))) end--;
  return `${clean.slice(0, end)}…`;
}

/** NUL-free and at most `maxBytes` bytes of UTF-8, cut on a character boundary. */
export function storedBody(text: string, maxBytes: number): string {
  const clean = withoutNul(text);
  const bytes = Buffer.from(clean, "utf8");
  if (bytes.length <= maxBytes) return clean;
  let end = maxBytes;
  // Back up to the start of a UTF-8 sequence (continuation bytes are 10xxxxxx).
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString("utf8");
}

export function storedError(text: string): string;
export function storedError(text: string | null): string | null;
export function storedError(text: string | null): string | null {
  return text === null ? null : storedText(text, MAX_STORED_ERROR_CHARS);
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

const EMAIL = /[^\s@<>()"',;:]+@[^\s@<>()"',;:]+\.[^\s@<>()"',;:]+/g;

/**
 * What an unexpected error may say in a log line or to a merchant. A database error's text
 * can quote the row it failed on (a customer's email, an order name), so it is reduced to
 * its kind and code; any other message keeps its words with email addresses masked.
 */
export function describeUnexpected(error: unknown): { database: boolean; summary: string } {
  const code = databaseErrorCode(error);
  if (code !== null) return { database: true, summary: code === "" ? "database error" : `database error ${code}` };
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return { database: false, summary: storedText(message.replace(EMAIL, "[email]"), 300) };
}

/** The error's code when it comes from the database or its client ("" when it has none), else null. */
function databaseErrorCode(error: unknown): string | null {
  if (!(error instanceof Error)) return null;
  const fields = error as Error & { code?: unknown; severity?: unknown };
  const code = typeof fields.code === "string" ? fields.code : "";
  // Prisma's errors (PrismaClientKnownRequestError, …), better-sqlite3's SqliteError and
  // node-postgres's DatabaseError (which carries a severity).
  if (error.name.startsWith("PrismaClient") || error.name === "SqliteError" || error.name === "DatabaseError") return code;
  if (typeof fields.severity === "string") return code;
  // A Prisma driver-adapter error keeps the driver's error as its cause.
  if (error.cause instanceof Error) return databaseErrorCode(error.cause);
  return null;
}
