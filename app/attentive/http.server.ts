/**
 * The one way this app talks HTTP to Attentive (decision 008). Built on node:http/node:https rather than
 * globalThis.fetch: the production server installs Remix's fetch polyfill, whose abort throws an uncaught
 * TypeError that kills the process, and whose body reading has no limit. Here the caller gets one settled
 * result for every exchange and nothing can throw after it:
 * - one deadline covers waiting for a socket, connecting, the headers and the whole body; when it passes the
 *   request and its socket are destroyed;
 * - redirects are never followed (node:http does not, and a 3xx is reported as such without reading on);
 * - the answer is read up to `maxAnswerBytes` and its headers up to MAX_ANSWER_HEADER_BYTES, no further.
 */
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";

/** createCustomEvent's answer is under 2 KiB and /v1/me's under 1 KiB; anything near this is not Attentive. */
export const MAX_ANSWER_BYTES = 256 * 1024;
/**
 * Node's own default, stated here so that a process-wide --max-http-header-size cannot raise it for Attentive.
 * Attentive's headers (rate limits, tracing, a CDN's cookie) are well under 2 KiB.
 */
export const MAX_ANSWER_HEADER_BYTES = 16 * 1024;
/** Idle keep-alive sockets are closed before common load balancer idle timeouts (60 s) and Node's (5 s) could. */
const IDLE_SOCKET_MS = 4_000;
/** Above the worker's concurrency; a queue past this waits for a socket, inside the same deadline. */
const MAX_SOCKETS_PER_ORIGIN = 64;

export interface AttentiveHttpRequest {
  url: URL;
  method: "GET" | "POST";
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
  maxAnswerBytes?: number;
}

/** Header names in lower case; a repeated header's values joined by ", " as HTTP allows. */
export type AnswerHeaders = Readonly<Record<string, string>>;

export type AttentiveHttpResult =
  | { kind: "answer"; status: number; headers: AnswerHeaders; body: string }
  /** Any 3xx: nothing more was read and nothing was sent to `location`. */
  | { kind: "redirect"; status: number; location: string | undefined }
  /** `head` is the first `limitBytes` (or fewer) bytes, as text; the rest was never read. */
  | { kind: "too-large"; status: number; headers: AnswerHeaders; head: string; limitBytes: number }
  | { kind: "timeout"; timeoutMs: number }
  /** `answered`: whether the status line and headers had arrived before the failure. */
  | { kind: "network"; detail: string; answered: boolean; headerOverflow: boolean };

export type AttentiveTransport = (request: AttentiveHttpRequest) => Promise<AttentiveHttpResult>;

const agents = new Map<string, HttpAgent>();

/** One keep-alive agent per origin: sends are frequent, and a new TLS handshake per send would cost both sides. */
function agentFor(url: URL): HttpAgent {
  let agent = agents.get(url.origin);
  if (!agent) {
    const options = { keepAlive: true, maxSockets: MAX_SOCKETS_PER_ORIGIN, timeout: IDLE_SOCKET_MS, scheduling: "lifo" as const };
    agent = url.protocol === "https:" ? new HttpsAgent(options) : new HttpAgent(options);
    agents.set(url.origin, agent);
  }
  return agent;
}

