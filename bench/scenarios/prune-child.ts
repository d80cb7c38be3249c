/**
 * Prunes a day of the delivery log the way a retention job would with the app's Prisma client: the webhooks
 * received before the cut-off, whose deliveries and attempts go with them (ON DELETE CASCADE). Own process, so
 * the synchronous SQLite driver does not stall the load generator. Prints {deleted, ms}.
 *
 * node --import tsx bench/scenarios/prune-child.ts <DATABASE_URL> <cut-off ISO> <batch size, 0 = one statement>
 */
import { closeDatabase, openDatabase } from "~/db.server";

const [url, cutOff, batchArg] = process.argv.slice(2);
const before = new Date(cutOff ?? "");
const batch = Number(batchArg ?? 0);
const { prisma } = openDatabase(url);
const t0 = performance.now();
let deleted = 0;
if (batch <= 0) {
  deleted = (await prisma.webhook.deleteMany({ where: { receivedAt: { lt: before } } })).count;
} else {
  for (;;) {
    const ids = (await prisma.webhook.findMany({ where: { receivedAt: { lt: before } }, select: { id: true }, take: batch })).map((row) => row.id);
    if (ids.length === 0) break;
    deleted += (await prisma.webhook.deleteMany({ where: { id: { in: ids } } })).count;
  }
}
console.log(JSON.stringify({ deleted, ms: performance.now() - t0 }));
await closeDatabase(prisma);
