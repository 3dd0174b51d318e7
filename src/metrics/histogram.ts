/**
 * A log-linear latency histogram in milliseconds, with two significant decimal digits (the
 * Circonus / OpenHistogram "circllhist" layout): whole milliseconds up to 10 ms, then 90 buckets per
 * decade, (10, 11], (11, 12], ... (99, 100], (100, 110], ... up to 1,000 s, and one overflow bucket.
 * Any two histograms merge by adding bucket counts, so isolates, minutes and hours add up exactly,
 * and a percentile read from the merge is the percentile of all the requests.
 *
 * Buckets are upper-inclusive, (lower, upper], as Prometheus' `le` is, so the Prometheus buckets
 * (1 ms, 2.5 ms ... 300 s) are exact sums of these. A percentile is reported as the upper bound of
 * its bucket: exact for whole-millisecond timings up to 100 ms, and at most 10% high above.
 */

/** Index of the overflow bucket (over 1,000,000 ms); BUCKETS counts it. */
export const OVERFLOW = 461;
export const BUCKETS = OVERFLOW + 1;
const MAX_MS = 1_000_000;

/** The bucket of a duration in ms: 0 for 0 (or less), i for (i-1, i] up to 10, then 90 per decade. */
export function bucketOf(ms: number): number {
  if (!(ms > 0)) return 0;
  if (ms <= 10) return Math.ceil(ms);
  let step = 1, top = 100, base = 10;
  while (ms > top) {
    if (top >= MAX_MS) return OVERFLOW;
    step *= 10;
    top *= 10;
    base += 90;
  }
  return base + Math.ceil(ms / step) - 10;
}

/** The upper bound of bucket `i`, in ms (Infinity for the overflow bucket). */
export function upperBound(i: number): number {
  if (i <= 10) return i;
  if (i >= OVERFLOW) return Infinity;
  const decade = Math.floor((i - 11) / 90);
  return (i - 90 * decade) * 10 ** decade;
}

/** Flat sparse form of a histogram for storage and the wire: [bucket, count, bucket, count, ...]. */
export type SparseHistogram = number[];

export function toSparse(dense: ArrayLike<number>): SparseHistogram {
  const out: number[] = [];
  for (let i = 0; i < dense.length; i++) if (dense[i]! > 0) out.push(i, dense[i]!);
  return out;
}

/** Adds a sparse histogram into a dense one; malformed pairs (from storage or the wire) are skipped. */
export function addSparse(dense: { [i: number]: number; length: number }, sparse: SparseHistogram): void {
  for (let i = 0; i + 1 < sparse.length; i += 2) {
    const bucket = sparse[i]!, count = sparse[i + 1]!;
    if (Number.isInteger(bucket) && bucket >= 0 && bucket < dense.length && count > 0) dense[bucket]! += count;
  }
}

/** Adds two sparse histograms. */
export function mergeSparse(a: SparseHistogram, b: SparseHistogram): SparseHistogram {
  if (a.length === 0) return b.slice();
  if (b.length === 0) return a.slice();
  const dense = new Float64Array(BUCKETS);
  addSparse(dense, a);
  addSparse(dense, b);
  return toSparse(dense);
}

/** The nearest-rank `q` quantile (0 < q <= 1) as its bucket's upper bound in ms; null when empty. */
export function quantile(dense: ArrayLike<number>, q: number): number | null {
  let count = 0;
  for (let i = 0; i < dense.length; i++) count += dense[i]!;
  if (count === 0) return null;
  const rank = Math.max(1, Math.ceil(q * count));
  let seen = 0;
  for (let i = 0; i < dense.length; i++) {
    seen += dense[i]!;
    if (seen >= rank) return i >= OVERFLOW ? MAX_MS : upperBound(i);
  }
  return null;
}

/** Observations at or under `boundMs` (which must be a bucket bound for the answer to be exact). */
export function countAtMost(dense: ArrayLike<number>, boundMs: number): number {
  let count = 0;
  for (let i = 0; i < dense.length && upperBound(i) <= boundMs; i++) count += dense[i]!;
  return count;
}
