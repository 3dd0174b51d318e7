/**
 * A Cache API backend for plain `workerd serve` (its `cacheApiOutbound`), for end-to-end tests and
 * benchmarks: without one, workerd answers every `caches.default` call with "No Cache was
 * configured". workerd's own Cache API client talks to it over HTTP, the protocol miniflare's cache
 * service speaks: PUT <key> with the response serialized as an HTTP/1.1 message (204), GET <key>
 * answering the stored response with `CF-Cache-Status: HIT` or a 504 with `CF-Cache-Status: MISS`,
 * PURGE <key> (200, or 404 when absent).
 *
 * Storage is this isolate's memory (workerd serve runs one), bounded in entries; lifetimes follow
 * the stored Cache-Control (`s-maxage`, else `max-age`), and like Cloudflare's, responses with
 * `Set-Cookie`, `private` or `no-store` are not stored. Plain JavaScript: it is loaded as is.
 */
const MAX_ENTRIES = 10_000;
const entries = new Map(); // key -> { status, statusText, headers: [name, value][], body: Uint8Array, expires }

function lifetimeMs(headers) {
  const control = (headers.get("cache-control") ?? "").toLowerCase();
  if (/(^|,)\s*(private|no-store)\s*(=|,|$)/.test(control) || headers.has("set-cookie")) return 0;
  const shared = /(?:^|,)\s*s-maxage\s*=\s*"?(\d+)/.exec(control);
  const max = shared ?? /(?:^|,)\s*max-age\s*=\s*"?(\d+)/.exec(control);
  return max ? Number(max[1]) * 1000 : 0;
}

function parseMessage(bytes) {
  let end = -1;
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) { end = i; break; }
  }
  if (end < 0) throw new Error("no end of headers in the stored message");
  const [statusLine, ...lines] = new TextDecoder().decode(bytes.subarray(0, end)).split("\r\n");
  const status = /^HTTP\/\d(?:\.\d)? (\d{3}) ?(.*)$/.exec(statusLine);
  if (!status) throw new Error(`not a status line: ${statusLine}`);
  const headers = new Headers();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  return { status: Number(status[1]), statusText: status[2], headers, body: bytes.subarray(end + 4) };
}

export default {
  async fetch(request) {
    const key = request.url;
    if (request.method === "PUT") {
      const message = parseMessage(new Uint8Array(await request.arrayBuffer()));
      const ttl = lifetimeMs(message.headers);
      if (ttl > 0) {
        entries.delete(key);
        entries.set(key, { status: message.status, statusText: message.statusText, headers: [...message.headers], body: message.body.slice(), expires: Date.now() + ttl });
        while (entries.size > MAX_ENTRIES) entries.delete(entries.keys().next().value);
      }
      return new Response(null, { status: 204 });
    }
    if (request.method === "GET") {
      const entry = entries.get(key);
      if (!entry || entry.expires <= Date.now()) {
        if (entry) entries.delete(key);
        return new Response(null, { status: 504, headers: { "cf-cache-status": "MISS" } });
      }
      const headers = new Headers(entry.headers);
      headers.set("cf-cache-status", "HIT");
      const nullBody = entry.status === 204 || entry.status === 304;
      return new Response(nullBody ? null : entry.body, { status: entry.status, statusText: entry.statusText, headers });
    }
    if (request.method === "PURGE") return new Response(null, { status: entries.delete(key) ? 200 : 404 });
    return new Response(null, { status: 405 });
  },
};
