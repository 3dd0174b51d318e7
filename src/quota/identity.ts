/**
 * Who a request is counted as. Only what the gateway can vouch for: the connecting address from
 * `CF-Connecting-IP` (set by Cloudflare, never by the client; `X-Forwarded-For` is ignored), a verified
 * JWT claim, or a verified API key id.
 */

/**
 * The counting key of a client address: an IPv4 address as written, an IPv6 address reduced to its
 * /64 (one subscriber usually holds a whole /64, so counting single IPv6 addresses would let a client
 * rotate through 2^64 of them). IPv4-mapped IPv6 counts as the IPv4 address. Null for anything that
 * is not an IP address.
 */
export function addressKey(ip: string): string | null {
  if (IPV4.test(ip)) return ipv4(ip);
  const groups = ipv6Groups(ip);
  if (!groups) return null;
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `${groups[6]! >> 8}.${groups[6]! & 255}.${groups[7]! >> 8}.${groups[7]! & 255}`;
  }
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(":")}::/64`;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function ipv4(ip: string): string | null {
  const parts = ip.split(".");
  // Leading zeros are refused: some parsers read them as octal, so they name no single address.
  if (parts.some((p) => Number(p) > 255 || (p.length > 1 && p.startsWith("0")))) return null;
  return parts.map(Number).join(".");
}

/** The eight 16-bit groups of an IPv6 address, or null. Accepts `::` and a trailing dotted IPv4. */
function ipv6Groups(ip: string): number[] | null {
  if (!/^[0-9A-Fa-f:.]{2,45}$/.test(ip)) return null;
  let text = ip;
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(":");
  if (lastColon < 0) return null;
  const last = text.slice(lastColon + 1);
  if (last.includes(".")) {
    const v4 = IPV4.test(last) ? ipv4(last) : null;
    if (!v4) return null;
    const [a, b, c, d] = v4.split(".").map(Number) as [number, number, number, number];
    tail.push((a << 8) | b, (c << 8) | d);
    const prefix = text.slice(0, lastColon + 1);
    text = prefix.endsWith("::") ? prefix : prefix.slice(0, -1);
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const parse = (s: string) => (s === "" ? [] : s.split(":"));
  const head = parse(halves[0]!), rest = halves.length === 2 ? parse(halves[1]!) : [];
  const hex = [...head, ...rest];
  if (!hex.every((h) => /^[0-9A-Fa-f]{1,4}$/.test(h))) return null;
  const written = hex.length + tail.length;
  if (halves.length === 1 ? written !== 8 : written > 7) return null;
  const zeros = new Array<number>(8 - written).fill(0);
  return [...head.map((h) => parseInt(h, 16)), ...zeros, ...rest.map((h) => parseInt(h, 16)), ...tail];
}

/** A JWT claim usable as an identity: a non-empty string or a finite number, else null. */
export function claimKey(claims: unknown, claim: string): string | null {
  if (typeof claims !== "object" || claims === null) return null;
  const value = (claims as Record<string, unknown>)[claim];
  if (typeof value === "string" && value.length > 0 && value.length <= 512) return value;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return null;
}
