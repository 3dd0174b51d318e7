/** The circuit breaker: closed, open for openMs after N failures in a row, half-open with one probe. */
import { describe, expect, it } from "vitest";
import { CircuitBreaker } from "../../../src/upstream/breaker.ts";

describe("a target's circuit breaker", () => {
  it("opens after the configured failures in a row, not before, and a success resets the count", () => {
    const breaker = new CircuitBreaker(3, 30_000, 5_000);
    breaker.failed(0); breaker.failed(0); breaker.succeeded(); breaker.failed(0); breaker.failed(0);
    expect(breaker.allows(0)).toBe(true);
    breaker.failed(100);
    expect(breaker.allows(100)).toBe(false);
    expect(breaker.allows(30_099)).toBe(false);
    expect(breaker.stateAt(30_099)).toBe("open");
  });

  it("lets exactly one probe through when half-open; its success closes the circuit", () => {
    const breaker = new CircuitBreaker(1, 1000, 5_000);
    breaker.failed(0);
    expect(breaker.allows(1000)).toBe(true);
    breaker.sent(1000);
    expect(breaker.allows(1001)).toBe(false); // the probe is out
    breaker.succeeded();
    expect(breaker.stateAt(1002)).toBe("closed");
    expect(breaker.allows(1002)).toBe(true);
  });

  it("opens again for the full period when the probe fails", () => {
    const breaker = new CircuitBreaker(5, 1000, 5_000);
    for (let i = 0; i < 5; i++) breaker.failed(0);
    breaker.sent(1000);
    breaker.failed(1200);
    expect(breaker.allows(2199)).toBe(false);
    expect(breaker.allows(2200)).toBe(true);
  });

  it("gives up a probe that never reported, so a lost request cannot keep the target out", () => {
    const breaker = new CircuitBreaker(1, 1000, 5_000);
    breaker.failed(0);
    breaker.sent(1000);
    expect(breaker.allows(6000)).toBe(false);
    expect(breaker.allows(6001)).toBe(true);
  });
});
