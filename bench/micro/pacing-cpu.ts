/**
 * Pacing's CPU per send, alone: fifty shops (or `shops`) on a virtual clock, each send taken and answered with
 * Attentive's rate-limit headers 50 ms later, at 1,100 sends per second in all, as the fifty-shop delivery run
 * sends. Prints µs of CPU per send (take, and the answer's accounting), over `sends` sends after a warm-up.
 *
 * node --import tsx bench/micro/pacing-cpu.ts [sends=200000] [shops=50]
 */
import { Pacing } from "~/delivery/pacing";

const sends = Number(process.argv[2] ?? 200_000);
const shopCount = Number(process.argv[3] ?? 50);
const shops = Array.from({ length: shopCount }, (_, n) => `shop-${n}.myshopify.com`);
const LATENCY_MS = 50;
const PER_SECOND = 1_100;

let now = 0;
// Sleeps are not expected at this rate (about 22 per shop per second, under the limit of 150): one would stop the run.
const pacing = new Pacing(150, () => now, () => Promise.reject(new Error("pacing slept: the load is above the limit")));
const inFlight: Array<{ at: number; shop: number; done: (answer?: { limit?: number; remaining?: number }) => void }> = [];
const sentIn = new Map<number, number[]>();

async function run(count: number): Promise<number> {
  const cpu0 = process.cpuUsage();
  for (let n = 0; n < count; n++) {
    now += 1_000 / PER_SECOND;
    while (inFlight.length > 0 && inFlight[0]!.at <= now) {
      const answer = inFlight.shift()!;
      const recent = (sentIn.get(answer.shop) ?? []).filter((at) => at > now - 1_000);
      sentIn.set(answer.shop, recent);
      answer.done({ limit: 150, remaining: 150 - recent.length });
    }
    const shop = n % shops.length;
    const done = await pacing.take(shops[shop]!);
    const list = sentIn.get(shop) ?? [];
    list.push(now);
    sentIn.set(shop, list);
    inFlight.push({ at: now + LATENCY_MS, shop, done });
  }
  const { user, system } = process.cpuUsage(cpu0);
  return user + system;
}

await run(Math.min(sends, 50_000));
const us = await run(sends);
console.log(JSON.stringify({ shops: shopCount, sends, cpuUsPerSend: +(us / sends).toFixed(2) }));
