/**
 * Room fan-out (issue 5): one room with 10, 100 and 1,000 WebSocket clients, through the gateway's
 * room route (RoomObject) and through the minimal broadcast Durable Object
 * (bench/workers/minimal-broadcast.js), both in the same workerd process, measured in the same run.
 *
 * Clients are `ws` from Node, spread over two client processes (lib/ws-clients.ts, driven by
 * lib/fanout.ts). Each size is measured in two ways, targets interleaved:
 * - saturation: several senders each keep a few messages in flight (the next one leaves when the
 *   sender's own copy comes back): the maximum deliveries per second;
 * - paced: the same senders at a fixed rate, half the minimal broadcast's saturation rate, for a
 *   meaningful p99 delivery latency (time from a message's scheduled send to each client's receipt).
 * Targets: >= 20,000 deliveries/s at 1,000 clients and >= 0.9x the minimal broadcast's rate.
 */
import { fileURLToPath } from "node:url";
import { startFanoutClients, type FanoutResult } from "../lib/fanout.ts";
import { buildGateway, gatewayService } from "../../tools/gateway.ts";
import { fmt, table, type Check, type ScenarioReport } from "../lib/results.ts";
import type { Scenario, ScenarioContext } from "../lib/scenario.ts";
import { startWorkerd } from "../../tools/workerd.ts";

const SIZES = [10, 100, 1_000];
const PROCESSES = 2;
const ROUNDS = 2;
/** Senders per client process (10 in all, or every client when the room is smaller). */
const SENDERS_PER_PROCESS = 5;

