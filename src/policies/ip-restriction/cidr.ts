/**
 * Client addresses and CIDR blocks as numbers. Rules are parsed once, at startup, into sorted,
 * disjoint numeric ranges (`AddressSet`); a request then parses one address (CF-Connecting-IP) and
 * does a binary search per list, without parsing any rule, building any string or using BigInt.
 *
 * IPv4 is an unsigned 32-bit number; IPv6 is four unsigned 32-bit words, most significant first.
 * An IPv4-mapped IPv6 address (`::ffff:1.2.3.4`) is the IPv4 address it maps, and a rule inside
 * `::ffff:0:0/96` is the IPv4 rule it maps, so the two spellings of one client always match alike.
 * IPv4 clients are matched against IPv4 rules only: `::/0` means every IPv6 client, not everyone.
 *
 * Why not hono/ip-restriction (hono 4.13): its refusal for a missing or malformed address is a
 * plain-text HTTPException that this gateway's error handler turns into a 400 `bad_request`, not
 * our envelope; its rules silently mask host bits (`10.1.2.3/8` becomes `10.0.0.0/8`) and accept
 * `*`, functions and zone ids, so config validation needs its own parser anyway (errors by JSON
 * path, "did you mean"); a mapped client (`::ffff:1.2.3.4`) matches `::/0` while the same client
 * as `1.2.3.4` does not; and per request it converts the address to BigInt and scans every CIDR
 * rule, where this does a bisection over merged ranges. Measured inside workerd
 * (test/worker/ip-restriction-measure.test.ts, two runs, ns per call above a baseline middleware
 * that reads the header and calls next): 4 rules, IPv4 client 40-60 (Hono 400-460), IPv6 client
 * 200-300 (Hono 500-520); 320 rules, IPv4 20-160 (Hono 1,400-1,840), IPv6 220-240 (Hono
 * 1,480-1,580). Through the whole gateway either is below the 2 us resolution of that measure.
 */

/** Four unsigned 32-bit words of an IPv6 address, most significant first. */
export type IPv6Words = [number, number, number, number];
/** A client address: IPv4 as a number, IPv6 as words (never IPv4-mapped: that is the number). */
export type Address = number | IPv6Words;

/** A CIDR block as written in a rule, after mapping `::ffff:a.b.c.d/n` (n >= 96) to IPv4. */
export type Block =
  | { family: 4; start: number; end: number; prefix: number }
  | { family: 6; start: IPv6Words; end: IPv6Words; prefix: number };

export type CidrResult = { ok: true; block: Block } | { ok: false; problem: string };

const COLON = 58, DOT = 46, ZERO = 48, NINE = 57;

/**
 * A dotted-quad IPv4 address in `text[start, end)` as an unsigned number, or -1. Leading zeros are
 * refused: some parsers read `010` as octal, so such text names no single address.
 */
