/** What a scenario is: a named async run that returns its section of RESULTS.md. */
import type { ScenarioReport } from "./results.ts";

export interface ScenarioContext {
  /** A scratch directory for this scenario (bench/.out/<name>, gitignored). */
  outDir: string;
  /** Seconds per measured load run (--seconds, default 10). */
  seconds: number;
  /** autocannon connections for throughput runs (--connections, default 50). */
  connections: number;
  /** compatibility_date from wrangler.toml. */
  compatibilityDate: string;
  log(message: string): void;
}

export interface Scenario {
  name: string;
  title: string;
  /** Investigation tools: run only when named with --only. */
  optional?: boolean;
  run(ctx: ScenarioContext): Promise<ScenarioReport>;
}
