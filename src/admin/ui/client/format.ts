/** Small display helpers. */

export function dateTime(iso: string | null | undefined): string {
  if (!iso) return "never";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

export function number(value: number | null | undefined, digits = 0): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  return value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function percent(value: number | null | undefined): string {
  return value === null || value === undefined || !Number.isFinite(value) ? "–" : `${(value * 100).toFixed(1)} %`;
}

export function duration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms % 1000 === 0) return `${ms / 1000} s`;
  return `${ms} ms`;
}

/** The auth of a route in words. */
export function authText(auth: unknown): string {
  if (auth === "none") return "public";
  if (typeof auth !== "object" || auth === null) return String(auth);
  const a = auth as Record<string, unknown>;
  const parts: string[] = [];
  if (typeof a.authorizer === "string") parts.push(`JWT (${a.authorizer})${Array.isArray(a.scopes) ? ` scopes ${a.scopes.join(" ")}` : ""}`);
  if (a.apiKey === true) parts.push("API key");
  else if (typeof a.apiKey === "object" && a.apiKey !== null) parts.push(`API key with scopes ${((a.apiKey as { scopes?: string[] }).scopes ?? []).join(" ")}`);
  return parts.join(" and ") || "—";
}
