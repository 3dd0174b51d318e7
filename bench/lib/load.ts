/**
 * Load generators.
 *
 * - `maxThroughput`: autocannon (programmatic API), fixed connections, bounded duration. Its own
 *   latency histogram has 1 ms resolution (integer buckets), too coarse for a +0.5 ms target, so
 *   every response time (a float in ms, from autocannon's 'response' event) is kept and
 *   percentiles are computed exactly here.
 * - `pacedLoad`: an open-loop, evenly paced load at a fixed rate (for "p50 at half load").
 *   autocannon's `overallRate` gives each connection a per-second budget that it spends
 *   back-to-back at the start of every second (httpClient.js: `reqsMadeThisSecond`), so at "50%"
 *   it runs at full speed half of each second and its latencies are those of full load. Here each
 *   request is sent at its scheduled time (1/rate apart) on a keep-alive pool, and its latency is
 *   counted from that scheduled time, so a stalled server cannot hide queueing (no coordinated
 *   omission).
 */
import { Agent, request } from "node:http";
import { createRequire } from "node:module";
import { cpuMs } from "./cpu.ts";

export interface LoadResult {
  label: string;
  /** 2xx responses per second over the run. */
  rps: number;
  requests: number;
  non2xx: number;
  errors: number;
  seconds: number;
  /** Latency percentiles in ms. */
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** Target rate of a paced run. */
  rate?: number;
  /** CPU time the measured server process (`cpuPid`) used per 2xx response, in us. */
  cpuUsPerRequest?: number;
}

function cpuPerRequest(pid: number | undefined, before: number | undefined, ok: number): number | undefined {
  const after = cpuMs(pid);
  return before === undefined || after === undefined || ok === 0 ? undefined : ((after - before) * 1000) / ok;
}

interface AutocannonResult {
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  "2xx": number;
  requests: { total: number; average: number };
}
interface AutocannonInstance {
  on(event: "response", listener: (client: unknown, status: number, bytes: number, ms: number) => void): void;
  then: Promise<AutocannonResult>["then"];
}
type Autocannon = (options: Record<string, unknown>) => AutocannonInstance;

// autocannon ships no type declarations; the shape used is declared above.
const autocannon = createRequire(import.meta.url)("autocannon") as Autocannon;

/** Exact percentile of `samples` (ms), sorted in place. */
function percentiles(samples: Float64Array): { p50: number; p90: number; p99: number; max: number } {
  if (samples.length === 0) return { p50: NaN, p90: NaN, p99: NaN, max: NaN };
  samples.sort();
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: samples[samples.length - 1]! };
}

