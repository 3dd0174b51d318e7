/** W3C Trace Context parsing and the gateway's continue-or-start rule (src/trace.ts). */
import { describe, expect, it } from "vitest";
import { parseTraceparent, traceOf, traceparentOf, validTracestate } from "../../src/trace.ts";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT = "00f067aa0ba902b7";

describe("traceparent", () => {
  it("reads the spec's example", () => {
    expect(parseTraceparent(`00-${TRACE}-${PARENT}-01`)).toEqual({ traceId: TRACE, parentId: PARENT, flags: "01" });
  });

  it("refuses what the spec calls invalid", () => {
    for (const bad of [
      undefined, "", "garbage",
      `00-${TRACE}-${PARENT}-01-extra`, // version 00 is exactly 55 characters
      `ff-${TRACE}-${PARENT}-01`, // version ff is forbidden
      `00-${"0".repeat(32)}-${PARENT}-01`, // all-zero trace id
      `00-${TRACE}-${"0".repeat(16)}-01`, // all-zero parent id
      `00-${TRACE.toUpperCase()}-${PARENT}-01`, // upper-case hex
      `00-${TRACE}-${PARENT}-1`, `00_${TRACE}-${PARENT}-01`, `00-${TRACE.slice(1)}-${PARENT}-01`,
      `0g-${TRACE}-${PARENT}-01`,
    ]) expect(parseTraceparent(bad), String(bad)).toBeUndefined();
  });

  it("reads a higher version by its first four fields, with more after a dash (forward compatibility)", () => {
    expect(parseTraceparent(`cc-${TRACE}-${PARENT}-01-what-the-future-holds`)).toEqual({ traceId: TRACE, parentId: PARENT, flags: "01" });
    expect(parseTraceparent(`cc-${TRACE}-${PARENT}-01x`)).toBeUndefined();
  });
});

describe("tracestate", () => {
  it("keeps a well-formed list, without empty members", () => {
    expect(validTracestate("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")).toBe("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
    expect(validTracestate("a=1, ,tenant@sys=x y")).toBe("a=1,tenant@sys=x y");
  });

  it("drops a malformed list whole", () => {
    for (const bad of [undefined, "", ",", "novalue", "UPPER=1", "a=1,a=2", "a=has,comma=1=2", "a=ctl\u0007", "a=" + "x".repeat(600)]) {
      expect(validTracestate(bad), String(bad)).toBeUndefined();
    }
    expect(validTracestate(Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(","))).toBeUndefined();
  });
});

describe("the gateway's trace for a request", () => {
  it("continues a valid incoming trace: same trace id, the gateway's own span as parent, the caller's sampling", () => {
    const trace = traceOf(`00-${TRACE}-${PARENT}-01`, "rojo=1");
    expect(trace).toMatchObject({ traceId: TRACE, parentId: PARENT, flags: "01", state: "rojo=1" });
    expect(trace.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(trace.spanId).not.toBe(PARENT);
    expect(traceparentOf(trace)).toBe(`00-${TRACE}-${trace.spanId}-01`);
    expect(traceOf(`00-${TRACE}-${PARENT}-00`, null).flags).toBe("00");
    expect(traceOf(`00-${TRACE}-${PARENT}-ff`, null).flags).toBe("01"); // only the sampled bit is defined in 00
  });

  it("starts a new sampled trace when there is none or it is invalid, and then drops the caller's tracestate", () => {
    for (const incoming of [null, `00-${"0".repeat(32)}-${PARENT}-01`]) {
      const trace = traceOf(incoming, "rojo=1");
      expect(trace.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(trace.traceId).not.toBe(TRACE);
      expect(trace).toMatchObject({ parentId: undefined, flags: "01", state: undefined });
      expect(parseTraceparent(traceparentOf(trace))).toEqual({ traceId: trace.traceId, parentId: trace.spanId, flags: "01" });
    }
    expect(traceOf(null, null).traceId).not.toBe(traceOf(null, null).traceId);
  });
});
