/**
 * Reference for the delivery scenario: the least a sender can do on this machine. It sends the same
 * createCustomEvent request the worker sent (same document, same input, a new externalEventId each) to the
 * Attentive stand-in, round-robin over the shops' keys, keeping `inFlight` requests open at all times, until
 * SIGTERM. No database, no rendering, no pacing: reading the answer is all it does with it.
 *
 * node --import tsx bench/servers/bare-sender.ts '<json: { url, keys, inFlight, input }>'
 */
import { Agent, request } from "node:http";
import { CREATE_CUSTOM_EVENT_MUTATION } from "../../app/attentive/create-custom-event.graphql";

interface SenderOptions {
  url: string;
  keys: string[];
  inFlight: number;
  /** A createCustomEvent input exactly as the worker sent it. */
  input: Record<string, unknown>;
}

const options = JSON.parse(process.argv[2] ?? "{}") as SenderOptions;
const url = new URL(options.url);
const agent = new Agent({ keepAlive: true, maxSockets: options.inFlight });
let sent = 0;
let answered = 0;
let failed = 0;
let stopping = false;

function sendOne() {
  if (stopping) return;
  const n = sent++;
  const body = Buffer.from(
    JSON.stringify({ query: CREATE_CUSTOM_EVENT_MUTATION, variables: { input: { ...options.input, externalEventId: `bare-${process.pid}-${n}` } } }),
    "utf8",
  );
  const outgoing = request(
    url,
    {
      method: "POST",
      agent,
      headers: { "content-type": "application/json", authorization: `Bearer ${options.keys[n % options.keys.length]}`, "content-length": String(body.length) },
    },
    (response) => {
      const ok = response.statusCode === 200;
      response.on("data", () => undefined);
      response.on("end", () => {
        if (ok) answered++;
        else failed++;
        sendOne();
      });
    },
  );
  outgoing.on("error", () => {
    failed++;
    sendOne();
  });
  outgoing.end(body);
}

for (let i = 0; i < options.inFlight; i++) sendOne();

process.on("SIGTERM", () => {
  stopping = true;
  console.log(JSON.stringify({ sent, answered, failed }));
  process.exit(0);
});
