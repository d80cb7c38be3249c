/**
 * The heavy reliability suites (`*.suite.ts`: Attentive faults under load, crashes, database
 * outage). Kept out of `npm test` so it stays fast; run by `npm run test:reliability` (short,
 * fixed seed, for CI) and `npm run test:soak` (the same suites, longer). Same setup as the
 * main suite: per-file database, fake Admin API, test environment.
 */
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";
import base from "../../vitest.config";

// Spread rather than mergeConfig: mergeConfig concatenates arrays, which would add the fast suites back.
export default defineConfig({
  ...base,
  root: fileURLToPath(new URL("../../", import.meta.url)),
  test: {
    ...base.test,
    include: ["test/reliability/**/*.suite.ts"],
    // One suite at a time: they use the machine's whole capacity (2 cores) and spawn app processes.
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 120_000,
  },
});
