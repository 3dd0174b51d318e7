/** The CIDR matching of the ip-restriction policy: address parsing, rule parsing, and compiled sets. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AddressSet, formatIPv6, parseAddress, parseCidr, type Address } from "../../../../src/policies/ip-restriction/index.ts";

const set = (...rules: string[]) => AddressSet.fromRules(rules, "test");
const address = (text: string): Address => {
  const parsed = parseAddress(text);
  if (parsed === null) throw new Error(`${text} did not parse`);
  return parsed;
};
const holds = (rules: string[], text: string) => set(...rules).has(address(text));
const problemOf = (rule: string) => {
  const parsed = parseCidr(rule);
  if (parsed.ok) throw new Error(`${rule} parsed`);
  return parsed.problem;
};

describe("parseAddress", () => {
  it.each([
    ["0.0.0.0", 0],
    ["255.255.255.255", 0xffffffff],
    ["10.1.2.3", 0x0a010203],
    ["203.0.113.7", 0xcb007107],
  ])("reads the IPv4 address %s as a number", (text, value) => {
    expect(parseAddress(text)).toBe(value);
  });

  it.each([
    ["2001:db8::1", [0x20010db8, 0, 0, 1]],
    ["2001:0DB8:0000:0000:0000:0000:0000:0001", [0x20010db8, 0, 0, 1]],
    ["2001:db8:0:0:0:0:0:1", [0x20010db8, 0, 0, 1]],
    ["::", [0, 0, 0, 0]],
    ["::1", [0, 0, 0, 1]],
    ["1::", [0x00010000, 0, 0, 0]],
    ["fe80::1:2", [0xfe800000, 0, 0, 0x00010002]],
    ["::1:2:3:4:5:6:7", [0x00000001, 0x00020003, 0x00040005, 0x00060007]],
    ["1:2:3:4:5:6:7::", [0x00010002, 0x00030004, 0x00050006, 0x00070000]],
    ["ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff]],
    ["64:ff9b::192.0.2.33", [0x0064ff9b, 0, 0, 0xc0000221]],
    ["::192.0.2.33", [0, 0, 0, 0xc0000221]], // IPv4-compatible (deprecated): an IPv6 address, not mapped
  ])("reads the IPv6 address %s in every compression form", (text, words) => {
    expect(parseAddress(text)).toEqual(words);
  });

  it.each([
    ["::ffff:10.1.2.3", 0x0a010203],
    ["::FFFF:10.1.2.3", 0x0a010203],
    ["0:0:0:0:0:ffff:a01:203", 0x0a010203],
    ["::ffff:0a01:0203", 0x0a010203],
  ])("reads the IPv4-mapped IPv6 address %s as its IPv4 address", (text, value) => {
    expect(parseAddress(text)).toBe(value);
  });

  it.each([
    "", " ", "10.1.2.3 ", " 10.1.2.3", "10.1.2", "10.1.2.3.4", "10.1.2.", ".10.1.2", "10..2.3", "256.1.2.3", "10.1.2.300",
    "010.1.2.3", "10.01.2.3", "00.1.2.3", "1e1.1.2.3", "0x0a.1.2.3", "10.1.2.3/32",
    ":", ":::", "1:::2", "1::2::3", ":1::2", "1::2:", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "::1:2:3:4:5:6:7:8",
    "1:2:3:4:5:6:7:", "12345::", "g::1", "fe80::1%eth0", "fe80::1%", "[::1]", "::ffff:1.2.3", "::ffff:01.2.3.4",
    "::1.2.3.4:5", "1:2:3:4:5:6:7:1.2.3.4", "::ffff:1.2.3.4.5", "unknown", "2001:db8::1, 10.0.0.1",
  ])("refuses %j: not exactly one address", (text) => {
    expect(parseAddress(text)).toBeNull();
  });
});

describe("parseCidr", () => {
  it("reads a bare address as /32 or /128", () => {
    expect(parseCidr("10.1.2.3")).toEqual({ ok: true, block: { family: 4, start: 0x0a010203, end: 0x0a010203, prefix: 32 } });
    expect(parseCidr("2001:db8::1")).toEqual({ ok: true, block: { family: 6, start: [0x20010db8, 0, 0, 1], end: [0x20010db8, 0, 0, 1], prefix: 128 } });
  });

  it("reads a block as its first and last address", () => {
    expect(parseCidr("10.0.0.0/8")).toEqual({ ok: true, block: { family: 4, start: 0x0a000000, end: 0x0affffff, prefix: 8 } });
    expect(parseCidr("0.0.0.0/0")).toEqual({ ok: true, block: { family: 4, start: 0, end: 0xffffffff, prefix: 0 } });
    expect(parseCidr("2001:db8::/32")).toEqual({ ok: true, block: { family: 6, start: [0x20010db8, 0, 0, 0], end: [0x20010db8, 0xffffffff, 0xffffffff, 0xffffffff], prefix: 32 } });
    expect(parseCidr("2001:db8:0:8000::/49")).toEqual({ ok: true, block: { family: 6, start: [0x20010db8, 0x8000, 0, 0], end: [0x20010db8, 0xffff, 0xffffffff, 0xffffffff], prefix: 49 } });
  });

  it("reads a rule inside ::ffff:0:0/96 as the IPv4 rule it maps", () => {
    expect(parseCidr("::ffff:10.0.0.0/104")).toEqual({ ok: true, block: { family: 4, start: 0x0a000000, end: 0x0affffff, prefix: 8 } });
    expect(parseCidr("::ffff:0:0/96")).toEqual({ ok: true, block: { family: 4, start: 0, end: 0xffffffff, prefix: 0 } });
    expect(parseCidr("::ffff:1.2.3.4")).toMatchObject({ ok: true, block: { family: 4, prefix: 32 } });
    expect(parseCidr("::/0")).toMatchObject({ ok: true, block: { family: 6, prefix: 0 } });
  });

  it.each([
    ["10.0.0.0/33", `"10.0.0.0/33": prefix length /33 is out of range for IPv4 (0 to 32)`],
    ["2001:db8::/129", `"2001:db8::/129": prefix length /129 is out of range for IPv6 (0 to 128)`],
    ["10.0.0.0/", `"10.0.0.0/": the prefix length must be a whole number from 0 to 32`],
    ["10.0.0.0/-1", `"10.0.0.0/-1": the prefix length must be a whole number from 0 to 32`],
    ["10.0.0.0/8.5", `"10.0.0.0/8.5": the prefix length must be a whole number from 0 to 32`],
    ["10.0.0.0/8/8", `"10.0.0.0/8/8": the prefix length must be a whole number from 0 to 32`],
    ["::/1000", `"::/1000": the prefix length must be a whole number from 0 to 128`],
    ["10.0.0.300/8", `"10.0.0.300/8" is not an IPv4 or IPv6 address or CIDR block (such as 10.0.0.0/8 or 2001:db8::/32)`],
    ["", `"" is not an IPv4 or IPv6 address or CIDR block (such as 10.0.0.0/8 or 2001:db8::/32)`],
    ["/8", `"/8" is not an IPv4 or IPv6 address or CIDR block (such as 10.0.0.0/8 or 2001:db8::/32)`],
    ["*", `"*" is not an IPv4 or IPv6 address or CIDR block (such as 10.0.0.0/8 or 2001:db8::/32)`],
    ["fe80::1%eth0/64", `"fe80::1%eth0/64" is not an IPv4 or IPv6 address or CIDR block (such as 10.0.0.0/8 or 2001:db8::/32)`],
    ["010.0.0.0/8", `"010.0.0.0/8": leading zeros are ambiguous (some parsers read them as octal); write 10.0.0.0`],
    ["10.1.2.3/8", `"10.1.2.3/8" has address bits set after the /8 prefix: did you mean "10.0.0.0/8"?`],
    ["192.168.1.1/24", `"192.168.1.1/24" has address bits set after the /24 prefix: did you mean "192.168.1.0/24"?`],
    ["2001:db8::1/32", `"2001:db8::1/32" has address bits set after the /32 prefix: did you mean "2001:db8::/32"?`],
    ["2001:db8:1:2:3:4:5:6/64", `"2001:db8:1:2:3:4:5:6/64" has address bits set after the /64 prefix: did you mean "2001:db8:1:2::/64"?`],
    ["::ffff:10.1.2.3/104", `"::ffff:10.1.2.3/104" has address bits set after the /104 prefix: did you mean "::ffff:10.0.0.0/104"?`],
  ])("refuses %j with a sentence", (rule, problem) => {
    expect(problemOf(rule)).toBe(problem);
  });
});

describe("AddressSet", () => {
  it("holds both edges of an IPv4 block and nothing either side", () => {
    const rules = ["10.0.0.0/8"];
    expect(holds(rules, "10.0.0.0")).toBe(true);
    expect(holds(rules, "10.255.255.255")).toBe(true);
    expect(holds(rules, "9.255.255.255")).toBe(false);
    expect(holds(rules, "11.0.0.0")).toBe(false);
  });

  it("holds every IPv4 address under /0 and exactly one under /32", () => {
    expect(holds(["0.0.0.0/0"], "0.0.0.0")).toBe(true);
    expect(holds(["0.0.0.0/0"], "255.255.255.255")).toBe(true);
    expect(holds(["203.0.113.7"], "203.0.113.7")).toBe(true);
    expect(holds(["203.0.113.7"], "203.0.113.6")).toBe(false);
    expect(holds(["203.0.113.7"], "203.0.113.8")).toBe(false);
  });

  it("holds both edges of an IPv6 block and nothing either side, however the addresses are written", () => {
    const rules = ["2001:db8::/32"];
    expect(holds(rules, "2001:db8::")).toBe(true);
    expect(holds(rules, "2001:0DB8:0:0:0:0:0:0")).toBe(true);
    expect(holds(rules, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")).toBe(true);
    expect(holds(rules, "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff")).toBe(false);
    expect(holds(rules, "2001:db9::")).toBe(false);
  });

  it("compares prefixes that end inside a word and on word boundaries", () => {
    expect(holds(["2001:db8:0:8000::/49"], "2001:db8:0:ffff:ffff:ffff:ffff:ffff")).toBe(true);
    expect(holds(["2001:db8:0:8000::/49"], "2001:db8:0:7fff:ffff:ffff:ffff:ffff")).toBe(false);
    expect(holds(["2001:db8:1:2::/64"], "2001:db8:1:2:ffff:ffff:ffff:ffff")).toBe(true);
    expect(holds(["2001:db8:1:2::/64"], "2001:db8:1:3::")).toBe(false);
    expect(holds(["2001:db8::/127"], "2001:db8::1")).toBe(true);
    expect(holds(["2001:db8::/127"], "2001:db8::2")).toBe(false);
  });

  it("matches an IPv4-mapped client against IPv4 rules, and a mapped rule against an IPv4 client", () => {
    expect(holds(["10.0.0.0/8"], "::ffff:10.1.2.3")).toBe(true);
    expect(holds(["10.0.0.0/8"], "::ffff:11.1.2.3")).toBe(false);
    expect(holds(["::ffff:10.0.0.0/104"], "10.1.2.3")).toBe(true);
    expect(holds(["::ffff:10.0.0.0/104"], "::ffff:10.1.2.3")).toBe(true);
  });

  it("keeps the families apart: ::/0 holds every IPv6 client and no IPv4 one", () => {
    expect(holds(["::/0"], "2001:db8::1")).toBe(true);
    expect(holds(["::/0"], "::")).toBe(true);
    expect(holds(["::/0"], "10.1.2.3")).toBe(false);
    expect(holds(["::/0"], "::ffff:10.1.2.3")).toBe(false);
    expect(holds(["0.0.0.0/0"], "2001:db8::1")).toBe(false);
  });

  it("merges overlapping, nested and adjacent blocks and still finds every address", () => {
    const rules = ["10.0.0.0/9", "10.128.0.0/9", "10.5.0.0/16", "192.168.0.0/24", "192.168.1.0/24", "172.16.0.1"];
    for (const [text, expected] of [["10.0.0.0", true], ["10.127.255.255", true], ["10.128.0.0", true], ["10.255.255.255", true], ["11.0.0.0", false],
      ["192.168.1.255", true], ["192.168.2.0", false], ["172.16.0.1", true], ["172.16.0.2", false], ["172.16.0.0", false]] as const) {
      expect(holds(rules, text), text).toBe(expected);
    }
    expect(set("10.0.0.0/8").within(set(...rules))).toBe(true);
  });

  it("tells when a set lies within another (an allow list that deny swallows)", () => {
    expect(set("10.1.0.0/16").within(set("10.0.0.0/8"))).toBe(true);
    expect(set("10.0.0.0/8").within(set("10.0.0.0/9"))).toBe(false);
    expect(set("10.0.0.0/8").within(set("10.0.0.0/9", "10.128.0.0/9"))).toBe(true);
    expect(set("10.0.0.0/8", "2001:db8::/32").within(set("10.0.0.0/8"))).toBe(false);
    expect(set("2001:db8::/33", "2001:db8:8000::/33").within(set("2001:db8::/32"))).toBe(true);
    expect(set("2001:db8::/32").within(set("2001:db8::/33", "2001:db8:8000::/33"))).toBe(true);
    expect(set("2001:db8::/32").within(set("2001:db8::/33"))).toBe(false);
    expect(set("::/0").within(set("::/1", "8000::/1"))).toBe(true);
    expect(AddressSet.EMPTY.within(set("10.0.0.0/8"))).toBe(true);
  });

  it("names the bad rule when compiling rules the schema did not check", () => {
    expect(() => AddressSet.fromRules(["10.0.0.0/8", "10.1.2.3/8"], `route "r": ipAllow`))
      .toThrow(new TypeError(`route "r": ipAllow: "10.1.2.3/8" has address bits set after the /8 prefix: did you mean "10.0.0.0/8"?`));
  });
});

// An independent oracle: addresses as BigInt (128 bits, IPv4 in its own family), blocks by shifting.
type Oracle = { family: 4 | 6; value: bigint };
const groupsOf = (value: bigint) => Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn));
const wordsOf = (value: bigint) => Array.from({ length: 4 }, (_, i) => Number((value >> BigInt(96 - 32 * i)) & 0xffffffffn));
const ipv6Value = fc.oneof(
  fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }),
  // Runs of zero groups, so that `::` appears in many places.
  fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 })
    .map((groups) => groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n)),
  fc.integer({ min: 0, max: 0xffffffff }).map((v4) => (0xffffn << 32n) | BigInt(v4)),
);

/** The address written in a random legal form: leading zeros, either case, `::` on any zero run. */
const writtenForms = (value: bigint) => fc.record({ pad: fc.boolean(), upper: fc.boolean(), gapPick: fc.nat() }).map(({ pad, upper, gapPick }) => {
  const groups = groupsOf(value).map((g) => (pad ? g.toString(16).padStart(4, "0") : g.toString(16)));
  const runs: [number, number][] = [];
  for (let i = 0; i < 8; i++) if (groupsOf(value)[i] === 0) {
    let j = i;
    while (j < 8 && groupsOf(value)[j] === 0) j++;
    for (let a = i; a < j; a++) for (let b = a + 1; b <= j; b++) runs.push([a, b]);
    i = j;
  }
  let text = groups.join(":");
  if (runs.length > 0 && gapPick % 3 !== 0) {
    const [a, b] = runs[gapPick % runs.length]!;
    text = `${groups.slice(0, a).join(":")}::${groups.slice(b).join(":")}`;
  }
  return upper ? text.toUpperCase() : text;
});

