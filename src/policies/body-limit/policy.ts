/**
 * A route's request body limit, enforced while the body streams: a declared Content-Length over the
 * limit is answered 413 before a byte is read; a body without one (chunked) is counted on its way
 * to the origin and cut off with 413 the moment it crosses the limit. Nothing is buffered.
 *
 * Not hono/body-limit: for a body without Content-Length it reads the whole body into one
 * Uint8Array before calling next() (dist/middleware/body-limit/index.js), so a 256 MB limit would
 * hold up to 256 MB in an isolate that has 128 MB, and the origin would see nothing until the end.
 */
import type { GatewayMiddleware } from "../../context.ts";
import { replaceResponse } from "../../context.ts";
import { coreErrors, toErrorResponse } from "../../errors.ts";

export const bodyLimitErrors = { payload_too_large: coreErrors.payload_too_large };

const DIGITS = /^\d+$/;
const COPY_BUFFER_BYTES = 64 * 1024;

function byobReader(body: ReadableStream<Uint8Array>): ReadableStreamBYOBReader | undefined {
  try {
    return body.getReader({ mode: "byob" });
  } catch {
    return undefined;
  }
}

export function bodyLimit(maxBytes: number): GatewayMiddleware {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new TypeError(`bodyLimit: maxBytes must be a whole number of bytes, got ${maxBytes}`);
  const tooLarge = () => coreErrors.payload_too_large(`The request body is larger than this route's limit of ${maxBytes} bytes.`);

  return async function bodyLimit(c, next) {
    const request = c.req.raw;
    if (request.body === null) return next();
    const length = request.headers.get("content-length");
    if (length !== null && !request.headers.has("transfer-encoding")) {
      // The runtime's HTTP server delivers exactly Content-Length bytes, so the header is the size.
      if (!DIGITS.test(length) || Number(length) > maxBytes) throw tooLarge();
      return next();
    }
    // No declared length: count the bytes as they pass. Past the limit, stop the origin fetch
    // (stopForwarding), which closes its connection mid-body: erroring the stream instead would
    // let workerd end the chunked body as if it were complete, and the origin would act on a
    // truncated upload. The client's remaining bytes are never read.
    const stop = new AbortController();
    c.set("stopForwarding", stop.signal);
    // A native IdentityTransformStream fed from a BYOB reader through one reused 64 KiB buffer: a
    // JS ReadableStream or TransformStream here (fresh chunks in the isolate) raised workerd's RSS
    // by 104 MB during a 128 MB chunked upload, this by 15 MB (test/e2e/forwarding.e2e.test.ts).
    // A write resolves once the fetch has taken the bytes, so the buffer is free again after it.
    // A body made in JS (a service binding's caller) has no BYOB mode and is read chunk by chunk.
    const { readable: counted, writable } = new IdentityTransformStream();
    const reader = byobReader(request.body) ?? request.body.getReader();
    const writer = writable.getWriter();
    const pump = async () => {
      let buffer = new ArrayBuffer(COPY_BUFFER_BYTES);
      let seen = 0;
      for (;;) {
        const { done, value } = reader instanceof ReadableStreamBYOBReader ? await reader.read(new Uint8Array(buffer)) : await reader.read();
        if (done) return writer.close();
        seen += value.byteLength;
        if (seen > maxBytes) {
          stop.abort(tooLarge());
          return reader.cancel();
        }
        await writer.write(value);
        if (reader instanceof ReadableStreamBYOBReader) buffer = value.buffer;
      }
    };
    // A client that goes away fails the origin's body; an origin that stops reading stops the pump.
    pump().catch((err: unknown) => Promise.allSettled([writer.abort(err), reader.cancel(err)]));
    c.req.raw = new Request(request, { body: counted });
    await next();
    // The origin answered before reading past the limit, and the body went on past it: still 413.
    if (stop.signal.aborted && c.res.status !== 413) replaceResponse(c, toErrorResponse(stop.signal.reason, c));
  };
}
