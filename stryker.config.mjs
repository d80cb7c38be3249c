// Mutation testing of the modules whose mistakes cost most (issue 8, docs/mutation-testing.md).
// `npm run test:mutation`; reports go to reports/mutation/ (gitignored).
/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  mutate: [
    "app/delivery/external-event-id.ts",
    "app/shopify/event-identity.ts",
    "app/shopify/json.ts",
    "app/shopify/event-time.ts",
    "app/shopify/webhook-hmac.server.ts",
    "app/delivery/retry-policy.ts",
    "app/delivery/pacing.ts",
    "app/attentive/rules.ts",
    "app/mapping/identity.ts",
    "app/mapping/mapping-file.ts",
  ],
  testRunner: "vitest",
  vitest: { configFile: "test/mutation/vitest.config.ts", related: true },
  // The machine has 2 cores shared with other work; STRYKER_CONCURRENCY=2 on a quiet one.
  concurrency: Number(process.env.STRYKER_CONCURRENCY ?? 1),
  coverageAnalysis: "perTest",
  // Re-runs only mutants whose code or covering tests changed since the last run (reports/ is gitignored).
  incremental: true,
  incrementalFile: "reports/mutation/stryker-incremental.json",
  reporters: ["clear-text", "progress", "html", "json"],
  htmlReporter: { fileName: "reports/mutation/index.html" },
  jsonReporter: { fileName: "reports/mutation/mutation.json" },
  thresholds: { high: 95, low: 85, break: 85 },
  // Only what the tests need is copied into the sandbox.
  ignorePatterns: ["build", "bench", "docs", "extensions", "prisma/*.db", "test-output", ".tools", "reports", ".cache", ".shopify"],
  tempDirName: ".stryker-tmp",
  // Also after a failed run, so lint and typecheck never see the instrumented copies.
  cleanTempDir: "always",
};
