import { defineConfig } from "vitest/config";
import tsconfigPaths from "vite-tsconfig-paths";

export default defineConfig({
  plugins: [tsconfigPaths()],
  test: {
    include: ["test/**/*.test.ts", "app/**/*.test.ts"],
    // Browser, reliability and benchmark suites have their own scripts and configs.
    exclude: ["test/browser/**", "node_modules/**"],
    setupFiles: ["test/setup/admin-api.ts", "test/setup/per-file-database.ts"],
    globalSetup: ["test/setup/global.ts"],
    pool: "forks",
    testTimeout: 20_000,
    hookTimeout: 30_000,
    env: {
      NODE_ENV: "test",
      SHOPIFY_API_KEY: "test-api-key",
      SHOPIFY_API_SECRET: "test-api-secret",
      SHOPIFY_APP_URL: "https://app.example.test",
      SCOPES: "read_orders",
      APP_ENCRYPTION_KEY: "dGVzdC1lbmNyeXB0aW9uLWtleS0zMi1ieXRlcyEhISE=",
      LOG_LEVEL: "silent",
      DELIVERY_WORKER: "off",
    },
  },
});
