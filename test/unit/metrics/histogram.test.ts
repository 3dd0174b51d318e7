import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { addSparse, BUCKETS, bucketOf, countAtMost, mergeSparse, OVERFLOW, quantile, toSparse, upperBound } from "../../../src/metrics/histogram.ts";
import { LE_MS } from "../../../src/metrics/prometheus.ts";

const histogramOf = (values: number[]) => {
  const dense = new Float64Array(BUCKETS);
  for (const v of values) dense[bucketOf(v)]! += 1;
  return dense;
};

describe("the log-linear latency histogram", () => {
  it("puts each duration in the bucket (lower, upper] whose bounds hold it", () => {
    for (const ms of [0, 0.4, 1, 1.5, 9.99, 10, 10.01, 11, 99.5, 100, 100.1, 110, 999, 1000, 1001, 123_456, 999_999, 1_000_000]) {
      const i = bucketOf(ms);
      expect(ms, `bucket ${i}`).toBeLessThanOrEqual(upperBound(i));
      if (i > 0) expect(ms, `bucket ${i}`).toBeGreaterThan(upperBound(i - 1));
    }
    expect(bucketOf(-5)).toBe(0);
    expect(bucketOf(Number.NaN)).toBe(0);
    expect(bucketOf(1_000_001)).toBe(OVERFLOW);
    expect(upperBound(OVERFLOW)).toBe(Infinity);
  });

  it("has bounds that grow strictly, with two significant digits (at most 10% wide above 10 ms)", () => {
    for (let i = 1; i < OVERFLOW; i++) {
      expect(upperBound(i)).toBeGreaterThan(upperBound(i - 1));
      if (upperBound(i - 1) >= 10) expect(upperBound(i) / upperBound(i - 1)).toBeLessThanOrEqual(1.1 + 1e-9);
    }
    expect([upperBound(10), upperBound(11), upperBound(100), upperBound(101), upperBound(460)]).toEqual([10, 11, 100, 110, 1_000_000]);
  });

  it("has every Prometheus bucket bound as one of its own bounds, so each `le` count is exact", () => {
    const bounds = new Set(Array.from({ length: OVERFLOW }, (_, i) => upperBound(i)));
    for (const le of LE_MS) expect(bounds.has(le), `${le} ms`).toBe(true);
    const values = [0, 1, 2, 2.5, 5, 24, 25, 26, 250, 251, 300_000];
    const dense = histogramOf(values);
    for (const le of LE_MS) expect(countAtMost(dense, le), `le ${le}`).toBe(values.filter((v) => v <= le).length);
  });

  it("reads nearest-rank percentiles as the bucket's upper bound: exact for whole milliseconds up to 100 ms", () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1); // 1..100 ms
    const dense = histogramOf(values);
    expect(quantile(dense, 0.5)).toBe(50);
    expect(quantile(dense, 0.9)).toBe(90);
    expect(quantile(dense, 0.99)).toBe(99);
    expect(quantile(new Float64Array(BUCKETS), 0.5)).toBeNull();
    expect(quantile(histogramOf([1234]), 0.5)).toBe(1300); // (1200, 1300]: at most 10% high
  });

  it("merges by addition: the merge of two histograms is the histogram of all their values", () => {
    const durations = fc.array(fc.double({ min: 0, max: 2_000_000, noNaN: true }), { maxLength: 200 });
    fc.assert(fc.property(durations, durations, (a, b) => {
      const merged = new Float64Array(BUCKETS);
      addSparse(merged, mergeSparse(toSparse(histogramOf(a)), toSparse(histogramOf(b))));
      expect(Array.from(merged)).toEqual(Array.from(histogramOf([...a, ...b])));
    }));
  });

  it("skips malformed sparse pairs rather than writing outside the histogram", () => {
    const dense = new Float64Array(BUCKETS);
    addSparse(dense, [5, 2, -1, 3, 9999, 4, 1.5, 1, 7]);
    expect(toSparse(dense)).toEqual([5, 2]);
  });
});
