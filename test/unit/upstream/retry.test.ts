/** What may be retried, and the retry budget. */
import { describe, expect, it } from "vitest";
import { isGatewayFailure, MIN_RETRIES, replayable, RetryBudget } from "../../../src/upstream/retry.ts";

describe("what may be sent twice", () => {
  const none = new Headers();
  it("GET, HEAD, OPTIONS, PUT and DELETE without a body", () => {
    for (const method of ["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]) expect(replayable(method, none, null), method).toBe(true);
    for (const method of ["POST", "PATCH"]) expect(replayable(method, none, null), method).toBe(false);
  });

  it("any method with an Idempotency-Key", () => {
    expect(replayable("POST", new Headers({ "idempotency-key": "k1" }), null)).toBe(true);
  });

  it("never a request with a body: it streamed and cannot be sent again", () => {
    const body = new ReadableStream();
    expect(replayable("PUT", none, body)).toBe(false);
    expect(replayable("POST", new Headers({ "idempotency-key": "k1" }), body)).toBe(false);
  });

  it("counts refusals, timeouts, 502, 503 and 504 as gateway failures, not 500 or 4xx", () => {
    expect(["connect", "timeout", 502, 503, 504].every((o) => isGatewayFailure(o as never))).toBe(true);
    expect([200, 404, 429, 500, 501].some((o) => isGatewayFailure(o))).toBe(false);
  });
});

describe("the retry budget", () => {
  it(`allows budgetPercent of the last 10 s of requests, plus ${MIN_RETRIES}`, () => {
    const budget = new RetryBudget(10);
    for (let i = 0; i < 100; i++) budget.request(5_000);
    let granted = 0;
    while (budget.withdraw(5_000)) granted++;
    expect(granted).toBe(10 + MIN_RETRIES);
  });

  it("holds under a full outage: retries stay a fixed share of requests however long it lasts", () => {
    const budget = new RetryBudget(20);
    let requests = 0, retries = 0;
    for (let t = 0; t < 60_000; t += 10) { // 100 requests/s for a minute, every one wanting two retries
      budget.request(t); requests++;
      for (let r = 0; r < 2; r++) if (budget.withdraw(t)) retries++;
    }
    expect(retries / requests).toBeLessThanOrEqual(0.2 + (MIN_RETRIES * 6) / requests);
    expect(retries / requests).toBeGreaterThan(0.15);
  });

  it("forgets requests and retries older than 10 s", () => {
    const budget = new RetryBudget(0);
    for (let i = 0; i < MIN_RETRIES; i++) expect(budget.withdraw(0)).toBe(true);
    expect(budget.withdraw(9_999)).toBe(false);
    expect(budget.withdraw(10_000)).toBe(true);
  });
});
