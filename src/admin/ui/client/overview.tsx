/**
 * Overview: requests per minute, error rate and p50/p99 latency per route from the metrics API, or,
 * on a gateway without it (404), requests per minute from key usage. Refreshes every REFRESH_MS.
 */
import { useEffect, useRef, useState } from "hono/jsx/dom";
import { api, ApiError, queryString } from "./api.ts";
import { Chart, ErrorNote, type ChartSeries } from "./components.tsx";
import { number, percent } from "./format.ts";
import { readMetrics, UsageSampler, type RouteSeries } from "./metrics.ts";
import type { KeyPage, Usage } from "./types.ts";

const REFRESH_MS = 5_000;
const WINDOW_MS = 30 * 60_000;
const STEP = "60s";
/** Routes charted (the busiest of the window): more lines than this do not read. */
const MAX_ROUTES = 12;
/** Keys sampled for the fallback (one usage read each per refresh). */
const MAX_KEYS = 20;

/** Whether this gateway has the metrics API: false once it answered 404 (for this page load). */
const hasMetrics: { current: boolean | null } = { current: null };

type Source = { kind: "loading" } | { kind: "metrics"; routes: RouteSeries[]; more: number } | { kind: "usage"; series: ChartSeries; keys: { id: string; name: string; owner: string; used: number | null; limit: number | null; perMinute: number | null }[] };

export function OverviewPage() {
  const [source, setSource] = useState<Source>({ kind: "loading" });
  const [error, setError] = useState<unknown>(null);
  const [updated, setUpdated] = useState<string>("");
  const sampler = useRef(new UsageSampler());

  useEffect(() => {
    let stopped = false;
    // A slow gateway must not pile refreshes up: one at a time, the next tick skipped while one runs.
    let running = false;
    const readUsage = async () => {
      const page = await api<KeyPage>(`/keys${queryString({ limit: MAX_KEYS })}`);
      const active = page.keys.filter((k) => k.status === "active");
      const usages = await Promise.all(active.map((k) => api<Usage>(`/keys/${k.id}/usage`).catch(() => null)));
      const used = new Map<string, number>();
      usages.forEach((u, i) => { if (u?.quota) used.set(active[i]!.id, u.quota.used); });
      sampler.current.add(Date.now(), used);
      const series: ChartSeries = { label: "All sampled keys", points: sampler.current.series().map((p) => ({ at: p.at, value: p.perMinute })) };
      const keys = active.map((k, i) => ({ id: k.id, name: k.name, owner: k.owner, used: usages[i]?.quota?.used ?? null, limit: usages[i]?.quota?.limit ?? null, perMinute: sampler.current.rateOf(k.id) }));
      return { kind: "usage", series, keys } as const;
    };
    const readRoutes = async () => {
      // One call: every route with traffic in the window (the API reads its 16 shards in parallel).
      const to = Math.floor(Date.now() / 1000), from = to - WINDOW_MS / 1000;
      const reading = await api(`/metrics${queryString({ from, to, step: STEP })}`, { read: readMetrics });
      const busiest = [...reading.routes].sort((a, b) => b.totals.requests - a.totals.requests || a.id.localeCompare(b.id));
      const routes = busiest.slice(0, MAX_ROUTES).sort((a, b) => a.id.localeCompare(b.id));
      return { kind: "metrics", routes, more: busiest.length - routes.length } as const;
    };
    const refresh = async () => {
      if (running || stopped) return;
      running = true;
      // Everything a refresh does is inside this try: whatever fails (an error answer, an answer
      // the console cannot read, a bug) is shown as the error note, and the page never stays on
      // "Loading…" without saying why.
      try {
        let next: Source | null = null;
        if (hasMetrics.current !== false) {
          try {
            next = await readRoutes();
            hasMetrics.current = true;
          } catch (err) {
            // 404: this gateway was built without the metrics recorder (the page falls back for good).
            if (!(err instanceof ApiError && err.status === 404 && hasMetrics.current === null)) throw err;
            hasMetrics.current = false;
          }
        }
        next ??= await readUsage();
        if (!stopped) { setSource(next); setError(null); setUpdated(new Date().toISOString().slice(11, 19)); }
      } catch (err) {
        if (!stopped) setError(err);
      } finally {
        running = false;
      }
    };
    void refresh();
    const timer = setInterval(() => void refresh(), REFRESH_MS);
    return () => { stopped = true; clearInterval(timer); };
  }, []);

  return (
    <section aria-labelledby="overview-source">
      <p id="overview-source" class="muted" aria-live="polite">
        {source.kind === "metrics" ? `From the metrics API: the last 30 minutes per minute, per route. Updated ${updated} UTC; refreshes every ${REFRESH_MS / 1000} s.`
          : source.kind === "usage" ? `This gateway has no metrics API, so the page shows requests per minute from key usage: the quota counters of up to ${MAX_KEYS} active keys, sampled every ${REFRESH_MS / 1000} s since this page opened (keys whose plan has no quota are not counted). Error rates and latency need the metrics API. Updated ${updated} UTC.`
          : error ? `The overview could not be loaded; it tries again every ${REFRESH_MS / 1000} s.`
          : "Loading…"}
      </p>
      <ErrorNote error={error} />
      {source.kind === "metrics" ? <MetricsCharts routes={source.routes} more={source.more} /> : null}
      {source.kind === "usage" ? <UsageCharts series={source.series} keys={source.keys} /> : null}
    </section>
  );
}

