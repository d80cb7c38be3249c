import "@shopify/shopify-app-remix/adapters/node";
import { ApiVersion, AppDistribution, shopifyApp } from "@shopify/shopify-app-remix/server";
import { PrismaSessionStorage } from "@shopify/shopify-app-session-storage-prisma";
import { db } from "./db.server";
import { env } from "./env.server";
import { markInstalled } from "./models/Shop.server";
import { EncryptedSessionStorage } from "./secrets/encrypted-session-storage.server";
import { secretBoxFromEnv } from "./secrets/secret-box.server";

export const SHOPIFY_API_VERSION = ApiVersion.October26;

const config = env();

const shopify = shopifyApp({
  apiKey: config.SHOPIFY_API_KEY,
  apiSecretKey: config.SHOPIFY_API_SECRET,
  apiVersion: SHOPIFY_API_VERSION,
  scopes: config.SCOPES.split(","),
  appUrl: config.SHOPIFY_APP_URL,
  authPathPrefix: "/auth",
  // Offline Admin API tokens are encrypted at rest like the Attentive key (docs/decisions/013).
  sessionStorage: new EncryptedSessionStorage(new PrismaSessionStorage(db()), () => secretBoxFromEnv()),
  distribution: AppDistribution.AppStore,
  future: { unstable_newEmbeddedAuthStrategy: true },
  hooks: {
    // A shop that installs gets its row and default mappings before its first webhook.
    afterAuth: async ({ session }) => {
      await markInstalled(db(), session.shop);
    },
  },
});

export default shopify;
export const apiVersion = SHOPIFY_API_VERSION;
export const addDocumentResponseHeaders = shopify.addDocumentResponseHeaders;
export const authenticate = shopify.authenticate;
export const unauthenticated = shopify.unauthenticated;
export const login = shopify.login;
export const registerWebhooks = shopify.registerWebhooks;
export const sessionStorage = shopify.sessionStorage;
