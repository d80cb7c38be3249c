/**
 * Summarises a V8 .cpuprofile (node --cpu-prof): self time by function and by package/app file.
 * tsx bench/profile-summary.ts <file.cpuprofile> [top=25] [--from-ms=N]
 *
 * --from-ms=N leaves out the samples of the first N ms (start-up: module loading, tsx, warm-up), so that the shares
 * are of the steady state.
 */
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const file = process.argv[2];
if (!file) throw new Error("usage: tsx bench/profile-summary.ts <file.cpuprofile> [top]");
const top = Number(process.argv.slice(3).find((arg) => !arg.startsWith("--")) ?? 25);
const fromUs = 1000 * Number(process.argv.find((arg) => arg.startsWith("--from-ms="))?.slice("--from-ms=".length) ?? 0);
const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const selfUs = new Map<number, number>();
let elapsedUs = 0;
profile.samples.forEach((id, i) => {
  const delta = profile.timeDeltas[i] ?? 0;
  elapsedUs += delta;
  if (elapsedUs >= fromUs) selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
});
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);

function where(url: string): string {
  if (url === "") return "(native/V8)";
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith("node:")) return url;
  const app = /\/(app|bench|test|build)\/(.*)$/.exec(url);
  return app ? `${app[1]}/${app[2]}` : url;
}

const byFunction = new Map<string, number>();
const byModule = new Map<string, number>();
for (const [id, us] of selfUs) {
  const node = byId.get(id);
  if (!node) continue;
  const { functionName, url, lineNumber } = node.callFrame;
  const key = `${functionName || "(anonymous)"}  ${where(url)}:${lineNumber + 1}`;
  byFunction.set(key, (byFunction.get(key) ?? 0) + us);
  byModule.set(where(url), (byModule.get(where(url)) ?? 0) + us);
}
// Inclusive time: each sample counts once for every distinct function on its stack.
const parent = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
const inclusive = new Map<string, number>();
for (const [id, us] of selfUs) {
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const node = byId.get(at);
    if (!node) break;
    const { functionName, url } = node.callFrame;
    if (!functionName || !/\/(app|bench)\/|build\/server|@prisma|@shopify|@remix-run|better-sqlite3|liquidjs|pino/.test(url)) continue;
    const key = `${functionName}  ${where(url)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    inclusive.set(key, (inclusive.get(key) ?? 0) + us);
  }
}
const show = (title: string, map: Map<string, number>) => {
  console.log(`\n${title} (total ${(total / 1e6).toFixed(2)} s sampled)`);
  for (const [key, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${key}`);
  }
};
show("Self time by package / file", byModule);
show("Self time by function", byFunction);
show("Inclusive time by function (app, Prisma, Shopify, Remix, SQLite, Liquid, pino)", inclusive);
