/**
 * Structured logs (pino). Secrets and personal data are redacted by path so that a
 * careless log call cannot leak an API key, an email or a phone number.
 */
import pino, { type DestinationStream, type Logger } from "pino";

export const REDACTED_PATHS = [
  "apiKey",
  "*.apiKey",
  "authorization",
  "*.authorization",
  "headers.authorization",
  "*.headers.authorization",
  "accessToken",
  "*.accessToken",
  "email",
  "*.email",
  "*.*.email",
  "phone",
  "*.phone",
  "*.*.phone",
];

export function createLogger(level = process.env.LOG_LEVEL ?? "info", destination?: DestinationStream): Logger {
  const options = { level, base: undefined, redact: { paths: REDACTED_PATHS, censor: "[redacted]" } };
  return destination ? pino(options, destination) : pino(options);
}

const globalForLogger = globalThis as unknown as { __attentiveLogger?: Logger };
export const logger: Logger = (globalForLogger.__attentiveLogger ??= createLogger());
