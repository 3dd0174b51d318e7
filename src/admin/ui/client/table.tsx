/** Plans and routes: read-only views of the route table, each route with the policies that run on it in order. */
import { useEffect, useState } from "hono/jsx/dom";
import { api } from "./api.ts";
import { ErrorNote } from "./components.tsx";
import { authText, number } from "./format.ts";
import type { Plan, RouteView } from "./types.ts";

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function limitsText(route: RouteView): string {
  const parts: string[] = [];
  if (isObject(route.rateLimit)) parts.push(`plan ${String(route.rateLimit.plan)} by ${String(route.rateLimit.by)}`);
  if (isObject(route.auth) && (route.auth.apiKey === true || isObject(route.auth.apiKey))) parts.push("the key's own plan");
  if (typeof route.cost === "number" && route.cost !== 1) parts.push(`cost ${route.cost}`);
  if (parts.length === 0) return "none";
  return parts.join("; ");
}

function cacheText(route: RouteView): string {
  if (!isObject(route.cache)) return "off";
  const swr = typeof route.cache.staleWhileRevalidateSec === "number" && route.cache.staleWhileRevalidateSec > 0 ? `, stale ${route.cache.staleWhileRevalidateSec} s` : "";
  return `${String(route.cache.ttlSec)} s${swr}`;
}

/** The origin and its targets: the URL, or each target an origin lists (weighted targets, when configured). */
function OriginCell({ route }: { route: RouteView }) {
  if (isObject(route.room)) return <span>WebSocket room <span class="mono">{String(route.room.name)}</span></span>;
  const origin = route.origin;
  if (!origin) return <span>answered by the gateway</span>;
  const targets = Array.isArray(origin.targets) ? origin.targets.filter(isObject) : [];
  return (
    <div>
      <strong>{origin.name}</strong>{typeof origin.url === "string" ? <div class="mono">{origin.url}</div> : null}
      {targets.length ? <ul class="plain">{targets.map((t) => <li class="mono">{String(t.url ?? t.service ?? JSON.stringify(t))}{typeof t.weight === "number" ? ` (weight ${t.weight})` : ""}</li>)}</ul> : null}
      {typeof origin.timeoutMs === "number" ? <div class="muted">timeout {number(origin.timeoutMs)} ms</div> : null}
    </div>
  );
}

export function TablePage() {
  const [plans, setPlans] = useState<Plan[] | null>(null);
  const [routes, setRoutes] = useState<RouteView[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    Promise.all([api<{ plans: Plan[] }>("/plans"), api<{ routes: RouteView[] }>("/routes")])
      .then(([p, r]) => { setPlans(p.plans); setRoutes(r.routes); }, setError);
  }, []);
  return (
    <>
      <ErrorNote error={error} />
      <section class="panel" aria-labelledby="plans-title">
        <h2 id="plans-title">Plans</h2>
        <table>
          <thead><tr><th scope="col">Plan</th><th scope="col">Rate</th><th scope="col">Quota</th><th scope="col">If the counter is unreachable</th></tr></thead>
          <tbody>
            {plans && plans.length === 0 ? <tr><td colSpan={4}>No plans in the route table.</td></tr> : null}
            {(plans ?? []).map((p) => (
              <tr>
                <th scope="row">{p.name}</th>
                <td>{p.rate ? `${number(p.rate.limit)} per ${p.rate.per}, burst ${number(p.rate.burst)}` : "—"}</td>
                <td>{p.quota ? `${number(p.quota.limit)} per ${p.quota.per}` : "—"}</td>
                <td>{p.onLimiterError === "open" ? "admit (open)" : "refuse with 503 (closed)"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section class="panel" aria-labelledby="routes-title">
        <h2 id="routes-title">Routes</h2>
        <table class="routes">
          <thead><tr><th scope="col">Route</th><th scope="col">Match</th><th scope="col">Auth</th><th scope="col">Limits</th><th scope="col">Cache</th><th scope="col">Origin and targets</th><th scope="col">Policies, in order</th></tr></thead>
          <tbody>
            {(routes ?? []).map((r) => (
              <tr>
                <th scope="row" class="mono">{r.id}</th>
                <td><span class="mono">{(r.methods ?? ["any method"]).join(" ")} {r.host ? `${r.host}` : ""}{r.path}</span></td>
                <td>{authText(r.auth)}</td>
                <td>{limitsText(r)}</td>
                <td>{cacheText(r)}</td>
                <td><OriginCell route={r} /></td>
                <td>{r.policies.length ? <ol class="chain">{r.policies.map((p) => <li>{p}</li>)}</ol> : <span class="muted">none (forwarded as is)</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </>
  );
}
