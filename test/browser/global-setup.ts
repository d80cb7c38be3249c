/** Builds (or reuses) the app once per `npm run test:browser`, before any test file starts its server. */
// First: on Node older than 22, stop here with one line saying what to do.
import "../../app/node-version";
import type { TestProject } from "vitest/node";
import { prepareBuild } from "./build";

export default async function setup(project: TestProject): Promise<void> {
  const started = Date.now();
  const build = await prepareBuild();
  console.log(
    `browser tests: ${build.reused ? "reusing" : "built"} the app from ${build.source} in ${build.dir}` +
      `${build.reused ? "" : ` (${((Date.now() - started) / 1000).toFixed(1)} s)`}`,
  );
  project.provide("browserBuildDir", build.dir);
}
