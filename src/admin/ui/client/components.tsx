/** Pieces the pages share: the error note, a confirmation dialog, usage bars, and the SVG chart. */
import { useEffect, useRef } from "hono/jsx/dom";
import { ApiError } from "./api.ts";
import { dateTime, number } from "./format.ts";
import type { Usage } from "./types.ts";

/** An error as the gateway said it: the envelope's message, its code and the request id. */
export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null;
  const e = error instanceof ApiError ? error : new ApiError(0, "client_error", error instanceof Error ? error.message : String(error), null);
  return (
    <div class="error" role="alert">
      <strong>{e.message}</strong>{" "}
      <span class="muted">({e.code}{e.status ? `, HTTP ${e.status}` : ""}{e.requestId ? `, request id ${e.requestId}` : ""})</span>
    </div>
  );
}

export interface PendingConfirm {
  title: string;
  body: string;
  confirm: string;
  run: () => Promise<void> | void;
}

/** A modal <dialog>: focus moves into it, Escape cancels, and the page behind is inert. */
export function ConfirmDialog({ pending, onClose }: { pending: PendingConfirm | null; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (pending && !dialog.open) dialog.showModal();
    if (!pending && dialog.open) dialog.close();
  }, [pending]);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    const cancel = () => onClose();
    dialog.addEventListener("close", cancel);
    return () => dialog.removeEventListener("close", cancel);
  }, [onClose]);
  return (
    <dialog ref={ref} aria-labelledby="confirm-title" aria-describedby="confirm-body">
      <h2 id="confirm-title">{pending?.title ?? ""}</h2>
      <p id="confirm-body">{pending?.body ?? ""}</p>
      <div class="actions">
        <button type="button" onClick={() => onClose()}>Cancel</button>
        <button type="button" class="danger" onClick={async () => { const run = pending?.run; onClose(); await run?.(); }}>{pending?.confirm ?? "Confirm"}</button>
      </div>
    </dialog>
  );
}

/** One bar per limit of the key's plan: used of limit, and when it resets. */
export function UsageBars({ usage }: { usage: Usage }) {
  return (
    <div class="usage">
      {usage.quota ? (
        <div class="bar">
          <label for={`quota-${usage.keyId}`}>Quota per {usage.quota.period}: {number(usage.quota.used)} of {number(usage.quota.limit)} used</label>
          <meter id={`quota-${usage.keyId}`} min={0} max={usage.quota.limit} value={usage.quota.used} low={usage.quota.limit * 0.8} high={usage.quota.limit * 0.95} optimum={0}>
            {usage.quota.used} of {usage.quota.limit}
          </meter>
          <span class="muted">resets {dateTime(usage.quota.periodEnd)}</span>
        </div>
      ) : null}
      {usage.rate ? (
        <div class="bar">
          <label for={`rate-${usage.keyId}`}>Rate: {number(usage.rate.used)} of a burst of {number(usage.rate.burst)} in use ({number(usage.rate.limit)} per {number(usage.rate.perMs / 1000, 0)} s)</label>
          <meter id={`rate-${usage.keyId}`} min={0} max={usage.rate.burst} value={usage.rate.used} low={usage.rate.burst * 0.8} high={usage.rate.burst * 0.95} optimum={0}>
            {usage.rate.used} of {usage.rate.burst}
          </meter>
          <span class="muted">full again {dateTime(usage.rate.fullAt)}</span>
        </div>
      ) : null}
    </div>
  );
}

export interface ChartSeries { label: string; points: readonly { at: number; value: number | null }[] }

const W = 640, H = 180, PAD_L = 56, PAD_R = 12, PAD_T = 12, PAD_B = 28;

/**
 * A line chart in plain SVG, one line per series. Hand-written rather than uPlot: this is all the
 * Overview needs, it adds 0.7 KB gzipped to the console where uPlot would add 22.8 KB (measured:
 * docs/console.md), and SVG attributes need no inline styles, which the page's CSP forbids.
 */
export function Chart({ title, series, format }: { title: string; series: readonly ChartSeries[]; format: (v: number) => string }) {
  const all = series.flatMap((s) => s.points.filter((p) => p.value !== null)) as { at: number; value: number }[];
  const latest = series.map((s) => {
    const last = [...s.points].reverse().find((p) => p.value !== null);
    return `${s.label}: ${last ? format(last.value!) : "no data"}`;
  }).join("; ");
  if (all.length === 0) {
    return (
      <figure class="chart">
        <figcaption>{title}</figcaption>
        <p class="muted">No data yet.</p>
      </figure>
    );
  }
  const t0 = Math.min(...all.map((p) => p.at)), t1 = Math.max(...all.map((p) => p.at));
  const top = Math.max(...all.map((p) => p.value)) || 1;
  const x = (at: number) => PAD_L + (t1 === t0 ? (W - PAD_L - PAD_R) : ((at - t0) / (t1 - t0)) * (W - PAD_L - PAD_R));
  const y = (v: number) => PAD_T + (1 - v / top) * (H - PAD_T - PAD_B);
  const time = (at: number) => new Date(at).toISOString().slice(11, 19);
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${title}. Latest: ${latest}`}>
        <line class="axis" x1={PAD_L} y1={H - PAD_B} x2={W - PAD_R} y2={H - PAD_B} />
        <line class="axis" x1={PAD_L} y1={PAD_T} x2={PAD_L} y2={H - PAD_B} />
        <text class="tick" x={PAD_L - 6} y={PAD_T + 4} text-anchor="end">{format(top)}</text>
        <text class="tick" x={PAD_L - 6} y={H - PAD_B} text-anchor="end">0</text>
        <text class="tick" x={PAD_L} y={H - 8}>{time(t0)}</text>
        <text class="tick" x={W - PAD_R} y={H - 8} text-anchor="end">{time(t1)}</text>
        {series.map((s, i) => {
          const pts = s.points.filter((p) => p.value !== null).map((p) => `${x(p.at).toFixed(1)},${y(p.value!).toFixed(1)}`);
          return pts.length === 1
            ? <circle class={`s${i % 6}`} cx={pts[0]!.split(",")[0]} cy={pts[0]!.split(",")[1]} r={3} />
            : <polyline class={`line s${i % 6}`} points={pts.join(" ")} />;
        })}
      </svg>
      <ul class="legend">
        {series.map((s, i) => <li><span class={`swatch s${i % 6}`} aria-hidden="true"></span>{s.label}</li>)}
      </ul>
    </figure>
  );
}
