/**
 * The route table's problems in the gateway's own words. zod's default messages ("Invalid input:
 * expected string, received undefined", "Too small: expected array to have >=1 items") describe
 * the validator, not the table; this error map, passed to every parse of a table, says what the
 * field must be instead. A message a schema sets itself (`.regex(re, "must be a host name")`, a
 * refinement's text) still wins: zod asks a schema's own map before this one.
 *
 * Unknown fields get "did you mean" from the field names the object at that place accepts, which
 * zod hands the map with the issue (`inst`, the strict object that refused the key).
 */
import type { z } from "zod";
import { isObject } from "./core.ts";

type RawIssue = z.core.$ZodRawIssue;
type Def = { type?: string; shape?: Record<string, unknown>; options?: unknown[]; values?: unknown[]; innerType?: unknown; in?: unknown; element?: unknown };

/** The error map for the route table and admin input: every zod issue code in the gateway's words. */
export function issueMessage(issue: RawIssue): string {
  switch (issue.code) {
    case "invalid_type":
      if (issue.input === undefined) return "required";
      return `must be ${kindOf(issue.expected)}, not ${valueKind(issue.input)}`;
    case "too_small":
      return sizeMessage("at least", issue.origin, Number(issue.minimum), issue.inclusive !== false, issue.exact === true);
    case "too_big":
      return sizeMessage("at most", issue.origin, Number(issue.maximum), issue.inclusive !== false, issue.exact === true);
    case "invalid_format":
      return formatMessage(issue.format, issue.pattern);
    case "not_multiple_of":
      return `must be a multiple of ${issue.divisor}`;
    case "invalid_value":
      return `must be ${issue.values.length > 2 ? "one of " : ""}${listOf(issue.values.map(show), "or")}`;
    case "unrecognized_keys":
      return unknownFields(issue.keys, Object.keys(defOf(issue.inst)?.shape ?? {}));
    case "invalid_union": {
      const options = (defOf(issue.inst)?.options ?? []).map(describe).filter((d) => d !== undefined);
      return options.length > 0 ? `must be ${listOf([...new Set(options)], "or")}` : "does not have any of the accepted forms";
    }
    case "invalid_key":
      return `has a name that is not allowed: ${issue.issues.map((i) => i.message).join("; ")}`;
    case "invalid_element":
      return `has an element that is not allowed: ${issue.issues.map((i) => i.message).join("; ")}`;
    case "custom":
      return "is not valid";
    default:
      return "is not valid";
  }
}

/** `unknown field "methdos" (did you mean "methods"?)`; with no near name, the names accepted here. */
export function unknownFields(keys: readonly string[], known: readonly string[]): string {
  const parts = keys.map((key) => {
    const near = nearest(key, known);
    return near === undefined ? `"${key}"` : `"${key}" (did you mean "${near}"?)`;
  });
  const head = `unknown field${keys.length === 1 ? "" : "s"} ${parts.join(", ")}`;
  const anySuggestion = keys.some((key) => nearest(key, known) !== undefined);
  if (anySuggestion || known.length === 0) return head;
  return `${head}; the fields accepted here are ${known.map((k) => `"${k}"`).join(", ")}`;
}

/**
 * The known name closest to `word`, if one is close enough to be a typo: the same name in another
 * case, a name that starts with it (`timeout` -> `timeoutMs`), or within an edit distance of about
 * a third of its length, counting a swap of two neighbours as one edit (`methdos` -> `methods`).
 */
