/**
 * Request validation: the cost per request of checking a JSON body against a JSON Schema
 * (@cfworker/json-schema, interpreted) at 1 KiB and 64 KiB, against the same POST on a route
 * without `validate`, on one gateway in front of the Node origin. The validated route buffers the
 * body (it must, to parse it), parses it, validates it and forwards the buffered bytes; the plain
 * route streams it. Figures: workerd CPU per request (the steady measure on this machine), the
 * difference per request, and throughput. No target in the issue beyond measuring.
 */
import { buildGateway, gatewayService } from "../../tools/gateway.ts";
import { startWorkerd } from "../../tools/workerd.ts";
import { interleaved, maxThroughput, medianOf } from "../lib/load.ts";
import { rawRunsTable, signed } from "../lib/load-table.ts";
import { startOrigin } from "../lib/origin.ts";
import { fmt, table, type Check, type ScenarioReport } from "../lib/results.ts";
import type { Scenario, ScenarioContext } from "../lib/scenario.ts";

const ROUNDS = 3;

/** An order as an API would take it, with a typical schema: required members, patterns, bounds, nested items. */
const ORDER_SCHEMA = {
  type: "object",
  required: ["orderId", "customer", "items"],
  additionalProperties: false,
  properties: {
    orderId: { type: "string", pattern: "^ord_[0-9a-f]{16}$" },
    customer: {
      type: "object",
      required: ["id", "email"],
      properties: { id: { type: "integer", minimum: 1 }, email: { type: "string", format: "email" }, name: { type: "string", maxLength: 200 } },
    },
    items: {
      type: "array",
      minItems: 1,
      maxItems: 10_000,
      items: {
        type: "object",
        required: ["sku", "qty", "price"],
        additionalProperties: false,
        properties: {
          sku: { type: "string", pattern: "^[A-Z]{3}-[0-9]{4}$" },
          qty: { type: "integer", minimum: 1, maximum: 1000 },
          price: { type: "number", minimum: 0 },
          note: { type: "string", maxLength: 500 },
        },
      },
    },
  },
};

/** A valid order of about `bytes` bytes (items are added until it reaches the size). */
export function orderOfSize(bytes: number): string {
  const order = { orderId: "ord_0123456789abcdef", customer: { id: 42, email: "ann@example.com", name: "Ann Example" }, items: [] as unknown[] };
  let text = JSON.stringify(order);
  for (let i = 0; text.length < bytes; i++) {
    order.items.push({ sku: `ABC-${String(i % 10_000).padStart(4, "0")}`, qty: (i % 9) + 1, price: 12.5 + i, note: "gift wrap" });
    text = JSON.stringify(order);
  }
  return text;
}

