/** For config tests: one valid origin and route to build tables with, and the problems of a table that must be invalid. */
import { parseRouteTable } from "../../src/config/index.ts";

export const origins = { users: { url: "http://127.0.0.1:9001" } };
export const ok = { id: "ok", path: "/ok", origin: "users", auth: "none" };

/** The problems `parseRouteTable` lists for `table`; throws when the table is valid. */
export function problemsOf(table: unknown): string[] {
  const result = parseRouteTable(table);
  if (result.ok) throw new Error("expected the table to be invalid");
  return result.problems;
}