function parseIPv4(text: string, start: number, end: number): number {
  let value = 0, octet = 0, digits = 0, dots = 0;
  for (let i = start; i < end; i++) {
    const ch = text.charCodeAt(i);
    if (ch >= ZERO && ch <= NINE) {
      if (digits > 0 && octet === 0) return -1;
      octet = octet * 10 + ch - ZERO;
      if (octet > 255) return -1;
      digits++;
    } else if (ch === DOT && digits > 0 && dots < 3) {
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else {
      return -1;
    }
  }
  return digits > 0 && dots === 3 ? value * 256 + octet : -1;
}

function hexDigit(ch: number): number {
  if (ch >= ZERO && ch <= NINE) return ch - ZERO;
  const lower = ch | 0x20;
  return lower >= 97 && lower <= 102 ? lower - 87 : -1;
}

/**
 * An IPv6 address in any RFC 4291 text form (full, `::`-compressed, with a dotted IPv4 tail; hex in
 * either case) as words, or null. No zone id (`%eth0`), no brackets, no prefix.
 */
function parseIPv6(text: string): IPv6Words | null {
  const length = text.length;
  if (length < 2 || length > 45) return null;
  const groups = [0, 0, 0, 0, 0, 0, 0, 0];
  let count = 0, gap = -1, i = 0;
  if (text.charCodeAt(0) === COLON) {
    if (text.charCodeAt(1) !== COLON) return null;
    gap = 0;
    i = 2;
  }
  while (i < length) {
    if (count === 8) return null;
    const start = i;
    let value = 0, digits = 0;
    for (; i < length; i++) {
      const hex = hexDigit(text.charCodeAt(i));
      if (hex < 0) break;
      if (++digits > 4) return null;
      value = value * 16 + hex;
    }
    if (i < length && text.charCodeAt(i) === DOT) {
      // A dotted IPv4 tail: the last 32 bits.
      if (count > 6) return null;
      const v4 = parseIPv4(text, start, length);
      if (v4 < 0) return null;
      groups[count++] = Math.floor(v4 / 65536);
      groups[count++] = v4 % 65536;
      break;
    }
    if (digits === 0) return null;
    groups[count++] = value;
    if (i === length) break;
    if (text.charCodeAt(i) !== COLON) return null;
    i++;
    if (i < length && text.charCodeAt(i) === COLON) {
      if (gap >= 0) return null;
      gap = count;
      i++;
    } else if (i === length) {
      return null; // a single trailing colon
    }
  }
  if (gap < 0 ? count !== 8 : count > 7) return null;
  if (gap >= 0) {
    const tail = groups.slice(gap, count);
    groups.fill(0, gap);
    for (let k = 0; k < tail.length; k++) groups[8 - tail.length + k] = tail[k]!;
  }
  return [
    groups[0]! * 65536 + groups[1]!, groups[2]! * 65536 + groups[3]!,
    groups[4]! * 65536 + groups[5]!, groups[6]! * 65536 + groups[7]!,
  ];
}

const isMapped = (w: IPv6Words) => w[0] === 0 && w[1] === 0 && w[2] === 0xffff;

/**
 * A client address (the text of CF-Connecting-IP) as a number or words, or null when it is not
 * exactly one IPv4 or IPv6 address. An IPv4-mapped IPv6 address is returned as its IPv4 number.
 */
export function parseAddress(text: string): Address | null {
  const v4 = parseIPv4(text, 0, text.length);
  if (v4 >= 0) return v4;
  const words = parseIPv6(text);
  if (words === null) return null;
  return isMapped(words) ? words[3] : words;
}

/** The mask of the `bits` most significant bits of a 32-bit word (0 to 32 bits). */
const wordMask = (bits: number) => (bits <= 0 ? 0 : bits >= 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0);

/**
 * A rule: an address with an optional `/prefix` (a bare address is /32 or /128). Refused with a
 * sentence for the config error: a malformed address, a prefix out of range, bits set after the
 * prefix (with the block that was probably meant).
 */
export function parseCidr(rule: string): CidrResult {
  const slash = rule.indexOf("/");
  const addressText = slash < 0 ? rule : rule.slice(0, slash);
  const v4 = parseIPv4(addressText, 0, addressText.length);
  const v6 = v4 < 0 ? parseIPv6(addressText) : null;
  if (v4 < 0 && v6 === null) {
    const octal = /^\d{1,3}(\.\d{1,3}){3}$/.test(addressText) && /(^|\.)0\d/.test(addressText);
    return {
      ok: false,
      problem: octal
        ? `"${rule}": leading zeros are ambiguous (some parsers read them as octal); write ${addressText.split(".").map(Number).join(".")}`
        : `"${rule}" is not an IPv4 or IPv6 address or CIDR block (such as 10.0.0.0/8 or 2001:db8::/32)`,
    };
  }
  const max = v4 >= 0 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const prefixText = rule.slice(slash + 1);
    if (!/^\d{1,3}$/.test(prefixText)) return { ok: false, problem: `"${rule}": the prefix length must be a whole number from 0 to ${max}` };
    prefix = Number(prefixText);
    if (prefix > max) return { ok: false, problem: `"${rule}": prefix length /${prefix} is out of range for IPv${max === 32 ? 4 : 6} (0 to ${max})` };
  }
  if (v4 >= 0) {
    const mask = wordMask(prefix);
    const start = (v4 & mask) >>> 0;
    if (start !== v4) return { ok: false, problem: hostBits(rule, `${formatIPv4(start)}/${prefix}`, prefix) };
    return { ok: true, block: { family: 4, start, end: (start | ~mask) >>> 0, prefix } };
  }
  const words = v6!;
  const masks = [0, 1, 2, 3].map((k) => wordMask(prefix - 32 * k));
  const start = words.map((w, k) => (w & masks[k]!) >>> 0) as IPv6Words;
  if (start.some((w, k) => w !== words[k])) return { ok: false, problem: hostBits(rule, `${formatIPv6(start)}/${prefix}`, prefix) };
  if (isMapped(start) && prefix >= 96) {
    const mask = wordMask(prefix - 96);
    return { ok: true, block: { family: 4, start: start[3], end: (start[3] | ~mask) >>> 0, prefix: prefix - 96 } };
  }
  const end = start.map((w, k) => (w | ~masks[k]!) >>> 0) as IPv6Words;
  return { ok: true, block: { family: 6, start, end, prefix } };
}

const hostBits = (rule: string, meant: string, prefix: number) =>
  `"${rule}" has address bits set after the /${prefix} prefix: did you mean "${meant}"?`;

export function formatIPv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** RFC 5952 text: lower case, no leading zeros, the longest run of two or more zero groups as `::`. */
export function formatIPv6(words: IPv6Words): string {
  if (isMapped(words)) return `::ffff:${formatIPv4(words[3])}`;
  const groups = words.flatMap((w) => [w >>> 16, w & 0xffff]);
  let bestAt = -1, bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) { bestAt = i; bestLength = j - i; }
    i = j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(":");
  if (bestAt < 0) return hex(groups);
  return `${hex(groups.slice(0, bestAt))}::${hex(groups.slice(bestAt + bestLength))}`;
}

/** -1, 0 or 1 as a is below, equal to or above b. */
function compareWords(a: IPv6Words, b: IPv6Words): number {
  for (let k = 0; k < 4; k++) if (a[k] !== b[k]) return a[k]! < b[k]! ? -1 : 1;
  return 0;
}