class Samples {
  private data = new Float64Array(1 << 16);
  length = 0;
  push(value: number): void {
    if (this.length === this.data.length) {
      const grown = new Float64Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = value;
  }
  view(): Float64Array {
    return this.data.subarray(0, this.length);
  }
}

export interface ThroughputOptions {
  connections: number;
  /** A server process whose CPU time per request to report (workerd). */
  cpuPid?: number | undefined;
  seconds: number;
  headers?: Record<string, string>;
  /** Headers taken in turn, one set per request across all connections (e.g. a new token each time). */
  headerCycle?: Record<string, string>[];
  /** Method and body of every request (default GET, none). */
  method?: string;
  body?: string;
}

export async function maxThroughput(label: string, url: string, options: ThroughputOptions): Promise<LoadResult> {
  const samples = new Samples();
  const cpuBefore = cpuMs(options.cpuPid);
  const instance = autocannon({
    url,
    connections: options.connections,
    duration: options.seconds,
    pipelining: 1,
    headers: options.headers ?? {},
    ...(options.method ? { method: options.method } : {}),
    ...(options.body !== undefined ? { body: options.body } : {}),
    timeout: 10,
    ...(options.headerCycle ? { requests: [{ setupRequest: nextHeaders(options.headerCycle) }] } : {}),
  });
  instance.on("response", (_client, status, _bytes, ms) => {
    if (status >= 200 && status < 300) samples.push(ms);
  });
  const result = await instance;
  const ok = result["2xx"];
  return {
    label,
    rps: ok / result.duration,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    seconds: result.duration,
    ...percentiles(samples.view()),
    cpuUsPerRequest: cpuPerRequest(options.cpuPid, cpuBefore, ok),
  };
}

export interface PacedOptions {
  /** Requests per second. */
  rate: number;
  seconds: number;
  /** Upper bound of open keep-alive connections. */
  maxSockets: number;
  /** A server process whose CPU time per request to report (workerd). */
  cpuPid?: number | undefined;
  headers?: Record<string, string>;
  /** Headers taken in turn, one set per request (added to `headers`). */
  headerCycle?: Record<string, string>[];
}

export async function pacedLoad(label: string, url: string, options: PacedOptions): Promise<LoadResult> {
  return (await pacedMix([{ label, url }], options))[0]!;
}

/**
 * One paced run whose requests go to `targets` in turn (request i to target i mod n), each target's
 * latencies kept apart: the targets share every moment of the run, so drift of a shared machine
 * hits them alike (for comparing tail latencies, which separate runs cannot). `rate` is the total.
 * CPU per request is the run's, over all targets' responses.
 */
export async function pacedMix(targets: { label: string; url: string }[], options: PacedOptions): Promise<LoadResult[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets });
  const state = targets.map((t) => ({ ...t, target: new URL(t.url), samples: new Samples(), ok: 0, non2xx: 0, errors: 0, sent: 0, inFlight: 0 }));
  let sent = 0;
  const total = Math.round(options.rate * options.seconds);
  const cpuBefore = cpuMs(options.cpuPid);
  const started = performance.now();
  const interval = 1000 / options.rate;

  const fire = (scheduled: number, s: (typeof state)[number]) =>
    new Promise<void>((resolve) => {
      s.inFlight++;
      const headers = options.headerCycle ? { ...options.headers, ...options.headerCycle[s.sent % options.headerCycle.length] } : options.headers;
      s.sent++;
      const req = request({ agent, host: s.target.hostname, port: s.target.port, path: s.target.pathname + s.target.search, headers }, (res) => {
        res.on("data", () => {});
        res.on("end", () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            s.ok++;
            s.samples.push(performance.now() - scheduled);
          } else s.non2xx++;
          s.inFlight--;
          resolve();
        });
      });
      req.on("error", () => {
        s.errors++;
        s.inFlight--;
        resolve();
      });
      req.end();
    });

  const pending: Promise<void>[] = [];
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (sent < total && started + sent * interval <= now) {
        pending.push(fire(started + sent * interval, state[sent % state.length]!));
        sent++;
      }
      if (sent >= total) return resolve();
      setTimeout(tick, 0);
    };
    tick();
  });
  // In-flight requests finish (bounded: the origin answers at once; 10 s at most).
  await Promise.race([Promise.all(pending), new Promise((r) => setTimeout(r, 10_000).unref())]);
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  const okAll = state.reduce((n, s) => n + s.ok, 0);
  const cpu = cpuPerRequest(options.cpuPid, cpuBefore, okAll);
  return state.map((s) => ({
    // Requests still in flight after the grace period count as errors.
    label: s.label, rps: s.ok / seconds, requests: s.sent, non2xx: s.non2xx, errors: s.errors + s.inFlight, seconds,
    rate: options.rate / state.length, ...percentiles(s.samples.view()), cpuUsPerRequest: cpu,
  }));
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/**
 * Several runs of one target summed up: rates, percentiles and CPU per request are medians over
 * the runs (one run disturbed by another tenant does not drag the figure), counts are summed.
 */
export function medianOf(results: LoadResult[], label: string): LoadResult {
  const mid = (key: "rps" | "p50" | "p90" | "p99" | "max") => median(results.map((r) => r[key]));
  const out: LoadResult = {
    label,
    rps: mid("rps"), p50: mid("p50"), p90: mid("p90"), p99: mid("p99"), max: mid("max"),
    requests: results.reduce((s, r) => s + r.requests, 0),
    non2xx: results.reduce((s, r) => s + r.non2xx, 0),
    errors: results.reduce((s, r) => s + r.errors, 0),
    seconds: results.reduce((s, r) => s + r.seconds, 0),
  };
  if (results[0]?.rate !== undefined) out.rate = results[0].rate;
  const cpu = results.map((r) => r.cpuUsPerRequest).filter((v): v is number => v !== undefined);
  if (cpu.length === results.length && cpu.length > 0) out.cpuUsPerRequest = median(cpu);
  return out;
}

/**
 * Runs `run` on each target in `rounds` rounds, rotating which target goes first, so that drift of
 * a shared machine (other tenants, thermal, steal time) spreads over all targets instead of
 * favouring the ones measured first. Returns every run, labelled `<label> #<round>`.
 */
export async function interleaved<T extends { label: string }>(
  targets: T[],
  rounds: number,
  run: (target: T, label: string) => Promise<LoadResult>,
): Promise<Map<string, LoadResult[]>> {
  const out = new Map<string, LoadResult[]>(targets.map((t) => [t.label, []]));
  for (let round = 0; round < rounds; round++) {
    // Rounds alternate direction (A B C, C B A, ...) and rotate, so every target runs early and late.
    const order = targets.map((_, i) => targets[(i + round) % targets.length]!);
    if (round % 2 === 1) order.reverse();
    for (const target of order) out.get(target.label)!.push(await run(target, `${target.label} #${round + 1}`));
  }
  return out;
}

/** An autocannon setupRequest that gives each request the next header set of `cycle`. */
function nextHeaders(cycle: Record<string, string>[]) {
  let next = 0;
  return (request: { headers?: Record<string, string> }) => {
    request.headers = { ...request.headers, ...cycle[next++ % cycle.length] };
    return request;
  };
}
