/**
 * Reference for the ingest scenario: the least a webhook endpoint can do on this machine. A bare node:http
 * server that reads the body, checks Shopify's HMAC and parses the JSON, then answers 200. Nothing is stored.
 *
 * node --import tsx bench/servers/reference-ingest.ts <port> <secret>
 */
import { createServer } from "node:http";
import { readBody, validHmac } from "./reference-ingest-lib";

const port = Number(process.argv[2] ?? 0);
const secret = process.argv[3] ?? "";

const server = createServer((req, res) => {
  if (req.method === "GET") {
    res.writeHead(200).end("ok");
    return;
  }
  readBody(req).then(
    (body) => {
      if (!validHmac(body, req.headers["x-shopify-hmac-sha256"], secret)) {
        res.writeHead(401).end();
        return;
      }
      try {
        JSON.parse(body.toString("utf8"));
      } catch {
        res.writeHead(400).end();
        return;
      }
      res.writeHead(200).end();
    },
    () => res.writeHead(500).end(),
  );
});
server.listen(port, "127.0.0.1");
process.on("SIGTERM", () => server.close(() => process.exit(0)));