describe("against an independent oracle", () => {
  it("reads every written form of an IPv6 address as the same address", () => {
    fc.assert(fc.property(ipv6Value.chain((value) => fc.tuple(fc.constant(value), writtenForms(value))), ([value, text]) => {
      const mapped = value >> 32n === 0xffffn;
      expect(parseAddress(text)).toEqual(mapped ? Number(value & 0xffffffffn) : wordsOf(value));
    }), { numRuns: 2000 });
  });

  it("writes an IPv6 address as the WHATWG URL parser does (RFC 5952), mapped addresses aside", () => {
    fc.assert(fc.property(ipv6Value, (value) => {
      fc.pre(value >> 32n !== 0xffffn);
      const words = wordsOf(value) as [number, number, number, number];
      expect(formatIPv6(words)).toBe(new URL(`http://[${formatIPv6(words)}]/`).hostname.slice(1, -1));
      expect(new URL(`http://[${groupsOf(value).map((g) => g.toString(16)).join(":")}]/`).hostname).toBe(`[${formatIPv6(words)}]`);
    }), { numRuns: 1000 });
  });

  const oracleBlock = fc.oneof(
    fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 32 })).map(([v, prefix]): [Oracle, number] => [{ family: 4, value: BigInt(v) }, prefix]),
    fc.tuple(ipv6Value, fc.integer({ min: 0, max: 128 })).map(([v, prefix]): [Oracle, number] => [{ family: 6, value: v }, prefix]),
  ).map(([{ family, value }, prefix]) => {
    const bits = family === 4 ? 32n : 128n;
    const network = (value >> (bits - BigInt(prefix))) << (bits - BigInt(prefix));
    return { family, value: network, prefix };
  });
  const text = ({ family, value }: Oracle) => (family === 4
    ? [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 255n)).join(".")
    : groupsOf(value).map((g) => g.toString(16)).join(":"));
  /** Containment by the oracle, with mapped addresses and mapped rules as IPv4. */
  const normal = (a: Oracle, prefix = a.family === 4 ? 32 : 128) =>
    a.family === 6 && a.value >> 32n === 0xffffn && prefix >= 96 ? { family: 4 as const, value: a.value & 0xffffffffn, prefix: prefix - 96 } : { ...a, prefix };
  const contains = (block: { family: 4 | 6; value: bigint; prefix: number }, address: Oracle) => {
    const b = normal(block, block.prefix), a = normal(address);
    if (b.family !== a.family) return false;
    const shift = BigInt((b.family === 4 ? 32 : 128) - b.prefix);
    return a.value >> shift === b.value >> shift;
  };

  it("finds an address in a compiled set exactly when some block of the list holds it", () => {
    fc.assert(fc.property(fc.array(oracleBlock, { minLength: 1, maxLength: 12 }), fc.array(fc.nat(), { minLength: 1, maxLength: 20 }), (blocks, picks) => {
      const compiled = set(...blocks.map((b) => `${text(b)}/${b.prefix}`));
      // Probe each block's first and last address and their neighbours, plus random ones.
      const probes: Oracle[] = blocks.flatMap((b) => {
        const max = (b.family === 4 ? 1n << 32n : 1n << 128n) - 1n;
        const last = b.value | ((1n << BigInt((b.family === 4 ? 32 : 128) - b.prefix)) - 1n);
        return [b.value - 1n, b.value, last, last + 1n].filter((v) => v >= 0n && v <= max).map((value) => ({ family: b.family, value }));
      });
      for (const pick of picks) probes.push(pick % 2 ? { family: 4, value: BigInt(pick % 2 ** 32) } : { family: 6, value: BigInt(pick) << 90n });
      for (const probe of probes) {
        const expected = blocks.some((b) => contains(b, probe));
        expect(compiled.has(address(text(probe))), `${text(probe)} in ${blocks.map((b) => `${text(b)}/${b.prefix}`)}`).toBe(expected);
      }
    }), { numRuns: 500 });
  });
});
