/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/) at the gateway: a valid incoming
 * `traceparent` is continued (same trace id, the gateway's own span id as the new parent), anything
 * else starts a new trace. The origin always receives the gateway's `traceparent`, never the
 * client's header as sent: `traceparent` and `tracestate` are gateway-owned names
 * (src/upstream/headers.ts), so a client cannot pick the span the origin records as its parent or
 * smuggle a malformed value to the origin's tracer. A client's `tracestate` is passed on only with
 * a trace the gateway continues, and only when it is a well-formed list (the spec says to drop it
 * with an invalid `traceparent`).
 *
 * The trace id is on the access log line, so an operator can find the gateway's line for a trace.
 */
import { hex } from "./hex.ts";


/** A request's trace as the gateway forwards it. */
export interface TraceContext {
  /** 32 lowercase hex digits. */
  traceId: string;
  /** The gateway's span: the parent id the origin receives. 16 lowercase hex digits. */
  spanId: string;
  /** The caller's span when the trace was continued, else undefined. */
  parentId: string | undefined;
  /** Trace flags, two lowercase hex digits ("01": sampled). */
  flags: string;
  /** The caller's tracestate, kept only when well formed and the trace was continued. */
  state: string | undefined;
}

const HEX = /^[0-9a-f]+$/;
const ZEROS_32 = "0".repeat(32);
const ZEROS_16 = "0".repeat(16);

/**
 * The incoming `traceparent` as (trace id, parent id, flags), or undefined when it is not valid:
 * version 00 is exactly 55 characters; a higher version (not ff) is read by its first four fields
 * and may go on after a "-" (the spec's forward-compatibility rule); ids must not be all zeros.
 */
export function parseTraceparent(value: string | null | undefined): { traceId: string; parentId: string; flags: string } | undefined {
  if (typeof value !== "string") return undefined;
  const header = value.trim();
  if (header.length < 55) return undefined;
  const version = header.slice(0, 2);
  if (!HEX.test(version) || version === "ff") return undefined;
  if (version === "00" ? header.length !== 55 : header.length > 55 && header[55] !== "-") return undefined;
  if (header[2] !== "-" || header[35] !== "-" || header[52] !== "-") return undefined;
  const traceId = header.slice(3, 35), parentId = header.slice(36, 52), flags = header.slice(53, 55);
  if (!HEX.test(traceId) || !HEX.test(parentId) || !HEX.test(flags)) return undefined;
  if (traceId === ZEROS_32 || parentId === ZEROS_16) return undefined;
  return { traceId, parentId, flags };
}

// tracestate list members: key=value, at most 32, keys `simple` or `tenant@system`, values of
// printable ASCII without "," and "=" and not ending in a space (the spec's grammar).
const STATE_KEY = /^(?:[a-z][a-z0-9_\-*/]{0,255}|[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13})$/;
const STATE_VALUE = /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;
const MAX_STATE_LENGTH = 512;

/** The caller's tracestate normalized (empty members dropped), or undefined when it is not a valid list. */
export function validTracestate(value: string | null | undefined): string | undefined {
  if (typeof value !== "string" || value.length === 0 || value.length > MAX_STATE_LENGTH) return undefined;
  const members: string[] = [];
  const keys = new Set<string>();
  for (const part of value.split(",")) {
    const member = part.trim();
    if (member === "") continue;
    const eq = member.indexOf("=");
    if (eq <= 0) return undefined;
    const key = member.slice(0, eq), val = member.slice(eq + 1);
    if (!STATE_KEY.test(key) || !STATE_VALUE.test(val) || keys.has(key)) return undefined;
    keys.add(key);
    members.push(member);
  }
  if (members.length === 0 || members.length > 32) return undefined;
  return members.join(",");
}

const scratch = new Uint8Array(24);
/** Fresh random ids: 16 bytes of trace id, 8 of span id; neither all zeros. */
function randomIds(): { traceId: string; spanId: string } {
  for (;;) {
    crypto.getRandomValues(scratch);
    const traceId = hex(scratch, 0, 16), spanId = hex(scratch, 16, 24);
    if (traceId !== ZEROS_32 && spanId !== ZEROS_16) return { traceId, spanId };
  }
}

/**
 * The request's trace: the incoming one continued when valid, else a new one. A new trace is marked
 * sampled ("01"): the gateway records it (the trace id is on the access log line and, where
 * configured, in Analytics Engine). A continued trace keeps the caller's sampling decision.
 */
export function traceOf(traceparent: string | null | undefined, tracestate: string | null | undefined): TraceContext {
  const incoming = parseTraceparent(traceparent);
  const ids = randomIds();
  if (!incoming) return { traceId: ids.traceId, spanId: ids.spanId, parentId: undefined, flags: "01", state: undefined };
  // Version 00 defines only the sampled bit; the others are cleared, as the spec asks of a 00 writer.
  const flags = (parseInt(incoming.flags, 16) & 0x01) === 1 ? "01" : "00";
  return { traceId: incoming.traceId, spanId: ids.spanId, parentId: incoming.parentId, flags, state: validTracestate(tracestate) };
}

/** The `traceparent` the gateway sends on: version 00, the trace id, the gateway's span, the flags. */
export function traceparentOf(trace: TraceContext): string {
  return `00-${trace.traceId}-${trace.spanId}-${trace.flags}`;
}
