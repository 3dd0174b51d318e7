/**
 * The IP restriction middleware: reads the client address from CF-Connecting-IP (set by Cloudflare
 * at the edge; X-Forwarded-For is client-controlled and never read), then refuses it when a deny
 * list holds it or when an allow list applies and does not hold it. Deny wins over allow.
 *
 * Fail closed: a request without a parseable CF-Connecting-IP is refused on every route that has
 * this middleware, allow lists and deny-only lists alike. Cloudflare always sets the header at the
 * edge, so only a request that did not come through the edge lacks it, and an address that cannot
 * be read cannot be shown to be outside a deny list either.
 *
 *   denied, not allowed or unknown address    403 ip_not_allowed
 */
import type { GatewayMiddleware } from "../../context.ts";
import { defineErrors } from "../../errors.ts";
import { parseAddress, type AddressSet } from "./cidr.ts";

export const ipRestrictionErrors = defineErrors("ip-restriction", {
  ip_not_allowed: {
    status: 403,
    meaning: "The route admits only some client addresses (`ipAllow`, `ipDeny`, `ipRestriction`) and this request's CF-Connecting-IP is denied, not in an allow list, or missing.",
  },
});

export interface IpRules {
  /** Addresses admitted; empty: every address not denied. */
  allow: AddressSet;
  /** Addresses refused, whatever `allow` says. */
  deny: AddressSet;
}

/** The route's middleware over rules compiled at startup. Throws TypeError without any rule. */
export function ipRestriction({ allow, deny }: IpRules): GatewayMiddleware {
  if (allow.empty && deny.empty) throw new TypeError("ip-restriction: no allow or deny rule");
  const allowListed = !allow.empty;

  return async function ipRestriction(c, next) {
    const header = c.req.raw.headers.get("cf-connecting-ip");
    const address = header === null ? null : parseAddress(header);
    if (address === null) throw ipRestrictionErrors.ip_not_allowed("The client address could not be determined, and this route admits only some addresses.");
    if (deny.has(address) || (allowListed && !allow.has(address))) throw ipRestrictionErrors.ip_not_allowed("Requests from this address are not allowed on this route.");
    await next();
  };
}
