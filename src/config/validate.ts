import type { z } from "zod";
import { jsonPath, issueMessage } from "./messages.ts";

export { jsonPath };
import { RouteTableSchema, type RouteTable } from "./table.ts";

/** A route table that failed validation; `problems` lists every issue as `json.path: message`. */
export class RouteTableError extends Error {
  readonly problems: string[];
  constructor(problems: string[], source = "routes.json") {
    super(`${source} is invalid:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "RouteTableError";
    this.problems = problems;
  }
}

/** Each issue as `json.path: message`; `input` (the raw table) lets a route be named by its id. */
export function formatIssues(issues: readonly z.core.$ZodIssue[], input?: unknown): string[] {
  return issues.map((issue) => `${jsonPath(issue.path, input)}: ${issue.message}`);
}

export type ParseResult = { ok: true; table: RouteTable } | { ok: false; problems: string[] };

export function parseRouteTable(input: unknown): ParseResult {
  const result = RouteTableSchema.safeParse(input, { error: issueMessage });
  return result.success ? { ok: true, table: result.data } : { ok: false, problems: formatIssues(result.error.issues, input) };
}

/** Parses or throws a `RouteTableError` listing every problem. */
export function loadRouteTable(input: unknown, source?: string): RouteTable {
  const result = parseRouteTable(input);
  if (!result.ok) throw new RouteTableError(result.problems, source);
  return result.table;
}

/**
 * The marker of a table the build step (`scripts/check.ts --out`, run by wrangler before every
 * `dev` and `deploy`) has validated and written as the schema parsed it, defaults applied.
 */
export const VALIDATED_MARK = "edge-gateway/validated-route-table";

export interface ValidatedTableFile {
  $validated: typeof VALIDATED_MARK;
  table: RouteTable;
}

export function validatedTableFile(table: RouteTable): ValidatedTableFile {
  return { $validated: VALIDATED_MARK, table };
}

/**
 * The table the Worker bundle carries. A table the build step wrote is used as is: validating it
 * again cost 12-17 ms of isolate start-up at 1,000 routes (bench/FINDINGS.md), and build and bundle
 * come from the same checkout in the same wrangler run. Anything else (a raw routes.json, as in
 * tests) is validated in full and refused with every problem listed.
 */
export function bundledRouteTable(input: unknown): RouteTable {
  if (typeof input === "object" && input !== null && (input as { $validated?: unknown }).$validated === VALIDATED_MARK) {
    return (input as ValidatedTableFile).table;
  }
  return loadRouteTable(input);
}
