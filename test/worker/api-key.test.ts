/** The API-key policy through the gateway: every refusal, exact lookup, caching bound, secrecy. */
import { createExecutionContext, env, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createGateway } from "../../src/app.ts";
import { loadRouteTable } from "../../src/config/index.ts";
import { generateApiKey, generateKeyId, hashApiKey, KEY_STORE_NAME, TtlLru, type KeyStore } from "../../src/keys/index.ts";
import { POLICIES } from "../../src/policies/index.ts";
import { createKey as createKeyThrough, echoOf, errorOf, gatewayFor, route } from "../support/worker-gateway.ts";

const ADMIN = { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json" };
const table = {
  plans: { basic: { quota: { limit: 1000, per: "month" } } },
  admin: { token: { env: "ADMIN_TOKEN" } },
  routes: [route("keyed", "/keyed/*", { auth: { apiKey: true } }), route("open", "/open", {})],
};
const call = gatewayFor(table);
const store = () => env.API_KEYS.get(env.API_KEYS.idFromName(KEY_STORE_NAME));

const createKey = (body: { expiresAt?: string } = {}) => createKeyThrough(call, { owner: "api-key-test", plan: "basic", ...body });

/** Writes a record straight into the KeyStore, as another isolate's admin call would. */
async function storeKey(fields: { expiresAt?: number | null } = {}) {
  const key = generateApiKey();
  const result = await store().create({ id: generateKeyId(), hash: await hashApiKey(key), name: "direct", owner: "api-key-test", plan: "basic", expiresAt: fields.expiresAt ?? null });
  if (!result.ok) throw new Error(result.error);
  return { key, id: result.value.id };
}

const withKey = (key: string) => ({ headers: { "x-api-key": key } });
async function refusal(response: Response) {
  return [response.status, (await errorOf(response)).code] as const;
}

describe("the API key policy", () => {
  it("admits a valid key and forwards to the origin", async () => {
    const { key } = await createKey();
    const response = await call("/keyed/orders", withKey(key));
    expect((await echoOf(response)).url).toBe("/keyed/orders");
  });

  it("never passes the API key on to the origin", async () => {
    const { key } = await createKey();
    const echo = await echoOf(await call("/keyed/orders", withKey(key)));
    expect(echo.headers["x-api-key"]).toBeUndefined();
    expect(JSON.stringify(echo)).not.toContain(key);
  });

  it("refuses a request without a key: 401 api_key_missing", async () => {
    expect(await refusal(await call("/keyed/x"))).toEqual([401, "api_key_missing"]);
    expect(await refusal(await call("/keyed/x", withKey("")))).toEqual([401, "api_key_missing"]);
  });

  it("refuses an unknown or malformed key: 401 api_key_invalid", async () => {
    expect(await refusal(await call("/keyed/x", withKey(generateApiKey())))).toEqual([401, "api_key_invalid"]);
    expect(await refusal(await call("/keyed/x", withKey("not-a-key")))).toEqual([401, "api_key_invalid"]);
  });

  it("refuses a disabled key: 403 api_key_disabled, and admits it again once enabled", async () => {
    const { id, key } = await createKey();
    await call(`/_gateway/keys/${id}/disable`, { method: "POST", headers: ADMIN });
    expect(await refusal(await call("/keyed/x", withKey(key)))).toEqual([403, "api_key_disabled"]);
    await call(`/_gateway/keys/${id}/enable`, { method: "POST", headers: ADMIN });
    expect((await call("/keyed/x", withKey(key))).status).toBe(200);
  });

  it("refuses a revoked key on the very next request: 403 api_key_revoked", async () => {
    const { id, key } = await createKey();
    expect((await call("/keyed/x", withKey(key))).status).toBe(200);
    expect((await call(`/_gateway/keys/${id}/revoke`, { method: "POST", headers: ADMIN })).status).toBe(200);
    expect(await refusal(await call("/keyed/x", withKey(key)))).toEqual([403, "api_key_revoked"]);
  });

  it("refuses an expired key: 403 api_key_expired", async () => {
    const { key } = await storeKey({ expiresAt: Date.now() - 1 });
    expect(await refusal(await call("/keyed/x", withKey(key)))).toEqual([403, "api_key_expired"]);
  });

  it("refuses a key from the moment it expires, even while its record is cached", async () => {
    const { key } = await storeKey({ expiresAt: Date.now() + 300 });
    expect((await call("/keyed/x", withKey(key))).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect(await refusal(await call("/keyed/x", withKey(key)))).toEqual([403, "api_key_expired"]);
  });

  it("refuses a key revoked behind this isolate's back within one second", async () => {
    const { id, key } = await storeKey();
    expect((await call("/keyed/x", withKey(key))).status).toBe(200); // now cached here
    const revoked = await store().setStatus(id, "revoked"); // as another isolate's admin call would
    expect(revoked.ok).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await refusal(await call("/keyed/x", withKey(key)))).toEqual([403, "api_key_revoked"]);
  });

  it("needs no key on a route without auth.apiKey", async () => {
    expect((await call("/open")).status).toBe(200);
  });
});

describe("exact key lookup", () => {
  it("refuses case variants, inner whitespace, prefixes and suffixes of a valid key", async () => {
    const { key } = await createKey();
    const body = key.slice(3);
    const swapCase = (s: string) => [...s].map((ch) => (ch === ch.toLowerCase() ? ch.toUpperCase() : ch.toLowerCase())).join("");
    const variants = [
      "GW_" + body, "gw_" + swapCase(body), key.toUpperCase(), key.toLowerCase(),
      key.slice(0, 20) + " " + key.slice(20), key.slice(0, 20) + "\t" + key.slice(20), key + "x", "x" + key, key.slice(0, -1),
      `Bearer ${key}`, `${key},${key}`,
    ].filter((v) => v !== key);
    for (const variant of variants) {
      expect(await refusal(await call("/keyed/x", withKey(variant))), JSON.stringify(variant)).toEqual([401, "api_key_invalid"]);
    }
    expect((await call("/keyed/x", withKey(key))).status).toBe(200);
  });

  it("refuses a key sent twice in the header", async () => {
    const { key } = await createKey();
    const headers = new Headers();
    headers.append("x-api-key", key);
    headers.append("x-api-key", key);
    expect(await refusal(await call("/keyed/x", { headers }))).toEqual([401, "api_key_invalid"]);
  });

  it("reads only the configured header", async () => {
    const custom = gatewayFor({ ...table, apiKeys: { header: "X-Customer-Key" } });
    const { key } = await createKey();
    expect(await refusal(await custom("/keyed/x", withKey(key)))).toEqual([401, "api_key_missing"]);
    expect((await custom("/keyed/x", { headers: { "x-customer-key": key } })).status).toBe(200);
  });
});

describe("secrecy of keys", () => {
  afterEach(() => { vi.restoreAllMocks(); });

  it("stores only the hash: the key appears in no table of the KeyStore or the key's counter", async () => {
    const { id, key } = await createKey();
    await call("/keyed/x", withKey(key));
    const dump = async (stub: DurableObjectStub<KeyStore> | DurableObjectStub) => runInDurableObject(stub as DurableObjectStub<KeyStore>, (_: unknown, state) => {
      const tables = state.storage.sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite%'").toArray();
      return JSON.stringify(tables.map(({ name }) => state.storage.sql.exec(`SELECT * FROM "${name}"`).toArray()));
    });
    const keys = await dump(store());
    expect(keys).toContain(id);
    expect(keys).toContain(await hashApiKey(key));
    expect(keys).not.toContain(key);
    expect(keys).not.toContain(key.slice(3));
    const counter = await dump(env.QUOTA.get(env.QUOTA.idFromName(`key:${id}`)) as unknown as DurableObjectStub);
    expect(counter).not.toContain(key.slice(3));
  });

  it("never logs the key, through create, use, refusal, rotation and listing", async () => {
    const lines: string[] = [];
    for (const method of ["log", "info", "warn", "error", "debug"] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => { lines.push(args.map(String).join(" ")); });
    }
    const app = createGateway(loadRouteTable({ ...table, origins: { echo: { url: env.ECHO_ORIGIN } } }), { policies: POLICIES });
    const loud = async (path: string, init: RequestInit = {}) => {
      const ctx = createExecutionContext();
      const response = await app.fetch(new Request(`http://gateway.test${path}`, init), { ...env, LOG_REQUESTS: "on" }, ctx);
      await waitOnExecutionContext(ctx);
      return response;
    };
    const created = (await (await loud("/_gateway/keys", { method: "POST", headers: ADMIN, body: JSON.stringify({ name: "n", owner: "logs", plan: "basic" }) })).json()) as { id: string; key: string };
    await loud("/keyed/x", withKey(created.key));
    await loud("/keyed/x", withKey(created.key.toUpperCase()));
    const rotated = (await (await loud(`/_gateway/keys/${created.id}/rotate`, { method: "POST", headers: ADMIN })).json()) as { key: string };
    await loud("/keyed/x", withKey(created.key));
    await loud("/keyed/x", withKey(rotated.key));
    await loud("/_gateway/keys?owner=logs", { headers: ADMIN });

    expect(lines.length).toBeGreaterThanOrEqual(7); // the access log did run
    for (const secret of [created.key, rotated.key]) {
      expect(lines.filter((line) => line.includes(secret.slice(3)))).toEqual([]);
    }
  });
});