export const validation: Scenario = {
  name: "validation",
  title: "Request validation: JSON body schema at 1 KiB and 64 KiB vs the same route unvalidated",
  async run(ctx: ScenarioContext): Promise<ScenarioReport> {
    const origin = await startOrigin();
    let workerd: Awaited<ReturnType<typeof startWorkerd>> | undefined;
    try {
      const module = await buildGateway({
        origins: { origin: { url: origin.url, timeoutMs: 10_000 } },
        routes: [
          { id: "plain", methods: ["POST"], path: "/plain/orders", origin: "origin", auth: "none" },
          { id: "checked", methods: ["POST"], path: "/checked/orders", origin: "origin", auth: "none", validate: { body: ORDER_SCHEMA, maxBodyBytes: 1_048_576 } },
        ],
      }, ctx.outDir);
      workerd = await startWorkerd({ services: [gatewayService("gateway", module, ctx.compatibilityDate, { log: "off" })], sockets: { http: "gateway" } }, ctx.outDir);
      const base = workerd.urls.http!;
      const cpuPid = workerd.child.process.pid;
      const sizes = [{ label: "1 KiB", body: orderOfSize(1024) }, { label: "64 KiB", body: orderOfSize(65_536) }];
      const headers = { "content-type": "application/json" };
      for (const { label, body } of sizes) {
        for (const path of ["/plain/orders", "/checked/orders"]) {
          const response = await fetch(base + path, { method: "POST", headers, body });
          if (response.status !== 200) throw new Error(`${label} ${path}: expected 200, got ${response.status}: ${(await response.text()).slice(0, 300)}`);
          await response.arrayBuffer();
        }
      }
      const c = Math.min(ctx.connections, 20);
      const run = Math.max(1, ctx.seconds / ROUNDS);
      const targets = sizes.flatMap(({ label, body }) => [
        { label: `${label}, no validate`, path: "/plain/orders", body },
        { label: `${label}, validate`, path: "/checked/orders", body },
      ]);
      ctx.log("warm-up");
      for (const t of targets) await maxThroughput("warm-up", base + t.path, { connections: c, seconds: 1, method: "POST", headers, body: t.body });
      ctx.log(`${ROUNDS} interleaved rounds of ${run} s, ${c} connections`);
      const runs = await interleaved(targets, ROUNDS, async (t, label) => {
        const r = await maxThroughput(label, base + t.path, { connections: c, seconds: run, cpuPid, method: "POST", headers, body: t.body });
        ctx.log(`  ${label}: ${fmt(r.rps, 0)} req/s, ${fmt(r.cpuUsPerRequest, 1)} us CPU/req`);
        return r;
      });
      const median = (label: string) => medianOf(runs.get(label)!, label);
      const rows = sizes.map(({ label, body }) => {
        const plain = median(`${label}, no validate`), checked = median(`${label}, validate`);
        const added = (checked.cpuUsPerRequest ?? NaN) - (plain.cpuUsPerRequest ?? NaN);
        return { label, bytes: body.length, plain, checked, added };
      });
      const failures = [...runs.values()].flat().reduce((n, r) => n + r.non2xx + r.errors, 0);
      const checks: Check[] = [{ target: "no failed requests", measured: `${failures} non-2xx or errors`, pass: failures === 0 }];
      const markdown = [
        `Requests: \`POST\` of a valid order (\`application/json\`; ${rows.map((r) => `${r.label} = ${r.bytes} bytes`).join(", ")}) to two routes of one gateway on the Node origin: ` +
          "`/plain/orders` (no policy) and `/checked/orders` (`validate.body`: an order schema with required members, patterns, an email format, bounds and an items array of objects). " +
          `autocannon, ${c} connections, ${ROUNDS} interleaved rounds of ${run} s per target after a 1 s warm-up; medians over the rounds.`,
        "",
        table(["body", "req/s no validate", "req/s validate", "CPU us/req no validate", "CPU us/req validate", "added CPU us/req", "p50 ms no validate", "p50 ms validate"],
          rows.map((r) => [r.label, fmt(r.plain.rps, 0), fmt(r.checked.rps, 0), fmt(r.plain.cpuUsPerRequest, 1), fmt(r.checked.cpuUsPerRequest, 1), signed(r.added), fmt(r.plain.p50), fmt(r.checked.p50)])),
        "",
        "The added CPU is buffering the body, UTF-8 decoding, `JSON.parse`, the schema walk and re-wrapping the bytes for forwarding; workerd CPU is the whole process (the load generator and origin run apart).",
        "",
        "### Raw runs",
        "",
        rawRunsTable([...runs.values()].flat()),
      ].join("\n");
      const summary = rows.map((r) => `validation ${r.label}: ${fmt(r.plain.cpuUsPerRequest, 1)} -> ${fmt(r.checked.cpuUsPerRequest, 1)} us CPU/req (${signed(r.added)} us), ${fmt(r.plain.rps, 0)} -> ${fmt(r.checked.rps, 0)} req/s`);
      return { markdown, checks, summary };
    } finally {
      await workerd?.stop();
      await origin.child.stop();
    }
  },
};
