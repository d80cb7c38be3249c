/**
 * `npm run test:browser`: the browser tests alone, one file at a time in one fork (each file starts its own
 * app server and Chromium). Not part of `npm test`.
 */
import { fileURLToPath } from "node:url";
import tsconfigPaths from "vite-tsconfig-paths";
import { defineConfig } from "vitest/config";

export default defineConfig({
  root: fileURLToPath(new URL("../../", import.meta.url)),
  plugins: [tsconfigPaths()],
  test: {
    include: ["test/browser/**/*.test.ts"],
    globalSetup: ["test/browser/global-setup.ts"],
    pool: "forks",
    poolOptions: { forks: { singleFork: true } },
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 180_000,
    teardownTimeout: 30_000,
    env: {
      BROWSER_TESTS: "1",
      NODE_ENV: "test",
      LOG_LEVEL: "silent",
    },
  },
});