function MetricsCharts({ routes, more }: { routes: RouteSeries[]; more: number }) {
  if (routes.length === 0) return <p>No requests in the last 30 minutes.</p>;
  const of = (pick: (p: RouteSeries["points"][number]) => number | null): ChartSeries[] => routes.map((r) => ({ label: r.id, points: r.points.map((p) => ({ at: p.at, value: pick(p) })) }));
  return (
    <>
      <div class="charts">
        <Chart title="Requests per minute" series={of((p) => p.perMinute)} format={(v) => number(v, v < 10 ? 1 : 0)} />
        <Chart title="Error rate (4xx and 5xx)" series={of((p) => p.errorRate)} format={percent} />
        <Chart title="Latency p50 (ms)" series={of((p) => p.p50)} format={(v) => number(v, 1)} />
        <Chart title="Latency p99 (ms)" series={of((p) => p.p99)} format={(v) => number(v, 1)} />
      </div>
      <table>
        <caption>Last 30 minutes per route{more > 0 ? ` (the ${routes.length} busiest; ${more} more not shown)` : ""}</caption>
        <thead><tr><th scope="col">Route</th><th scope="col">Requests</th><th scope="col">Error rate</th><th scope="col">p50 ms</th><th scope="col">p99 ms</th></tr></thead>
        <tbody>
          {routes.map((r) => (
            <tr><th scope="row">{r.id}</th><td>{number(r.totals.requests)}</td><td>{percent(r.totals.errorRate)}</td><td>{number(r.totals.p50, 1)}</td><td>{number(r.totals.p99, 1)}</td></tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function UsageCharts({ series, keys }: { series: ChartSeries; keys: { id: string; name: string; owner: string; used: number | null; limit: number | null; perMinute: number | null }[] }) {
  return (
    <>
      <div class="charts">
        <Chart title="Requests per minute (admitted, from key quotas)" series={[series]} format={(v) => number(v, v < 10 ? 1 : 0)} />
      </div>
      <table>
        <caption>Sampled keys</caption>
        <thead><tr><th scope="col">Key</th><th scope="col">Owner</th><th scope="col">Quota used</th><th scope="col">Requests/min</th></tr></thead>
        <tbody>
          {keys.length === 0 ? <tr><td colSpan={4}>No active keys.</td></tr> : keys.map((k) => (
            <tr><th scope="row">{k.name} <span class="muted">{k.id}</span></th><td>{k.owner}</td><td>{k.used === null ? "no quota" : `${number(k.used)} of ${number(k.limit)}`}</td><td>{number(k.perMinute, 1)}</td></tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
