/**
 * jsonlLines against a real loopback HTTP server: lines split across chunks (and a UTF-8 character split across
 * them), exact byte offsets, over-long lines, Range resumption (206, or a 200 that ignores it), a 416 at the end,
 * expired URLs, a server that stops sending, and a download broken off mid-body.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JsonlReadError, jsonlLines, type JsonlLine, type JsonlReadOptions } from "~/backfill/jsonl.server";

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

let server: Server;
let origin: string;
const routes = new Map<string, Handler>();
const seen: Array<{ path: string; range: string | null }> = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push({ path: req.url ?? "", range: typeof req.headers.range === "string" ? req.headers.range : null });
    const handler = routes.get(req.url ?? "");
    if (!handler) {
      res.writeHead(500).end();
      return;
    }
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

let routeCount = 0;
/** A fresh path served by `handler`; answers its URL. */
function route(handler: Handler): string {
  const path = `/r${++routeCount}.jsonl`;
  routes.set(path, handler);
  return origin + path;
}

/** Writes each piece as its own write, waiting for it to be flushed before the next (so they leave as chunks). */
function writePieces(res: ServerResponse, pieces: Buffer[], then: () => void = () => res.end()) {
  let i = 0;
  const next = () => {
    if (i === pieces.length) {
      then();
      return;
    }
    res.write(pieces[i++]!, () => setImmediate(next));
  };
  next();
}

/** Serves `file` honouring `Range: bytes=N-` with a 206 (or a 416 past the end). */
function rangeServer(file: Buffer): Handler {
  return (req, res) => {
    const match = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ""));
    if (!match) {
      res.writeHead(200).end(file);
      return;
    }
    const from = Number(match[1]);
    if (from >= file.length) {
      res.writeHead(416, { "content-range": `bytes */${file.length}` }).end();
      return;
    }
    res.writeHead(206, { "content-range": `bytes ${from}-${file.length - 1}/${file.length}` }).end(file.subarray(from));
  };
}

const OPTIONS: JsonlReadOptions = { offset: 0, idleMs: 5_000, maxLineBytes: 1_000 };

async function collect(url: string, options: Partial<JsonlReadOptions> = {}): Promise<JsonlLine[]> {
  const lines: JsonlLine[] = [];
  for await (const line of jsonlLines(url, { ...OPTIONS, ...options })) lines.push(line);
  return lines;
}

async function failure(url: string, options: Partial<JsonlReadOptions> = {}): Promise<{ error: JsonlReadError; lines: JsonlLine[] }> {
  const lines: JsonlLine[] = [];
  try {
    for await (const line of jsonlLines(url, { ...OPTIONS, ...options })) lines.push(line);
  } catch (error) {
    expect(error).toBeInstanceOf(JsonlReadError);
    return { error: error as JsonlReadError, lines };
  }
  throw new Error("the read did not fail");
}

/** Every line's start and end must cut the file's bytes at exactly that line and its newline. */
function expectExactOffsets(file: Buffer, lines: JsonlLine[], from = 0) {
  let at = from;
  for (const line of lines) {
    expect(line.start).toBe(at);
    const bytes = file.subarray(line.start, line.end);
    if (line.text !== null) expect(bytes.toString("utf8")).toBe(line.end === file.length && file[file.length - 1] !== 0x0a ? line.text : `${line.text}\n`);
    at = line.end;
  }
  expect(at).toBe(file.length);
}

