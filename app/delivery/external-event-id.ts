/**
 * The externalEventId sent to Attentive: a name-based UUID (RFC 9562 version 5) of
 * shop, topic, Shopify event and mapping. The same inputs always give the same id,
 * so a retry, a redelivery or a second worker carries the id of the first attempt.
 */
import { createHash } from "node:crypto";

// Fixed namespace for this app's event ids (a random v4 UUID chosen once).
const NAMESPACE = "3f1c9a52-7d4e-4b8a-9c61-2e5f0b7d8a14";

function uuidBytes(uuid: string): Buffer {
  return Buffer.from(uuid.replaceAll("-", ""), "hex");
}

export function uuidV5(name: string, namespace = NAMESPACE): string {
  const hash = createHash("sha1").update(uuidBytes(namespace)).update(name, "utf8").digest();
  const bytes = hash.subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function externalEventId(parts: { shop: string; topic: string; eventKey: string; mappingId: string }): string {
  return uuidV5([parts.shop, parts.topic, parts.eventKey, parts.mappingId].join("\n"));
}