const median = (values: number[]): number => {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((x, y) => x - y);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

function medianResult(runs: FanoutResult[], label: string): FanoutResult {
  const mid = (f: (r: FanoutResult) => number | undefined) => median(runs.map((r) => f(r) ?? NaN));
  const out: FanoutResult = {
    ...runs[0]!, label,
    deliveriesPerSecond: mid((r) => r.deliveriesPerSecond), p50: mid((r) => r.p50), p99: mid((r) => r.p99), max: mid((r) => r.max),
    cpuUsPerDelivery: mid((r) => r.cpuUsPerDelivery),
    seconds: runs.reduce((s, r) => s + r.seconds, 0),
    unexpectedCloses: Math.max(...runs.map((r) => r.unexpectedCloses)),
    sendErrors: runs.reduce((s, r) => s + r.sendErrors, 0),
  };
  if (runs[0]!.mode === "paced") out.deliveredShare = mid((r) => r.deliveredShare);
  return out;
}

export const roomFanout: Scenario = {
  name: "room-fanout",
  title: "Room fan-out: deliveries/s and delivery latency at 10, 100 and 1,000 clients, room vs minimal broadcast DO",
  async run(ctx: ScenarioContext): Promise<ScenarioReport> {
    const maxConnections = 2 * SIZES.at(-1)!;
    const gatewayModule = await buildGateway({
      origins: {},
      routes: [{
        id: "room", path: "/rooms/:room", auth: "none",
        room: { name: ":room", presence: false, messagesPerSecond: 10_000, maxConnections },
      }],
    }, ctx.outDir);
    const workerd = await startWorkerd({
      services: [
        gatewayService("gateway", gatewayModule, ctx.compatibilityDate, { log: "off" }),
        {
          name: "minimal",
          modules: [{ name: "minimal-broadcast.js", path: fileURLToPath(new URL("../workers/minimal-broadcast.js", import.meta.url)) }],
          compatibilityDate: ctx.compatibilityDate,
          durableObjects: [{ binding: "ROOMS", className: "MinimalBroadcast", sql: false }],
          loopbackOutbound: false,
        },
      ],
      sockets: { gateway: "gateway", minimal: "minimal" },
    }, ctx.outDir);
    const clients = await startFanoutClients(PROCESSES);
    const ws = (http: string) => http.replace(/^http/, "ws");
    const cpuPid = workerd.child.process.pid;
    const run = Math.max(1, Math.round(ctx.seconds * 0.3));
    try {
      const saturation: FanoutResult[] = [];
      const paced: FanoutResult[] = [];
      const summaries: { n: number; room: FanoutResult; minimal: FanoutResult; qRoom: FanoutResult; qMinimal: FanoutResult; rate: number }[] = [];
      for (const n of SIZES) {
        const targets = [
          { label: "room (gateway)", group: `room-${n}`, url: `${ws(workerd.urls.gateway!)}/rooms/bench-${n}` },
          { label: "minimal broadcast DO", group: `minimal-${n}`, url: `${ws(workerd.urls.minimal!)}/bench-${n}` },
        ];
        for (const t of targets) {
          const t0 = performance.now();
          const connected = await clients.connect(t.group, t.url, n);
          if (connected !== n) throw new Error(`${t.label}: ${connected} of ${n} clients connected`);
          ctx.log(`${n} clients connected to ${t.label} in ${fmt((performance.now() - t0) / 1000, 1)} s`);
        }
        const senders = Math.min(SENDERS_PER_PROCESS, Math.floor(n / PROCESSES));
        // In flight per sender: enough that the object always has work queued (about 400 messages
        // in all at 10 clients, 20 at 1,000, i.e. 4,000-20,000 deliveries outstanding).
        const window = Math.max(2, Math.ceil(400 / n));
        const sat = new Map(targets.map((t) => [t.label, [] as FanoutResult[]]));
        for (let round = 0; round < ROUNDS; round++) {
          for (const t of round % 2 === 0 ? targets : [...targets].reverse()) {
            const r = await clients.run(`${t.label}, ${n} clients, saturation #${round + 1}`, t.group, n, {
              mode: "saturate", sendersPerProcess: senders, window, warmupSeconds: 0.5, seconds: run, drainMs: 300, cpuPid,
            });
            sat.get(t.label)!.push(r);
            saturation.push(r);
            ctx.log(`  ${r.label}: ${fmt(r.deliveriesPerSecond, 0)} deliveries/s, ${fmt(r.cpuUsPerDelivery, 2)} us CPU/delivery`);
          }
        }
        const room = medianResult(sat.get(targets[0]!.label)!, targets[0]!.label);
        const minimal = medianResult(sat.get(targets[1]!.label)!, targets[1]!.label);
        // Paced at half the minimal broadcast's maximum, as messages per second per sender.
        const messageRate = minimal.deliveriesPerSecond / 2 / n;
        const perSender = messageRate / (senders * PROCESSES);
        const pacedRuns = new Map(targets.map((t) => [t.label, [] as FanoutResult[]]));
        for (let round = 0; round < ROUNDS; round++) {
          for (const t of round % 2 === 0 ? targets : [...targets].reverse()) {
            const r = await clients.run(`${t.label}, ${n} clients, paced #${round + 1}`, t.group, n, {
              mode: "paced", sendersPerProcess: senders, rate: perSender, warmupSeconds: 0.5, seconds: run, drainMs: 1500, cpuPid,
            });
            pacedRuns.get(t.label)!.push(r);
            paced.push(r);
            ctx.log(`  ${r.label}: p99 ${fmt(r.p99, 2)} ms, delivered ${fmt((r.deliveredShare ?? NaN) * 100, 1)}%`);
          }
        }
        summaries.push({
          n, room, minimal, rate: messageRate,
          qRoom: medianResult(pacedRuns.get(targets[0]!.label)!, targets[0]!.label),
          qMinimal: medianResult(pacedRuns.get(targets[1]!.label)!, targets[1]!.label),
        });
        for (const t of targets) await clients.close(t.group);
      }

      const at1000 = summaries.find((s) => s.n === 1_000)!;
      // CPU seconds workerd used per second at saturation: about 1.0 means its (single) isolate thread was the bottleneck.
      const busy = (r: FanoutResult) => ((r.cpuUsPerDelivery ?? NaN) * r.deliveriesPerSecond) / 1e6;
      const ratio = (s: (typeof summaries)[number]) => s.room.deliveriesPerSecond / s.minimal.deliveriesPerSecond;
      const closes = [...saturation, ...paced].reduce((n, r) => Math.max(n, r.unexpectedCloses), 0);
      const undelivered = paced.filter((r) => (r.deliveredShare ?? 1) < 0.999);
      const checks: Check[] = [
        { target: ">= 20,000 deliveries/s at 1,000 clients (room, saturation)", measured: `${fmt(at1000.room.deliveriesPerSecond, 0)} deliveries/s (minimal ${fmt(at1000.minimal.deliveriesPerSecond, 0)})`, pass: at1000.room.deliveriesPerSecond >= 20_000 },
        ...summaries.map((s) => ({
          target: `>= 0.9x the minimal broadcast's deliveries/s at ${s.n.toLocaleString("en-US")} clients`,
          measured: `${fmt(ratio(s))}x (${fmt(s.room.deliveriesPerSecond, 0)} / ${fmt(s.minimal.deliveriesPerSecond, 0)})`,
          pass: ratio(s) >= 0.9,
        })),
        { target: "every paced message delivered to every client, no socket closed", measured: `${undelivered.length} paced runs under 99.9% delivered; ${closes} unexpected closes`, pass: undelivered.length === 0 && closes === 0 },
      ];

      const markdown = [
        `Room route \`/rooms/:room\` (\`auth: "none"\`, \`presence: false\`, \`messagesPerSecond: 10000\`, \`maxConnections: ${maxConnections}\`, default \`maxMessageBytes\`) against \`bench/workers/minimal-broadcast.js\` (a hibernatable Durable Object that broadcasts each frame in the room's envelope), both services in one workerd process; one room per size and target. ` +
          `Clients: \`ws\` in ${PROCESSES} Node processes (sockets split evenly); each sends \`{"type":"broadcast","data":{"t":<send time ms>,"s":<sender>}}\` and every client, sender included, times each \`message\` it receives (epoch clock with sub-ms resolution, shared by the processes). ` +
          `Senders: ${SENDERS_PER_PROCESS} per process (all clients at 10).`,
        `Saturation: each sender keeps max(2, ceil(400 / clients)) messages in flight (the next leaves when its own copy returns); deliveries counted by receipt time over ${run} s after a 0.5 s warm-up; ${ROUNDS} rounds per target, alternating order, medians. ` +
          `Paced: the senders at an even fixed rate totalling half the minimal broadcast's saturation deliveries/s (messages/s = that / clients); latency from each message's scheduled send time (a late sender counts its lateness) to receipt, over every delivery of the messages sent in the ${run} s window, ${ROUNDS} rounds, medians. ` +
          `workerd CPU per delivery is workerd's user+system time (/proc) in the window divided by deliveries. The clients share the 2 cores with workerd, so absolute rates are a floor; the ratio is measured under the same conditions. ` +
          "\"workerd cores busy\" is CPU per delivery times deliveries/s at saturation: near 1.0, workerd (whose Durable Object runs on one thread) is the bottleneck rather than the clients.",
        "",
        "### Summary",
        "",
        table(["clients", "room deliveries/s", "minimal deliveries/s", "room / minimal", "room CPU us/delivery", "minimal CPU us/delivery", "workerd cores busy (room / minimal)", "paced messages/s", "paced deliveries/s", "room p50 / p99 ms", "minimal p50 / p99 ms"],
          summaries.map((s) => [
            s.n, fmt(s.room.deliveriesPerSecond, 0), fmt(s.minimal.deliveriesPerSecond, 0), `${fmt(ratio(s))}x`, fmt(s.room.cpuUsPerDelivery, 2), fmt(s.minimal.cpuUsPerDelivery, 2),
            `${fmt(busy(s.room))} / ${fmt(busy(s.minimal))}`,
            fmt(s.rate, 1), fmt(s.rate * s.n, 0), `${fmt(s.qRoom.p50)} / ${fmt(s.qRoom.p99)}`, `${fmt(s.qMinimal.p50)} / ${fmt(s.qMinimal.p99)}`,
          ])),
        "",
        "### Raw runs",
        "",
        table(["run", "messages/s offered", "deliveries/s", "delivered", "p50 ms", "p99 ms", "max ms", "workerd CPU us/delivery", "unexpected closes", "send errors"],
          [...saturation, ...paced].map((r) => [
            r.label, r.messageRate !== undefined ? fmt(r.messageRate, 1) : "max", fmt(r.deliveriesPerSecond, 0), r.deliveredShare !== undefined ? `${fmt(r.deliveredShare * 100, 1)}%` : "-",
            fmt(r.p50), fmt(r.p99), fmt(r.max), fmt(r.cpuUsPerDelivery, 2), r.unexpectedCloses, r.sendErrors,
          ])),
      ].join("\n");
      const summary = summaries.map((s) =>
        `${s.n} clients: room ${fmt(s.room.deliveriesPerSecond, 0)} / minimal ${fmt(s.minimal.deliveriesPerSecond, 0)} deliveries/s (${fmt(ratio(s))}x); paced p99 room ${fmt(s.qRoom.p99)} ms, minimal ${fmt(s.qMinimal.p99)} ms`);
      return { markdown, checks, summary };
    } finally {
      await clients.stop();
      await workerd.stop();
    }
  },
};
