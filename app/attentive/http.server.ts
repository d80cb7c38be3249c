/**
 * The one way this app talks HTTP to Attentive (decisions 008 and 049). Built on undici's dispatcher, through a
 * handler of its own, rather than globalThis.fetch: the production server installs Remix's fetch polyfill, whose
 * abort throws an uncaught TypeError that kills the process, and whose body reading has no limit. Here the caller
 * gets one settled result for every exchange and nothing can throw after it:
 * - one deadline covers waiting for a connection, connecting, the headers and the whole body; when it passes the
 *   exchange is aborted and its connection closed;
 * - redirects are never followed (a dispatcher does not follow them, and a 3xx is reported as such without
 *   reading on);
 * - the answer is read up to `maxAnswerBytes` and its headers up to MAX_ANSWER_HEADER_BYTES, no further.
 * The handler sees the answer as undici's parser hands it over, with no stream or promise per exchange: node:http
 * built a request object, an answer stream and their listeners for each send, and its request path alone was about
 * a quarter of the worker's main thread (decision 049).
 */
import { Pool, type Dispatcher } from "undici";

/** createCustomEvent's answer is under 2 KiB and /v1/me's under 1 KiB; anything near this is not Attentive. */
export const MAX_ANSWER_BYTES = 256 * 1024;
/**
 * Node's own default for node:http, stated here so that no process-wide setting can raise it for Attentive.
 * Attentive's headers (rate limits, tracing, a CDN's cookie) are well under 2 KiB.
 */
export const MAX_ANSWER_HEADER_BYTES = 16 * 1024;
/** Idle keep-alive connections are closed before common load balancer idle timeouts (60 s) and Node's (5 s) could. */
const IDLE_SOCKET_MS = 4_000;
/** Above the worker's concurrency; a queue past this waits for a connection, inside the same deadline. */
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

const pools = new Map<string, Pool>();

/**
 * One pool of keep-alive connections per origin: sends are frequent, and a new TLS handshake per send would cost
 * both sides. Undici's timeouts for the headers and the body are off (0): the deadline below covers every phase.
 */
function poolFor(url: URL): Pool {
  let pool = pools.get(url.origin);
  if (!pool) {
    pool = new Pool(url.origin, {
      connections: MAX_SOCKETS_PER_ORIGIN,
      pipelining: 1,
      keepAliveTimeout: IDLE_SOCKET_MS,
      keepAliveMaxTimeout: IDLE_SOCKET_MS,
      maxHeaderSize: MAX_ANSWER_HEADER_BYTES,
      headersTimeout: 0,
      bodyTimeout: 0,
      // Undici's own connect timeout stays (10 s): a connection that never completes would otherwise hold its place
      // in the pool after the deadline has settled the exchange that opened it.
    });
    pools.set(url.origin, pool);
  }
  return pool;
}

/**
 * Closes every pool's connections, for tests that need a fresh pool. A process that stops needs nothing: idle
 * connections do not keep it alive.
 */
export async function closeAttentiveConnections(): Promise<void> {
  const open = [...pools.values()];
  pools.clear();
  await Promise.all(open.map((pool) => pool.destroy()));
}

/** Why an exchange is stopped on purpose: the deadline, a redirect or an answer too large, never a network fault. */
class Stopped extends Error {}

/** The timer the deadline runs on: the process's own, or virtual time in a test. */
export interface DeadlineTimers {
  setTimeout(fire: () => void, ms: number): unknown;
  clearTimeout(timer: unknown): void;
}

const realTimers: DeadlineTimers = {
  setTimeout: (fire, ms) => setTimeout(fire, ms),
  clearTimeout: (timer) => clearTimeout(timer as ReturnType<typeof setTimeout>),
};

/** The transport, its deadline on `timers`. */
export const createUndiciTransport =
  (timers: DeadlineTimers = realTimers): AttentiveTransport =>
  (request) =>
    exchange(request, timers);

export const undiciTransport: AttentiveTransport = createUndiciTransport();

