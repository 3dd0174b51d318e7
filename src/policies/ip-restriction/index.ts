/**
 * IP allow and deny lists: `ipAllow` / `ipDeny` on a route, `ipRestriction: { allow, deny }` for
 * every route of the table. A route's lists add to the table's (docs/ip-restriction.md):
 *
 *   denied  = ipRestriction.deny + route.ipDeny
 *   allowed = ipRestriction.allow + route.ipAllow
 *   a request passes when its address is not denied, and (when `allowed` is not empty) is allowed.
 *
 * First in the pipeline: a refused address costs no token check, key lookup or counter.
 */
import { z } from "zod";
import { definePolicy, type Loose, type PolicyTable } from "../../policy.ts";
import { AddressSet, parseCidr } from "./cidr.ts";
import { ipRestriction, ipRestrictionErrors, type IpRules } from "./policy.ts";
import { isObject } from "../../config/core.ts";

export { ipRestriction, ipRestrictionErrors, type IpRules } from "./policy.ts";
export { AddressSet, formatIPv4, formatIPv6, parseAddress, parseCidr, type Address, type Block } from "./cidr.ts";

const Cidr = z.string().superRefine((rule, ctx) => {
  const parsed = parseCidr(rule);
  if (!parsed.ok) ctx.addIssue({ code: "custom", message: parsed.problem });
}).describe("An IPv4 or IPv6 address or CIDR block: 10.0.0.0/8, 2001:db8::/32, 203.0.113.7 (/32), 2001:db8::1 (/128).");
const CidrList = z.array(Cidr).min(1, "must list at least one address or CIDR block (leave the field out for no rule)");

/** The raw list at `value` when it is a non-empty array of rules that all parse, else undefined (the schema reports it). */
function validList(value: unknown): string[] | undefined {
  if (!Array.isArray(value) || value.length === 0 || !value.every((rule) => typeof rule === "string" && parseCidr(rule).ok)) return undefined;
  return value as string[];
}

/** A set of rules validList has checked. */
const compile = (rules: readonly string[]) => AddressSet.fromRules(rules, "ip-restriction");

const NOBODY = "admits no address: every address the allow lists hold is also denied (deny wins over allow)";

const IpRestrictionSchema = z.strictObject({
  allow: CidrList.optional().describe("Only these addresses may call any route (a route's ipAllow adds to this list)."),
  deny: CidrList.optional().describe("These addresses may call no route (a route's ipDeny adds to this list). Deny wins over allow."),
}).superRefine((lists, ctx) => {
  // Zod runs this even when a rule failed, so it reads the lists defensively.
  if (lists.allow === undefined && lists.deny === undefined) {
    ctx.addIssue({ code: "custom", message: "needs allow or deny (or leave ipRestriction out)" });
    return;
  }
  const allow = validList(lists.allow), deny = validList(lists.deny);
  if (allow && deny && compile(allow).within(compile(deny))) ctx.addIssue({ code: "custom", path: ["allow"], message: NOBODY });
}).describe("Client address rules for every route: `allow` and `deny`, lists of IPv4 and IPv6 CIDR blocks that a route's ipAllow and ipDeny add to. Deny wins; a non-empty allow list admits only its addresses.");

type Table = PolicyTable<{ ipRestriction: z.ZodOptional<typeof IpRestrictionSchema> }>;

// Rules compiled once per table, shared by every route that adds no list of its own.
const tableRules = new WeakMap<object, IpRules>();

function rulesOfTable(table: Table): IpRules {
  const lists = table.ipRestriction;
  if (!lists) return { allow: AddressSet.EMPTY, deny: AddressSet.EMPTY };
  let rules = tableRules.get(lists);
  if (!rules) {
    rules = { allow: AddressSet.fromRules(lists.allow ?? [], "ipRestriction.allow"), deny: AddressSet.fromRules(lists.deny ?? [], "ipRestriction.deny") };
    tableRules.set(lists, rules);
  }
  return rules;
}

export const ipRestrictionPolicy = definePolicy({
  name: "ip-restriction",
  summary: "Admits or refuses requests by client address (CF-Connecting-IP) against CIDR allow and deny lists, before any other policy.",
  routeFields: {
    ipAllow: CidrList.optional().describe("Only these client addresses may call the route (added to ipRestriction.allow). IPv4 or IPv6 CIDR blocks; a bare address is /32 or /128."),
    ipDeny: CidrList.optional().describe("These client addresses may not call the route (added to ipRestriction.deny). Deny wins over allow."),
  },
  tableFields: { ipRestriction: IpRestrictionSchema.optional() },
  errors: ipRestrictionErrors,
  checkRoute({ table, route, issue }) {
    // A route whose lists admit nobody: almost certainly a mistake, so it fails the build.
    if (route.ipAllow === undefined && route.ipDeny === undefined) return;
    const tableLists = isObject(table.ipRestriction) ? table.ipRestriction : {};
    const lists = [tableLists.allow, route.ipAllow, tableLists.deny, route.ipDeny].map((list) => (list === undefined ? [] : validList(list)));
    if (lists.some((list) => list === undefined)) return;
    const [tableAllow, routeAllow, tableDeny, routeDeny] = lists as string[][];
    const allow = [...tableAllow!, ...routeAllow!];
    if (allow.length === 0) return;
    if (compile(allow).within(compile([...tableDeny!, ...routeDeny!]))) issue(NOBODY, route.ipDeny !== undefined ? "ipDeny" : "ipAllow");
  },
  create(route, table) {
    const shared = rulesOfTable(table);
    if (route.ipAllow === undefined && route.ipDeny === undefined) return shared.allow.empty && shared.deny.empty ? undefined : ipRestriction(shared);
    const lists = table.ipRestriction;
    return ipRestriction({
      allow: AddressSet.fromRules([...(lists?.allow ?? []), ...(route.ipAllow ?? [])], `route "${route.id}": ipAllow`),
      deny: AddressSet.fromRules([...(lists?.deny ?? []), ...(route.ipDeny ?? [])], `route "${route.id}": ipDeny`),
    });
  },
});
