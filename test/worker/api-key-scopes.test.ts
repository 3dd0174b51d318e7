/**
 * Scoped API keys: a key carries scopes (set through the admin API), a route may require some with
 * `auth: { apiKey: { scopes } }`, and a key without them is refused with 403 insufficient_scope.
 * Also: the KeyStore adds the scopes column to a table created before it existed.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { loadRouteTable } from "../../src/config/index.ts";
import { POLICIES } from "../../src/policies/index.ts";
import { compileRouteTable } from "../../src/router/index.ts";
import { KeyStore } from "../../src/keys/durable_object.ts";
import { hashApiKey, KEY_STORE_NAME } from "../../src/keys/index.ts";
import { ADMIN_HEADERS, createKey, errorOf, gatewayFor, policiesWith, route, testPolicy } from "../support/worker-gateway.ts";

const table = {
  plans: { free: { quota: { limit: 1000, per: "day" } } },
  admin: { pathPrefix: "/_gateway", token: { env: "ADMIN_TOKEN" } },
  routes: [
    route("any", "/any/*", { auth: { apiKey: true } }),
    route("read", "/orders/*", { methods: ["GET"], auth: { apiKey: { scopes: ["orders:read"] } } }),
    route("write", "/orders/*", { methods: ["POST"], auth: { apiKey: { scopes: ["orders:read", "orders:write"] } } }),
  ],
};
const call = gatewayFor(table);
const status = async (path: string, key: string, method = "GET") => {
  const response = await call(path, { method, headers: { "x-api-key": key } });
  if (response.status === 200) { await response.body?.cancel(); return 200; }
  const { code, message } = await errorOf(response);
  return [response.status, code, message];
};
const patch = (id: string, body: unknown) => call(`/_gateway/keys/${id}`, { method: "PATCH", headers: ADMIN_HEADERS, body: JSON.stringify(body) });

describe("a route that requires scopes", () => {
  it("admits a key that carries every scope it names, and refuses one that lacks any with 403 insufficient_scope", async () => {
    const reader = await createKey(call, { plan: "free", scopes: ["orders:read"] });
    const writer = await createKey(call, { plan: "free", scopes: ["orders:write", "orders:read", "billing"] });
    const plain = await createKey(call, { plan: "free" });

    expect(await status("/orders/1", reader.key)).toBe(200);
    expect(await status("/orders/1", writer.key)).toBe(200);
    expect(await status("/orders/1", writer.key, "POST")).toBe(200);
    expect(await status("/orders/1", reader.key, "POST")).toEqual([403, "insufficient_scope", "This API key lacks a scope this route requires (orders:read orders:write)."]);
    expect(await status("/orders/1", plain.key)).toEqual([403, "insufficient_scope", "This API key lacks a scope this route requires (orders:read)."]);
  });

  it("keeps `apiKey: true` meaning any valid key, with or without scopes", async () => {
    const scoped = await createKey(call, { plan: "free", scopes: ["orders:read"] });
    const plain = await createKey(call, { plan: "free" });
    expect(await status("/any/x", scoped.key)).toBe(200);
    expect(await status("/any/x", plain.key)).toBe(200);
  });

  it("checks the key first: a disabled key is api_key_disabled, not insufficient_scope", async () => {
    const { id, key } = await createKey(call, { plan: "free" });
    await (await call(`/_gateway/keys/${id}/disable`, { method: "POST", headers: ADMIN_HEADERS })).body?.cancel();
    expect((await status("/orders/1", key) as unknown[]).slice(0, 2)).toEqual([403, "api_key_disabled"]);
  });

  it("follows a scope change through PATCH at once in this isolate", async () => {
    const { id, key } = await createKey(call, { plan: "free" });
    expect((await status("/orders/1", key) as unknown[])[1]).toBe("insufficient_scope");
    const granted = await patch(id, { scopes: ["orders:read", "orders:read"] });
    expect(granted.status).toBe(200);
    expect(await granted.json()).toMatchObject({ id, plan: "free", scopes: ["orders:read"] });
    expect(await status("/orders/1", key)).toBe(200);
    await (await patch(id, { scopes: [] })).body?.cancel();
    expect((await status("/orders/1", key) as unknown[])[1]).toBe("insufficient_scope");
  });

  it("puts the key's scopes on the context for the policies after it", async () => {
    const seen = gatewayFor(table, { policies: policiesWith(testPolicy(async (c) => c.json(c.get("apiKey")))) });
    const { id, key } = await createKey(seen, { plan: "free", scopes: ["orders:read", "extra"] });
    const response = await seen("/orders/1", { headers: { "x-api-key": key } });
    expect(await response.json()).toEqual({ id, name: "test key", owner: "tests", plan: "free", scopes: ["extra", "orders:read"] });
  });
});

describe("the route table", () => {
  const problems = (auth: unknown): string[] => {
    try {
      // A key route needs a way to issue keys (admin) and a plan to count them on.
      loadRouteTable({ origins: { o: { url: "http://127.0.0.1:1" } }, admin: { token: { env: "ADMIN_TOKEN" } }, plans: { p: { quota: { limit: 5, per: "day" } } }, routes: [{ id: "r", path: "/r", origin: "o", auth }] });
      return [];
    } catch (err) {
      return String((err as Error).message).split("\n").slice(1).map((line) => line.trim());
    }
  };

  it("still accepts true, and accepts { scopes: [...] }", () => {
    expect(problems({ apiKey: true })).toEqual([]);
    expect(problems({ apiKey: { scopes: ["a:b", "c"] } })).toEqual([]);
  });

  it("lets a scoped key route count by the key, and runs the key's plan on it", () => {
    const table = loadRouteTable({
      origins: { o: { url: "http://127.0.0.1:1" } }, plans: { p: { quota: { limit: 5, per: "day" } } }, admin: { token: { env: "ADMIN_TOKEN" } },
      routes: [{ id: "r", path: "/r", origin: "o", auth: { apiKey: { scopes: ["a"] } }, rateLimit: { plan: "p", by: "apiKey" } }],
    });
    expect(compileRouteTable(table, POLICIES).routes[0]!.policies).toEqual(["api-key", "rate-limit"]);
  });

  it("reads false as before: a valid value that names no way to authenticate", () => {
    expect(problems({ apiKey: false })).toEqual([`- routes[0] ("r").auth: needs a way to authenticate: authorizer, apiKey (or "none")`]);
  });

  it("refuses an empty scope list, a scope with a space and an unknown member, naming the path", () => {
    expect(problems({ apiKey: { scopes: [] } })).toEqual(["- routes[0] (\"r\").auth.apiKey.scopes: must list at least one scope (write `true` to admit any valid key)"]);
    expect(problems({ apiKey: { scopes: ["two words"] } }).join("\n")).toMatch(/routes\[0\] \("r"\)\.auth\.apiKey\.scopes\[0\]: must be a scope token/);
    expect(problems({ apiKey: { scopes: ["a"], roles: ["x"] } })).not.toEqual([]);
  });
});

describe("scopes in the admin API", () => {
  const post = (body: unknown) => call("/_gateway/keys", { method: "POST", headers: ADMIN_HEADERS, body: JSON.stringify(body) });

  it("stores scopes sorted and without duplicates, and shows them on every read", async () => {
    const created = await post({ name: "n", owner: "scopes-owner", plan: "free", scopes: ["b", "a", "b"] });
    expect(created.status).toBe(201);
    const view = (await created.json()) as { id: string; scopes: string[] };
    expect(view.scopes).toEqual(["a", "b"]);
    const read = (await (await call(`/_gateway/keys/${view.id}`, { headers: ADMIN_HEADERS })).json()) as { scopes: string[] };
    expect(read.scopes).toEqual(["a", "b"]);
  });

  it("refuses scopes that are not scope tokens, too many scopes, and a PATCH that changes nothing", async () => {
    for (const scopes of [["has space"], ["quote\""], [""], Array.from({ length: 65 }, (_, i) => `s${i}`)]) {
      const refused = await post({ name: "n", owner: "o", plan: "free", scopes });
      expect([refused.status, (await errorOf(refused)).code], JSON.stringify(scopes).slice(0, 40)).toEqual([400, "invalid_request"]);
    }
    const { id } = await createKey(call, { plan: "free" });
    const empty = await patch(id, {});
    expect([empty.status, (await errorOf(empty)).message]).toEqual([400, `(body): Give "plan", "scopes", or both.`]);
  });
});

describe("the KeyStore's scopes column", () => {
  it("is added to a table created before it existed, and the keys stored then keep working with no scopes", async () => {
    const stub = env.API_KEYS.get(env.API_KEYS.idFromName(`old-schema-${crypto.randomUUID()}`));
    const hash = await hashApiKey("gw_" + "A".repeat(43));
    const record = await runInDurableObject(stub, async (_: KeyStore, state) => {
      // The table as the first release created it: no scopes column, one key in it.
      state.storage.sql.exec("DROP TABLE api_keys");
      state.storage.sql.exec(`CREATE TABLE api_keys (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, hash TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
        owner TEXT NOT NULL, plan TEXT NOT NULL, status TEXT NOT NULL CHECK (status IN ('active', 'disabled', 'revoked')),
        created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, expires_at INTEGER)`);
      state.storage.sql.exec("INSERT INTO api_keys (id, hash, name, owner, plan, status, created_at, updated_at) VALUES ('key_0123456789abcdef0123', ?, 'old', 'o', 'free', 'active', 1, 1)", hash);
      // A new instance on the same storage: what the next start after the upgrade runs.
      const upgraded = new KeyStore(state, env);
      const columns = state.storage.sql.exec<{ name: string }>("SELECT name FROM pragma_table_info('api_keys')").toArray().map((c) => c.name);
      // Starting again changes nothing (the check is idempotent).
      new KeyStore(state, env);
      return { columns, found: await upgraded.lookup(hash), changed: await upgraded.change("key_0123456789abcdef0123", { scopes: ["x"] }) };
    });
    expect(record.columns).toContain("scopes");
    expect(record.found.record).toMatchObject({ id: "key_0123456789abcdef0123", plan: "free", status: "active", scopes: [] });
    expect(record.changed).toMatchObject({ ok: true, value: { scopes: ["x"], plan: "free" } });
  });

  it("is the one the real store was created with", async () => {
    const stub = env.API_KEYS.get(env.API_KEYS.idFromName(KEY_STORE_NAME));
    const columns = await runInDurableObject(stub, (_: KeyStore, state) => state.storage.sql.exec<{ name: string }>("SELECT name FROM pragma_table_info('api_keys')").toArray().map((c) => c.name));
    expect(columns).toContain("scopes");
  });
});
