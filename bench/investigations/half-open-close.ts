/**
 * Issue 8, item 5: after a close the Durable Object starts, how long the client's TCP connection
 * lives on. Plain `workerd serve`, the smallest Worker + object that shows it
 * (bench/investigations/workers/half-open-probe.js, no gateway code), real `ws` clients; each
 * variant in a fresh object, with a second client that stays in it. Not a benchmark (no load):
 * `npm run bench -- --only half-open-close` (about a minute: the slow variants wait for eviction).
 */
import { fileURLToPath } from "node:url";
import type { Socket } from "node:net";
import WebSocket from "ws";
import { fmt, table, type ScenarioReport } from "../lib/results.ts";
import type { Scenario, ScenarioContext } from "../lib/scenario.ts";
import { startWorkerd } from "../../tools/workerd.ts";

/** Longest wait for the TCP connection to end, in ms (eviction of an idle object comes at 10 s). */
const CAP_MS = 15_000;

interface Variant {
  name: string;
  what: string;
  /** Who closes: the object from its RPC, the object from an alarm, or the client. */
  closer: "rpc" | "alarm" | "client";
  /** What the leaving client sends first, if anything, waiting for the answer. */
  before?: "ping" | "message";
  /** The staying client sends a frame every 500 ms while we wait (the object never goes idle). */
  busy?: boolean;
  /** Accept with ws.accept() instead of the hibernation API. */
  plain?: boolean;
  /** webSocketClose answers the client's close with close() (default) or not. */
  reply?: boolean;
}

const VARIANTS: Variant[] = [
  { name: "silent", closer: "rpc", what: "hibernatable; the object closes it from an RPC (the push API's DELETE); the client never sent a frame" },
  { name: "pinged", closer: "rpc", before: "ping", what: "the same after the client sent \"ping\" (answered by the runtime; the object is not woken)" },
  { name: "messaged", closer: "rpc", before: "message", what: "the same after the client sent a message (webSocketMessage ran)" },
  { name: "alarm", closer: "alarm", what: "hibernatable; the object closes it from an alarm (the room's idle timeout and token expiry); silent client" },
  { name: "busy", closer: "rpc", busy: true, what: "as `silent`, while the other client sends a frame every 500 ms, so the object never idles" },
  { name: "client", closer: "client", what: "hibernatable; the client closes; webSocketClose answers with close() (as the room does)" },
  { name: "client-no-reply", closer: "client", reply: false, what: "hibernatable; the client closes; webSocketClose does not call close() (the runtime alone)" },
  { name: "plain", closer: "rpc", plain: true, what: "not hibernatable (ws.accept() and event listeners); the object closes it from an RPC; silent client" },
];

interface Outcome {
  /** ms from the close until the client's TCP connection ended; Infinity: still open at CAP_MS. */
  tcpEndedMs: number;
  /** The close code the client reported (ws reports it when the TCP connection ends), if it did. */
  clientCode: number | null;
  otherStillOpen: boolean;
}

export const halfOpenClose: Scenario = {
  name: "half-open-close",
  title: "Half-open close: the client's TCP connection after a close the Durable Object starts (issue 8, item 5)",
  optional: true,
  async run(ctx: ScenarioContext): Promise<ScenarioReport> {
    const workerd = await startWorkerd({
      services: [{
        name: "probe",
        modules: [{ name: "half-open-probe.js", path: fileURLToPath(new URL("./workers/half-open-probe.js", import.meta.url)) }],
        compatibilityDate: ctx.compatibilityDate,
        durableObjects: [{ binding: "PROBES", className: "HalfOpenProbe", sql: true }],
      }],
      sockets: { http: "probe" },
    }, ctx.outDir, "half-open");
    try {
      const base = workerd.urls.http!;
      const outcomes: Outcome[] = [];
      for (const variant of VARIANTS) {
        const outcome = await measure(base, variant, `${variant.name}-${Date.now()}`);
        ctx.log(`${variant.name}: TCP ended ${ended(outcome)}, client code ${outcome.clientCode ?? "-"}, other client ${outcome.otherStillOpen ? "open" : "CLOSED"}`);
        outcomes.push(outcome);
      }
      const rows = VARIANTS.map((v, i) => [`\`${v.name}\``, v.what, ended(outcomes[i]!), outcomes[i]!.clientCode ?? "-", outcomes[i]!.otherStillOpen ? "yes" : "**no**"]);
      const markdown = [
        `workerd serve, compatibility date ${ctx.compatibilityDate}, \`bench/investigations/workers/half-open-probe.js\`. Each variant: a fresh object, two \`ws\` clients (one stays), one close (4001 "bye" from the object, 4000 from the client), the time until the leaving client's TCP socket emits 'close' (capped at ${CAP_MS / 1000} s). One run each: the outcomes are either a few ms or the object's eviction (10 s after it last had work), not a distribution.`,
        "",
        table(["variant", "what", "TCP connection ended after", "client's close code", "other client still open"], rows),
      ].join("\n");
      return { markdown, checks: [], summary: VARIANTS.map((v, i) => `${v.name.padEnd(16)} TCP ended ${ended(outcomes[i]!)}`) };
    } finally {
      await workerd.stop();
    }
  },
};

function ended(outcome: Outcome): string {
  return Number.isFinite(outcome.tcpEndedMs) ? `${fmt(outcome.tcpEndedMs, 0)} ms` : `still open at ${CAP_MS / 1000} s`;
}

async function measure(base: string, variant: Variant, room: string): Promise<Outcome> {
  const query = (id: string) => `room=${room}&id=${id}${variant.plain ? "&accept=plain" : ""}${variant.reply === false ? "&reply=0" : ""}`;
  const stays = await connect(`${base.replace(/^http/, "ws")}/ws?${query("stays")}`);
  const leaves = await connect(`${base.replace(/^http/, "ws")}/ws?${query("leaves")}`);
  if (variant.before === "ping") await exchange(leaves, "ping");
  if (variant.before === "message") await exchange(leaves, "hello");

  let clientCode: number | null = null;
  leaves.once("close", (code) => { clientCode = code; });
  const socket = (leaves as unknown as { _socket: Socket })._socket;
  const tcpEnded = new Promise<number>((resolve) => socket.once("close", () => resolve(Date.now())));
  const busy = variant.busy ? setInterval(() => stays.send("tick"), 500) : undefined;
  const start = Date.now();
  if (variant.closer === "client") {
    leaves.close(4000, "leaving");
  } else {
    const response = await fetch(`${base}/close?room=${room}&id=leaves${variant.closer === "alarm" ? "&from=alarm" : ""}`);
    if (!response.ok) throw new Error(`close: HTTP ${response.status}`);
    await response.arrayBuffer();
  }
  const end = await Promise.race([tcpEnded, new Promise<null>((resolve) => setTimeout(() => resolve(null), CAP_MS))]);
  clearInterval(busy);
  if (end !== null) await new Promise((resolve) => setTimeout(resolve, 50)); // ws reports the close code after the socket's 'close'
  const otherStillOpen = stays.readyState === WebSocket.OPEN;
  leaves.terminate();
  stays.close();
  return { tcpEndedMs: end === null ? Infinity : end - start, clientCode, otherStillOpen };
}

/** Opens a socket and waits for the probe's "welcome". */
function connect(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once("error", reject);
    ws.once("message", () => resolve(ws));
  });
}

/** Sends `text` and waits for its answer ("pong" or the echo). */
function exchange(ws: WebSocket, text: string): Promise<void> {
  return new Promise((resolve) => {
    ws.once("message", () => resolve());
    ws.send(text);
  });
}
