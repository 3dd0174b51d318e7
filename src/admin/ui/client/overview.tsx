/**
 * Overview: requests per minute, error rate and p50/p99 latency per route from the metrics API, or,
 * on a gateway without it (404), requests per minute from key usage. Refreshes every REFRESH_MS.
 */
import { useEffect, useRef, useState } from "hono/jsx/dom";
import { api, ApiError, queryString } from "./api.ts";
import { Chart, ErrorNote, type ChartSeries } from "./components.tsx";
import { number, percent } from "./format.ts";
import { readMetrics, UsageSampler, type Point } from "./metrics.ts";
import type { KeyPage, RouteView, Usage } from "./types.ts";

const REFRESH_MS = 5_000;
const WINDOW_MS = 30 * 60_000;
const STEP_S = 60;
/** Routes charted from the metrics API (one request each per refresh). */
const MAX_ROUTES = 12;
/** Keys sampled for the fallback (one usage read each per refresh). */
const MAX_KEYS = 20;

/** Whether this gateway has the metrics API: asked once per page load (null until then). */
const hasMetrics: { current: boolean | null } = { current: null };

type Source = { kind: "loading" } | { kind: "metrics"; routes: { id: string; points: Point[] }[] } | { kind: "usage"; series: ChartSeries; keys: { id: string; name: string; owner: string; used: number | null; limit: number | null; perMinute: number | null }[] };

export function OverviewPage() {
  const [source, setSource] = useState<Source>({ kind: "loading" });
  const [error, setError] = useState<unknown>(null);
  const [updated, setUpdated] = useState<string>("");
  const sampler = useRef(new UsageSampler());
  const routeIds = useRef<string[] | null>(null);

  useEffect(() => {
    let stopped = false;
    const refresh = async () => {
      try {
        routeIds.current ??= (await api<{ routes: RouteView[] }>("/routes")).routes.map((r) => r.id).slice(0, MAX_ROUTES);
        const to = Date.now(), from = to - WINDOW_MS;
        if (hasMetrics.current === null) {
          // One call finds out whether this gateway has the metrics API: 404 means it has not.
          try {
            await api<unknown>(`/metrics${queryString({ from, to, step: STEP_S })}`);
            hasMetrics.current = true;
          } catch (err) {
            if (!(err instanceof ApiError && err.status === 404)) throw err;
            hasMetrics.current = false;
          }
        }
        if (hasMetrics.current) {
          const routes = await Promise.all(routeIds.current.map(async (id) => {
            const body = await api<unknown>(`/metrics${queryString({ route: id, from, to, step: STEP_S })}`);
            const points = readMetrics(body, STEP_S * 1000);
            if (points === null) throw new ApiError(0, "metrics_unreadable", "The metrics API answered in a shape this console does not read.", null);
            return { id, points };
          }));
          if (!stopped) setSource({ kind: "metrics", routes });
        }
        if (hasMetrics.current === false) {
          const page = await api<KeyPage>(`/keys${queryString({ limit: MAX_KEYS })}`);
          const active = page.keys.filter((k) => k.status === "active");
          const usages = await Promise.all(active.map((k) => api<Usage>(`/keys/${k.id}/usage`).catch(() => null)));
          const used = new Map<string, number>();
          usages.forEach((u, i) => { if (u?.quota) used.set(active[i]!.id, u.quota.used); });
          sampler.current.add(Date.now(), used);
          const series: ChartSeries = { label: "All sampled keys", points: sampler.current.series().map((p) => ({ at: p.at, value: p.perMinute })) };
          const keys = active.map((k, i) => ({ id: k.id, name: k.name, owner: k.owner, used: usages[i]?.quota?.used ?? null, limit: usages[i]?.quota?.limit ?? null, perMinute: sampler.current.rateOf(k.id) }));
          if (!stopped) setSource({ kind: "usage", series, keys });
        }
        if (!stopped) { setError(null); setUpdated(new Date().toISOString().slice(11, 19)); }
      } catch (err) {
        if (!stopped) setError(err);
      }
    };
    void refresh();
    const timer = setInterval(refresh, REFRESH_MS);
    return () => { stopped = true; clearInterval(timer); };
  }, []);

  return (
    <section aria-labelledby="overview-source">
      <p id="overview-source" class="muted" aria-live="polite">
        {source.kind === "metrics" ? `From the metrics API: the last 30 minutes per minute, per route. Updated ${updated} UTC; refreshes every ${REFRESH_MS / 1000} s.`
          : source.kind === "usage" ? `This gateway has no metrics API, so the page shows requests per minute from key usage: the quota counters of up to ${MAX_KEYS} active keys, sampled every ${REFRESH_MS / 1000} s since this page opened (keys whose plan has no quota are not counted). Error rates and latency need the metrics API. Updated ${updated} UTC.`
          : "Loading…"}
      </p>
      <ErrorNote error={error} />
      {source.kind === "metrics" ? <MetricsCharts routes={source.routes} /> : null}
      {source.kind === "usage" ? <UsageCharts series={source.series} keys={source.keys} /> : null}
    </section>
  );
}

function MetricsCharts({ routes }: { routes: { id: string; points: Point[] }[] }) {
  const of = (pick: (p: Point) => number | null): ChartSeries[] => routes.map((r) => ({ label: r.id, points: r.points.map((p) => ({ at: p.at, value: pick(p) })) }));
  const last = (r: { points: Point[] }) => r.points[r.points.length - 1];
  return (
    <>
      <div class="charts">
        <Chart title="Requests per minute" series={of((p) => p.perMinute)} format={(v) => number(v, v < 10 ? 1 : 0)} />
        <Chart title="Error rate (4xx and 5xx)" series={of((p) => p.errorRate)} format={percent} />
        <Chart title="Latency p50 (ms)" series={of((p) => p.p50)} format={(v) => number(v, 1)} />
        <Chart title="Latency p99 (ms)" series={of((p) => p.p99)} format={(v) => number(v, 1)} />
      </div>
      <table>
        <caption>Last minute per route</caption>
        <thead><tr><th scope="col">Route</th><th scope="col">Requests/min</th><th scope="col">Error rate</th><th scope="col">p50 ms</th><th scope="col">p99 ms</th></tr></thead>
        <tbody>
          {routes.map((r) => (
            <tr><th scope="row">{r.id}</th><td>{number(last(r)?.perMinute, 1)}</td><td>{percent(last(r)?.errorRate)}</td><td>{number(last(r)?.p50, 1)}</td><td>{number(last(r)?.p99, 1)}</td></tr>
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
