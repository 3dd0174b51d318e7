/** The raw-runs table shared by the HTTP load scenarios (jwt, api-key-quota). */
import type { LoadResult } from "./load.ts";
import { fmt, table } from "./results.ts";

const HEAD = ["run", "offered req/s", "req/s (2xx)", "p50 ms", "p90 ms", "p99 ms", "max ms", "workerd CPU us/req", "requests", "non-2xx", "errors", "s"];

export function rawRunsTable(runs: LoadResult[]): string {
  return table(HEAD, runs.map((r) => [
    r.label, r.rate ? fmt(r.rate, 0) : "max", fmt(r.rps, 0), fmt(r.p50), fmt(r.p90), fmt(r.p99), fmt(r.max),
    fmt(r.cpuUsPerRequest, 1), r.requests, r.non2xx, r.errors, fmt(r.seconds, 1),
  ]));
}

/** "+12.3" / "-0.4" */
export const signed = (value: number | undefined, digits = 1): string =>
  value === undefined || Number.isNaN(value) ? "-" : `${value >= 0 ? "+" : ""}${fmt(value, digits)}`;