describe("jsonlLines", () => {
  it("joins lines and a multi-byte UTF-8 character split across chunks, with exact byte offsets", async () => {
    const text = '{"name":"Zoë 🎉"}\n{"b":2}\n\n{"c":"€"}\n';
    const file = Buffer.from(text, "utf8");
    // Cut inside "ë" (2 bytes), inside "🎉" (4 bytes), at a newline and inside "€" (3 bytes).
    const ePos = file.indexOf(Buffer.from("ë")) + 1;
    const partyPos = file.indexOf(Buffer.from("🎉")) + 2;
    const euroPos = file.indexOf(Buffer.from("€")) + 1;
    const cuts = [0, 3, ePos, partyPos, file.indexOf(0x0a), euroPos, file.length];
    const pieces = cuts.slice(1).map((end, i) => file.subarray(cuts[i], end));
    const url = route((_req, res) => {
      res.writeHead(200);
      writePieces(res, pieces);
    });
    const lines = await collect(url);
    expect(lines.map((l) => l.text)).toEqual(['{"name":"Zoë 🎉"}', '{"b":2}', "", '{"c":"€"}']);
    expectExactOffsets(file, lines);
  });

  it("decodes a character split across chunks exactly as the chunks come (driven through its fetch option)", async () => {
    // The loopback server may merge writes; a stream of one byte per chunk makes every split certain.
    const file = Buffer.from('{"a":"ü→😀"}\n{"b":"x"}', "utf8");
    const oneByteAtATime: typeof fetch = () =>
      Promise.resolve(
        new Response(
          new ReadableStream<Uint8Array>({
            start(controller) {
              for (const byte of file) controller.enqueue(new Uint8Array([byte]));
              controller.close();
            },
          }),
          { status: 200 },
        ),
      );
    const lines = await collect("http://unused.invalid/x.jsonl", { fetch: oneByteAtATime });
    expect(lines.map((l) => l.text)).toEqual(['{"a":"ü→😀"}', '{"b":"x"}']);
    expectExactOffsets(file, lines);
  });

  it("yields a last line without a newline, ending at the file's end", async () => {
    const file = Buffer.from('{"a":1}\n{"b":2}', "utf8");
    const lines = await collect(route(rangeServer(file)));
    expect(lines).toEqual([
      { text: '{"a":1}', start: 0, end: 8 },
      { text: '{"b":2}', start: 8, end: 15 },
    ]);
  });

  it("gives a line over maxLineBytes as text null with its offsets, and the next line intact", async () => {
    const long = `{"x":"${"é".repeat(200)}"}`; // 408 bytes
    const file = Buffer.from(`{"a":1}\n${long}\n{"b":2}\n`, "utf8");
    const url = route((_req, res) => {
      res.writeHead(200);
      // Split the long line over several chunks, so it is over the limit only once joined.
      writePieces(res, [file.subarray(0, 20), file.subarray(20, 150), file.subarray(150, 300), file.subarray(300)]);
    });
    const lines = await collect(url, { maxLineBytes: 100 });
    expect(lines.map((l) => l.text)).toEqual(['{"a":1}', null, '{"b":2}']);
    expect(lines[1]).toMatchObject({ start: 8, end: 8 + Buffer.byteLength(long) + 1 });
    expectExactOffsets(file, lines);
    // A line of exactly maxLineBytes is still a line.
    const exact = await collect(route(rangeServer(Buffer.from('{"a":1}\n', "utf8"))), { maxLineBytes: 7 });
    expect(exact.map((l) => l.text)).toEqual(['{"a":1}']);
  });

  it("gives an over-long last line without a newline as text null", async () => {
    const file = Buffer.from(`{"a":1}\n${"y".repeat(50)}`, "utf8");
    const lines = await collect(route(rangeServer(file)), { maxLineBytes: 10 });
    expect(lines).toEqual([
      { text: '{"a":1}', start: 0, end: 8 },
      { text: null, start: 8, end: 58 },
    ]);
  });

  it("asks for the rest with Range: bytes=N- and reads a 206 as starting at N", async () => {
    const file = Buffer.from('{"a":1}\n{"b":"ß"}\n{"c":3}\n', "utf8");
    const url = route(rangeServer(file));
    const before = seen.length;
    const lines = await collect(url, { offset: 8 });
    expect(seen.slice(before).map((s) => s.range)).toEqual(["bytes=8-"]);
    expect(lines.map((l) => l.text)).toEqual(['{"b":"ß"}', '{"c":3}']);
    expectExactOffsets(file, lines, 8);
    // At offset 0 no Range is sent.
    const from0 = seen.length;
    await collect(url);
    expect(seen.slice(from0).map((s) => s.range)).toEqual([null]);
  });

  it("skips the first N bytes of a 200 that ignores the Range", async () => {
    const file = Buffer.from('{"a":1}\n{"b":2}\n{"c":3}\n', "utf8");
    const url = route((_req, res) => {
      res.writeHead(200);
      // The skip crosses chunk boundaries.
      writePieces(res, [file.subarray(0, 3), file.subarray(3, 10), file.subarray(10)]);
    });
    const before = seen.length;
    const lines = await collect(url, { offset: 16 });
    expect(seen.slice(before).map((s) => s.range)).toEqual(["bytes=16-"]);
    expect(lines).toEqual([{ text: '{"c":3}', start: 16, end: 24 }]);
  });

  it("reports a 200 shorter than the offset as gone", async () => {
    const url = route((_req, res) => res.writeHead(200).end('{"a":1}\n'));
    const { error } = await failure(url, { offset: 100 });
    expect(error.gone).toBe(true);
  });

  it("yields nothing for a 416 (the offset is the file's end)", async () => {
    const file = Buffer.from('{"a":1}\n', "utf8");
    expect(await collect(route(rangeServer(file)), { offset: file.length })).toEqual([]);
  });

  it.each([403, 404, 410])("throws gone=true for HTTP %i", async (status) => {
    const url = route((_req, res) => res.writeHead(status, { "content-type": "application/xml" }).end("<Error><Code>AccessDenied</Code></Error>"));
    const { error, lines } = await failure(url);
    expect(error.gone).toBe(true);
    expect(error.message).toContain(String(status));
    expect(lines).toEqual([]);
  });

  it("throws gone=false for another error status", async () => {
    const { error } = await failure(route((_req, res) => res.writeHead(503).end("busy")));
    expect(error.gone).toBe(false);
    expect(error.message).toContain("503");
  });

  it("throws gone=false when the server sends its headers and then nothing for idleMs", async () => {
    const file = Buffer.from('{"a":1}\n{"b":2}\n', "utf8");
    const url = route((_req, res) => {
      res.writeHead(200);
      // One line, then silence: the idle deadline runs from the last byte.
      res.write(file.subarray(0, 8));
    });
    const started = Date.now();
    const { error, lines } = await failure(url, { idleMs: 200 });
    expect(error.gone).toBe(false);
    expect(error.message).toMatch(/stopped sending/);
    expect(lines.map((l) => l.text)).toEqual(['{"a":1}']);
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  it("counts only its own wait for bytes: a caller that holds a line for longer than idleMs reads on", async () => {
    const file = Buffer.from('{"a":1}\n{"b":2}\n', "utf8");
    const url = route(rangeServer(file));
    const texts: Array<string | null> = [];
    for await (const line of jsonlLines(url, { ...OPTIONS, idleMs: 50 })) {
      texts.push(line.text);
      // The caller busy with the first line (a backfill writing it, or waiting for its deliveries to be sent), on a
      // timer set after any deadline of the reader's and four times as long: a deadline still running would fire first.
      if (texts.length === 1) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(texts).toEqual(['{"a":1}', '{"b":2}']);
  });

  it("throws gone=false when the server never answers within idleMs", async () => {
    const url = route(() => undefined);
    const { error } = await failure(url, { idleMs: 200 });
    expect(error.gone).toBe(false);
    expect(error.message).toMatch(/did not answer/);
  });

  it("throws gone=false when the connection is destroyed mid-body, after the whole lines before it", async () => {
    const file = Buffer.from('{"a":1}\n{"b":2}\n{"c":3}\n', "utf8");
    const url = route((_req, res) => {
      res.writeHead(200, { "content-length": String(file.length) });
      res.write(file.subarray(0, 12), () => setImmediate(() => res.destroy()));
    });
    const { error, lines } = await failure(url);
    expect(error.gone).toBe(false);
    expect(error.message).toMatch(/broke off/);
    expect(lines).toEqual([{ text: '{"a":1}', start: 0, end: 8 }]);
  });

  it("lets go of the download at once when its reader stops early, and the server sees the connection end", async () => {
    let closed!: () => void;
    const serverSawClose = new Promise<void>((resolve) => (closed = resolve));
    const url = route((_req, res) => {
      res.on("close", closed);
      res.writeHead(200);
      res.write('{"a":1}\n{"b":2}\n'); // and the rest never comes
    });
    // The idle deadline is far beyond the test's timeout: stopping must not wait for it.
    for await (const line of jsonlLines(url, { ...OPTIONS, idleMs: 600_000 })) {
      expect(line.text).toBe('{"a":1}');
      break;
    }
    await serverSawClose;
  });

  it.each([403, 416])("answers a %i at once even when the body is never read by anyone else (fetch answers a teed clone)", async (status) => {
    // A wrapper that keeps a clone of every response, unread, as instrumentation does: cancelling the app's
    // branch of the tee cannot settle while the clone is held.
    const held: Response[] = [];
    const cloning: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      held.push(response.clone());
      return response;
    };
    const url = route((_req, res) => res.writeHead(status).end("x".repeat(100)));
    const read = collect(url, { fetch: cloning, idleMs: 600_000, offset: 5 });
    if (status === 416) await expect(read).resolves.toEqual([]);
    else await expect(read).rejects.toMatchObject({ gone: true });
    expect(held).toHaveLength(1);
  });

  it("stops when its signal aborts", async () => {
    const url = route((_req, res) => {
      res.writeHead(200);
      res.write('{"a":1}\n');
    });
    const controller = new AbortController();
    const lines: JsonlLine[] = [];
    await expect(
      (async () => {
        for await (const line of jsonlLines(url, { ...OPTIONS, signal: controller.signal })) {
          lines.push(line);
          controller.abort(new Error("stop"));
        }
      })(),
    ).rejects.toBeInstanceOf(JsonlReadError);
    expect(lines).toHaveLength(1);
  });
});
