/**
 * Key and usage endpoints of the management API, mounted at `<admin prefix>/keys` behind the admin
 * token check (index.ts):
 *
 *   POST   /keys                 { name, owner, plan, scopes?, expiresAt? } -> 201 record + key (shown once)
 *   GET    /keys?limit&cursor&owner&search                                 -> { keys, nextCursor }
 *   GET    /keys/:id                                                       -> record
 *   PATCH  /keys/:id             { plan?, scopes? }                        -> record
 *   POST   /keys/:id/disable | enable | revoke                             -> record
 *   POST   /keys/:id/rotate                                                -> record + new key (shown once)
 *   GET    /keys/:id/usage                                                 -> rate and quota: used, remaining;
 *                                                                            units out on leases; counter calls
 *   POST   /keys/:id/usage/reset                                           -> usage after the reset (audited)
 *
 * Usage under leases (docs/quotas.md): `used` counts every unit the counter handed out as used,
 * except those this isolate holds unspent; `leased` says how many of `used` are on leases other
 * isolates have not reported spent yet (at most that many may still come back).
 * The key is generated and hashed here: the KeyStore never receives it. Every change drops the key's
 * entry from this isolate's cache; other isolates follow within the cache bound (0.9 s).
 */
import { Hono, type Context } from "hono";
import { z } from "zod";
import type { GatewayEnv } from "../context.ts";
import { coreErrors, defineErrors, errorText, logEvent } from "../errors.ts";
import {
  decodeCursor, generateApiKey, generateKeyId, hashApiKey, KEY_ID_PATTERN, keyCache, keyErrors, MAX_KEY_SCOPES, publicKeyView, SCOPE_TOKEN, withKeyStore,
  type KeyRecord, type KeyStore, type StoreResult,
} from "../keys/index.ts";
import { counterName, quotaErrors, resetUsage, resolvePlan, usageOf, type PlanConfig, type ResolvedPlan } from "../quota/index.ts";
import { jsonBody, queryOf } from "./input.ts";

export const keyAdminErrors = defineErrors("admin", {
  unknown_plan: { status: 400, meaning: "The plan named in the request is not in the route table's `plans`." },
  key_not_found: { status: 404, meaning: "No API key has this id." },
  key_revoked: { status: 409, meaning: "The key is revoked; a revoked key cannot be changed." },
  conflict: { status: 409, meaning: "The key could not be stored (a clash of generated ids); try again." },
});

const Text = z.string().trim().min(1).max(200);
const Timestamp = z.iso.datetime({ offset: true }).describe("ISO 8601 date-time, e.g. 2027-01-31T00:00:00Z");
const MAX_BODY_BYTES = 16_384;

const Scopes = z.array(z.string().regex(SCOPE_TOKEN, "must be a scope token: 1-128 printable ASCII characters without space, \" or \\"))
  .max(MAX_KEY_SCOPES, `at most ${MAX_KEY_SCOPES} scopes`);
const CreateKey = z.strictObject({
  name: Text,
  owner: Text,
  plan: z.string(),
  scopes: Scopes.default([]),
  expiresAt: Timestamp.nullable().optional(),
});
const ChangeKey = z.strictObject({ plan: z.string().optional(), scopes: Scopes.optional() })
  .refine((body) => body.plan !== undefined || body.scopes !== undefined, `Give "plan", "scopes", or both.`);
const ListQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().max(200).optional(),
  owner: z.string().min(1).max(200).optional(),
  search: z.string().trim().min(1).max(200).optional(),
});

type Ctx = Context<GatewayEnv>;