/** The address after `w`, or null after the last one. */
function nextWords(w: IPv6Words): IPv6Words | null {
  const out = [...w] as IPv6Words;
  for (let k = 3; k >= 0; k--) {
    if (out[k] !== 0xffffffff) { out[k]!++; return out; }
    out[k] = 0;
  }
  return null;
}

/**
 * A list of CIDR blocks compiled into sorted, disjoint, non-adjacent ranges per family, searched by
 * bisection: per request O(log ranges) comparisons of plain numbers, whatever the list's length.
 */
export class AddressSet {
  /** IPv4 ranges: start, end pairs. */
  private readonly v4: Uint32Array;
  /** IPv6 ranges: start words, end words (8 words a range). */
  private readonly v6: Uint32Array;

  private constructor(v4: Uint32Array, v6: Uint32Array) {
    this.v4 = v4;
    this.v6 = v6;
  }

  static readonly EMPTY = new AddressSet(new Uint32Array(0), new Uint32Array(0));

  /** Compiles blocks (in any order, overlapping or not) into ranges. */
  static of(blocks: Iterable<Block>): AddressSet {
    const v4: [number, number][] = [];
    const v6: [IPv6Words, IPv6Words][] = [];
    for (const block of blocks) {
      if (block.family === 4) v4.push([block.start, block.end]);
      else v6.push([block.start, block.end]);
    }
    v4.sort((a, b) => a[0] - b[0]);
    const merged4: [number, number][] = [];
    for (const [start, end] of v4) {
      const last = merged4.at(-1);
      if (last && start <= last[1] + 1) last[1] = Math.max(last[1], end);
      else merged4.push([start, end]);
    }
    v6.sort((a, b) => compareWords(a[0], b[0]));
    const merged6: [IPv6Words, IPv6Words][] = [];
    for (const [start, end] of v6) {
      const last = merged6.at(-1);
      const after = last && nextWords(last[1]);
      if (last && (after === null || compareWords(start, after!) <= 0)) {
        if (compareWords(end, last[1]) > 0) last[1] = end;
      } else {
        merged6.push([start, end]);
      }
    }
    if (merged4.length === 0 && merged6.length === 0) return AddressSet.EMPTY;
    return new AddressSet(new Uint32Array(merged4.flat()), new Uint32Array(merged6.flatMap(([s, e]) => [...s, ...e])));
  }

  /** Parses and compiles rules; throws TypeError naming the first bad rule (the schema lists them all). */
  static fromRules(rules: Iterable<string>, where: string): AddressSet {
    const blocks: Block[] = [];
    for (const rule of rules) {
      const parsed = parseCidr(rule);
      if (!parsed.ok) throw new TypeError(`${where}: ${parsed.problem}`);
      blocks.push(parsed.block);
    }
    return AddressSet.of(blocks);
  }

  /** True when the set holds no address. */
  get empty(): boolean {
    return this.v4.length === 0 && this.v6.length === 0;
  }

  has(address: Address): boolean {
    return typeof address === "number" ? this.index4(address) >= 0 : this.index6(address) >= 0;
  }

  /** True when every address of this set is also in `other` (an allow list that denial swallows). */
  within(other: AddressSet): boolean {
    // Ranges of `other` are merged, so a covered range lies inside one of them: the one holding its start.
    for (let i = 0; i < this.v4.length; i += 2) {
      const at = other.index4(this.v4[i]!);
      if (at < 0 || other.v4[at * 2 + 1]! < this.v4[i + 1]!) return false;
    }
    for (let i = 0; i < this.v6.length; i += 8) {
      const at = other.index6(wordsAt(this.v6, i));
      if (at < 0 || compareAt(other.v6, at * 8 + 4, wordsAt(this.v6, i + 4)) < 0) return false;
    }
    return true;
  }

  /** The index of the IPv4 range holding `a`, or -1: the last range starting at or below a, if a is within it. */
  private index4(a: number): number {
    const r = this.v4;
    let lo = 0, hi = (r.length >> 1) - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (r[mid * 2]! <= a) lo = mid + 1;
      else hi = mid - 1;
    }
    return hi >= 0 && a <= r[hi * 2 + 1]! ? hi : -1;
  }

  private index6(a: IPv6Words): number {
    const r = this.v6;
    let lo = 0, hi = (r.length >> 3) - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (compareAt(r, mid * 8, a) <= 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return hi >= 0 && compareAt(r, hi * 8 + 4, a) >= 0 ? hi : -1;
  }
}

const wordsAt = (ranges: Uint32Array, at: number): IPv6Words => [ranges[at]!, ranges[at + 1]!, ranges[at + 2]!, ranges[at + 3]!];

/** Compares the four words of `ranges` at `at` with `a`: -1, 0 or 1. */
function compareAt(ranges: Uint32Array, at: number, a: IPv6Words): number {
  for (let k = 0; k < 4; k++) {
    const w = ranges[at + k]!;
    if (w !== a[k]) return w < a[k]! ? -1 : 1;
  }
  return 0;
}
