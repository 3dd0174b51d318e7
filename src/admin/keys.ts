/**
 * Key and usage endpoints of the management API, mounted at `<admin prefix>/keys` behind the admin
 * token check (index.ts):
 *
 *   POST   /keys                 { name, owner, plan, expiresAt? }  -> 201 record + key (shown once)
 *   GET    /keys?limit&cursor&owner                                -> { keys, nextCursor }
 *   GET    /keys/:id                                               -> record
 *   PATCH  /keys/:id             { plan }                          -> record
 *   POST   /keys/:id/disable | enable | revoke                     -> record
 *   POST   /keys/:id/rotate                                        -> record + new key (shown once)
 *   GET    /keys/:id/usage                                         -> rate and quota: used, remaining
 *
 * The key is generated and hashed here: the KeyStore never receives it. Every change drops the key's
 * entry from this isolate's cache; other isolates follow within the cache bound (0.9 s).
 */
import { Hono, type Context } from "hono";
import { z } from "zod";
import type { RouteTable } from "../config/index.ts";
import { GatewayError } from "../errors.ts";
import { keyCache } from "../policies/api-key/cache.ts";
import { decodeCursor, type KeyPage, type StoreResult } from "../policies/api-key/durable_object.ts";
import { KEY_ID_PATTERN, generateApiKey, generateKeyId, hashApiKey } from "../policies/api-key/keys.ts";
import { publicKeyView, type KeyRecord, type KeyStatus } from "../policies/api-key/records.ts";
import { logFailure, withKeyStore } from "../policies/api-key/store.ts";
import { counterName, resolvePlan, usageOf, type ResolvedPlan } from "../quota/client.ts";
import type { GatewayEnv } from "../types.ts";

const Text = z.string().trim().min(1).max(200);
const Timestamp = z.iso.datetime({ offset: true }).describe("ISO 8601 date-time, e.g. 2027-01-31T00:00:00Z");

const CreateKey = z.strictObject({
  name: Text,
  owner: Text,
  plan: z.string(),
  expiresAt: Timestamp.nullable().optional(),
});
const ChangePlan = z.strictObject({ plan: z.string() });
const ListQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().max(200).optional(),
  owner: z.string().min(1).max(200).optional(),
});

type Ctx = Context<GatewayEnv>;

