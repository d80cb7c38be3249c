/**
 * Configuration read from the environment, validated once. Services take what they
 * need as arguments; only entry points (server, CLI, worker) read this module.
 */
import { z } from "zod";

export const ATTENTIVE_GRAPHQL_URL = "https://api.attentivemobile.com/v1/graphql";

const schema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  SHOPIFY_API_KEY: z.string().default(""),
  SHOPIFY_API_SECRET: z.string().default(""),
  SHOPIFY_APP_URL: z.string().default("http://localhost:3000"),
  SCOPES: z.string().default("read_orders"),
  DATABASE_URL: z.string().optional(),
  APP_ENCRYPTION_KEY: z.string().optional(),
  APP_ENCRYPTION_KEY_PREVIOUS: z.string().optional(),
  ATTENTIVE_API_URL: z.url().default(ATTENTIVE_GRAPHQL_URL),
  ATTENTIVE_PROPERTIES_ENCODING: z.enum(["object", "string"]).default("object"),
  ATTENTIVE_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  DELIVERY_WORKER: z.enum(["embedded", "off"]).default("embedded"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

export type Env = z.infer<typeof schema>;

export class ConfigurationError extends Error {
  override name = "ConfigurationError";
}

export function readEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const parsed = schema.safeParse(source);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
    throw new ConfigurationError(`Invalid environment: ${problems.join("; ")}`);
  }
  const env = parsed.data;
  if (env.NODE_ENV === "production") {
    const missing = (["SHOPIFY_API_KEY", "SHOPIFY_API_SECRET", "APP_ENCRYPTION_KEY"] as const).filter(
      (name) => !env[name],
    );
    if (missing.length > 0) {
      throw new ConfigurationError(
        `Refusing to start in production without ${missing.join(", ")}. ` +
          "Set SHOPIFY_API_KEY and SHOPIFY_API_SECRET from the Partner Dashboard and APP_ENCRYPTION_KEY to 32 random bytes " +
          "(`openssl rand -base64 32`).",
      );
    }
  }
  return env;
}

let cached: Env | undefined;
export function env(): Env {
  cached ??= readEnv();
  return cached;
}
