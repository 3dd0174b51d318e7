/** Config errors of the ip-restriction policy: every problem listed by its JSON path, in our words. */
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { loadRouteTable, parseRouteTable } from "../../src/config/index.ts";
import { ok, origins, problemsOf } from "../support/route-table.ts";

const NOT_AN_ADDRESS = "is not an IPv4 or IPv6 address or CIDR block (such as 10.0.0.0/8 or 2001:db8::/32)";
const EMPTY = "must list at least one address or CIDR block (leave the field out for no rule)";
const NOBODY = "admits no address: every address the allow lists hold is also denied (deny wins over allow)";

describe("ip-restriction in the route table", () => {
  it("accepts IPv4 and IPv6 blocks and bare addresses, on routes and table-wide", () => {
    const table = loadRouteTable({
      origins,
      ipRestriction: { allow: ["10.0.0.0/8", "2001:db8::/32"], deny: ["10.9.0.0/16"] },
      routes: [{ ...ok, ipAllow: ["203.0.113.7", "2001:db8::1", "::ffff:192.0.2.0/120"], ipDeny: ["10.1.0.0/16", "::/0"] }],
    });
    expect(table.routes[0]!.ipAllow).toEqual(["203.0.113.7", "2001:db8::1", "::ffff:192.0.2.0/120"]);
    expect(table.ipRestriction).toEqual({ allow: ["10.0.0.0/8", "2001:db8::/32"], deny: ["10.9.0.0/16"] });
  });

  it("lists every bad rule in one pass, each by its JSON path", () => {
    expect(problemsOf({
      origins,
      ipRestriction: { allow: ["10.0.0.0/8", "10.0.0.0/33"], deny: [] },
      routes: [
        { ...ok, ipAllow: ["10.1.2.3/8", "not-an-ip", "2001:db8::/129"], ipDeny: ["2001:db8::1/32"] },
        { ...ok, id: "two", path: "/two", ipAllow: [], ipDeny: ["192.168.0.1/16", 42] },
      ],
    })).toEqual([
      `routes[0] ("ok").ipAllow[0]: "10.1.2.3/8" has address bits set after the /8 prefix: did you mean "10.0.0.0/8"?`,
      `routes[0] ("ok").ipAllow[1]: "not-an-ip" ${NOT_AN_ADDRESS}`,
      `routes[0] ("ok").ipAllow[2]: "2001:db8::/129": prefix length /129 is out of range for IPv6 (0 to 128)`,
      `routes[0] ("ok").ipDeny[0]: "2001:db8::1/32" has address bits set after the /32 prefix: did you mean "2001:db8::/32"?`,
      `routes[1] ("two").ipAllow: ${EMPTY}`,
      `routes[1] ("two").ipDeny[0]: "192.168.0.1/16" has address bits set after the /16 prefix: did you mean "192.168.0.0/16"?`,
      "routes[1] (\"two\").ipDeny[1]: must be a string, not a number",
      `ipRestriction.allow[1]: "10.0.0.0/33": prefix length /33 is out of range for IPv4 (0 to 32)`,
      `ipRestriction.deny: ${EMPTY}`,
    ]);
  });

  it.each([
    [["10.0.0.0/8/8"], `"10.0.0.0/8/8": the prefix length must be a whole number from 0 to 32`],
    [["10.0.0.0/"], `"10.0.0.0/": the prefix length must be a whole number from 0 to 32`],
    [["010.0.0.0/8"], `"010.0.0.0/8": leading zeros are ambiguous (some parsers read them as octal); write 10.0.0.0`],
    [["fe80::1%eth0"], `"fe80::1%eth0" ${NOT_AN_ADDRESS}`],
    [["*"], `"*" ${NOT_AN_ADDRESS}`],
    [["10.0.0.0 /8"], `"10.0.0.0 /8" ${NOT_AN_ADDRESS}`],
  ])("explains the rule %j", (ipAllow, problem) => {
    expect(problemsOf({ origins, routes: [{ ...ok, ipAllow }] })).toEqual([`routes[0] ("ok").ipAllow[0]: ${problem}`]);
  });

  it("refuses an ipRestriction with neither list, and unknown members", () => {
    expect(problemsOf({ origins, routes: [ok], ipRestriction: {} })).toEqual(["ipRestriction: needs allow or deny (or leave ipRestriction out)"]);
    expect(problemsOf({ origins, routes: [ok], ipRestriction: { allowed: ["10.0.0.0/8"] } })).toEqual([
      `ipRestriction: unknown field "allowed" (did you mean "allow"?)`,
      "ipRestriction: needs allow or deny (or leave ipRestriction out)",
    ]);
  });

  it("refuses lists that admit no address, because deny wins", () => {
    expect(problemsOf({ origins, routes: [{ ...ok, ipAllow: ["10.1.0.0/16"], ipDeny: ["10.0.0.0/8"] }] })).toEqual([`routes[0] ("ok").ipDeny: ${NOBODY}`]);
    expect(problemsOf({ origins, routes: [{ ...ok, ipAllow: ["10.0.0.0/8"] }], ipRestriction: { deny: ["10.0.0.0/9", "10.128.0.0/9"] } }))
      .toEqual([`routes[0] ("ok").ipAllow: ${NOBODY}`]);
    expect(problemsOf({ origins, routes: [ok], ipRestriction: { allow: ["2001:db8::/48"], deny: ["2001:db8::/32"] } }))
      .toEqual([`ipRestriction.allow: ${NOBODY}`]);
    // A list with its own problem is not judged again: one problem, one line.
    expect(problemsOf({ origins, routes: [{ ...ok, ipAllow: [] }, { ...ok, id: "x", path: "/x", ipAllow: ["10.1.2.3/8"] }], ipRestriction: { allow: ["10.0.0.0/8"], deny: ["10.0.0.0/8", "nope"] } })).toEqual([
      `routes[0] ("ok").ipAllow: ${EMPTY}`,
      `routes[1] ("x").ipAllow[0]: "10.1.2.3/8" has address bits set after the /8 prefix: did you mean "10.0.0.0/8"?`,
      `ipRestriction.deny[1]: "nope" ${NOT_AN_ADDRESS}`,
    ]);
    expect(problemsOf({ origins, routes: [{ ...ok, ipAllow: [] }], ipRestriction: { allow: ["10.0.0.0/8"], deny: ["10.0.0.0/8"] } })).toEqual([
      `routes[0] ("ok").ipAllow: ${EMPTY}`,
      `ipRestriction.allow: ${NOBODY}`,
    ]);
    // Admitting some of the allow list is fine, and so is a route's ipAllow beyond a swallowed table list.
    expect(parseRouteTable({ origins, routes: [{ ...ok, ipAllow: ["10.0.0.0/8"], ipDeny: ["10.0.0.0/9"] }] }).ok).toBe(true);
    expect(parseRouteTable({ origins, routes: [{ ...ok, ipAllow: ["10.0.0.0/8", "2001:db8::/32"], ipDeny: ["10.0.0.0/8"] }] }).ok).toBe(true);
  });
});

describe("npm run check with ip-restriction", () => {
  it("exits non-zero and lists the bad rules by JSON path", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ip-check-"));
    const file = join(dir, "routes.json");
    writeFileSync(file, JSON.stringify({ origins, ipRestriction: { deny: [] }, routes: [{ ...ok, ipAllow: ["10.1.2.3/8"] }] }));
    const result = await promisify(execFile)(join(process.cwd(), "node_modules/.bin/node"), ["scripts/check.ts", file])
      .then(() => ({ code: 0, stderr: "" }), (err: { code: number; stderr: string }) => err);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`  routes[0] ("ok").ipAllow[0]: "10.1.2.3/8" has address bits set after the /8 prefix: did you mean "10.0.0.0/8"?`);
    expect(result.stderr).toContain(`  ipRestriction.deny: ${EMPTY}`);
  });
});
