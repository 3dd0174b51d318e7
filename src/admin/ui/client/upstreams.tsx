/**
 * Upstreams: is a backend out? Every origin with its settings and a table of its targets: weight,
 * the health board's verdict (stale ones marked), the last probe, and the circuit breaker of the
 * isolate that answered (`GET /upstreams`). Read when the page is shown and on Refresh; no polling,
 * since each call reads the health board object.
 */
import { useEffect, useRef, useState } from "hono/jsx/dom";
import { api, ApiError } from "./api.ts";
import { ErrorNote } from "./components.tsx";
import { dateTime, number } from "./format.ts";
import { breakerWords, healthWords, isOut, probeWords, readUpstreams, settingsLine, type Tone } from "./upstream-health.ts";
import type { UpstreamOrigin, UpstreamsAnswer } from "./types.ts";

/** A state as a word with a shape: out states are bold and boxed, so they stand out without colour. */
function State({ text, tone }: { text: string; tone: Tone }) {
  return <span class={`state ${tone}`}>{tone === "out" ? <strong>{text}</strong> : text}</span>;
}

function OriginSection({ origin, index }: { origin: UpstreamOrigin; index: number }) {
  const out = origin.targets.filter(isOut).length;
  const titleId = `upstream-${index}-title`;
  return (
    <section class="panel" aria-labelledby={titleId}>
      <h2 id={titleId}><span class="mono">{origin.name}</span> <span class="muted">({origin.kind})</span></h2>
      <p class="settings">{settingsLine(origin)}</p>
      <p>{out === 0 ? "All targets in rotation." : <strong>{number(out)} of {number(origin.targets.length)} targets out (drained, unhealthy or circuit open).</strong>}</p>
      <table class="upstreams">
        <caption class="sr-only">Targets of {origin.name}</caption>
        <thead><tr><th scope="col">Target</th><th scope="col">Weight</th><th scope="col">Health</th><th scope="col">Last probe</th><th scope="col">Circuit breaker</th></tr></thead>
        <tbody>
          {origin.targets.map((t) => {
            const health = healthWords(t.health);
            const breaker = breakerWords(t.breaker);
            const probedAt = t.health.checked ? t.health.checkedAt : null;
            return (
              <tr>
                <th scope="row"><span class="mono">{t.label}</span><div class="muted mono">{t.url ?? `service binding ${t.service ?? ""}`}</div></th>
                <td>{t.weight === 0 ? <State text="0 (drained)" tone="quiet" /> : number(t.weight)}</td>
                <td><State text={health.text} tone={health.tone} />{health.note ? <div class="muted">{health.note}</div> : null}</td>
                <td>{probeWords(t.health)}{probedAt ? <div class="muted">{dateTime(probedAt)}</div> : null}</td>
                <td><State text={breaker.text} tone={breaker.tone} />{breaker.note ? <div class="muted">{breaker.note}</div> : null}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}

export function UpstreamsPage() {
  const [answer, setAnswer] = useState<UpstreamsAnswer | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [older, setOlder] = useState(false);
  const [loading, setLoading] = useState(true);
  const running = useRef(false);

  const refresh = async () => {
    if (running.current) return;
    running.current = true;
    setLoading(true);
    try {
      setAnswer(await api("/upstreams", { read: readUpstreams }));
      setError(null);
      setOlder(false);
    } catch (err) {
      // 404: the gateway was built before the upstreams view existed (the admin API is on: the
      // console signed in with it). Anything else is shown as its envelope, keeping the last answer
      // on the page with its own time, so it reads as what it is.
      const missing = err instanceof ApiError && err.status === 404;
      setOlder(missing);
      setError(missing ? null : err);
    } finally {
      running.current = false;
      setLoading(false);
    }
  };
  useEffect(() => { void refresh(); }, []);

  return (
    <>
      <div class="inline">
        <button type="button" onClick={() => void refresh()} disabled={loading}>{loading ? "Refreshing…" : "Refresh"}</button>
        <p id="upstreams-status" role="status" class="muted">
          {answer ? `Answer of ${dateTime(answer.at)}.` : loading ? "Loading…" : "Could not load the upstreams."}
        </p>
      </div>
      <ErrorNote error={error} />
      {older ? <p class="notice">This gateway has no upstreams view (<span class="mono">GET /upstreams</span> answered 404): it is older than this console. Update the gateway to see upstream health here.</p> : null}
      {answer ? (
        <>
          <p class="notice" id="breaker-scope">
            Circuit breaker states are those of <strong>{answer.breakerScope}</strong>, the gateway isolate that answered, at {dateTime(answer.at)}:
            each isolate keeps its own, so another may see other states. Health verdicts come from the one shared health board.
          </p>
          {answer.origins.length === 0 ? <p>No origins in the route table.</p> : answer.origins.map((o, i) => <OriginSection origin={o} index={i} />)}
        </>
      ) : null}
    </>
  );
}
