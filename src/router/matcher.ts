/**
 * The route matcher: compiled once per isolate from the route table, then asked for every request.
 *
 * Precedence (docs/routes.md, Matching), deterministic whatever the order of the table:
 * 1. host: an exact host, then wildcard hosts (longest suffix first), then routes with no host;
 * 2. within a host, per segment: a static segment, then a `:param`, then a trailing `*`;
 *    a branch that matches the path but not the method falls through to the next branch.
 * 3. A path that matches on some route but with no route for the method yields the allowed
 *    methods (405 with `Allow`); no path match yields nothing (404).
 *
 * Cost per match is one Map lookup per path segment (plus backtracking on misses), independent of
 * the number of routes: Hono's default RegExp router grows with the table (6.7 us at 2,000 routes).
 */

export interface RouteSpec<T> {
  host?: string | undefined;
  methods?: readonly string[] | undefined;
  path: string;
  value: T;
}

export type MatchResult<T> =
  | { kind: "match"; value: T; params: Record<string, string>; rest: string }
  | { kind: "method-not-allowed"; allow: string[] }
  | { kind: "not-found" };

// `implied` marks a HEAD entry that came from GET, so an explicit HEAD route may replace it.
interface Entry<T> { value: T; paramNames: string[]; implied?: boolean }
interface Leaf<T> { byMethod: Map<string, Entry<T>>; any: Entry<T> | null }
interface Node<T> {
  statics: Map<string, Node<T>> | null;
  param: Node<T> | null;
  exact: Leaf<T> | null;    // routes ending at this node
  wildcard: Leaf<T> | null; // routes ending with `*` at this node
}

const newNode = <T>(): Node<T> => ({ statics: null, param: null, exact: null, wildcard: null });
const NOT_FOUND = { kind: "not-found" } as const;

class PathTrie<T> {
  readonly root: Node<T> = newNode();

  add(path: string, methods: readonly string[] | undefined, value: T): void {
    let node = this.root;
    const segments = path === "/" ? [] : path.slice(1).split("/");
    const paramNames: string[] = [];
    let wildcard = false;
    for (const [i, segment] of segments.entries()) {
      if (segment === "*" && i === segments.length - 1) { wildcard = true; break; }
      if (segment.startsWith(":")) {
        paramNames.push(segment.slice(1));
        node = node.param ??= newNode();
      } else {
        node.statics ??= new Map();
        let next = node.statics.get(segment);
        if (!next) node.statics.set(segment, (next = newNode()));
        node = next;
      }
    }
    const leaf = wildcard ? (node.wildcard ??= { byMethod: new Map(), any: null }) : (node.exact ??= { byMethod: new Map(), any: null });
    const entry = { value, paramNames };
    if (!methods) {
      if (leaf.any) throw new Error(`duplicate route for ${path}`);
      leaf.any = entry;
      return;
    }
    for (const method of methods) {
      if (leaf.byMethod.has(method) && !(method === "HEAD" && leaf.byMethod.get("HEAD")!.implied)) throw new Error(`duplicate route for ${method} ${path}`);
      leaf.byMethod.set(method, entry);
    }
    // A route for GET answers HEAD too, unless a route claims HEAD explicitly.
    if (methods.includes("GET") && !leaf.byMethod.has("HEAD")) leaf.byMethod.set("HEAD", { ...entry, implied: true });
  }
}

function allowOf<T>(leaf: Leaf<T>, allow: Set<string>): void {
  if (leaf.any) return; // unreachable: a leaf with `any` always matches
  for (const method of leaf.byMethod.keys()) allow.add(method);
}

export class RouteMatcher<T> {
  private readonly exact = new Map<string, PathTrie<T>>();
  private readonly wildcards: { suffix: string; trie: PathTrie<T> }[] = [];
  private readonly any = new PathTrie<T>();

  constructor(specs: readonly RouteSpec<T>[]) {
    const wildcardTries = new Map<string, PathTrie<T>>();
    for (const spec of specs) {
      let trie = this.any;
      if (spec.host?.startsWith("*.")) {
        const suffix = spec.host.slice(1); // ".example.com"
        trie = wildcardTries.get(suffix) ?? new PathTrie<T>();
        wildcardTries.set(suffix, trie);
      } else if (spec.host) {
        trie = this.exact.get(spec.host) ?? new PathTrie<T>();
        this.exact.set(spec.host, trie);
      }
      trie.add(spec.path, spec.methods, spec.value);
    }
    for (const [suffix, trie] of wildcardTries) this.wildcards.push({ suffix, trie });
    this.wildcards.sort((a, b) => b.suffix.length - a.suffix.length || (a.suffix < b.suffix ? -1 : 1));
  }

  /** `host` lower-case without port; `path` canonical (see canonical.ts). */
  match(host: string, method: string, path: string): MatchResult<T> {
    const segments = path === "/" ? [] : path.slice(1).split("/");
    // A trailing slash does not change which route matches (the forwarded path keeps it).
    if (segments.length > 0 && segments[segments.length - 1] === "") segments.pop();
    const allow = new Set<string>();
    const params: string[] = [];
    const exact = this.exact.get(host);
    if (exact) {
      const hit = search(exact.root, segments, 0, method, params, allow);
      if (hit) return hit;
    }
    for (const { suffix, trie } of this.wildcards) {
      if (host.length > suffix.length && host.endsWith(suffix)) {
        const hit = search(trie.root, segments, 0, method, params, allow);
        if (hit) return hit;
      }
    }
    const hit = search(this.any.root, segments, 0, method, params, allow);
    if (hit) return hit;
    return allow.size > 0 ? { kind: "method-not-allowed", allow: [...allow].sort() } : NOT_FOUND;
  }
}

function hitOf<T>(leaf: Leaf<T> | null, method: string, params: string[], rest: string, allow: Set<string>): MatchResult<T> | null {
  if (!leaf) return null;
  const entry = leaf.byMethod.get(method) ?? leaf.any;
  if (!entry) {
    allowOf(leaf, allow);
    return null;
  }
  const named: Record<string, string> = {};
  for (let i = 0; i < entry.paramNames.length; i++) named[entry.paramNames[i]!] = params[i]!;
  return { kind: "match", value: entry.value, params: named, rest };
}

function search<T>(node: Node<T>, segments: string[], i: number, method: string, params: string[], allow: Set<string>): MatchResult<T> | null {
  if (i === segments.length) {
    return hitOf(node.exact, method, params, "", allow) ?? hitOf(node.wildcard, method, params, "", allow);
  }
  const segment = segments[i]!;
  const next = node.statics?.get(segment);
  if (next) {
    const hit = search(next, segments, i + 1, method, params, allow);
    if (hit) return hit;
  }
  if (node.param) {
    params.push(segment);
    const hit = search(node.param, segments, i + 1, method, params, allow);
    if (hit) return hit;
    params.pop();
  }
  if (node.wildcard) return hitOf(node.wildcard, method, params, segments.slice(i).join("/"), allow);
  return null;
}
