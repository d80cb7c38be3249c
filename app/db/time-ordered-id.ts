/**
 * Row ids that sort by creation time: UUID version 7 (RFC 9562), 48 bits of Unix milliseconds, then random bits.
 * A new row's id lands at the right end of its primary key's B-tree, beside the rows written just before it, so the
 * webhooks and deliveries of one commit touch a few index pages rather than one page each (decision 027).
 */
import { randomFillSync } from "node:crypto";

const POOL_IDS = 256;
const pool = Buffer.alloc(POOL_IDS * 10);
let next = POOL_IDS;

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));

/** A version 7 UUID for `now` (milliseconds since 1970). */
export function timeOrderedId(now = Date.now()): string {
  if (next === POOL_IDS) {
    randomFillSync(pool);
    next = 0;
  }
  const random = next++ * 10;
  const hi = Math.floor(now / 2 ** 16);
  const lo = now % 2 ** 16;
  const h = (value: number) => HEX[value & 0xff]!;
  return (
    h(hi >>> 24) + h(hi >>> 16) + h(hi >>> 8) + h(hi) + "-" +
    h(lo >>> 8) + h(lo) + "-" +
    h(0x70 | (pool[random]! & 0x0f)) + h(pool[random + 1]!) + "-" +
    h(0x80 | (pool[random + 2]! & 0x3f)) + h(pool[random + 3]!) + "-" +
    h(pool[random + 4]!) + h(pool[random + 5]!) + h(pool[random + 6]!) + h(pool[random + 7]!) + h(pool[random + 8]!) + h(pool[random + 9]!)
  );
}
