/**
 * Node 22 or newer, as package.json's `engines` says: imported first by `npm start` (app/serve.ts)
 * and by the test suites' global setup, so an older Node stops at once with what to do, instead of
 * running and failing later in ways that do not say why (one JSON test's diff, on Node 20).
 */
export const REQUIRED_NODE_MAJOR = 22;

/** The one-line refusal for a Node version string (`process.versions.node`), or null when it is new enough. */
export function nodeVersionProblem(version: string): string | null {
  const major = Number(version.split(".")[0]);
  if (Number.isInteger(major) && major >= REQUIRED_NODE_MAJOR) return null;
  return `This app needs Node ${REQUIRED_NODE_MAJOR} or newer, not Node ${version}: run \`. .ci/node22.sh\` (puts Node 22 on PATH) or install Node ${REQUIRED_NODE_MAJOR}.`;
}

const problem = nodeVersionProblem(process.versions.node);
if (problem) {
  process.stderr.write(`${problem}\n`);
  process.exit(1);
}
