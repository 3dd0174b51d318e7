/**
 * `npm run bench [-- --only NAME[,NAME]] [--seconds N] [--connections N]`
 *
 * Runs every scenario in bench/scenarios (in order; the investigations in bench/investigations
 * only when named with --only), writes each one's section of bench/RESULTS.md and prints a
 * summary. Targets are reported, not enforced: the exit code is non-zero only when the harness
 * itself fails. Children (workerd, origins) are killed on exit,
 * error and Ctrl-C (tools/processes.ts).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { exitOnError, parseCommandLine, UsageError } from "../tools/cli.ts";
import { installCleanup } from "../tools/processes.ts";
import { describeMachine, machineLine, writeSection } from "./lib/results.ts";
import type { Scenario } from "./lib/scenario.ts";
import { projectCompatibilityDate, REPO_ROOT, workerdVersion } from "../tools/workerd.ts";
import { passThrough } from "./scenarios/pass-through.ts";
import { routeMatching } from "./scenarios/route-matching.ts";
import { jwt } from "./scenarios/jwt.ts";
import { apiKeyQuota } from "./scenarios/api-key-quota.ts";
import { quotaIsolates } from "./scenarios/quota-isolates.ts";
import { roomFanout } from "./scenarios/room-fanout.ts";
import { validation } from "./scenarios/validation.ts";
import { failover } from "./scenarios/failover.ts";
import { metrics } from "./scenarios/metrics.ts";
import { passThroughBreakdown } from "./investigations/pass-through-breakdown.ts";
import { gatewayProfile } from "./investigations/gateway-profile.ts";
import { jwtBreakdown } from "./investigations/jwt-breakdown.ts";
import { halfOpenClose } from "./investigations/half-open-close.ts";

/** The benchmarks, then the investigations (`optional`: run only when named with --only). */
const SCENARIOS: Scenario[] = [routeMatching, passThrough, jwt, apiKeyQuota, quotaIsolates, roomFanout, validation, failover, metrics, passThroughBreakdown, gatewayProfile, jwtBreakdown, halfOpenClose];

const USAGE = `Usage: npm run bench [-- [--only NAME[,NAME...]] [--seconds N] [--connections N]]
  --only NAMES       only these scenarios, comma-separated (an investigation runs only when named)
  --seconds N        seconds per measured target, 1-60 (default 10)
  --connections N    concurrent connections of the load generator, 1-1000 (default 50)
Scenarios: ${SCENARIOS.map((s) => s.name).join(", ")}`;

function parseBenchArgs(argv: string[]) {
  const { values } = parseCommandLine(USAGE, {
    args: argv,
    strict: true,
    options: { only: { type: "string" }, seconds: { type: "string", default: "10" }, connections: { type: "string", default: "50" } },
  });
  const options = { only: values.only === undefined ? [] : values.only.split(","), seconds: Number(values.seconds), connections: Number(values.connections) };
  for (const name of options.only) {
    if (!SCENARIOS.some((s) => s.name === name)) throw new UsageError(`unknown scenario ${name}: ${SCENARIOS.map((s) => s.name).join(", ")}`, USAGE);
  }
  if (!(options.seconds >= 1 && options.seconds <= 60)) throw new UsageError("--seconds must be 1-60", USAGE);
  if (!(options.connections >= 1 && options.connections <= 1000)) throw new UsageError("--connections must be 1-1000", USAGE);
  return options;
}

async function main(): Promise<void> {
  let options: ReturnType<typeof parseBenchArgs>;
  try {
    options = parseBenchArgs(process.argv.slice(2));
  } catch (err) {
    exitOnError(err);
  }
  installCleanup();
  const machine = describeMachine(await workerdVersion());
  const compatibilityDate = projectCompatibilityDate();
  const resultsFile = join(REPO_ROOT, "bench/RESULTS.md");
  console.log(machineLine(machine));
  const started = performance.now();
  const summary: string[] = [];
  for (const scenario of SCENARIOS) {
    if (options.only.length > 0 ? !options.only.includes(scenario.name) : scenario.optional) continue;
    const outDir = join(REPO_ROOT, "bench/.out", scenario.name);
    mkdirSync(outDir, { recursive: true });
    const t0 = performance.now();
    console.log(`\n== ${scenario.title}`);
    const report = await scenario.run({
      outDir,
      seconds: options.seconds,
      connections: options.connections,
      compatibilityDate,
      log: (message) => console.log(`  ${message}`),
    });
    writeSection(resultsFile, SCENARIOS.map((s) => s.name), scenario.name, scenario.title, machine, report);
    summary.push(`${scenario.name} (${((performance.now() - t0) / 1000).toFixed(0)} s):`);
    for (const line of report.summary) summary.push(`  ${line}`);
    for (const check of report.checks) summary.push(`  [${check.pass ? "pass" : "FAIL"}] ${check.target}: ${check.measured}`);
  }
  console.log(`\n== Summary (${((performance.now() - started) / 1000).toFixed(0)} s; written to bench/RESULTS.md)`);
  for (const line of summary) console.log(line);
}

await main();
process.exit(0);