const exchange = (request: AttentiveHttpRequest, timers: DeadlineTimers) =>
  new Promise<AttentiveHttpResult>((resolve) => {
    const { url } = request;
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      resolve({ kind: "network", detail: `unsupported protocol ${url.protocol}`, answered: false, headerOverflow: false });
      return;
    }
    const maxAnswerBytes = request.maxAnswerBytes ?? MAX_ANSWER_BYTES;
    let settled = false;
    let abort: ((reason?: Error) => void) | null = null;
    let answered = false;
    let status = 0;
    let answerHeaders: AnswerHeaders = {};
    const chunks: Buffer[] = [];
    let received = 0;
    // `stop`: the exchange is still open and must be aborted, which closes its connection.
    const settle = (result: AttentiveHttpResult, stop: boolean) => {
      if (settled) return;
      settled = true;
      timers.clearTimeout(deadline);
      resolve(result);
      if (stop && abort) abort(new Stopped(result.kind));
    };
    const tooLarge = () => {
      const head = Buffer.concat(chunks).subarray(0, maxAnswerBytes);
      settle({ kind: "too-large", status, headers: answerHeaders, head: head.toString("utf8"), limitBytes: maxAnswerBytes }, true);
    };
    const handler: Dispatcher.DispatchHandlers = {
      onConnect(abortExchange) {
        // Called before the request goes out; after the deadline (or any end), abort at once.
        abort = abortExchange;
        if (settled) abortExchange(new Stopped("settled"));
      },
      onHeaders(statusCode, rawHeaders) {
        if (settled) return false;
        answered = true;
        status = statusCode;
        answerHeaders = headersOf(rawHeaders);
        if (status >= 300 && status < 400) {
          settle({ kind: "redirect", status, location: answerHeaders.location }, true);
          return false;
        }
        const declared = Number(answerHeaders["content-length"]);
        if (Number.isFinite(declared) && declared > maxAnswerBytes) {
          tooLarge();
          return false;
        }
        return true;
      },
      onData(chunk) {
        if (settled) return false;
        chunks.push(chunk);
        received += chunk.length;
        if (received > maxAnswerBytes) {
          tooLarge();
          return false;
        }
        return true;
      },
      onComplete() {
        settle({ kind: "answer", status, headers: answerHeaders, body: Buffer.concat(chunks).toString("utf8") }, false);
      },
      onError(error: Error & { code?: string }) {
        if (error instanceof Stopped) return;
        const detail = networkDetail(error, answered);
        settle({ kind: "network", detail, answered, headerOverflow: error.code === "UND_ERR_HEADERS_OVERFLOW" }, false);
      },
    };
    const deadline = timers.setTimeout(() => settle({ kind: "timeout", timeoutMs: request.timeoutMs }, true), request.timeoutMs);
    try {
      poolFor(url).dispatch({ origin: url.origin, path: url.pathname + url.search, method: request.method, headers: request.headers, body: request.body ?? null }, handler);
    } catch (error) {
      // Undici validates the request before anything goes out; its messages name a header, not its value.
      settle({ kind: "network", detail: error instanceof Error ? error.message : "the request could not be built", answered: false, headerOverflow: false }, false);
    }
  });

/**
 * What went wrong, as node:http words it where undici's words differ: a connection closed by the other side,
 * before or during the answer.
 */
function networkDetail(error: Error & { code?: string; cause?: unknown }, answered: boolean): string {
  const cause = error.cause instanceof Error ? (error.cause as Error & { code?: string }) : undefined;
  if (cause?.message) return cause.message;
  if (error.code === "UND_ERR_SOCKET") return answered ? "the connection closed before the answer was complete" : "the connection closed before an answer";
  return error.message || String(error.code);
}

/** Undici's raw headers: names and values, alternating, as the server sent them. */
function headersOf(raw: Buffer[] | string[] | null): AnswerHeaders {
  // No prototype: a header named __proto__ or constructor is a header like any other.
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  if (!raw) return headers;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toString("latin1").toLowerCase();
    const value = raw[i + 1]!.toString("latin1");
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
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
