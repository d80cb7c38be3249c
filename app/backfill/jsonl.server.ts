/**
 * Reads a bulk operation's JSONL result from its URL a line at a time, never whole in memory, starting at a byte
 * offset (docs/decisions/016-history-backfill.md). The offset is asked for with a Range request; a server that
 * answers the whole file instead has the bytes before it skipped. A stalled download ends with an error after
 * `idleMs` without a byte, so the caller can start again from the last line it finished. Only the time spent waiting
 * for the server counts: while the caller holds a line (writing it, or waiting for the delivery queue to drain), no
 * deadline runs.
 */

export interface JsonlLine {
  /** The line's text without its newline; null when it was longer than maxLineBytes (its bytes are skipped). */
  text: string | null;
  /** Byte offsets of the line's start and of the byte after its newline. */
  start: number;
  end: number;
}

export interface JsonlReadOptions {
  /** Where to start: a line's first byte. */
  offset: number;
  idleMs: number;
  maxLineBytes: number;
  signal?: AbortSignal;
  fetch?: typeof fetch;
}

export class JsonlReadError extends Error {
  override name = "JsonlReadError";
  constructor(
    message: string,
    /** The URL will not answer again (it expired or was never there): reading cannot resume from it. */
    readonly gone: boolean,
  ) {
    super(message);
  }
}

const NEWLINE = 0x0a;

/** The lines from `offset` on; ends at the end of the file (a last line without a newline is a line too). */
export async function* jsonlLines(url: string, options: JsonlReadOptions): AsyncGenerator<JsonlLine> {
  const controller = new AbortController();
  const abort = () => controller.abort(options.signal?.reason);
  options.signal?.addEventListener("abort", abort, { once: true });
  let idle: NodeJS.Timeout | undefined;
  let stalled = false;
  const armIdle = () => {
    clearTimeout(idle);
    idle = setTimeout(() => {
      stalled = true;
      controller.abort(new Error("stalled"));
    }, options.idleMs);
  };
  armIdle();
  try {
    let response: Response;
    try {
      response = await (options.fetch ?? fetch)(url, {
        headers: options.offset > 0 ? { range: `bytes=${options.offset}-` } : {},
        signal: controller.signal,
        redirect: "follow",
      });
    } catch (error) {
      throw new JsonlReadError(stalled ? `the result file did not answer within ${Math.round(options.idleMs / 1000)} s` : `the result file could not be reached: ${messageOf(error)}`, false);
    }
    clearTimeout(idle);
    if (response.status === 416) {
      discard(response.body); // Nothing after the offset: the file was read to its end.
      return;
    }
    if (response.status === 403 || response.status === 404 || response.status === 410) {
      discard(response.body);
      throw new JsonlReadError(`the result file answered HTTP ${response.status}: Shopify keeps a result for 7 days, so it has probably expired`, true);
    }
    if (response.status !== 200 && response.status !== 206) {
      discard(response.body);
      throw new JsonlReadError(`the result file answered HTTP ${response.status}`, false);
    }
    if (!response.body) return;
    // A 200 is the whole file: skip what was read before.
    let skip = response.status === 200 ? options.offset : 0;
    let position = options.offset;
    const decoder = new TextDecoder("utf-8", { fatal: false });
    let pending: Uint8Array[] = [];
    let pendingBytes = 0;
    let overlong = false;
    let lineStart = position;
    const reader = response.body.getReader();
    try {
      for (;;) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        // The deadline runs only while this waits for bytes, not while the caller holds the lines already read.
        armIdle();
        try {
          chunk = await reader.read();
        } catch (error) {
          throw new JsonlReadError(stalled ? `the result file stopped sending for ${Math.round(options.idleMs / 1000)} s` : `the result file's download broke off: ${messageOf(error)}`, false);
        }
        clearTimeout(idle);
        if (chunk.done) break;
        let bytes = chunk.value;
        if (skip > 0) {
          const dropped = Math.min(skip, bytes.length);
          skip -= dropped;
          bytes = bytes.subarray(dropped);
        }
        let from = 0;
        for (;;) {
          const newline = bytes.indexOf(NEWLINE, from);
          const end = newline === -1 ? bytes.length : newline;
          if (!overlong) {
            if (pendingBytes + (end - from) > options.maxLineBytes) {
              overlong = true;
              pending = [];
              pendingBytes = 0;
            } else if (end > from) {
              pending.push(bytes.subarray(from, end));
              pendingBytes += end - from;
            }
          }
          if (newline === -1) {
            position += bytes.length - from;
            break;
          }
          position += newline + 1 - from;
          yield { text: overlong ? null : joinText(decoder, pending, pendingBytes), start: lineStart, end: position };
          lineStart = position;
          pending = [];
          pendingBytes = 0;
          overlong = false;
          from = newline + 1;
        }
      }
    } finally {
      discard(reader);
    }
    if (skip > 0) throw new JsonlReadError("the result file is shorter than what was already read from it", true);
    if (pendingBytes > 0 || overlong) yield { text: overlong ? null : joinText(decoder, pending, pendingBytes), start: lineStart, end: position };
  } finally {
    clearTimeout(idle);
    options.signal?.removeEventListener("abort", abort);
    // Ends the request if the caller stopped early (a no-op once the body was read to its end).
    controller.abort(new Error("done"));
  }
}

/**
 * Cancels a body that will not be read, without waiting: a cancel settles only once every reader of the stream let
 * go, and a body that was teed (a Response clone, as fetch wrappers and instrumentation make) may never be, which
 * would hold the reader until the idle deadline, or for ever once it had passed.
 */
function discard(body: { cancel(): Promise<void> } | null | undefined) {
  body?.cancel().catch(() => undefined);
}

function joinText(decoder: TextDecoder, parts: Uint8Array[], length: number): string {
  if (parts.length === 1) return decoder.decode(parts[0]);
  const joined = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    joined.set(part, at);
    at += part.length;
  }
  return decoder.decode(joined);
}

function messageOf(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
    return `${error.message}${cause}`;
  }
  return String(error);
}