export function createKeysApi(table: RouteTable) {
  const plans = new Map<string, ResolvedPlan>(Object.entries(table.plans).map(([name, plan]) => [name, resolvePlan(name, plan)]));
  const api = new Hono<GatewayEnv>();

  const knownPlan = (plan: string) => {
    if (!plans.has(plan)) {
      const names = [...plans.keys()];
      throw new GatewayError(400, "unknown_plan", `Unknown plan "${plan}"; configured plans: ${names.length ? names.join(", ") : "(none)"}.`);
    }
  };

  api.post("/", async (c) => {
    const body = await parseBody(c, CreateKey);
    knownPlan(body.plan);
    const expiresAt = body.expiresAt ? Date.parse(body.expiresAt) : null;
    if (expiresAt !== null && expiresAt <= Date.now()) throw new GatewayError(400, "invalid_request", "expiresAt: must be in the future.");
    const key = generateApiKey();
    const hash = await hashApiKey(key);
    const record = unwrap(await store(c, (s) => s.create({ id: generateKeyId(), hash, name: body.name, owner: body.owner, plan: body.plan, expiresAt }) as Promise<StoreResult<KeyRecord>>));
    keyCache.forget(hash);
    return created(c, { ...publicKeyView(record), key }, 201);
  });

  api.get("/", async (c) => {
    const query = parse(ListQuery, c.req.query());
    if (query.cursor !== undefined && decodeCursor(query.cursor) === null) throw new GatewayError(400, "invalid_request", "cursor: not a cursor from a previous page.");
    const page = await store(c, (s) => s.list({ limit: query.limit, cursor: query.cursor ?? null, owner: query.owner ?? null }) as Promise<KeyPage>);
    return c.json({ keys: page.keys.map(publicKeyView), nextCursor: page.nextCursor });
  });

  api.get("/:id", async (c) => c.json(publicKeyView(await existing(c))));

  api.patch("/:id", async (c) => {
    const id = keyId(c);
    const body = await parseBody(c, ChangePlan);
    knownPlan(body.plan);
    return c.json(publicKeyView(changed(unwrap(await store(c, (s) => s.setPlan(id, body.plan) as Promise<StoreResult<KeyRecord>>)))));
  });

  for (const [action, status] of [["disable", "disabled"], ["enable", "active"], ["revoke", "revoked"]] as const) {
    api.post(`/:id/${action}`, async (c) => {
      const id = keyId(c);
      return c.json(publicKeyView(changed(unwrap(await store(c, (s) => s.setStatus(id, status as KeyStatus) as Promise<StoreResult<KeyRecord>>)))));
    });
  }

  api.post("/:id/rotate", async (c) => {
    const id = keyId(c);
    const key = generateApiKey();
    const hash = await hashApiKey(key);
    const { record, previousHash } = unwrap(await store(c, (s) => s.rotate(id, hash) as Promise<StoreResult<{ record: KeyRecord; previousHash: string }>>));
    keyCache.forget(previousHash);
    keyCache.forget(hash);
    return created(c, { ...publicKeyView(record), key }, 200);
  });

  api.get("/:id/usage", async (c) => {
    const record = await existing(c);
    const plan = plans.get(record.plan);
    if (!plan) throw new GatewayError(409, "plan_unknown", `The key's plan "${record.plan}" is not configured on this gateway.`);
    let usage;
    try {
      usage = await usageOf(c.env.QUOTA, counterName.key(record.id), plan.limits);
    } catch (err) {
      logFailure(c.get("requestId"), "limiter_unavailable", err);
      throw new GatewayError(503, "limiter_unavailable", "Usage cannot be read right now; try again shortly.", { "retry-after": "1" });
    }
    return c.json({
      keyId: record.id,
      plan: record.plan,
      rate: usage.rate ? {
        limit: usage.rate.limit, perMs: usage.rate.perMs, burst: usage.rate.burst,
        used: usage.rate.burst - usage.rate.remaining, remaining: usage.rate.remaining,
        fullAt: new Date(Date.now() + usage.rate.resetMs).toISOString(),
      } : null,
      quota: usage.quota ? {
        limit: usage.quota.limit, period: usage.quota.period, used: usage.quota.used, remaining: usage.quota.remaining,
        periodStart: new Date(usage.quota.periodStart).toISOString(), periodEnd: new Date(usage.quota.periodEnd).toISOString(),
      } : null,
    });
  });

  api.all("*", () => { throw new GatewayError(404, "not_found", "No admin endpoint here."); });
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
  if (!KEY_ID_PATTERN.test(id)) throw new GatewayError(404, "key_not_found", "No API key with this id.");
  return id;
}

async function existing(c: Ctx): Promise<KeyRecord> {
  const id = keyId(c);
  const record = await store(c, (s) => s.get(id) as Promise<KeyRecord | null>);
  if (!record) throw new GatewayError(404, "key_not_found", "No API key with this id.");
  return record;
}

function unwrap<T>(result: StoreResult<T>): T {
  if (result.ok) return result.value;
  switch (result.error) {
    case "not_found": throw new GatewayError(404, "key_not_found", "No API key with this id.");
    case "revoked": throw new GatewayError(409, "key_revoked", "This key is revoked; a revoked key cannot be changed.");
    case "conflict": throw new GatewayError(409, "conflict", "The key could not be stored; try again.");
  }
}

async function store<T>(c: Ctx, call: Parameters<typeof withKeyStore<T>>[1]): Promise<T> {
  try {
    return await withKeyStore(c.env.API_KEYS, call);
  } catch (err) {
    logFailure(c.get("requestId"), "key_store_unavailable", err);
    throw new GatewayError(503, "key_store_unavailable", "The key store is unavailable; try again shortly.", { "retry-after": "1" });
  }
}

async function parseBody<S extends z.ZodType>(c: Ctx, schema: S): Promise<z.output<S>> {
  if (!/^application\/json\b/i.test(c.req.header("content-type") ?? "")) throw new GatewayError(415, "unsupported_media_type", "Send a JSON body with Content-Type: application/json.");
  let raw: unknown;
  try { raw = await c.req.json(); } catch { throw new GatewayError(400, "invalid_json", "The body is not valid JSON."); }
  return parse(schema, raw);
}

function parse<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.length ? i.path.join(".") : "(body)"}: ${i.message}`);
  throw new GatewayError(400, "invalid_request", problems.join("; "));
}
