/**
 * The bench origin, run as its own process so it does not share an event loop with the load
 * generator. Answers every request with a small fixed body; consumes request bodies. Prints
 * `{"port":N}` once listening on 127.0.0.1 (ephemeral port) and exits when its stdin closes,
 * so it never outlives the harness, even one killed with SIGKILL.
 */
import { createServer } from "node:http";

const body = Buffer.from(process.env.ORIGIN_BODY ?? "hello from the bench origin\n");

const server = createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    res.writeHead(200, { "content-type": "text/plain; charset=utf-8", "content-length": body.length });
    res.end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no TCP address");
  process.stdout.write(JSON.stringify({ port: address.port }) + "\n");
});

process.stdin.on("end", () => process.exit(0));
process.stdin.on("error", () => process.exit(0));
process.stdin.resume();