export function createKeysApi(table: { plans: Record<string, PlanConfig> }) {
  const plans = new Map<string, ResolvedPlan>(Object.entries(table.plans).map(([name, plan]) => [name, resolvePlan(name, plan)]));
  const api = new Hono<GatewayEnv>();

  const knownPlan = (plan: string) => {
    if (!plans.has(plan)) {
      const names = [...plans.keys()];
      throw keyAdminErrors.unknown_plan(`Unknown plan "${plan}"; configured plans: ${names.length ? names.join(", ") : "(none)"}.`);
    }
  };

  api.post("/", jsonBody(CreateKey, { maxBytes: MAX_BODY_BYTES }), async (c) => {
    const body = c.req.valid("json");
    knownPlan(body.plan);
    const expiresAt = body.expiresAt ? Date.parse(body.expiresAt) : null;
    if (expiresAt !== null && expiresAt <= Date.now()) throw coreErrors.invalid_request("expiresAt: must be in the future.");
    const key = generateApiKey();
    const hash = await hashApiKey(key);
    const record = unwrap(await store(c, (s) => s.create({ id: generateKeyId(), hash, name: body.name, owner: body.owner, plan: body.plan, scopes: body.scopes, expiresAt })));
    keyCache.forget(hash);
    return created(c, { ...publicKeyView(record), key }, 201);
  });

  api.get("/", queryOf(ListQuery), async (c) => {
    const query = c.req.valid("query");
    if (query.cursor !== undefined && decodeCursor(query.cursor) === null) throw coreErrors.invalid_request("cursor: not a cursor from a previous page.");
    const page = await store(c, (s) => s.list({ limit: query.limit, cursor: query.cursor ?? null, owner: query.owner ?? null, search: query.search ?? null }));
    return c.json({ keys: page.keys.map(publicKeyView), nextCursor: page.nextCursor });
  });

  api.get("/:id", async (c) => c.json(publicKeyView(await existing(c))));

  api.patch("/:id", jsonBody(ChangeKey, { maxBytes: MAX_BODY_BYTES }), async (c) => {
    const id = keyId(c);
    const body = c.req.valid("json");
    if (body.plan !== undefined) knownPlan(body.plan);
    const changes = { ...(body.plan !== undefined ? { plan: body.plan } : {}), ...(body.scopes !== undefined ? { scopes: body.scopes } : {}) };
    return c.json(publicKeyView(changed(unwrap(await store(c, (s) => s.change(id, changes))))));
  });

  for (const [action, status] of [["disable", "disabled"], ["enable", "active"], ["revoke", "revoked"]] as const) {
    api.post(`/:id/${action}`, async (c) => {
      const id = keyId(c);
      return c.json(publicKeyView(changed(unwrap(await store(c, (s) => s.setStatus(id, status))))));
    });
  }

  api.post("/:id/rotate", async (c) => {
    const id = keyId(c);
    const key = generateApiKey();
    const hash = await hashApiKey(key);
    const { record, previousHash } = unwrap(await store(c, (s) => s.rotate(id, hash)));
    keyCache.forget(previousHash);
    keyCache.forget(hash);
    return created(c, { ...publicKeyView(record), key }, 200);
  });

  api.get("/:id/usage", async (c) => c.json(await usageView(c, await existing(c))));

  // Audited: support resets are rare and change what a customer may do, so each one is a log line.
  api.post("/:id/usage/reset", async (c) => {
    const record = await existing(c);
    const plan = plans.get(record.plan);
    if (!plan) throw quotaErrors.plan_unknown(`The key's plan "${record.plan}" is not configured on this gateway.`);
    try {
      await resetUsage(c.env.QUOTA, counterName.key(record.id));
    } catch (err) {
      logEvent("error", "limiter_unavailable", { requestId: c.get("requestId"), error: errorText(err) });
      throw quotaErrors.limiter_unavailable("Usage cannot be reset right now; try again shortly.", { "retry-after": "1" });
    }
    logEvent("info", "usage_reset", { keyId: record.id, requestId: c.get("requestId") });
    return c.json(await usageView(c, record));
  });

  async function usageView(c: Ctx, record: KeyRecord) {
    const plan = plans.get(record.plan);
    if (!plan) throw quotaErrors.plan_unknown(`The key's plan "${record.plan}" is not configured on this gateway.`);
    let usage;
    try {
      usage = await usageOf(c.env.QUOTA, counterName.key(record.id), plan.limits);
    } catch (err) {
      logEvent("error", "limiter_unavailable", { requestId: c.get("requestId"), error: errorText(err) });
      throw quotaErrors.limiter_unavailable("Usage cannot be read right now; try again shortly.", { "retry-after": "1" });
    }
    return {
      keyId: record.id,
      plan: record.plan,
      counting: plan.counting,
      rate: usage.rate ? {
        limit: usage.rate.limit, perMs: usage.rate.perMs, burst: usage.rate.burst,
        used: usage.rate.burst - usage.rate.remaining, remaining: usage.rate.remaining,
        fullAt: new Date(Date.now() + usage.rate.resetMs).toISOString(),
      } : null,
      quota: usage.quota ? {
        limit: usage.quota.limit, period: usage.quota.period, used: usage.quota.used, remaining: usage.quota.remaining,
        periodStart: new Date(usage.quota.periodStart).toISOString(), periodEnd: new Date(usage.quota.periodEnd).toISOString(),
      } : null,
      leased: usage.leased,
      counterCalls: usage.calls,
    };
  }

  api.all("*", () => { throw coreErrors.not_found("No admin endpoint here."); });
  return api;
}

/** Responses that carry a key are never stored by anything in between. */
function created(c: Ctx, body: object, status: 200 | 201) {
  c.header("cache-control", "no-store");
  return c.json(body, status);
}

/** Any change makes this isolate forget the key's cached record at once. */
function changed(record: KeyRecord): KeyRecord {
  keyCache.forget(record.hash);
  return record;
}

function keyId(c: Ctx): string {
  const id = c.req.param("id") ?? "";
  if (!KEY_ID_PATTERN.test(id)) throw keyAdminErrors.key_not_found("No API key with this id.");
  return id;
}

async function existing(c: Ctx): Promise<KeyRecord> {
  const id = keyId(c);
  const record = await store(c, (s) => s.get(id));
  if (!record) throw keyAdminErrors.key_not_found("No API key with this id.");
  return record;
}

function unwrap<T>(result: StoreResult<T>): T {
  if (result.ok) return result.value;
  switch (result.error) {
    case "not_found": throw keyAdminErrors.key_not_found("No API key with this id.");
    case "revoked": throw keyAdminErrors.key_revoked("This key is revoked; a revoked key cannot be changed.");
    case "conflict": throw keyAdminErrors.conflict("The key could not be stored; try again.");
  }
}

async function store<F extends (store: DurableObjectStub<KeyStore>) => Promise<unknown>>(c: Ctx, call: F): Promise<Awaited<ReturnType<F>>> {
  try {
    return await withKeyStore(c.env.API_KEYS, call);
  } catch (err) {
    logEvent("error", "key_store_unavailable", { requestId: c.get("requestId"), error: errorText(err) });
    throw keyErrors.key_store_unavailable("The key store is unavailable; try again shortly.", { "retry-after": "1" });
  }
}
