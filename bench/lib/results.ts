/**
 * bench/RESULTS.md: one section per scenario, each between markers, replaced when that scenario
 * runs again and left alone otherwise (so scenarios can be run one at a time with --only).
 */
import { cpus, loadavg, availableParallelism } from "node:os";
import { existsSync, readFileSync, writeFileSync } from "node:fs";

export interface Check {
  target: string;
  measured: string;
  pass: boolean;
}

export interface ScenarioReport {
  /** Markdown body of the section (tables, notes); the writer adds the heading and the run line. */
  markdown: string;
  checks: Check[];
  /** Lines for the console summary. */
  summary: string[];
}

export interface Machine {
  date: string;
  cores: number;
  cpu: string;
  node: string;
  workerd: string;
  loadAtStart: string;
}

export function describeMachine(workerd: string): Machine {
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    cores: availableParallelism(),
    cpu: cpus()[0]?.model ?? "unknown",
    node: process.version,
    workerd,
    loadAtStart: loadavg().map((l) => l.toFixed(2)).join(" "),
  };
}

export function machineLine(m: Machine): string {
  return `Run ${m.date} on ${m.cores} cores (${m.cpu}), Node ${m.node}, ${m.workerd}; load average at start ${m.loadAtStart}.`;
}

export function checksTable(checks: Check[]): string {
  return [
    "| target | measured | result |",
    "| --- | --- | --- |",
    ...checks.map((c) => `| ${c.target} | ${c.measured} | ${c.pass ? "pass" : "**FAIL**"} |`),
  ].join("\n");
}

const HEADER = `# Benchmark results

Written by \`npm run bench\` (bench/README.md). Each section is replaced when its scenario runs again.
The machine is small and shared (2 cores: workerd, the origin and the load generator compete with
each other and with whatever else runs), so absolute figures drift between runs; the ratios
between targets measured in the same run are what the targets are about.
`;

export function writeSection(file: string, name: string, title: string, machine: Machine, report: ScenarioReport): void {
  const start = `<!-- bench:${name}:start -->`;
  const end = `<!-- bench:${name}:end -->`;
  const section = [
    start,
    `## ${title}`,
    "",
    machineLine(machine),
    "",
    checksTable(report.checks),
    "",
    report.markdown.trim(),
    end,
  ].join("\n");
  let text = existsSync(file) ? readFileSync(file, "utf8") : HEADER;
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from >= 0 && to > from) text = text.slice(0, from) + section + text.slice(to + end.length);
  else text = text.trimEnd() + "\n\n" + section + "\n";
  writeFileSync(file, text);
}

/** Markdown table from rows of cells. */
export function table(head: string[], rows: (string | number)[][]): string {
  return [
    `| ${head.join(" | ")} |`,
    `| ${head.map(() => "---").join(" | ")} |`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");
}

export const fmt = (value: number | null | undefined, digits = 2): string =>
  value === null || value === undefined || Number.isNaN(value) ? "-" : value.toFixed(digits);
