/**
 * The tests Stryker runs against each mutant (`npm run test:mutation`, stryker.config.mjs): the tests of the
 * pure modules under mutation, without the main config's per-file database and fake Admin API, which these
 * modules never touch and which would cost a database per test file per mutant.
 */
import { fileURLToPath } from "node:url";
import tsconfigPaths from "vite-tsconfig-paths";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [tsconfigPaths()],
  root: fileURLToPath(new URL("../../", import.meta.url)),
  test: {
    include: [
      "test/delivery/*.test.ts",
      "test/shopify/*.test.ts",
      "test/attentive/rules.test.ts",
      "test/mapping/identity*.test.ts",
      "test/mapping/mapping-file*.test.ts",
      "test/mapping/event-time.test.ts",
      "test/pipeline/pacing.test.ts",
      // The settle step's pure retry decision (retry-policy.ts) and the merchant-input limits (rules, identity,
      // mapping-file): pure tests too.
      "test/pipeline/retry-decision.test.ts",
      "test/mapping/input-limits.test.ts",
    ],
    testTimeout: 20_000,
    env: { NODE_ENV: "test", LOG_LEVEL: "silent" },
  },
});