export function nearest(word: string, known: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  const sameCase = known.find((k) => k.toLowerCase() === lower);
  if (sameCase) return sameCase;
  if (lower.length >= 4) {
    const prefixed = known.filter((k) => k.toLowerCase().startsWith(lower));
    if (prefixed.length === 1) return prefixed[0];
  }
  const limit = Math.max(1, Math.floor(word.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = editDistance(lower, candidate.toLowerCase());
    if (d <= limit && d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1, cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

function sizeMessage(bound: "at least" | "at most", origin: string, n: number, inclusive: boolean, exact: boolean): string {
  switch (origin) {
    case "array":
    case "set":
      if (exact) return `must have exactly ${n} item${n === 1 ? "" : "s"}`;
      if (bound === "at least" && n === 1) return "must not be empty (at least one item)";
      return `must have ${bound} ${n} item${n === 1 ? "" : "s"}`;
    case "string":
      if (exact) return `must be exactly ${n} character${n === 1 ? "" : "s"} long`;
      if (bound === "at least" && n === 1) return "must not be empty";
      return `must be ${bound} ${n} character${n === 1 ? "" : "s"} long`;
    default:
      if (!inclusive) return `must be ${bound === "at least" ? "more" : "less"} than ${n}`;
      return `must be ${bound} ${n}`;
  }
}

const FORMATS: Record<string, string> = {
  url: "a URL (http:// or https://)",
  email: "an email address",
  uuid: "a UUID",
  datetime: "a date and time (ISO 8601, e.g. 2026-01-31T12:00:00Z)",
  date: "a date (YYYY-MM-DD)",
  ipv4: "an IPv4 address",
  ipv6: "an IPv6 address",
};

function formatMessage(format: string, pattern: string | undefined): string {
  if (format === "regex") return `does not have the accepted form (${pattern ?? "a pattern"})`;
  return `must be ${FORMATS[format] ?? `a valid ${format}`}`;
}

function kindOf(expected: string): string {
  switch (expected) {
    case "string": return "a string";
    case "number": return "a number";
    case "int": return "a whole number";
    case "boolean": return "true or false";
    case "array": case "tuple": return "a list ([...])";
    case "object": case "record": case "map": return "an object ({...})";
    case "null": return "null";
    default: return `a ${expected}`;
  }
}

function valueKind(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "number") return Number.isInteger(value) ? "a number" : "a fraction";
  if (typeof value === "object") return "an object";
  return typeof value === "string" ? "a string" : typeof value === "boolean" ? (value ? "true" : "false") : `a ${typeof value}`;
}

const show = (v: unknown): string => (typeof v === "string" ? `"${v}"` : String(v));

function listOf(items: readonly string[], joiner: "or" | "and"): string {
  if (items.length <= 1) return items[0] ?? "";
  return `${items.slice(0, -1).join(", ")} ${joiner} ${items[items.length - 1]}`;
}

const defOf = (schema: unknown): Def | undefined => (schema as { _zod?: { def?: Def } } | undefined)?._zod?.def;

/** One accepted form of a union, in a few words: `a string`, `{ "contains": ... }`. */
function describe(schema: unknown): string | undefined {
  const def = defOf(schema);
  if (!def) return undefined;
  switch (def.type) {
    case "string": return "a string";
    case "number": return "a number";
    case "boolean": return "true or false";
    case "literal": case "enum": return (def.values ?? Object.values((def as { entries?: object }).entries ?? {})).map(show).join(" or ");
    case "array": return "a list";
    case "record": return "an object";
    case "object": {
      const keys = Object.keys(def.shape ?? {});
      return `{ ${keys.map((k) => `"${k}": ...`).join(", ")} }`;
    }
    case "union": return (def.options ?? []).map(describe).filter((d) => d !== undefined).join(", ");
    case "optional": case "nullable": case "default": case "readonly": return describe(def.innerType);
    case "pipe": return describe(def.in);
    default: return undefined;
  }
}

/**
 * `routes[2].origin`, `origins.users.url`, `routes[0].requestHeaders.set["x-a"]`. With the raw
 * table, a route is also named by its id, which is how people find it in a long file:
 * `routes[4] ("orders.any").path`.
 */
export function jsonPath(path: readonly PropertyKey[], input?: unknown): string {
  let out = "";
  path.forEach((key, i) => {
    if (typeof key === "number") out += `[${key}]`;
    else if (typeof key === "string" && /^[A-Za-z_$][\w$]*$/.test(key)) out += out ? `.${key}` : key;
    else out += `[${JSON.stringify(String(key))}]`;
    if (i === 1 && path[0] === "routes" && typeof key === "number") {
      const route = isObject(input) && Array.isArray(input.routes) ? input.routes[key] : undefined;
      if (isObject(route) && typeof route.id === "string" && route.id !== "") out += ` (${JSON.stringify(route.id)})`;
    }
  });
  return out || "(root)";
}

/**
 * A union whose object form failed inside (an auth object with a bad claim requirement): zod
 * reports only that no form matched; this names what is wrong in the object, relative to it.
 */
export function objectFormProblems(issue: RawIssue): string | undefined {
  if (issue.code !== "invalid_union" || !isObject(issue.input)) return undefined;
  const options = defOf(issue.inst)?.options ?? [];
  const index = options.findIndex((o) => defOf(o)?.type === "object");
  const problems = index >= 0 ? issue.errors[index] : undefined;
  if (!problems || problems.length === 0) return undefined;
  return problems.map((p) => (p.path.length > 0 ? `${jsonPath(p.path)}: ${p.message}` : p.message)).join("; ");
}
