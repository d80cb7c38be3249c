import { join } from "node:path";

export const ROOT = join(import.meta.dirname, "..", "..");
/**
 * The benchmark builds the app into its own directory (git- and lint-ignored), so that a build or demo running
 * in the same tree at the same time cannot replace the build under a running benchmark.
 */
export const BENCH_BUILD_DIRECTORY = join(ROOT, ".tools", "attentive-bench", "build");
