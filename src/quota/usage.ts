/**
 * Usage as the admin API reports it, under either way of counting. The counter counts every unit
 * it leased as used; units this isolate holds unspent on a lease are known to be unspent, so they
 * are given back in the figures, and what it spent but has not reported yet is not "leased" but
 * used (with one isolate serving an identity, the figures are then exact).
 * Units leased to other isolates stay counted as used: at most `leased` of `used` may still come back.
 */
import { counterUsage, resetCounter, type CounterNamespace } from "./client.ts";
import type { Limits } from "./decision.ts";
import type { Usage } from "./durable_object.ts";
import { leases } from "./leases.ts";

export type KeyUsage = Usage;

export async function usageOf(ns: CounterNamespace, name: string, limits: Limits): Promise<KeyUsage> {
  const usage = await counterUsage(ns, name, limits);
  const held = leases.held(name);
  const mine = Math.min(held.unspent, usage.leased);
  if (mine === 0 && held.unreported === 0) return usage;
  // What this isolate spent but has not reported is spent, not merely leased.
  const out: KeyUsage = { ...usage, leased: Math.max(0, usage.leased - mine - held.unreported) };
  if (usage.rate) {
    const remaining = Math.min(usage.rate.burst, usage.rate.remaining + mine);
    out.rate = { ...usage.rate, remaining, resetMs: remaining >= usage.rate.burst ? 0 : Math.ceil(((usage.rate.burst - remaining) * usage.rate.perMs) / usage.rate.limit) };
  }
  if (usage.quota) {
    const used = Math.max(0, usage.quota.used - mine);
    out.quota = { ...usage.quota, used, remaining: Math.max(0, usage.quota.limit - used) };
  }
  return out;
}

/**
 * Resets a counter (the admin usage reset): the counter forgets its count and closes its open
 * leases, and this isolate drops its own lease, so its next request asks the fresh count. Other
 * isolates spend what they hold until their leases expire (docs/quotas.md).
 */
export async function resetUsage(ns: CounterNamespace, name: string): Promise<void> {
  await resetCounter(ns, name);
  leases.drop(name);
}
