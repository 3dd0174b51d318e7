/**
 * Where a matched request goes: the origin's base URL joined with the route's rewrite, stripPrefix
 * or the canonical path itself. Built once per route at startup.
 */
import type { CoreRoute as Route } from "../config/core.ts";
import type { Origin } from "../config/origins.ts";
import { compileUpstream, isPlainOrigin, type Upstream } from "./targets.ts";

export interface CompiledOrigin {
  name: string;
  /** scheme://host[:port]; "" when `upstream` is set (each target has its own). */
  base: string;
  /** The origin URL's path without its trailing slash ("" for none, and when `upstream` is set). */
  basePath: string;
  timeoutMs: number;
  hostHeader: string | undefined;
  /**
   * Targets, a service binding, retries, a circuit breaker or health checks (src/upstream/targets.ts);
   * undefined for a plain `url` origin, which is forwarded by the fast path as it always was.
   */
  upstream: Upstream | undefined;
}

export function compileOrigin(name: string, origin: Origin): CompiledOrigin {
  if (!isPlainOrigin(origin)) {
    return { name, base: "", basePath: "", timeoutMs: origin.timeoutMs, hostHeader: origin.hostHeader, upstream: compileUpstream(name, origin) };
  }
  const url = new URL(origin.url!);
  return {
    name,
    base: `${url.protocol}//${url.host}`,
    basePath: url.pathname.replace(/\/+$/, ""),
    timeoutMs: origin.timeoutMs,
    hostHeader: origin.hostHeader,
    upstream: undefined,
  };
}

type Part = { text: string } | { param: string } | { rest: true };

/** (canonical path, params, wildcard rest) -> the path sent to the origin, base path included (a target's own base path is added when it is sent). */
export type PathBuilder = (canonical: string, params: Record<string, string>, rest: string) => string;

export function compilePathBuilder(route: Route, origin: CompiledOrigin): PathBuilder {
  const { basePath } = origin;
  const join = (path: string, canonical: string): string => {
    // The client's trailing slash survives a rewrite; routes match with or without it.
    if (canonical.length > 1 && canonical.endsWith("/") && !path.endsWith("/")) path += "/";
    return basePath + path;
  };
  if (route.rewrite !== undefined) {
    const parts: Part[] = route.rewrite === "/" ? [] : route.rewrite.slice(1).split("/").map((segment) =>
      segment === "*" ? { rest: true } : segment.startsWith(":") ? { param: segment.slice(1) } : { text: segment });
    return (canonical, params, rest) => {
      let path = "";
      for (const part of parts) {
        const value = "text" in part ? part.text : "param" in part ? params[part.param]! : rest;
        if (value !== "") path += "/" + value;
      }
      return join(path || "/", canonical);
    };
  }
  if (route.stripPrefix !== undefined) {
    const length = route.stripPrefix.length;
    return (canonical) => basePath + (canonical.slice(length) || "/");
  }
  return (canonical) => basePath + canonical;
}

/**
 * The query string sent to the origin: exactly the client's, minus parameters that carried a
 * credential on this route (a token in `?access_token=`), which must not reach the origin or its
 * logs. Other parameters keep their exact encoding and order.
 */
export type QueryFilter = (search: string) => string;

export function compileQueryFilter(withheld: readonly string[]): QueryFilter {
  if (withheld.length === 0) return (search) => search;
  const names = new Set(withheld);
  return (search) => {
    if (search.length <= 1) return search;
    const kept = search.slice(1).split("&").filter((pair) => {
      const name = pair.split("=", 1)[0]!;
      let decoded: string;
      try { decoded = decodeURIComponent(name.replace(/\+/g, " ")); } catch { return false; }
      return !names.has(decoded);
    });
    return kept.length === 0 ? "" : "?" + kept.join("&");
  };
}