export const nodeTransport: AttentiveTransport = (request) =>
  new Promise<AttentiveHttpResult>((resolve) => {
    const { url } = request;
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      resolve({ kind: "network", detail: `unsupported protocol ${url.protocol}`, answered: false, headerOverflow: false });
      return;
    }
    const maxAnswerBytes = request.maxAnswerBytes ?? MAX_ANSWER_BYTES;
    const body = request.body === undefined ? undefined : Buffer.from(request.body, "utf8");
    const headers: Record<string, string> = { ...request.headers };
    if (body) headers["content-length"] = String(body.length);

    let settled = false;
    let response: IncomingMessage | undefined;
    const settle = (result: AttentiveHttpResult, stop: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      // Destroying the request destroys its socket; the agent does not reuse it. Listeners stay attached to
      // these two objects (and go with them), so an error they emit later is still handled, not thrown.
      if (stop) {
        response?.destroy();
        outgoing.destroy();
      }
      resolve(result);
    };

    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    let outgoing: ClientRequest;
    try {
      outgoing = send(url, { method: request.method, headers, agent: agentFor(url), maxHeaderSize: MAX_ANSWER_HEADER_BYTES });
    } catch (error) {
      // Node validates header values before anything goes out; the message names the header, not its value.
      const detail = error instanceof Error ? error.message : "the request could not be built";
      resolve({ kind: "network", detail, answered: false, headerOverflow: false });
      return;
    }
    const deadline = setTimeout(() => settle({ kind: "timeout", timeoutMs: request.timeoutMs }, true), request.timeoutMs);

    outgoing.on("error", (error: NodeJS.ErrnoException) => {
      settle(
        { kind: "network", detail: error.message || String(error.code), answered: response !== undefined, headerOverflow: error.code === "HPE_HEADER_OVERFLOW" },
        true,
      );
    });
    outgoing.on("close", () => {
      if (!response) settle({ kind: "network", detail: "the connection closed before an answer", answered: false, headerOverflow: false }, true);
    });
    outgoing.on("response", (incoming) => {
      response = incoming;
      const status = incoming.statusCode ?? 0;
      incoming.on("error", (error) => settle({ kind: "network", detail: error.message, answered: true, headerOverflow: false }, true));
      incoming.on("close", () => {
        settle({ kind: "network", detail: "the connection closed before the answer was complete", answered: true, headerOverflow: false }, true);
      });
      if (status >= 300 && status < 400) {
        settle({ kind: "redirect", status, location: singleHeader(incoming.headers.location) }, true);
        return;
      }
      const answerHeaders = headersOf(incoming);
      const chunks: Buffer[] = [];
      let received = 0;
      const tooLarge = () => {
        const head = Buffer.concat(chunks).subarray(0, maxAnswerBytes);
        settle({ kind: "too-large", status, headers: answerHeaders, head: head.toString("utf8"), limitBytes: maxAnswerBytes }, true);
      };
      const declared = Number(answerHeaders["content-length"]);
      if (Number.isFinite(declared) && declared > maxAnswerBytes) {
        tooLarge();
        return;
      }
      incoming.on("data", (chunk: Buffer) => {
        if (settled) return;
        chunks.push(chunk);
        received += chunk.length;
        if (received > maxAnswerBytes) tooLarge();
      });
      incoming.on("end", () => {
        settle({ kind: "answer", status, headers: answerHeaders, body: Buffer.concat(chunks).toString("utf8") }, false);
      });
    });
    outgoing.end(body);
  });

function singleHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function headersOf(incoming: IncomingMessage): AnswerHeaders {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(incoming.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return headers;
}

/**
 * For tests that inject a delay or watch what is sent: the same results, through a fetch the test provides.
 * Production never uses it (the polyfill's abort is the crash this module exists to avoid).
 */
export function fetchTransport(fetchImpl: typeof fetch): AttentiveTransport {
  return async (request) => {
    const maxAnswerBytes = request.maxAnswerBytes ?? MAX_ANSWER_BYTES;
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<AttentiveHttpResult>((resolve) => {
      timer = setTimeout(() => {
        controller.abort();
        resolve({ kind: "timeout", timeoutMs: request.timeoutMs });
      }, request.timeoutMs);
    });
    const exchange = (async (): Promise<AttentiveHttpResult> => {
      const response = await fetchImpl(request.url, {
        method: request.method,
        headers: request.headers,
        body: request.body,
        redirect: "manual",
        signal: controller.signal,
      });
      const headers: Record<string, string> = {};
      response.headers.forEach((value, name) => (headers[name.toLowerCase()] = value));
      if (response.status >= 300 && response.status < 400) {
        await response.body?.cancel().catch(() => undefined);
        return { kind: "redirect", status: response.status, location: headers.location };
      }
      const chunks: Uint8Array[] = [];
      let received = 0;
      const reader = response.body?.getReader();
      for (;;) {
        const next = reader ? await reader.read() : { done: true as const, value: undefined };
        if (next.done) break;
        chunks.push(next.value);
        received += next.value.length;
        if (received > maxAnswerBytes) {
          await reader?.cancel().catch(() => undefined);
          const head = Buffer.concat(chunks).subarray(0, maxAnswerBytes).toString("utf8");
          return { kind: "too-large", status: response.status, headers, head, limitBytes: maxAnswerBytes };
        }
      }
      return { kind: "answer", status: response.status, headers, body: Buffer.concat(chunks).toString("utf8") };
    })().catch((error: unknown): AttentiveHttpResult => {
      const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
      return { kind: "network", detail: cause instanceof Error ? cause.message : "unknown network error", answered: false, headerOverflow: false };
    });
    const result = await Promise.race([exchange, expired]);
    clearTimeout(timer);
    return result;
  };
}