describe("when the key store cannot answer", () => {
  it("fails closed with 503 key_store_unavailable", async () => {
    const app = createGateway(loadRouteTable({ ...table, origins: { echo: { url: env.ECHO_ORIGIN } } }), { policies: POLICIES });
    const failing = { idFromName: (n: string) => env.API_KEYS.idFromName(n), get: () => ({ lookup: () => Promise.reject(new Error("Network connection lost.")) }) };
    const ctx = createExecutionContext();
    const response = await app.fetch(new Request("http://gateway.test/keyed/x", withKey(generateApiKey())), { ...env, API_KEYS: failing }, ctx);
    await waitOnExecutionContext(ctx);
    expect(await refusal(response)).toEqual([503, "key_store_unavailable"]);
    expect(response.headers.get("retry-after")).toBe("1");
  });
});

describe("the isolate's lookup cache", () => {
  it("forgets an entry when it expires", () => {
    const cache = new TtlLru<string>(10);
    cache.set("a", "record", 1000);
    expect(cache.get("a", 999)).toBe("record");
    expect(cache.get("a", 1000)).toBeUndefined();
  });

  it("holds at most its size, dropping the least recently used", () => {
    const cache = new TtlLru<number>(2);
    cache.set("a", 1, Infinity);
    cache.set("b", 2, Infinity);
    cache.get("a", 0);
    cache.set("c", 3, Infinity);
    expect([cache.get("a", 0), cache.get("b", 0), cache.get("c", 0), cache.size]).toEqual([1, undefined, 3, 2]);
  });
});
